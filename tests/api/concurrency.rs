//! DESIGN §11.1 under concurrency: many simultaneous captures or refunds of one payment are all
//! decided by its actor, one at a time — none is lost, none is refused for load, and the money
//! never exceeds what was captured.

use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::TestApp;

async fn concurrent_refunds_never_exceed_captured_amount(app: TestApp) {
    let id = app.create_payment(10_000, "4242424242424242", true).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let attempts = (0..100).map(|_| app.refund(&id, json!({ "amount": 150 })));
    let responses = join_all(attempts).await;
    let mut accepted = 0;
    for response in responses {
        match response.status() {
            StatusCode::CREATED => accepted += 1,
            // The last partial refunds find too little left (422), or nothing at all (409).
            StatusCode::UNPROCESSABLE_ENTITY | StatusCode::CONFLICT => {}
            other => panic!("refund was not decided: {other} {}", response.text().await.unwrap()),
        }
    }
    assert_eq!(accepted, 66, "10000 / 150 = 66 refunds fit");
    let payment = app.payment(&id).await;
    assert_eq!(payment["refunded_amount"], 66 * 150);
    assert_eq!(payment["status"], "partially_refunded");
    let events = all_events(&app, &id).await;
    let refunded: i64 = events
        .iter()
        .filter(|e| e["type"] == "payment.refunded")
        .map(|e| e["amount"].as_i64().unwrap())
        .sum();
    assert_eq!(
        events.len(),
        2 + 2 * 66,
        "per accepted refund: its intent and its settlement"
    );
    assert_eq!(refunded, 66 * 150, "events match the final state exactly");
}

async fn concurrent_captures_capture_exactly_once(app: TestApp) {
    let id = app.create_payment(5_000, "4242424242424242", false).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let responses = join_all((0..50).map(|i| app.capture(&id, json!({ "amount": 1_000 + i })))).await;
    let mut captured: Vec<Value> = Vec::new();
    for response in responses {
        match response.status() {
            StatusCode::OK => captured.push(response.json().await.unwrap()),
            StatusCode::CONFLICT => {}
            other => panic!("capture was not decided: {other}"),
        }
    }
    assert_eq!(captured.len(), 1, "exactly one capture wins");
    let payment = app.payment(&id).await;
    assert_eq!(payment["captured_amount"], captured[0]["captured_amount"]);
    assert_eq!(
        app.events(&id).await.len(),
        4,
        "created, authorized, capture requested, captured"
    );
}

async fn concurrent_payments_proceed_independently(app: TestApp) {
    let created = join_all((0..40).map(|i| app.create_payment(100 + i, "4242424242424242", true))).await;
    let mut ids: Vec<&str> = created.iter().map(|p| p["id"].as_str().unwrap()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 40);
    assert!(created.iter().all(|p| p["status"] == "succeeded"));
}

crate::backend_tests!(
    concurrent_refunds_never_exceed_captured_amount,
    concurrent_captures_capture_exactly_once,
    concurrent_payments_proceed_independently,
);

/// Every event of the payment, following the list's cursor past one page.
pub async fn all_events(app: &TestApp, id: &str) -> Vec<Value> {
    let mut events: Vec<Value> = Vec::new();
    loop {
        let cursor = events
            .last()
            .map(|e| format!("&starting_after={}", e["id"].as_str().unwrap()))
            .unwrap_or_default();
        let page = app
            .get(&format!("/api/v1/payments/{id}/events?limit=100{cursor}"))
            .await;
        let page: Value = page.json().await.unwrap();
        events.extend(page["data"].as_array().unwrap().iter().cloned());
        if page["has_more"] != true {
            return events;
        }
    }
}
