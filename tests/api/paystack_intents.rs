//! Paystack has no idempotency header, so a refund intent left open by a lost answer (issue 14:
//! crash between call and settle) is settled by the reconciler from Paystack's documented refund
//! listing, matched on payrail's key in `merchant_note` — and sent only when the listing proves
//! Paystack never saw it. Money moved at the fake equals money payrail records, refund by refund.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::fakes::paystack::FakePaystack;
use crate::helpers::{expect_json, Backend, TestApp};
use crate::paystack::paystack_app;
use crate::sql::count;

const LOST: Duration = Duration::from_millis(1200);

async fn paid(backend: Backend) -> Option<(TestApp, FakePaystack, String)> {
    let (app, fake) = paystack_app(backend, &[("PROVIDER_TIMEOUT_MS", "300")]).await?;
    let body = json!({ "amount": 100_000, "currency": "ngn", "provider": "paystack",
        "payment_method": { "type": "token", "token": "AUTH_ok" } });
    let created = expect_json(app.post("/api/v1/payments", &body).await, StatusCode::CREATED).await;
    assert_eq!(created["status"], "succeeded", "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    Some((app, fake, id))
}

async fn open_refunds(app: &TestApp) -> i64 {
    count(
        &app.database,
        "SELECT COUNT(*) FROM refunds WHERE awaiting_provider = 1",
    )
    .await
}

/// Money moved at the fake for the payment, and payrail's view of it, in kobo.
async fn moved_and_recorded(app: &TestApp, fake: &FakePaystack, id: &str) -> (i64, i64) {
    let tx = fake.transaction(id);
    let refunded: i64 = fake
        .refunds()
        .iter()
        .filter(|r| r["transaction"] == tx["id"])
        .map(|r| r["amount"].as_i64().unwrap())
        .sum();
    let payment = app.payment(id).await;
    let recorded = payment["captured_amount"].as_i64().unwrap() - payment["refunded_amount"].as_i64().unwrap();
    (tx["amount"].as_i64().unwrap() - refunded, recorded)
}

async fn reconcile(app: &TestApp) -> payrail::reconcile::Report {
    tokio::time::sleep(LOST).await;
    payrail::reconcile::run_once(&app.database, &app.supervisor, Duration::ZERO).await
}

async fn a_paystack_refund_whose_answer_was_lost_is_found_by_lookup(backend: Backend) {
    let Some((app, fake, id)) = paid(backend).await else {
        return;
    };
    fake.stall_on("POST /refund", LOST);
    let lost = app.refund(&id, json!({ "amount": 30_000 })).await;
    assert!(!lost.status().is_success(), "the answer was lost: {}", lost.status());
    assert_eq!(fake.refunds().len(), 1, "Paystack moved the money");
    assert_eq!(open_refunds(&app).await, 1, "the intent is open");

    let report = reconcile(&app).await;
    assert_eq!((report.examined, report.errors), (1, 0), "{report:?}");
    assert_eq!(fake.refunds().len(), 1, "found in the listing, not refunded twice");
    assert_eq!(open_refunds(&app).await, 0);
    let provider_id = fake.refunds()[0]["id"].to_string();
    let settled = count(
        &app.database,
        &format!("SELECT COUNT(*) FROM refunds WHERE payment_id = '{id}' AND provider_reference = '{provider_id}'"),
    )
    .await;
    assert_eq!(settled, 1, "settled with Paystack's refund id");
    let (moved, recorded) = moved_and_recorded(&app, &fake, &id).await;
    assert_eq!((moved, recorded), (70_000, 70_000));
    let posts = |fake: &FakePaystack| fake.requests().iter().filter(|(r, _)| r == "POST /refund").count();
    assert_eq!(posts(&fake), 1);
    let again = payrail::reconcile::run_once(&app.database, &app.supervisor, Duration::ZERO).await;
    assert_eq!(again.examined, 0, "settled once");
}

async fn a_paystack_refund_never_seen_is_sent_once(backend: Backend) {
    let Some((app, fake, id)) = paid(backend).await else {
        return;
    };
    fake.lose_on("POST /refund", LOST);
    let lost = app.refund(&id, json!({ "amount": 45_000 })).await;
    assert!(!lost.status().is_success(), "{}", lost.status());
    assert!(fake.refunds().is_empty(), "the request never reached Paystack");
    assert_eq!(open_refunds(&app).await, 1);

    let report = reconcile(&app).await;
    assert_eq!(report.errors, 0, "{report:?}");
    assert_eq!(fake.refunds().len(), 1, "the listing proved it unseen, so it was sent");
    assert_eq!(open_refunds(&app).await, 0);
    let (moved, recorded) = moved_and_recorded(&app, &fake, &id).await;
    assert_eq!((moved, recorded), (55_000, 55_000));
    let notes: Vec<Value> = fake.refunds().iter().map(|r| r["merchant_note"].clone()).collect();
    assert!(notes[0].is_string(), "payrail's key rides in the note: {notes:?}");
}

crate::provider_tests!(
    a_paystack_refund_whose_answer_was_lost_is_found_by_lookup,
    a_paystack_refund_never_seen_is_sent_once,
);
