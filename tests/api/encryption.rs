//! Encryption at rest: a payment's `receipt_email` is stored sealed (AES-256-GCM) with the id of
//! its key, read back for its merchant only, and `payrail rotate-key` re-seals every row under a
//! new key so the old one can be retired (webhook endpoint secrets too: `merchant_events_keys.rs`).

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::card_data::dump_tables;
use crate::helpers::{card, expect_error, expect_json, test_settings, token_for, Backend, TestApp};

pub(crate) const NEW_KEY: &str = "5f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";

/// Runs `payrail rotate-key` on the database at `url` with [`NEW_KEY`] (id `k2`) current and the
/// `(id, key)` of `previous` to open older values; asserts it succeeded and returns its stdout.
pub(crate) async fn run_rotate_key(url: &str, previous: (&str, &str)) -> String {
    // tokio's process API: the app under test shares this thread and must keep committing.
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_payrail"))
        .arg("rotate-key")
        .env("CONFIG_DIR", concat!(env!("CARGO_MANIFEST_DIR"), "/config"))
        .env("DATABASE_URL", url)
        .env("LOG_LEVEL", "error")
        .env("ENCRYPTION_KEY", NEW_KEY)
        .env("ENCRYPTION_KEY_ID", "k2")
        .env("ENCRYPTION_PREVIOUS_KEYS", format!("{}:{}", previous.0, previous.1))
        .output()
        .await
        .expect("run payrail rotate-key");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

fn backend(app: &TestApp) -> Backend {
    if app.db.url.starts_with("sqlite") {
        Backend::Sqlite
    } else {
        Backend::Postgres
    }
}

/// Creates a payment with a receipt email, under an idempotency key (whose stored response must
/// not hold the email in clear either).
async fn create_with_email(app: &TestApp, email: &str, capture: bool) -> Value {
    let body = json!({
        "amount": 1_500, "currency": "usd", "capture": capture, "receipt_email": email,
        "payment_method": card("4242424242424242"),
    });
    let response = app
        .client
        .post(app.url("/api/v1/payments"))
        .bearer_auth(&app.token)
        .header("idempotency-key", uuid::Uuid::new_v4().to_string())
        .json(&body)
        .send()
        .await
        .unwrap();
    expect_json(response, StatusCode::CREATED).await
}

async fn receipt_emails_are_sealed_at_rest_and_read_back(app: TestApp) {
    let email = "ada.lovelace@example.com";
    let created = create_with_email(&app, email, false).await;
    // Mutating responses are stored for idempotent replay, so they do not echo it.
    assert!(created.get("receipt_email").is_none(), "{created}");
    let id = created["id"].as_str().unwrap();
    assert_eq!(app.payment(id).await["receipt_email"], email);
    let captured = expect_json(app.capture(id, json!({})).await, StatusCode::OK).await;
    assert!(captured.get("receipt_email").is_none());
    assert_eq!(app.payment(id).await["receipt_email"], email);
    let list = expect_json(app.get("/api/v1/payments").await, StatusCode::OK).await;
    assert_eq!(list["data"][0]["receipt_email"], email);
    let without = app.create_payment(100, "4242424242424242", true).await;
    assert!(without.get("receipt_email").is_none());
    assert!(app
        .payment(without["id"].as_str().unwrap())
        .await
        .get("receipt_email")
        .is_none());
    expect_error(
        app.get_as(&token_for("merchant_other"), &format!("/api/v1/payments/{id}"))
            .await,
        StatusCode::NOT_FOUND,
        "resource_missing",
        None,
    )
    .await;

    let tables = dump_tables(&app, backend(&app)).await;
    assert!(!tables.contains("ada.lovelace"), "plaintext email at rest");
    assert!(!tables.contains("example.com"));
    assert!(
        tables.contains("\"dev\""),
        "the key id is stored beside the value: {tables}"
    );

    let mut bad = json!({ "amount": 100, "currency": "usd", "payment_method": card("4242424242424242") });
    for value in [
        json!("not-an-email"),
        json!("a b@example.com"),
        json!(format!("{}@x.io", "a".repeat(300))),
    ] {
        bad["receipt_email"] = value;
        expect_error(
            app.post("/api/v1/payments", &bad).await,
            StatusCode::BAD_REQUEST,
            "invalid_email",
            Some("receipt_email"),
        )
        .await;
    }
}

async fn rotate_key_reseals_every_value_under_the_new_key(app: TestApp) {
    let mut ids = Vec::new();
    for n in 0..3 {
        let payment = create_with_email(&app, &format!("customer{n}@example.com"), true).await;
        ids.push(payment["id"].as_str().unwrap().to_owned());
    }
    let previous = ("dev", payrail::crypto::DEVELOPMENT_ENCRYPTION_KEY);
    let first = run_rotate_key(&app.db.url, previous).await;
    assert!(
        first.contains("re-encrypted 3 receipt email(s), 0 webhook endpoint secret(s)"),
        "{first}"
    );
    assert!(first.contains("under key id `k2`"), "{first}");
    let again = run_rotate_key(&app.db.url, previous).await;
    assert!(again.contains("re-encrypted 0 receipt email(s)"), "{again}");

    // A node that knows only the new key reads every email.
    let settings = test_settings(&app.db.url, &[("ENCRYPTION_KEY", NEW_KEY), ("ENCRYPTION_KEY_ID", "k2")]);
    let server = payrail::startup::Application::build(settings)
        .await
        .expect("new node starts");
    let address = format!("http://127.0.0.1:{}", server.port());
    let handle = server.handle();
    // Awaited after `stop`: the node's drain (audit flush, pool close) must finish before this
    // test's runtime goes away, or its open transaction is dropped outside any runtime.
    let serving = actix_web::rt::spawn(server.run_until_stopped());
    for (n, id) in ids.iter().enumerate() {
        let response = app
            .client
            .get(format!("{address}/api/v1/payments/{id}"))
            .bearer_auth(&app.token)
            .send()
            .await
            .unwrap();
        let payment = expect_json(response, StatusCode::OK).await;
        assert_eq!(payment["receipt_email"], format!("customer{n}@example.com"));
    }
    let tables = dump_tables(&app, backend(&app)).await;
    assert!(!tables.contains("\"dev\""), "no value is left under the old key");
    // ...and the old node, which lacks the new key, cannot read them: the rotation is real.
    expect_error(
        app.get(&format!("/api/v1/payments/{}", ids[0])).await,
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal_error",
        None,
    )
    .await;
    handle.stop(true).await;
    let _ = serving.await;
}

crate::backend_tests!(
    receipt_emails_are_sealed_at_rest_and_read_back,
    rotate_key_reseals_every_value_under_the_new_key
);
