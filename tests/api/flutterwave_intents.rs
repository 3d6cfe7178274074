//! Flutterwave v3 has no idempotency header, so an intent left open by a lost answer (issue 14:
//! crash between call and settle) is settled by the reconciler from a *lookup* — the charge
//! verified by `tx_ref`, the transaction's refunds listed and matched — never by repeating a call
//! that may already have moved money. Only when the lookup proves Flutterwave never saw the call
//! is it sent. Afterwards the money moved at the fake equals the money payrail records.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::fakes::flutterwave::FakeFlutterwave;
use crate::flutterwave::flutterwave_app;
use crate::helpers::{expect_json, Backend, TestApp, TestDatabase};
use crate::sql::count;

const LOST: Duration = Duration::from_millis(1200);

async fn app(backend: Backend) -> Option<(TestApp, FakeFlutterwave)> {
    flutterwave_app(backend, &[("PROVIDER_TIMEOUT_MS", "300")]).await
}

async fn charge(app: &TestApp, amount: i64, capture: bool) -> Value {
    let body = json!({ "amount": amount, "currency": "ngn", "provider": "flutterwave", "capture": capture,
        "payment_method": { "type": "token", "token": "flw-t1nf-ok" } });
    expect_json(app.post("/api/v1/payments", &body).await, StatusCode::CREATED).await
}

async fn reconcile(app: &TestApp) -> payrail::reconcile::Report {
    // Let the stalled or lost call finish at the fake before anyone looks it up.
    tokio::time::sleep(LOST).await;
    payrail::reconcile::run_once(&app.database, &app.supervisor, Duration::ZERO).await
}

async fn open_refunds(app: &TestApp) -> i64 {
    count(
        &app.database,
        "SELECT COUNT(*) FROM refunds WHERE awaiting_provider = 1",
    )
    .await
}

/// payrail's view of the money: captured minus refunds promised back.
async fn recorded(app: &TestApp, id: &str) -> i64 {
    let payment = app.payment(id).await;
    payment["captured_amount"].as_i64().unwrap() - payment["refunded_amount"].as_i64().unwrap()
}

async fn a_refund_whose_answer_was_lost_is_found_not_repeated(backend: Backend) {
    let Some((app, fake)) = app(backend).await else {
        return;
    };
    let created = charge(&app, 100_000, true).await;
    let id = created["id"].as_str().unwrap();
    fake.stall_next(LOST);
    let lost = app.refund(id, json!({ "amount": 30_000 })).await;
    assert!(!lost.status().is_success(), "the answer was lost: {}", lost.status());
    assert_eq!(fake.refunds().len(), 1, "Flutterwave moved the money");
    assert_eq!(open_refunds(&app).await, 1, "the intent is open");

    // Settled by another node: the lookup needs nothing the first node held.
    let other = TestApp::start(TestDatabase::shared(&app.db.url), app.settings.clone()).await;
    let report = reconcile(&other).await;
    assert_eq!((report.examined, report.errors), (1, 0), "{report:?}");
    assert_eq!(fake.refunds().len(), 1, "found by its comment, not refunded twice");
    assert_eq!(open_refunds(&app).await, 0);
    let provider_id = fake.refunds()[0]["id"].to_string();
    let settled = count(
        &app.database,
        &format!("SELECT COUNT(*) FROM refunds WHERE payment_id = '{id}' AND status = 'succeeded' AND provider_reference = '{provider_id}'"),
    )
    .await;
    assert_eq!(settled, 1, "settled with Flutterwave's refund id");
    assert_eq!(fake.net_minor(id), 70_000);
    assert_eq!(
        recorded(&app, id).await,
        fake.net_minor(id),
        "money moved = money recorded"
    );
    let again = payrail::reconcile::run_once(&app.database, &app.supervisor, Duration::ZERO).await;
    assert_eq!(again.examined, 0, "settled once");
    let lookups = fake.recorded().iter().filter(|r| r.path == "/v3/refunds").count();
    assert_eq!(lookups, 1, "one transaction-scoped listing");
}

async fn a_refund_flutterwave_never_saw_is_sent_once(backend: Backend) {
    let Some((app, fake)) = app(backend).await else {
        return;
    };
    let created = charge(&app, 100_000, true).await;
    let id = created["id"].as_str().unwrap();
    fake.lose_next(LOST);
    let lost = app.refund(id, json!({ "amount": 40_000 })).await;
    assert!(!lost.status().is_success(), "{}", lost.status());
    assert!(fake.refunds().is_empty(), "the request never reached Flutterwave");
    assert_eq!(open_refunds(&app).await, 1);

    let report = reconcile(&app).await;
    assert_eq!(report.errors, 0, "{report:?}");
    assert_eq!(fake.refunds().len(), 1, "the lookup proved it unseen, so it was sent");
    assert_eq!(open_refunds(&app).await, 0);
    assert_eq!(recorded(&app, id).await, fake.net_minor(id));
    assert_eq!(fake.net_minor(id), 60_000);
}

async fn a_capture_and_a_void_whose_answers_were_lost_settle_from_the_charge(backend: Backend) {
    let Some((app, fake)) = app(backend).await else {
        return;
    };
    let held = charge(&app, 50_000, false).await;
    let id = held["id"].as_str().unwrap();
    assert_eq!(held["status"], "authorized", "{held}");
    fake.stall_next(LOST);
    let lost = app.capture(id, json!({ "amount": 50_000 })).await;
    assert!(!lost.status().is_success(), "{}", lost.status());
    assert_eq!(fake.transaction(id)["status"], "successful", "Flutterwave captured");

    let voided = charge(&app, 20_000, false).await;
    let voided_id = voided["id"].as_str().unwrap();
    fake.stall_next(LOST);
    let lost = app.cancel(voided_id).await;
    assert!(!lost.status().is_success(), "{}", lost.status());
    assert_eq!(fake.transaction(voided_id)["status"], "voided");

    let report = reconcile(&app).await;
    assert_eq!((report.examined, report.errors), (2, 0), "{report:?}");
    let captured = app.payment(id).await;
    assert_eq!(captured["status"], "succeeded", "{captured}");
    assert_eq!(captured["captured_amount"], 50_000);
    assert_eq!(app.payment(voided_id).await["status"], "canceled");
    let captures = fake.recorded().iter().filter(|r| r.path.ends_with("/capture")).count();
    let voids = fake.recorded().iter().filter(|r| r.path.ends_with("/void")).count();
    assert_eq!((captures, voids), (1, 1), "looked up, not repeated");
    assert_eq!(recorded(&app, id).await, fake.net_minor(id));
    assert_eq!(fake.net_minor(voided_id), 0);

    // A preauthorization's refund carries no comment: found as the unrecorded refund of its amount.
    fake.stall_next(LOST);
    let lost = app.refund(id, json!({ "amount": 5_000 })).await;
    assert!(!lost.status().is_success(), "{}", lost.status());
    reconcile(&app).await;
    assert_eq!(fake.refunds().len(), 1, "not refunded twice");
    assert_eq!(open_refunds(&app).await, 0);
    assert_eq!(recorded(&app, id).await, fake.net_minor(id));
    assert_eq!(fake.net_minor(id), 45_000);
}

crate::provider_tests!(
    a_refund_whose_answer_was_lost_is_found_not_repeated,
    a_refund_flutterwave_never_saw_is_sent_once,
    a_capture_and_a_void_whose_answers_were_lost_settle_from_the_charge,
);
