//! Durability: stop the server, start it again on the same database, and everything acknowledged
//! is still there — payments, refunds and events — and still usable.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{expect_json, TestApp};

async fn payments_and_refunds_survive_a_restart(app: TestApp) {
    let captured = app.create_payment(5_000, "4242424242424242", true).await;
    let id = captured["id"].as_str().unwrap().to_owned();
    let refund = expect_json(app.refund(&id, json!({ "amount": 1_000 })).await, StatusCode::CREATED).await;
    let held = app.create_payment(300, "4242424242424242", false).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let before = app.payment(&id).await;
    let events_before = app.events(&id).await;

    let app = app.restart().await;

    assert_eq!(app.payment(&id).await, before);
    assert_eq!(app.events(&id).await, events_before);
    let refunds = app
        .database
        .store()
        .list_refunds(&payrail_core::domain::PaymentId::parse(&id).unwrap())
        .await
        .unwrap();
    assert_eq!(refunds.len(), 1);
    assert_eq!(refunds[0].id.as_str(), refund["id"].as_str().unwrap());
    // The restarted service continues where the first left off.
    expect_json(app.refund(&id, json!({})).await, StatusCode::CREATED).await;
    assert_eq!(app.payment(&id).await["status"], "refunded");
    assert_eq!(
        expect_json(app.capture(&held, json!({})).await, StatusCode::OK).await["status"],
        "succeeded"
    );
}

crate::backend_tests!(payments_and_refunds_survive_a_restart);
