//! No provider secret in logs, errors or responses: the real `payrail` binary runs with debug
//! logging against the fake Stripe, is driven through successes, declines, provider outages and
//! refused webhooks, and then everything it printed and answered is searched for the secrets.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;

use crate::fakes::stripe::{event, FakeStripe, SECRET_KEY, WEBHOOK_SECRET};
use crate::helpers::{card, token_for, JWT_SECRET, MERCHANT};

#[actix_web::test]
async fn provider_secrets_never_appear_in_logs_errors_or_responses() {
    let fake = FakeStripe::start();
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_payrail"))
        .env_clear()
        .env("CONFIG_DIR", concat!(env!("CARGO_MANIFEST_DIR"), "/config"))
        .env(
            "DATABASE_URL",
            format!("sqlite://{}", dir.path().join("p.db").display()),
        )
        .env("PORT", "0")
        .env("JWT_SECRET", JWT_SECRET)
        .env("LOG_LEVEL", "debug")
        .env("STRIPE_SECRET_KEY", SECRET_KEY)
        .env("STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET)
        .env("STRIPE_API_BASE", &fake.base_url)
        .env("PROVIDER_BACKOFF_MS", "1")
        .env("PROVIDER_TIMEOUT_MS", "300")
        .env("RECONCILE_INTERVAL_SECS", "1")
        .env("RECONCILE_MIN_AGE_SECS", "0")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("payrail binary starts");
    let output = Arc::new(Mutex::new(String::new()));
    let (port_tx, port_rx) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    let sink = Arc::clone(&output);
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(rest) = line.split("http://127.0.0.1:").nth(1) {
                let port: String = rest.chars().take_while(char::is_ascii_digit).collect();
                let _ = port_tx.send(port);
            }
            sink.lock().unwrap().push_str(&line);
            sink.lock().unwrap().push('\n');
        }
    });
    let mut stderr = child.stderr.take().unwrap();
    let errors = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let port = port_rx
        .recv_timeout(Duration::from_secs(30))
        .expect("payrail prints its port");
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let token = token_for(MERCHANT);
    let mut answers = String::new();

    let post = |path: &str, body: serde_json::Value| {
        let request = client.post(format!("{base}{path}")).bearer_auth(&token).json(&body);
        async move { request.send().await.unwrap().text().await.unwrap() }
    };
    let stripe = |number: &str| json!({ "amount": 1000, "currency": "usd", "provider": "stripe", "payment_method": card(number) });
    answers += &post("/api/v1/payments", stripe("4242424242424242")).await;
    answers += &post("/api/v1/payments", stripe("4000000000000002")).await;
    fake.fail_next(10);
    answers += &post("/api/v1/payments", stripe("4242424242424242")).await;
    fake.fail_next_with(3, 500);
    answers += &post("/api/v1/payments", stripe("4242424242424242")).await;
    fake.stall_next(Duration::from_millis(800));
    answers += &post("/api/v1/payments", stripe("4242424242424242")).await;
    let payload = event(
        "evt_x",
        "payment_intent.succeeded",
        &json!({ "id": "pi_x", "status": "succeeded" }),
    );
    let refused = client
        .post(format!("{base}/api/v1/webhooks/stripe"))
        .header("Stripe-Signature", "t=1,v1=00")
        .body(payload)
        .send()
        .await
        .unwrap();
    answers += &refused.text().await.unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;

    child.kill().expect("stop payrail");
    let _ = child.wait();
    let logs = output.lock().unwrap().clone() + &errors.join().unwrap();
    assert!(
        logs.contains("provider circuit") || logs.contains("retrying provider call"),
        "the outage was logged: {logs}"
    );
    for secret in [SECRET_KEY, WEBHOOK_SECRET, JWT_SECRET] {
        assert!(!logs.contains(secret), "a secret leaked into the logs");
        assert!(!answers.contains(secret), "a secret leaked into a response");
    }
}
