//! Resilience around providers: a circuit breaker that opens on a failing provider, routing that
//! falls back only when the first provider certainly moved no money, and a timeout after sending
//! that leaves the payment `processing` until the reconciler asks the provider.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::fakes::stripe_app;
use crate::helpers::{expect_json, Backend};

const ROUTES: &str = r#"[{"currencies":["usd"],"providers":["stripe","sandbox"]}]"#;

fn token_body(amount: i64) -> serde_json::Value {
    json!({ "amount": amount, "currency": "usd", "payment_method": { "type": "token", "token": "pm_card_visa" } })
}

async fn failing_provider_opens_its_circuit_and_routing_falls_back(backend: Backend) {
    let settings = [
        ("PROVIDER_ROUTES", ROUTES),
        ("PROVIDER_MAX_ATTEMPTS", "2"),
        ("PROVIDER_BREAKER_THRESHOLD", "2"),
        ("PROVIDER_BREAKER_COOLDOWN_SECS", "600"),
    ];
    let Some((app, fake)) = stripe_app(backend, &settings).await else {
        return;
    };
    fake.fail_next(1000);

    // Stripe answers 503 twice (both attempts): certainly not executed, so the sandbox takes it.
    let first = expect_json(
        app.post("/api/v1/payments", &token_body(1000)).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(first["status"], "succeeded", "{first}");
    assert_eq!(first["provider"], "sandbox");
    let kinds: Vec<String> = app
        .events(first["id"].as_str().unwrap())
        .await
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(kinds, ["payment.created", "payment.rerouted", "payment.succeeded"]);
    assert_eq!(fake.requests().len(), 2);

    // The circuit is open now: the next payment goes to the fallback without calling Stripe.
    let second = expect_json(
        app.post("/api/v1/payments", &token_body(2000)).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(second["provider"], "sandbox");
    assert_eq!(second["status"], "succeeded");
    assert_eq!(fake.requests().len(), 2, "an open circuit fails fast");
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
        metrics
            .lines()
            .any(|l| l == "provider_circuit_open{provider=\"stripe\"} 1"),
        "the gauge shows the open circuit: {metrics}"
    );

    // A merchant who insists on Stripe gets no fallback: the payment fails, no money moved.
    let mut pinned = token_body(3000);
    pinned["provider"] = json!("stripe");
    let failed = expect_json(app.post("/api/v1/payments", &pinned).await, StatusCode::CREATED).await;
    assert_eq!(failed["status"], "failed");
    assert_eq!(failed["failure_code"], "provider_unavailable");
}

async fn server_errors_and_timeouts_are_never_routed_to_a_fallback(backend: Backend) {
    // A 500 or a timeout may have moved money: retried with the same key at most, never sent to
    // another provider; the payment waits in `processing` for reconciliation.
    let settings = [("PROVIDER_ROUTES", ROUTES), ("PROVIDER_TIMEOUT_MS", "300")];
    let Some((app, fake)) = stripe_app(backend, &settings).await else {
        return;
    };
    fake.fail_next_with(3, 500);
    let payment = expect_json(
        app.post("/api/v1/payments", &token_body(1000)).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(payment["status"], "processing", "{payment}");
    assert_eq!(payment["provider"], "stripe");
    let keys: Vec<String> = fake.requests();
    assert_eq!(keys.len(), 3, "three attempts: {keys:?}");
    assert!(keys.iter().all(|k| k == &keys[0]), "one idempotency key: {keys:?}");

    fake.stall_next(Duration::from_millis(1500));
    let payment = expect_json(
        app.post("/api/v1/payments", &token_body(1000)).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(payment["status"], "processing", "{payment}");
    assert_eq!(payment["provider"], "stripe");
}

async fn timeout_after_sending_is_processing_until_reconciled(backend: Backend) {
    let settings = [
        ("PROVIDER_TIMEOUT_MS", "300"),
        ("RECONCILE_INTERVAL_SECS", "1"),
        ("RECONCILE_MIN_AGE_SECS", "0"),
    ];
    let Some((app, fake)) = stripe_app(backend, &settings).await else {
        return;
    };
    fake.stall_next(Duration::from_millis(1500));
    let mut body = token_body(1234);
    body["provider"] = json!("stripe");
    let payment = expect_json(app.post("/api/v1/payments", &body).await, StatusCode::CREATED).await;
    assert_eq!(payment["status"], "processing", "{payment}");
    assert!(payment["failure_code"].is_null());
    let id = payment["id"].as_str().unwrap();

    // The periodic reconciler finds it by payrail's reference at Stripe and settles it.
    let mut settled = payment.clone();
    for _ in 0..50 {
        settled = app.payment(id).await;
        if settled["status"] != "processing" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(settled["status"], "succeeded", "{settled}");
    assert_eq!(settled["captured_amount"], 1234);
    assert!(settled["provider_reference"].as_str().unwrap().starts_with("pi_"));
    assert!(fake
        .requests()
        .iter()
        .any(|r| r.starts_with("GET /v1/payment_intents/search")));
}

async fn reconcile_pass_settles_processing_payments_and_leaves_others(backend: Backend) {
    let settings = [("PROVIDER_TIMEOUT_MS", "300"), ("RECONCILE_INTERVAL_SECS", "3600")];
    let Some((app, fake)) = stripe_app(backend, &settings).await else {
        return;
    };
    fake.stall_next(Duration::from_millis(1500));
    let mut body = token_body(900);
    body["provider"] = json!("stripe");
    let stuck = expect_json(app.post("/api/v1/payments", &body).await, StatusCode::CREATED).await;
    let done = expect_json(app.post("/api/v1/payments", &body).await, StatusCode::CREATED).await;
    assert_eq!(stuck["status"], "processing");
    assert_eq!(done["status"], "succeeded");

    let report = payrail::reconcile::run_once(&app.database, &app.supervisor, Duration::ZERO).await;
    assert_eq!(
        (report.examined, report.settled, report.errors),
        (1, 1, 0),
        "{report:?}"
    );
    assert_eq!(app.payment(stuck["id"].as_str().unwrap()).await["status"], "succeeded");
    let again = payrail::reconcile::run_once(&app.database, &app.supervisor, Duration::ZERO).await;
    assert_eq!(again.examined, 0);
}

async fn payrail_reconcile_command_settles_processing_payments(backend: Backend) {
    let settings = [("PROVIDER_TIMEOUT_MS", "300"), ("RECONCILE_INTERVAL_SECS", "3600")];
    let Some((app, fake)) = stripe_app(backend, &settings).await else {
        return;
    };
    fake.stall_next(Duration::from_millis(1000));
    let mut body = token_body(4321);
    body["provider"] = json!("stripe");
    let stuck = expect_json(app.post("/api/v1/payments", &body).await, StatusCode::CREATED).await;
    assert_eq!(stuck["status"], "processing");
    tokio::time::sleep(Duration::from_millis(800)).await;

    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_payrail"))
        .arg("reconcile")
        .env_clear()
        .env("CONFIG_DIR", concat!(env!("CARGO_MANIFEST_DIR"), "/config"))
        .env("DATABASE_URL", &app.db.url)
        .env("LOG_LEVEL", "warn")
        .env("STRIPE_SECRET_KEY", crate::fakes::stripe::SECRET_KEY)
        .env("STRIPE_API_BASE", &fake.base_url)
        .output()
        .await
        .expect("payrail reconcile runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("1 examined, 1 settled, 0 errors"), "{stdout}");
    assert_eq!(app.payment(stuck["id"].as_str().unwrap()).await["status"], "succeeded");
}

crate::provider_tests!(
    payrail_reconcile_command_settles_processing_payments,
    failing_provider_opens_its_circuit_and_routing_falls_back,
    server_errors_and_timeouts_are_never_routed_to_a_fallback,
    timeout_after_sending_is_processing_until_reconciled,
    reconcile_pass_settles_processing_payments_and_leaves_others,
);
