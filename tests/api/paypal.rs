//! payrail driving the fake PayPal: OAuth2 token fetched once and cached (and shared with the
//! webhook verifier), card orders with decimal-string amounts and `PayPal-Request-Id`, answers
//! read from the representation payrail asks for, absent optional strings omitted, authorise →
//! partial capture → partial refund, declines, zero-decimal JPY, currencies PayPal does not take
//! refused before any call, and webhooks verified through PayPal's verify-webhook-signature API.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::fakes::paypal::{FakePaypal, CLIENT_ID, CLIENT_SECRET, WEBHOOK_ID};
use crate::helpers::{card, expect_error, expect_json, spawn_app_with, Backend, TestApp};

pub(crate) async fn paypal_app(backend: Backend, extra: &[(&str, &str)]) -> Option<(TestApp, FakePaypal)> {
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
    let tokens = fake
        .requests()
        .iter()
        .filter(|r| r.starts_with("POST /v1/oauth2/token"))
        .count();
    assert_eq!(tokens, 1, "payments and webhook checks share one token cache");
}

async fn paypal_payments_settle_from_the_representation_payrail_asks_for(backend: Backend) {
    let Some((app, fake)) = paypal_app(backend, &[]).await else {
        return;
    };
    // Captured in the create answer itself: no `processing`, no wait for the reconciler.
    let payment = expect_json(
        app.post("/api/v1/payments", &order(2000, card("4242424242424242"), true))
            .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(payment["status"], "succeeded", "{payment}");
    let id = payment["id"].as_str().unwrap();
    let refund = expect_json(app.refund(id, json!({ "amount": 500 })).await, StatusCode::CREATED).await;
    assert_eq!(refund["status"], "succeeded");
    let held = expect_json(
        app.post("/api/v1/payments", &order(1000, card("4242424242424242"), false))
            .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(held["status"], "authorized", "{held}");
    let held_id = held["id"].as_str().unwrap();
    expect_json(app.cancel(held_id).await, StatusCode::OK).await;

    for request in fake
        .recorded()
        .iter()
        .filter(|r| r.path.starts_with("/v2/") && r.method == "POST")
    {
        assert_eq!(request.header("prefer"), Some("return=representation"), "{request:?}");
        assert!(!request.body.contains("null"), "no JSON null is sent: {}", request.body);
    }
    let create = fake
        .recorded()
        .into_iter()
        .find(|r| r.path == "/v2/checkout/orders")
        .unwrap();
    let body: Value = serde_json::from_str(&create.body).unwrap();
    assert!(body["purchase_units"][0].get("description").is_none(), "{body}");
    let refund = fake
        .recorded()
        .into_iter()
        .find(|r| r.path.ends_with("/refund"))
        .unwrap();
    let body: Value = serde_json::from_str(&refund.body).unwrap();
    assert!(body.get("note_to_payer").is_none(), "{body}");
}

async fn paypal_fake_answers_minimally_and_refuses_what_paypal_refuses(_backend: Backend) {
    let fake = FakePaypal::start();
    let client = reqwest::Client::new();
    let token: Value = client
        .post(format!("{}/v1/oauth2/token", fake.base_url))
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let bearer = format!("Bearer {}", token["access_token"].as_str().unwrap());
    let post = |body: Value, key: &str, prefer: Option<&str>| {
        let mut request = client
            .post(format!("{}/v2/checkout/orders", fake.base_url))
            .header("Authorization", bearer.clone())
            .header("PayPal-Request-Id", key)
            .json(&body);
        if let Some(prefer) = prefer {
            request = request.header("Prefer", prefer);
        }
        request.send()
    };
    let card = json!({ "card": { "number": "4242424242424242", "expiry": "2030-12", "security_code": "123" } });
    let unit = json!({ "amount": { "currency_code": "USD", "value": "10.00" } });
    let valid = json!({ "intent": "CAPTURE", "purchase_units": [unit], "payment_source": card });

    let minimal: Value = post(valid.clone(), "k1", None).await.unwrap().json().await.unwrap();
    let mut keys: Vec<&String> = minimal.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(keys, ["id", "links", "status"], "minimal by default: {minimal}");
    let full: Value = post(valid.clone(), "k2", Some("return=representation"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        full["purchase_units"][0]["payments"]["captures"][0]["status"],
        "COMPLETED"
    );

    let mut null_description = valid.clone();
    null_description["purchase_units"][0]["description"] = Value::Null;
    let mut bad_intent = valid.clone();
    bad_intent["intent"] = json!("SALE");
    let mut cents_in_yen = valid.clone();
    cents_in_yen["purchase_units"][0]["amount"] = json!({ "currency_code": "JPY", "value": "100.50" });
    let mut dinars = valid.clone();
    dinars["purchase_units"][0]["amount"] = json!({ "currency_code": "KWD", "value": "1.000" });
    let cases = [
        (null_description, 400, "INVALID_PARAMETER_SYNTAX"),
        (bad_intent, 400, "INVALID_PARAMETER_VALUE"),
        (json!({ "intent": "CAPTURE" }), 400, "MISSING_REQUIRED_PARAMETER"),
        (cents_in_yen, 422, "DECIMAL_PRECISION"),
        (dinars, 422, "CURRENCY_NOT_SUPPORTED"),
    ];
    for (i, (body, status, issue)) in cases.into_iter().enumerate() {
        let answer = post(body, &format!("bad-{i}"), None).await.unwrap();
        assert_eq!(answer.status().as_u16(), status);
        let answer: Value = answer.json().await.unwrap();
        assert_eq!(answer["details"][0]["issue"], issue, "{answer}");
    }
    let bad_prefer = post(valid, "k3", Some("return=everything")).await.unwrap();
    assert_eq!(bad_prefer.status(), StatusCode::BAD_REQUEST);
}

async fn paypal_charges_zero_decimal_yen_and_refuses_dinars_before_any_call(backend: Backend) {
    let Some((app, fake)) = paypal_app(backend, &[]).await else {
        return;
    };
    let mut yen = order(1500, card("4242424242424242"), true);
    yen["currency"] = json!("jpy");
    let payment = expect_json(app.post("/api/v1/payments", &yen).await, StatusCode::CREATED).await;
    assert_eq!(payment["status"], "succeeded", "{payment}");
    let at_paypal = fake.order(payment["provider_reference"].as_str().unwrap());
    assert_eq!(
        at_paypal["purchase_units"][0]["amount"],
        json!({ "currency_code": "JPY", "value": "1500" }),
        "yen are never multiplied"
    );
    let orders_before = fake.requests().len();
    let mut dinars = order(1234, card("4242424242424242"), true);
    dinars["currency"] = json!("kwd");
    let refused = app.post("/api/v1/payments", &dinars).await;
    let refused = expect_error(
        refused,
        StatusCode::BAD_REQUEST,
        "currency_not_supported",
        Some("currency"),
    )
    .await;
    assert!(
        refused["error"]["message"].as_str().unwrap().contains("paypal"),
        "{refused}"
    );
    assert_eq!(fake.requests().len(), orders_before, "nothing was sent to PayPal");
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
        "resource": { "id": "9CAPTURE", "status": "COMPLETED", "custom_id": id,
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
    paypal_payments_settle_from_the_representation_payrail_asks_for,
    paypal_fake_answers_minimally_and_refuses_what_paypal_refuses,
    paypal_charges_zero_decimal_yen_and_refuses_dinars_before_any_call,
    paypal_webhook_verified_offline_with_an_allow_listed_certificate,
    paypal_card_order_is_authorised_captured_in_part_and_refunded,
    paypal_declines_fail_the_payment,
    paypal_webhook_verified_by_paypal_settles_a_processing_payment,
);
