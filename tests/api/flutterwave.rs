//! payrail driving the fake Flutterwave v3: tokenized charges in major units with payrail's id as
//! `tx_ref`, declines, partial refunds, raw cards refused, and `verif-hash` webhooks.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::fakes::flutterwave::{FakeFlutterwave, SECRET_HASH, SECRET_KEY};
use crate::helpers::{card, expect_error, expect_json, spawn_app_with, Backend, TestApp};

async fn flutterwave_app(backend: Backend, extra: &[(&str, &str)]) -> Option<(TestApp, FakeFlutterwave)> {
    let fake = FakeFlutterwave::start();
    let mut env = vec![
        ("FLUTTERWAVE_SECRET_KEY", SECRET_KEY),
        ("FLUTTERWAVE_SECRET_HASH", SECRET_HASH),
        ("FLUTTERWAVE_API_BASE", fake.base_url.as_str()),
        ("RECONCILE_INTERVAL_SECS", "3600"),
    ];
    env.extend_from_slice(extra);
    Some((spawn_app_with(backend, &env).await?, fake))
}

fn charge(amount: i64, token: &str) -> Value {
    json!({ "amount": amount, "currency": "ngn", "provider": "flutterwave",
        "payment_method": { "type": "token", "token": token } })
}

async fn flutterwave_charge_in_major_units_and_partial_refund(backend: Backend) {
    let Some((app, fake)) = flutterwave_app(backend, &[]).await else {
        return;
    };
    let payment = expect_json(
        app.post("/api/v1/payments", &charge(250_050, "flw-t1nf-ok")).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(payment["status"], "succeeded", "{payment}");
    let id = payment["id"].as_str().unwrap();
    assert_eq!(fake.transaction(id)["amount"], json!(2500.5), "major units on the wire");
    let refund = expect_json(app.refund(id, json!({ "amount": 50 })).await, StatusCode::CREATED).await;
    assert_eq!(refund["status"], "succeeded");
    assert_eq!(fake.refunds()[0]["amount_refunded"], json!(0.5));
    assert_eq!(app.payment(id).await["status"], "partially_refunded");
}

async fn flutterwave_decline_and_raw_cards_fail_without_moving_money(backend: Backend) {
    let Some((app, _fake)) = flutterwave_app(backend, &[]).await else {
        return;
    };
    let declined = expect_json(
        app.post("/api/v1/payments", &charge(1000, "flw-t1nf-insufficient"))
            .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(declined["status"], "failed");
    assert_eq!(declined["failure_code"], "insufficient_funds");
    let raw = json!({ "amount": 1000, "currency": "ngn", "provider": "flutterwave", "payment_method": card("5531886652142950") });
    let refused = expect_json(app.post("/api/v1/payments", &raw).await, StatusCode::CREATED).await;
    assert_eq!(refused["status"], "failed");
    assert_eq!(refused["failure_code"], "operation_not_supported");
}

async fn flutterwave_verif_hash_webhook_settles_a_processing_payment(backend: Backend) {
    let Some((app, fake)) = flutterwave_app(backend, &[("PROVIDER_TIMEOUT_MS", "300")]).await else {
        return;
    };
    fake.stall_next(Duration::from_millis(1000));
    let payment = expect_json(
        app.post("/api/v1/payments", &charge(5000, "flw-t1nf-ok")).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(payment["status"], "processing");
    let id = payment["id"].as_str().unwrap();
    tokio::time::sleep(Duration::from_millis(900)).await;
    let body = json!({ "event": "charge.completed", "event.type": "CARD_TRANSACTION", "data": fake.transaction(id) })
        .to_string();
    let send = |hash: &'static str| {
        app.client
            .post(app.url("/api/v1/payments/webhook?gateway=flutterwave"))
            .header("verif-hash", hash)
            .body(body.clone())
            .send()
    };
    let forged = send("not-the-hash").await.unwrap();
    expect_error(forged, StatusCode::BAD_REQUEST, "invalid_signature", None).await;
    assert_eq!(app.payment(id).await["status"], "processing");
    expect_json(send(SECRET_HASH).await.unwrap(), StatusCode::OK).await;
    let settled = app.payment(id).await;
    assert_eq!(settled["status"], "succeeded", "{settled}");
    assert_eq!(settled["captured_amount"], 5000);
}

crate::provider_tests!(
    flutterwave_charge_in_major_units_and_partial_refund,
    flutterwave_decline_and_raw_cards_fail_without_moving_money,
    flutterwave_verif_hash_webhook_settles_a_processing_payment,
);
