//! Every request payrail sends to PayPal and Paystack, checked against those providers' own
//! published OpenAPI documents: payments of every kind run against the fakes, each fake records
//! what it received, and `fixtures/check_provider_requests.py` (jsonschema) validates each request
//! — operation, path, query and header parameters, JSON body, credentials — against the documents
//! in `../shared/provider-specs` (or `PROVIDER_SPECS`). A control run shows that the checker does
//! refuse requests those documents forbid.
//!
//! The documents are data kept beside the repository, not in it; without them, or without python3
//! and its `jsonschema` and `yaml` modules, the test skips loudly — unless REQUIRE_PROVIDER_SPECS=1
//! (CI), which turns a skip into a failure.

use std::path::PathBuf;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::fakes::paypal::{self, FakePaypal};
use crate::fakes::paystack::{self, FakePaystack};
use crate::helpers::{card, expect_json, spawn_app_with, Backend, TestApp};

const CHECKER: &str = "tests/api/fixtures/check_provider_requests.py";

fn skip(why: &str) {
    if std::env::var("REQUIRE_PROVIDER_SPECS").as_deref() == Ok("1") {
        panic!("REQUIRE_PROVIDER_SPECS=1 but {why}");
    }
    eprintln!("SKIPPED: provider spec conformance: {why}");
}

/// The directory of provider documents, if present.
fn specs_dir() -> Option<PathBuf> {
    let dir = match std::env::var("PROVIDER_SPECS") {
        Ok(dir) => PathBuf::from(dir),
        Err(_) => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/provider-specs"),
    };
    if dir.join("paypal/checkout_orders_v2.json").is_file() && dir.join("paystack/paystack.yaml").is_file() {
        return Some(dir);
    }
    skip(&format!(
        "the providers' OpenAPI documents are not at {} (set PROVIDER_SPECS)",
        dir.display()
    ));
    None
}

/// Runs the checker over `requests`; its exit status and report.
async fn check(specs: &PathBuf, requests: &[Value]) -> Option<(bool, String)> {
    let file = tempfile::NamedTempFile::new().unwrap();
    let lines: Vec<String> = requests.iter().map(Value::to_string).collect();
    std::fs::write(file.path(), lines.join("\n")).unwrap();
    // tokio's process API: the actors of the app under test share this thread.
    let output = tokio::process::Command::new("python3")
        .arg(CHECKER)
        .arg(specs)
        .arg(file.path())
        .output()
        .await;
    match output {
        Ok(out) if out.status.code().is_some_and(|c| c <= 1) && !out.stdout.is_empty() => {
            Some((out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned()))
        }
        other => {
            let why = match other {
                Ok(out) => String::from_utf8_lossy(&out.stderr).into_owned(),
                Err(e) => e.to_string(),
            };
            skip(&format!(
                "python3 with jsonschema and PyYAML is unavailable ({why}); pip install jsonschema pyyaml"
            ));
            None
        }
    }
}

async fn both_providers(backend: Backend) -> Option<(TestApp, FakePaypal, FakePaystack)> {
    let (pp, ps) = (FakePaypal::start(), FakePaystack::start());
    let env = [
        ("PAYPAL_CLIENT_ID", paypal::CLIENT_ID),
        ("PAYPAL_CLIENT_SECRET", paypal::CLIENT_SECRET),
        ("PAYPAL_WEBHOOK_ID", paypal::WEBHOOK_ID),
        ("PAYPAL_API_BASE", pp.base_url.as_str()),
        ("PAYSTACK_SECRET_KEY", paystack::SECRET_KEY),
        ("PAYSTACK_API_BASE", ps.base_url.as_str()),
        ("PROVIDER_BACKOFF_MS", "10"),
        ("RECONCILE_INTERVAL_SECS", "3600"),
    ];
    Some((spawn_app_with(backend, &env).await?, pp, ps))
}

async fn create(app: &TestApp, body: Value) -> Value {
    expect_json(app.post("/api/v1/payments", &body).await, StatusCode::CREATED).await
}

/// PayPal: captured and authorised orders by card and vault id, with and without a description,
/// capture, void, refunds with and without a reason, a decline, yen, and a webhook verified
/// through PayPal's API.
async fn pay_through_paypal(app: &TestApp, fake: &FakePaypal) {
    let order = |amount: i64, currency: &str, method: Value, capture: bool| json!({ "amount": amount, "currency": currency, "capture": capture, "provider": "paypal", "payment_method": method });
    let mut described = order(2000, "usd", card("4242424242424242"), true);
    described["description"] = json!("Order 42: two mugs");
    let captured = create(app, described).await;
    assert_eq!(captured["status"], "succeeded", "{captured}");
    let id = captured["id"].as_str().unwrap();
    let reason = json!({ "amount": 500, "reason": "requested_by_customer" });
    expect_json(app.refund(id, reason).await, StatusCode::CREATED).await;
    expect_json(app.refund(id, json!({ "amount": 100 })).await, StatusCode::CREATED).await;

    let vaulted = json!({ "type": "token", "token": "vault-card-7" });
    let held = create(app, order(1500, "eur", vaulted, false)).await;
    let held_id = held["id"].as_str().unwrap();
    expect_json(app.capture(held_id, json!({ "amount": 1200 })).await, StatusCode::OK).await;
    let voided = create(app, order(900, "gbp", card("4242424242424242"), false)).await;
    expect_json(app.cancel(voided["id"].as_str().unwrap()).await, StatusCode::OK).await;
    create(app, order(700, "usd", card("4000000000000002"), true)).await;
    let yen = create(app, order(1500, "jpy", card("4242424242424242"), true)).await;
    assert_eq!(yen["status"], "succeeded", "{yen}");
    // 3-D Secure (issue 13): the payer approves, payrail authorizes the approved order on return.
    let mut challenged = order(1100, "usd", card("4000002500003155"), false);
    challenged["return_url"] = json!("https://shop.example/done");
    let challenged = create(app, challenged).await;
    let approve = challenged["next_action"]["redirect_to_url"]["url"].as_str().unwrap();
    let approved = crate::customer_actions::provider_page(approve, "complete").await;
    let back = approved.headers()["location"].to_str().unwrap().to_owned();
    crate::customer_actions::browser().get(&back).send().await.unwrap();
    assert_eq!(
        app.payment(challenged["id"].as_str().unwrap()).await["status"],
        "authorized"
    );

    let event = json!({ "id": "WH-SPEC-1", "event_type": "PAYMENT.CAPTURE.COMPLETED", "resource_type": "capture",
        "resource": { "id": "1CAPTURE", "status": "COMPLETED", "custom_id": id } });
    let mut delivery = app.client.post(app.url("/api/v1/webhooks/paypal")).json(&event);
    for (name, value) in fake.sign_delivery(&event) {
        delivery = delivery.header(name, value);
    }
    assert_eq!(delivery.send().await.unwrap().status(), StatusCode::OK);
}

/// Paystack: an authorization-code charge with refunds found again by listing, a card charge,
/// a decline, and a lost answer recovered by verifying the reference.
async fn pay_through_paystack(app: &TestApp, fake: &FakePaystack) {
    let charge = |amount: i64, currency: &str, method: Value| json!({ "amount": amount, "currency": currency, "provider": "paystack", "payment_method": method });
    let token = |code: &str| json!({ "type": "token", "token": code });
    let paid = create(app, charge(50_000, "ngn", token("AUTH_ok"))).await;
    let id = paid["id"].as_str().unwrap();
    expect_json(app.refund(id, json!({ "amount": 10_000 })).await, StatusCode::CREATED).await;
    expect_json(app.refund(id, json!({ "amount": 5_000 })).await, StatusCode::CREATED).await;
    create(app, charge(20_000, "ghs", card("4084084084084081"))).await;
    create(app, charge(10_000, "zar", token("AUTH_declined"))).await;
    fake.break_after_processing_next();
    let recovered = create(app, charge(7_500, "kes", token("AUTH_ok"))).await;
    assert_eq!(recovered["status"], "succeeded", "{recovered}");
    // Customer input (issue 13): a PIN, then an OTP, submitted to /charge/submit_pin and _otp.
    let pin = create(app, charge(3_000, "ngn", card("507850785078507812"))).await;
    let path = format!("/api/v1/payments/{}/confirm", pin["id"].as_str().unwrap());
    expect_json(app.post(&path, &json!({ "pin": "1111" })).await, StatusCode::OK).await;
    let paid = expect_json(app.post(&path, &json!({ "otp": "123456" })).await, StatusCode::OK).await;
    assert_eq!(paid["status"], "succeeded", "{paid}");
}

#[actix_web::test]
async fn requests_to_paypal_and_paystack_conform_to_their_published_specs() {
    let Some(specs) = specs_dir() else {
        return;
    };
    let Some((app, pp, ps)) = both_providers(Backend::Sqlite).await else {
        return;
    };
    pay_through_paypal(&app, &pp).await;
    pay_through_paystack(&app, &ps).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut requests: Vec<Value> = pp.recorded().iter().map(|r| r.to_json("paypal")).collect();
    requests.extend(ps.recorded().iter().map(|r| r.to_json("paystack")));
    assert!(requests.len() > 20, "the flows reached the fakes: {}", requests.len());
    let Some((conform, report)) = check(&specs, &requests).await else {
        return;
    };
    println!("{report}");
    assert!(
        conform,
        "requests that the providers' documents do not allow:\n{report}"
    );
}

#[actix_web::test]
async fn the_spec_check_refuses_what_the_documents_forbid() {
    let Some(specs) = specs_dir() else {
        return;
    };
    let request = |provider: &str, method: &str, path: &str, query: &str, body: Value| {
        let mut headers = json!({ "authorization": "Bearer t", "content-type": "application/json" });
        if provider == "paypal" {
            headers["paypal-request-id"] = json!("key-1");
        }
        json!({ "provider": provider, "method": method, "path": path, "query": query, "headers": headers,
            "body": if body.is_null() { String::new() } else { body.to_string() } })
    };
    let order = json!({ "intent": "CAPTURE", "purchase_units": [{ "description": null,
        "amount": { "currency_code": "USD", "value": "10.00" } }] });
    let charge = json!({ "email": "a@b.invalid", "amount": 100, "authorization_code": "AUTH_x", "reference": "pay_1" });
    let refund = json!({ "transaction": "T1", "amount": "100" });
    let forbidden = [
        request("paypal", "POST", "/v2/checkout/orders", "", order),
        request("paystack", "POST", "/transaction/charge_authorization", "", charge),
        request("paystack", "GET", "/refund", "reference=pay-1", Value::Null),
        request("paystack", "POST", "/refund", "", refund),
    ];
    let Some((conform, report)) = check(&specs, &forbidden).await else {
        return;
    };
    println!("{report}");
    assert!(!conform);
    assert_eq!(report.matches("FAIL ").count(), forbidden.len(), "{report}");
}
