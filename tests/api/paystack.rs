//! payrail driving the fake Paystack: charges in kobo with a reference derived from payrail's
//! payment id (only the characters Paystack allows) and mapped back, declines that arrive as HTTP
//! 200, a lost answer recovered by verifying the reference, partial refunds found again through
//! Paystack's documented refund listing, currencies Paystack does not take refused before any
//! call, and webhooks signed with HMAC-SHA512 of the body.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::fakes::paystack::{sign, FakePaystack, SECRET_KEY};
use crate::helpers::{expect_error, expect_json, spawn_app_with, Backend, TestApp};

pub(crate) async fn paystack_app(backend: Backend, extra: &[(&str, &str)]) -> Option<(TestApp, FakePaystack)> {
    let fake = FakePaystack::start();
    let mut env = vec![
        ("PAYSTACK_SECRET_KEY", SECRET_KEY),
        ("PAYSTACK_API_BASE", fake.base_url.as_str()),
        ("PROVIDER_BACKOFF_MS", "10"),
        ("RECONCILE_INTERVAL_SECS", "3600"),
    ];
    env.extend_from_slice(extra);
    Some((spawn_app_with(backend, &env).await?, fake))
}

fn charge(amount: i64, code: &str) -> Value {
    json!({ "amount": amount, "currency": "ngn", "provider": "paystack",
        "payment_method": { "type": "token", "token": code } })
}

async fn webhook(app: &TestApp, body: &str, signature: &str) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/webhooks/paystack"))
        .header("x-paystack-signature", signature)
        .body(body.to_owned())
        .send()
        .await
        .expect("request")
}

async fn paystack_charge_in_kobo_and_partial_refund_settled_by_webhook(backend: Backend) {
    let Some((app, fake)) = paystack_app(backend, &[]).await else {
        return;
    };
    let payment = expect_json(
        app.post("/api/v1/payments", &charge(50_000, "AUTH_ok")).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(payment["status"], "succeeded", "{payment}");
    let id = payment["id"].as_str().unwrap();
    let tx = fake.transaction(id);
    assert_eq!(tx["amount"], 50_000, "kobo, as payrail's minor units");
    assert_eq!(tx["currency"], "NGN");

    // The first refund attempt goes through but its answer is lost; the retry finds it by
    // payrail's key in the merchant note instead of refunding twice.
    fake.break_after_processing_next();
    let refund = expect_json(app.refund(id, json!({ "amount": 20_000 })).await, StatusCode::CREATED).await;
    assert_eq!(refund["status"], "pending", "Paystack queues refunds");
    assert_eq!(fake.refunds().len(), 1, "refunded once");
    assert_eq!(app.payment(id).await["refunded_amount"], 20_000);
    let paystack_refund = &fake.refunds()[0];
    let body = json!({ "event": "refund.processed", "data": { "id": paystack_refund["id"], "status": "processed",
        "transaction_reference": tx["reference"], "amount": 20_000 } })
    .to_string();
    expect_json(webhook(&app, &body, &sign(&body)).await, StatusCode::OK).await;
    let events = app.events(id).await;
    assert_eq!(events.last().unwrap()["type"], "refund.updated", "{events:?}");
    assert_eq!(app.payment(id).await["status"], "partially_refunded");
}

async fn paystack_decline_is_http_200_with_failed_status(backend: Backend) {
    let Some((app, _fake)) = paystack_app(backend, &[]).await else {
        return;
    };
    let payment = expect_json(
        app.post("/api/v1/payments", &charge(10_000, "AUTH_insufficient")).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(payment["status"], "failed");
    assert_eq!(payment["failure_code"], "insufficient_funds");
    let mut manual = charge(10_000, "AUTH_ok");
    manual["capture"] = json!(false);
    let refused = expect_json(app.post("/api/v1/payments", &manual).await, StatusCode::CREATED).await;
    assert_eq!(refused["failure_code"], "operation_not_supported");
}

async fn paystack_lost_answer_is_recovered_by_verifying_the_reference(backend: Backend) {
    let Some((app, fake)) = paystack_app(backend, &[]).await else {
        return;
    };
    fake.break_after_processing_next();
    let payment = expect_json(
        app.post("/api/v1/payments", &charge(7_500, "AUTH_ok")).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(payment["status"], "succeeded", "{payment}");
    let charges = fake
        .requests()
        .iter()
        .filter(|(route, _)| route == "POST /transaction/charge_authorization")
        .count();
    assert_eq!(charges, 2, "retried with the same reference, charged once");
    assert!(fake
        .requests()
        .iter()
        .any(|(route, _)| route.starts_with("GET /transaction/verify/")));
}

async fn paystack_webhook_settles_a_processing_payment_once(backend: Backend) {
    let Some((app, fake)) = paystack_app(backend, &[("PROVIDER_TIMEOUT_MS", "300")]).await else {
        return;
    };
    fake.stall_next(Duration::from_millis(1000));
    let payment = expect_json(
        app.post("/api/v1/payments", &charge(9_900, "AUTH_ok")).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(payment["status"], "processing");
    let id = payment["id"].as_str().unwrap();
    tokio::time::sleep(Duration::from_millis(900)).await;
    let body = json!({ "event": "charge.success", "data": fake.transaction(id) }).to_string();

    let forged = webhook(&app, &body, &sign("{}")).await;
    expect_error(forged, StatusCode::BAD_REQUEST, "invalid_signature", None).await;
    assert_eq!(app.payment(id).await["status"], "processing");

    let first = expect_json(webhook(&app, &body, &sign(&body)).await, StatusCode::OK).await;
    assert_eq!(first["duplicate"], false);
    assert_eq!(app.payment(id).await["status"], "succeeded");
    let again = expect_json(webhook(&app, &body, &sign(&body)).await, StatusCode::OK).await;
    assert_eq!(again["duplicate"], true);
}

async fn paystack_reference_conforms_and_refunds_are_found_by_documented_listing(backend: Backend) {
    let Some((app, fake)) = paystack_app(backend, &[]).await else {
        return;
    };
    let payment = expect_json(
        app.post("/api/v1/payments", &charge(30_000, "AUTH_ok")).await,
        StatusCode::CREATED,
    )
    .await;
    let id = payment["id"].as_str().unwrap();
    let reference = fake.transaction(id)["reference"].as_str().unwrap().to_owned();
    assert!(
        reference
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '=')),
        "{reference}"
    );
    for (route, body) in fake.requests() {
        assert!(!route.contains("pay_"), "{route}");
        for field in ["reference", "transaction"] {
            assert!(
                !body[field].as_str().unwrap_or_default().contains('_'),
                "{route}: {body}"
            );
        }
    }
    expect_json(app.refund(id, json!({ "amount": 10_000 })).await, StatusCode::CREATED).await;
    expect_json(app.refund(id, json!({ "amount": 5_000 })).await, StatusCode::CREATED).await;
    assert_eq!(fake.refunds().len(), 2);
    let listings: Vec<_> = fake
        .recorded()
        .into_iter()
        .filter(|r| r.method == "GET" && r.path == "/refund")
        .collect();
    assert_eq!(listings.len(), 2, "one lookup before each refund");
    for listing in listings {
        for pair in listing.query.split('&') {
            let name = pair.split('=').next().unwrap_or_default();
            assert!(
                ["from", "perPage", "page"].contains(&name),
                "undocumented filter: {}",
                listing.query
            );
        }
    }
    // A refund webhook names the payment through the derived reference.
    let body = json!({ "event": "refund.processed", "data": { "id": fake.refunds()[0]["id"], "status": "processed",
        "transaction_reference": reference, "amount": 10_000 } })
    .to_string();
    expect_json(webhook(&app, &body, &sign(&body)).await, StatusCode::OK).await;
    let events = app.events(id).await;
    assert_eq!(events.last().unwrap()["type"], "refund.updated", "{events:?}");
}

/// 400 `currency_not_supported` naming the provider, before anything is stored or sent; a retry
/// with the same key gets the same answer.
async fn paystack_refuses_currencies_it_does_not_take_before_any_call(backend: Backend) {
    let Some((app, fake)) = paystack_app(backend, &[]).await else {
        return;
    };
    for currency in ["jpy", "kwd", "eur"] {
        let mut body = charge(1_000, "AUTH_ok");
        body["currency"] = json!(currency);
        let keyed = app
            .client
            .post(app.url("/api/v1/payments"))
            .bearer_auth(&app.token)
            .header("Idempotency-Key", format!("currency-{currency}"))
            .json(&body);
        for attempt in [keyed.try_clone().unwrap(), keyed] {
            let refused = expect_error(
                attempt.send().await.unwrap(),
                StatusCode::BAD_REQUEST,
                "currency_not_supported",
                Some("currency"),
            )
            .await;
            let message = refused["error"]["message"].as_str().unwrap();
            assert!(message.contains("paystack"), "names the provider: {message}");
        }
    }
    assert!(fake.requests().is_empty(), "nothing was sent: {:?}", fake.requests());
    let listed = expect_json(app.get("/api/v1/payments").await, StatusCode::OK).await;
    assert_eq!(listed["data"], json!([]), "nothing was stored");
    let mut rand = charge(1_000, "AUTH_ok");
    rand["currency"] = json!("zar");
    let accepted = expect_json(app.post("/api/v1/payments", &rand).await, StatusCode::CREATED).await;
    assert_eq!(accepted["status"], "succeeded", "{accepted}");
}

async fn routing_skips_a_provider_that_does_not_take_the_currency(backend: Backend) {
    let routes = r#"[{"providers":["paystack","sandbox"]}]"#;
    let Some((app, fake)) = paystack_app(backend, &[("PROVIDER_ROUTES", routes)]).await else {
        return;
    };
    let body = |currency: &str| json!({ "amount": 1_000, "currency": currency, "payment_method": { "type": "token", "token": "AUTH_ok" } });
    let naira = expect_json(app.post("/api/v1/payments", &body("ngn")).await, StatusCode::CREATED).await;
    assert_eq!(naira["provider"], "paystack", "{naira}");
    let euros = expect_json(app.post("/api/v1/payments", &body("eur")).await, StatusCode::CREATED).await;
    assert_eq!(euros["provider"], "sandbox", "{euros}");
    assert_eq!(fake.requests().len(), 1, "only the naira payment reached Paystack");
}

crate::provider_tests!(
    routing_skips_a_provider_that_does_not_take_the_currency,
    paystack_reference_conforms_and_refunds_are_found_by_documented_listing,
    paystack_refuses_currencies_it_does_not_take_before_any_call,
    paystack_charge_in_kobo_and_partial_refund_settled_by_webhook,
    paystack_decline_is_http_200_with_failed_status,
    paystack_lost_answer_is_recovered_by_verifying_the_reference,
    paystack_webhook_settles_a_processing_payment_once,
);
