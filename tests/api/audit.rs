//! The audit trail (DESIGN §4): every committed payment event gets exactly one entry in the
//! hash-chained `audit_log`, refusals are audited without secrets, the log refuses changes, and
//! `payrail audit verify` catches a row changed behind its back.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{card, expect_error, expect_json, token_for, TestApp};
use crate::idempotency::post_keyed;
use crate::sql::{assert_every_event_audited_once, count, execute};

/// Runs `payrail <args>` against the database at `url`.
pub async fn payrail_cli(url: &str, args: &[&str]) -> std::process::Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_payrail"))
        .args(args)
        .env("CONFIG_DIR", concat!(env!("CARGO_MANIFEST_DIR"), "/config"))
        .env("DATABASE_URL", url)
        .env("LOG_LEVEL", "error")
        .output()
        .await
        .expect("payrail runs")
}

/// A bit of everything: captures, partial and concurrent refunds, a void, a decline, 3-D Secure,
/// keyed retries, and refusals.
async fn mixed_load(app: &TestApp) {
    let captured = app.create_payment(10_000, "4242424242424242", true).await;
    let id = captured["id"].as_str().unwrap().to_owned();
    let refunds = (0..4).map(|_| app.refund(&id, json!({ "amount": 1_000 })));
    for response in futures::future::join_all(refunds).await {
        assert_eq!(response.status(), StatusCode::CREATED);
    }
    let held = app.create_payment(5_000, "4242424242424242", false).await;
    let held_id = held["id"].as_str().unwrap();
    expect_json(app.capture(held_id, json!({ "amount": 4_000 })).await, StatusCode::OK).await;
    let voided = app.create_payment(700, "4242424242424242", false).await;
    expect_json(app.cancel(voided["id"].as_str().unwrap()).await, StatusCode::OK).await;
    for number in ["4000000000000002", "4000002500003155"] {
        app.create_payment(1_500, number, true).await;
    }
    let body = json!({ "amount": 900, "currency": "usd", "payment_method": card("4242424242424242") });
    for _ in 0..2 {
        expect_json(
            post_keyed(app, &app.token, "/api/v1/payments", "mixed", &body).await,
            StatusCode::CREATED,
        )
        .await;
    }
    expect_error(
        post_keyed(app, &app.token, "/api/v1/payments", "mixed", &json!({ "amount": 1 })).await,
        StatusCode::BAD_REQUEST,
        "parameter_missing",
        None,
    )
    .await;
    let other = token_for("merchant_b");
    expect_json(
        app.get_as(&other, &format!("/api/v1/payments/{id}")).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    let forged = app.get_as("not-a-token", "/api/v1/payments").await;
    assert_eq!(forged.status(), StatusCode::UNAUTHORIZED);
}

async fn every_payment_event_has_exactly_one_audit_entry(app: TestApp) {
    mixed_load(&app).await;
    assert_every_event_audited_once(&app.database).await;
    let duplicates = count(
        &app.database,
        "SELECT COUNT(*) FROM (SELECT event_id FROM audit_log WHERE event_id IS NOT NULL \
         GROUP BY event_id HAVING COUNT(*) > 1) d",
    )
    .await;
    assert_eq!(duplicates, 0);
}

async fn audit_verify_passes_after_load_and_catches_a_changed_row(app: TestApp) {
    mixed_load(&app).await;
    assert_every_event_audited_once(&app.database).await;
    let verified = payrail_cli(&app.db.url, &["audit", "verify"]).await;
    let stdout = String::from_utf8_lossy(&verified.stdout);
    assert!(
        verified.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&verified.stderr)
    );
    assert!(stdout.contains("audit chain intact"), "{stdout}");

    // The log is append-only: the application's own connection cannot change it...
    let tamper = "UPDATE audit_log SET payload = replace(payload, '10000', '1') WHERE seq = 2";
    assert!(execute(&app.database, tamper).await.is_err(), "an UPDATE is refused");
    // ...but someone with DDL rights can; `verify` then names the first broken entry.
    let drop_trigger = match app.database.backend() {
        "postgres" => "DROP TRIGGER audit_log_no_update ON audit_log",
        _ => "DROP TRIGGER audit_log_no_update",
    };
    execute(&app.database, drop_trigger).await.expect("drop trigger");
    assert_eq!(execute(&app.database, tamper).await.expect("tamper"), 1);
    let verified = payrail_cli(&app.db.url, &["audit", "verify"]).await;
    let stderr = String::from_utf8_lossy(&verified.stderr);
    assert!(!verified.status.success(), "verify must fail after tampering");
    assert!(stderr.contains("audit entry 2 is broken"), "{stderr}");
}

async fn audit_verify_catches_a_changed_payment_event(app: TestApp) {
    mixed_load(&app).await;
    assert_every_event_audited_once(&app.database).await;
    assert!(payrail_cli(&app.db.url, &["audit", "verify"]).await.status.success());
    let tamper = "UPDATE payment_events SET amount = 1 WHERE id = \
        (SELECT id FROM payment_events WHERE amount = 4000 ORDER BY created_at, sequence LIMIT 1)";
    assert_eq!(execute(&app.database, tamper).await.expect("tamper"), 1);
    let verified = payrail_cli(&app.db.url, &["audit", "verify"]).await;
    let stderr = String::from_utf8_lossy(&verified.stderr);
    assert!(!verified.status.success(), "verify must fail after an event changed");
    assert!(stderr.contains("no longer matches its audited copy"), "{stderr}");
}

async fn refusals_are_audited_without_secrets(app: TestApp) {
    let forged = format!("{}x", app.token);
    let response = app.get_as(&forged, "/api/v1/payments").await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let body = json!({ "amount": 800, "currency": "usd", "payment_method": card("4242424242424242") });
    expect_json(
        post_keyed(&app, &app.token, "/api/v1/payments", "audited-key", &body).await,
        StatusCode::CREATED,
    )
    .await;
    let mut changed = body.clone();
    changed["amount"] = json!(801);
    let reused = post_keyed(&app, &app.token, "/api/v1/payments", "audited-key", &changed).await;
    assert_eq!(reused.status(), StatusCode::UNPROCESSABLE_ENTITY);

    let payloads = wait_for_refusals(&app, 2).await;
    let auth = payloads
        .iter()
        .find(|(kind, _)| kind == "authentication_failure")
        .expect("auth failure audited");
    assert_eq!(auth.1["outcome"], "401 invalid_token");
    assert_eq!(auth.1["address"], "127.0.0.1");
    assert_eq!(auth.1["action"], "GET /api/v1/payments");
    let conflict = payloads
        .iter()
        .find(|(kind, _)| kind == "idempotency_conflict")
        .expect("conflict audited");
    assert_eq!(conflict.1["actor"], "merchant_test");
    assert_eq!(conflict.1["outcome"], "422 idempotency_key_reused");
    let all = payloads.iter().map(|(_, p)| p.to_string()).collect::<String>();
    assert!(!all.contains(&app.token[10..]), "no token in the audit log");
    assert!(!all.contains("4242424242424242"), "no card number in the audit log");
}

async fn wait_for_refusals(app: &TestApp, at_least: usize) -> Vec<(String, Value)> {
    let sql = "SELECT kind, payload FROM audit_log WHERE event_id IS NULL ORDER BY seq";
    for _ in 0..50 {
        let rows: Vec<(String, String)> = match &app.database {
            payrail::store::Database::Sqlite(s) => sqlx::query_as(sql).fetch_all(s.pool()).await,
            payrail::store::Database::Postgres(s) => sqlx::query_as(sql).fetch_all(s.pool()).await,
        }
        .expect("audit rows");
        if rows.len() >= at_least {
            return rows
                .into_iter()
                .map(|(kind, payload)| (kind, serde_json::from_str(&payload).expect("json payload")))
                .collect();
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("refusals were not audited");
}

/// Two payrail nodes on one database, each with its own AuditActor: one chain, every event once.
async fn two_nodes_share_one_unbroken_chain(app: TestApp) {
    let second = payrail::startup::Application::build(app.settings.clone())
        .await
        .expect("second node starts");
    let second_address = format!("http://127.0.0.1:{}", second.port());
    let handle = second.handle();
    // Awaited after `stop`: the node's drain (audit flush, pool close) must finish before this
    // test's runtime goes away, or its open transaction is dropped outside any runtime.
    let serving = actix_web::rt::spawn(second.run_until_stopped());
    let body = json!({ "amount": 1_000, "currency": "usd", "payment_method": card("4242424242424242") });
    let creates = (0..40).map(|i| {
        let address = if i % 2 == 0 { &app.address } else { &second_address };
        app.client
            .post(format!("{address}/api/v1/payments"))
            .bearer_auth(&app.token)
            .json(&body)
            .send()
    });
    for response in futures::future::join_all(creates).await {
        assert_eq!(response.expect("request").status(), StatusCode::CREATED);
    }
    assert_every_event_audited_once(&app.database).await;
    handle.stop(true).await;
    let _ = serving.await;
    let verified = payrail_cli(&app.db.url, &["audit", "verify"]).await;
    assert!(
        verified.status.success(),
        "{}",
        String::from_utf8_lossy(&verified.stderr)
    );
}

crate::backend_tests!(
    two_nodes_share_one_unbroken_chain,
    every_payment_event_has_exactly_one_audit_entry,
    audit_verify_passes_after_load_and_catches_a_changed_row,
    audit_verify_catches_a_changed_payment_event,
    refusals_are_audited_without_secrets,
);
