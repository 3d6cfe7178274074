//! The supervisor's restart log (DESIGN §10): every actor death is one structured warn line with
//! payment_id, reason, restart count and time, in the production JSON format; the restart is
//! counted in `/metrics`; and the payment is served correctly afterwards.
//!
//! The log is captured by the test binary's one global subscriber (payrail's own
//! `telemetry::subscriber` writing into memory, tests/api/logs.rs); lines are told apart by payment id.

use payrail_core::domain::PaymentId;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{expect_json, TestApp};

/// The binary-wide capture (tests/api/logs.rs): one global subscriber serves every test.
fn capture_logs() {
    crate::logs::install();
}

/// Captured warn-level JSON lines that mention `payment_id`.
fn lines_about(payment_id: &str) -> Vec<Value> {
    crate::logs::captured()
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| line["payment_id"] == payment_id && line["level"] == "WARN")
        .collect()
}

async fn a_dead_actor_is_logged_counted_and_the_payment_still_served(app: TestApp) {
    capture_logs();
    let id = app.create_payment(5_000, "4242424242424242", false).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(lines_about(&id).is_empty(), "nothing to report yet");
    assert!(app.supervisor.kill(&PaymentId::parse(&id).unwrap()).await);

    let captured = expect_json(app.capture(&id, json!({ "amount": 3_000 })).await, StatusCode::OK).await;
    assert_eq!(captured["status"], "succeeded");
    assert_eq!(captured["captured_amount"], 3_000);

    let lines = lines_about(&id);
    assert_eq!(lines.len(), 1, "one line per restart: {lines:?}");
    let line = &lines[0];
    assert_eq!(line["level"], "WARN");
    assert_eq!(line["message"], "actor restarted");
    assert_eq!(line["reason"], "mailbox closed");
    assert_eq!(line["restart_count"], 1);
    let time = line["timestamp"].as_str().expect("timestamp");
    assert!(
        chrono::DateTime::parse_from_rfc3339(time).is_ok(),
        "RFC 3339 time: {time}"
    );

    let metrics = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.lines().any(|l| l == "payment_actor_restarts_total 1"),
        "restart counted: {metrics}"
    );
    // Served correctly afterwards: the rehydrated actor holds the committed state.
    let payment = app.payment(&id).await;
    assert_eq!(payment["captured_amount"], 3_000);
    let refund = expect_json(app.refund(&id, json!({ "amount": 3_000 })).await, StatusCode::CREATED).await;
    assert_eq!(refund["amount"], 3_000);
    assert_eq!(app.payment(&id).await["status"], "refunded");
    assert_eq!(
        app.events(&id).await.len(),
        6,
        "created, authorized, capture requested, captured, refund requested, refund settled"
    );
}

crate::backend_tests!(a_dead_actor_is_logged_counted_and_the_payment_still_served);
