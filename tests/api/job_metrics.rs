//! The alert metrics of the background jobs (issue 17): `payrail_reconciler_backlog` counts the
//! payments the reconciler could not settle (here one whose provider has no answer for it), and the
//! periodic audit verification exports the time of its last intact verdict and counts broken ones
//! (after an audited event is tampered with).

use std::time::Duration;

use reqwest::StatusCode;

use crate::helpers::{card, expect_json, spawn_app_with, Backend, TestApp};

/// The value of an unlabelled series in a `/metrics` scrape.
async fn sample(app: &TestApp, name: &str) -> f64 {
    let text = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix(&format!("{name} ")))
        .unwrap_or_else(|| panic!("{name} in {text}"))
        .parse()
        .unwrap()
}

/// Waits up to 30 s for `name` to satisfy `done`; its last value.
async fn until(app: &TestApp, name: &str, done: impl Fn(f64) -> bool) -> f64 {
    let mut value = sample(app, name).await;
    for _ in 0..300 {
        if done(value) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        value = sample(app, name).await;
    }
    value
}

async fn the_reconciler_backlog_and_audit_verification_are_exported(backend: Backend) {
    let extra = [
        ("RECONCILE_INTERVAL_SECS", "1"),
        ("RECONCILE_MIN_AGE_SECS", "0"),
        ("AUDIT_VERIFY_INTERVAL_SECS", "1"),
    ];
    let Some(app) = spawn_app_with(backend, &extra).await else {
        return;
    };
    assert_eq!(sample(&app, "payrail_reconciler_backlog").await, 0.0);
    // A payment left `pending` that the sandbox knows nothing about: each pass asks, and it stays.
    let body = serde_json::json!({ "amount": 1_000, "currency": "usd", "payment_method": card("4000002500003155") });
    let payment = expect_json(app.post("/api/v1/payments", &body).await, StatusCode::CREATED).await;
    assert_eq!(payment["status"], "requires_action");
    let id = payment["id"].as_str().unwrap();
    crate::sql::execute(
        &app.database,
        &format!("UPDATE payments SET status = 'pending', updated_at = 0 WHERE id = '{id}'"),
    )
    .await
    .unwrap();
    assert_eq!(until(&app, "payrail_reconciler_backlog", |v| v >= 1.0).await, 1.0);

    let verified = until(&app, "payrail_audit_verify_last_success_timestamp_seconds", |v| v > 0.0).await;
    assert!(verified >= (chrono::Utc::now().timestamp() - 60) as f64, "{verified}");
    assert_eq!(sample(&app, "payrail_audit_verify_failures_total").await, 0.0);
    // Tamper with an audited event (waiting until it is audited: a change before that would be
    // audited as it is): the next verification finds the chain broken.
    let audited = format!(
        "SELECT COUNT(*) FROM audit_log a JOIN payment_events e ON a.event_id = e.id \
         WHERE e.payment_id = '{id}' AND e.sequence = 1"
    );
    for _ in 0..300 {
        if crate::sql::count(&app.database, &audited).await == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        crate::sql::count(&app.database, &audited).await,
        1,
        "the event is audited"
    );
    crate::sql::execute(
        &app.database,
        &format!("UPDATE payment_events SET amount = 1 WHERE payment_id = '{id}' AND sequence = 1"),
    )
    .await
    .unwrap();
    assert!(until(&app, "payrail_audit_verify_failures_total", |v| v >= 1.0).await >= 1.0);
}

crate::provider_tests!(the_reconciler_backlog_and_audit_verification_are_exported);
