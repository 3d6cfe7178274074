//! payrail driving the fake PayPal: OAuth2 token fetched once and cached, card orders with
//! decimal-string amounts and `PayPal-Request-Id`, authorise → partial capture → partial refund,
//! declines, and webhooks verified through PayPal's verify-webhook-signature API.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::fakes::paypal::{FakePaypal, CLIENT_ID, CLIENT_SECRET, WEBHOOK_ID};
use crate::helpers::{card, expect_error, expect_json, spawn_app_with, Backend, TestApp};

async fn paypal_app(backend: Backend, extra: &[(&str, &str)]) -> Option<(TestApp, FakePaypal)> {
    let fake = FakePaypal::start();
    let mut env = vec![
        ("PAYPAL_CLIENT_ID", CLIENT_ID),
        ("PAYPAL_CLIENT_SECRET", CLIENT_SECRET),
        ("PAYPAL_WEBHOOK_ID", WEBHOOK_ID),
        ("PAYPAL_API_BASE", fake.base_url.as_str()),
        ("RECONCILE_INTERVAL_SECS", "3600"),
    ];
    env.extend_from_slice(extra);
    Some((spawn_app_with(backend, &env).await?, fake))
}

fn order(amount: i64, method: Value, capture: bool) -> Value {
    json!({ "amount": amount, "currency": "usd", "capture": capture, "provider": "paypal", "payment_method": method })
}

async fn paypal_card_order_is_authorised_captured_in_part_and_refunded(backend: Backend) {
    let Some((app, fake)) = paypal_app(backend, &[]).await else {
        return;
    };
    let payment = expect_json(
        app.post("/api/v1/payments", &order(1050, card("4242424242424242"), false))
            .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(payment["status"], "authorized", "{payment}");
    let id = payment["id"].as_str().unwrap();
    let order_id = payment["provider_reference"].as_str().unwrap();
    let at_paypal = fake.order(order_id);
    assert_eq!(
        at_paypal["purchase_units"][0]["amount"],
        json!({ "currency_code": "USD", "value": "10.50" })
    );
    assert_eq!(at_paypal["intent"], "AUTHORIZE");

    let captured = expect_json(app.capture(id, json!({ "amount": 800 })).await, StatusCode::OK).await;
    assert_eq!(captured["captured_amount"], 800);
    let refund = expect_json(app.refund(id, json!({ "amount": 300 })).await, StatusCode::CREATED).await;
    assert_eq!(refund["status"], "succeeded");
    let too_much = app.refund(id, json!({ "amount": 501 })).await;
    assert_eq!(too_much.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        fake.order(order_id)["purchase_units"][0]["payments"]["refunds"][0]["amount"]["value"],
        "3.00"
    );

    let requests = fake.requests();
    assert_eq!(
        requests
            .iter()
            .filter(|r| r.starts_with("POST /v1/oauth2/token"))
            .count(),
        1,
        "token cached"
    );
    for post in requests.iter().filter(|r| r.starts_with("POST /v2/")) {
        assert!(
            post.split(' ').nth(2).is_some_and(|key| key.starts_with(id)),
            "PayPal-Request-Id on {post}"
        );
    }
}

async fn paypal_declines_fail_the_payment(backend: Backend) {
    let Some((app, _fake)) = paypal_app(backend, &[]).await else {
        return;
    };
    let declined = expect_json(
        app.post("/api/v1/payments", &order(500, card("4000000000000002"), true))
            .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(declined["status"], "failed");
    assert_eq!(declined["failure_code"], "card_declined");
    let token = json!({ "type": "token", "token": "declined" });
    let refused = expect_json(
        app.post("/api/v1/payments", &order(500, token, true)).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(refused["status"], "failed");
    assert_eq!(refused["failure_code"], "card_declined");
}

async fn paypal_webhook_verified_by_paypal_settles_a_processing_payment(backend: Backend) {
    let Some((app, fake)) = paypal_app(backend, &[("PROVIDER_TIMEOUT_MS", "400")]).await else {
        return;
    };
    fake.stall_next(Duration::from_millis(1200));
    let token = json!({ "type": "token", "token": "vault-card-1" });
    let payment = expect_json(
        app.post("/api/v1/payments", &order(2500, token, true)).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(payment["status"], "processing", "{payment}");
    let id = payment["id"].as_str().unwrap();
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let at_paypal = fake.order_for(id);
    let capture = &at_paypal["purchase_units"][0]["payments"]["captures"][0];
    let event = json!({ "id": "WH-EVT-1", "event_type": "PAYMENT.CAPTURE.COMPLETED", "resource_type": "capture",
        "resource": { "id": capture["id"], "status": "COMPLETED", "amount": capture["amount"], "custom_id": id,
            "supplementary_data": { "related_ids": { "order_id": at_paypal["id"] } } } });
    let deliver = |event: &Value, headers: Vec<(&'static str, String)>| {
        let mut request = app.client.post(app.url("/api/v1/webhooks/paypal")).json(event);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        request.send()
    };
    let mut forged = event.clone();
    forged["resource"]["amount"]["value"] = json!("1.00");
    let refused = deliver(&forged, fake.sign_delivery(&event)).await.unwrap();
    expect_error(refused, StatusCode::BAD_REQUEST, "invalid_signature", None).await;
    assert_eq!(app.payment(id).await["status"], "processing");

    let headers = fake.sign_delivery(&event);
    let receipt = expect_json(deliver(&event, headers.clone()).await.unwrap(), StatusCode::OK).await;
    assert_eq!(receipt["duplicate"], false);
    let settled = app.payment(id).await;
    assert_eq!(settled["status"], "succeeded", "{settled}");
    assert_eq!(settled["provider_reference"], at_paypal["id"]);
    let again = expect_json(deliver(&event, headers).await.unwrap(), StatusCode::OK).await;
    assert_eq!(again["duplicate"], true);
}

/// A self-signed RSA certificate and a signer for it, made with the `openssl` command line.
struct SigningKey {
    dir: tempfile::TempDir,
}

impl SigningKey {
    async fn generate() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let status = tokio::process::Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=payrail-test",
            ])
            .arg("-keyout")
            .arg(dir.path().join("key.pem"))
            .arg("-out")
            .arg(dir.path().join("cert.pem"))
            .output()
            .await
            .expect("openssl is installed");
        assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
        Self { dir }
    }

    fn certificate(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("cert.pem")).unwrap()
    }

    /// base64 SHA256withRSA signature of `message`.
    async fn sign(&self, message: &str) -> String {
        use base64::Engine;
        let path = self.dir.path().join("message");
        std::fs::write(&path, message).unwrap();
        let out = tokio::process::Command::new("openssl")
            .args(["dgst", "-sha256", "-sign"])
            .arg(self.dir.path().join("key.pem"))
            .arg(&path)
            .output()
            .await
            .unwrap();
        assert!(out.status.success());
        base64::engine::general_purpose::STANDARD.encode(out.stdout)
    }
}

async fn paypal_webhook_verified_offline_with_an_allow_listed_certificate(backend: Backend) {
    let settings = [
        ("PROVIDER_TIMEOUT_MS", "400"),
        ("PAYPAL_WEBHOOK_VERIFICATION", "offline"),
        ("PAYPAL_CERT_HOSTS", "127.0.0.1"),
    ];
    let Some((app, fake)) = paypal_app(backend, &settings).await else {
        return;
    };
    let key = SigningKey::generate().await;
    let cert_url = fake.serve_certificate(key.certificate());
    fake.stall_next(Duration::from_millis(1200));
    let token = json!({ "type": "token", "token": "vault-card-2" });
    let payment = expect_json(
        app.post("/api/v1/payments", &order(1999, token, true)).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(payment["status"], "processing");
    let id = payment["id"].as_str().unwrap();
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let at_paypal = fake.order_for(id);
    let body = json!({ "id": "WH-EVT-OFF-1", "event_type": "PAYMENT.CAPTURE.COMPLETED",
        "resource": { "id": "CAP-x", "status": "COMPLETED", "custom_id": id,
            "supplementary_data": { "related_ids": { "order_id": at_paypal["id"] } } } })
    .to_string();
    let time = chrono::Utc::now().to_rfc3339();
    let message = format!("tx-1|{time}|{WEBHOOK_ID}|{}", crc32fast::hash(body.as_bytes()));
    let signature = key.sign(&message).await;
    let deliver = |body: String, cert_url: String| {
        app.client
            .post(app.url("/api/v1/webhooks/paypal"))
            .header("PAYPAL-AUTH-ALGO", "SHA256withRSA")
            .header("PAYPAL-CERT-URL", cert_url)
            .header("PAYPAL-TRANSMISSION-ID", "tx-1")
            .header("PAYPAL-TRANSMISSION-TIME", time.clone())
            .header("PAYPAL-TRANSMISSION-SIG", signature.clone())
            .body(body)
            .send()
    };
    let altered = deliver(body.replace("COMPLETED", "DECLINED"), cert_url.clone())
        .await
        .unwrap();
    expect_error(altered, StatusCode::BAD_REQUEST, "invalid_signature", None).await;
    let foreign_host = cert_url.replace("127.0.0.1", "localhost");
    let refused = deliver(body.clone(), foreign_host).await.unwrap();
    expect_error(refused, StatusCode::BAD_REQUEST, "invalid_signature", None).await;
    assert_eq!(app.payment(id).await["status"], "processing");

    expect_json(deliver(body, cert_url).await.unwrap(), StatusCode::OK).await;
    assert_eq!(app.payment(id).await["status"], "succeeded");
}

crate::provider_tests!(
    paypal_webhook_verified_offline_with_an_allow_listed_certificate,
    paypal_card_order_is_authorised_captured_in_part_and_refunded,
    paypal_declines_fail_the_payment,
    paypal_webhook_verified_by_paypal_settles_a_processing_payment,
);
