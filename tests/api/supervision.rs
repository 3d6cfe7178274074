//! The supervisor: a dead payment actor is evicted, counted and replaced by one rehydrated from the
//! store; idle actors are passivated and come back on demand. Either way the payment is served
//! correctly.

use std::time::Duration;

use payrail_core::domain::PaymentId;
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{expect_json, spawn_app_with, Backend, TestApp};

async fn a_dead_actor_is_restarted_from_the_store(app: TestApp) {
    let id = app.create_payment(1_000, "4242424242424242", true).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let payment_id = PaymentId::parse(&id).unwrap();
    assert!(app.supervisor.kill(&payment_id).await, "the actor was alive");
    assert_eq!(app.supervisor.restarts(), 0);
    let refund = expect_json(app.refund(&id, json!({ "amount": 400 })).await, StatusCode::CREATED).await;
    assert_eq!(refund["amount"], 400);
    assert_eq!(app.supervisor.restarts(), 1, "the death was noticed and counted");
    let payment = app.payment(&id).await;
    assert_eq!(payment["refunded_amount"], 400);
    assert_eq!(payment["status"], "partially_refunded");
}

async fn idle_actors_are_passivated_and_come_back(backend: Backend) {
    let Some(app) = spawn_app_with(backend, &[("ACTOR_IDLE_TIMEOUT_SECS", "1")]).await else {
        return;
    };
    let id = app.create_payment(1_000, "4242424242424242", false).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(app.supervisor.active_actors(), 1);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while app.supervisor.active_actors() > 0 {
        assert!(std::time::Instant::now() < deadline, "actor was never passivated");
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    let captured = expect_json(app.capture(&id, json!({ "amount": 600 })).await, StatusCode::OK).await;
    assert_eq!(captured["captured_amount"], 600);
    assert_eq!(app.supervisor.restarts(), 0, "passivation is not a crash");
}

#[actix_web::test]
async fn idle_actors_are_passivated_and_come_back_sqlite() {
    idle_actors_are_passivated_and_come_back(Backend::Sqlite).await;
}

#[actix_web::test]
async fn idle_actors_are_passivated_and_come_back_postgres() {
    idle_actors_are_passivated_and_come_back(Backend::Postgres).await;
}

crate::backend_tests!(a_dead_actor_is_restarted_from_the_store);
