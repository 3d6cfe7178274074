//! payrail driving the fake Flutterwave v3: tokenized charges in major units with payrail's id as
//! `tx_ref` (JPY never multiplied, KWD with three decimals), declines, partial refunds, manual
//! capture and void through card preauthorization, raw cards refused without the encryption key
//! (direct card charges and their customer actions are in `flutterwave_actions.rs`), a retried
//! charge answered by verifying `tx_ref`, and `verif-hash` webhooks.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::fakes::flutterwave::{FakeFlutterwave, SECRET_HASH, SECRET_KEY};
use crate::helpers::{card, expect_error, expect_json, spawn_app_with, Backend, TestApp};

pub(crate) async fn flutterwave_app(backend: Backend, extra: &[(&str, &str)]) -> Option<(TestApp, FakeFlutterwave)> {
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

async fn flutterwave_manual_capture_and_void_go_through_preauthorization(backend: Backend) {
    let Some((app, fake)) = flutterwave_app(backend, &[]).await else {
        return;
    };
    let mut held = charge(100_000, "flw-t1nf-ok");
    held["capture"] = json!(false);
    let payment = expect_json(app.post("/api/v1/payments", &held).await, StatusCode::CREATED).await;
    assert_eq!(payment["status"], "authorized", "{payment}");
    let id = payment["id"].as_str().unwrap();
    let flw_ref = payment["provider_reference"].as_str().unwrap().to_owned();
    assert!(flw_ref.starts_with("FLW-"), "{payment}");
    assert_eq!(fake.transaction(id)["status"], "pending", "a hold, not a charge");

    let captured = expect_json(app.capture(id, json!({ "amount": 60_000 })).await, StatusCode::OK).await;
    assert_eq!(captured["status"], "succeeded", "{captured}");
    assert_eq!(captured["captured_amount"], 60_000);
    assert_eq!(fake.transaction(id)["amount"], json!(600));
    let refund = expect_json(app.refund(id, json!({ "amount": 10_050 })).await, StatusCode::CREATED).await;
    assert_eq!(refund["status"], "succeeded", "{refund}");
    assert_eq!(fake.refunds()[0]["amount_refunded"], json!(100.5));

    let second = expect_json(app.post("/api/v1/payments", &held).await, StatusCode::CREATED).await;
    let second_id = second["id"].as_str().unwrap();
    let canceled = expect_json(app.cancel(second_id).await, StatusCode::OK).await;
    assert_eq!(canceled["status"], "canceled", "{canceled}");
    assert_eq!(fake.transaction(second_id)["status"], "voided");

    let paths: Vec<String> = fake.recorded().into_iter().map(|r| r.path).collect();
    for action in ["capture", "refund"] {
        assert!(paths.contains(&format!("/v3/charges/{flw_ref}/{action}")), "{paths:?}");
    }
    assert!(paths.iter().any(|p| p.ends_with("/void")), "{paths:?}");
}

async fn flutterwave_amounts_keep_each_currency_decimals(backend: Backend) {
    let Some((app, fake)) = flutterwave_app(backend, &[]).await else {
        return;
    };
    let mut yen = charge(1_500, "flw-t1nf-ok");
    yen["currency"] = json!("jpy");
    let payment = expect_json(app.post("/api/v1/payments", &yen).await, StatusCode::CREATED).await;
    assert_eq!(payment["status"], "succeeded", "{payment}");
    assert_eq!(
        fake.transaction(payment["id"].as_str().unwrap())["amount"],
        json!(1500),
        "yen are never multiplied"
    );

    let mut dinars = charge(12_345, "flw-t1nf-ok");
    dinars["currency"] = json!("kwd");
    let payment = expect_json(app.post("/api/v1/payments", &dinars).await, StatusCode::CREATED).await;
    assert_eq!(payment["status"], "succeeded", "{payment}");
    let id = payment["id"].as_str().unwrap();
    assert_eq!(fake.transaction(id)["amount"], json!(12.345), "three decimals");
    let refund = expect_json(app.refund(id, json!({ "amount": 5 })).await, StatusCode::CREATED).await;
    assert_eq!(refund["status"], "succeeded");
    assert_eq!(fake.refunds()[0]["amount_refunded"], json!(0.005));
}

/// A charge answered with a 500 after it went through is retried under the same `tx_ref`;
/// Flutterwave refuses the duplicate, and payrail answers with the charge it finds by `tx_ref`.
async fn flutterwave_retried_charge_is_answered_by_verifying_tx_ref(backend: Backend) {
    let Some((app, fake)) = flutterwave_app(
        backend,
        &[
            ("PROVIDER_BACKOFF_MS", "10"),
            (
                "FLUTTERWAVE_ENCRYPTION_KEY",
                crate::fakes::flutterwave::cards::ENCRYPTION_KEY,
            ),
        ],
    )
    .await
    else {
        return;
    };
    let raw = json!({ "amount": 4_000, "currency": "ngn", "provider": "flutterwave", "payment_method": card("4242424242424242") });
    for body in [charge(3_000, "flw-t1nf-ok"), raw] {
        fake.break_after_processing_next();
        let paid = expect_json(app.post("/api/v1/payments", &body).await, StatusCode::CREATED).await;
        assert_eq!(paid["status"], "succeeded", "{paid}");
        let id = paid["id"].as_str().unwrap();
        assert_eq!(fake.net_minor(id), body["amount"].as_i64().unwrap(), "charged once");
        assert_eq!(paid["provider_reference"], fake.transaction(id)["id"].to_string());
    }
}

crate::provider_tests!(
    flutterwave_retried_charge_is_answered_by_verifying_tx_ref,
    flutterwave_manual_capture_and_void_go_through_preauthorization,
    flutterwave_amounts_keep_each_currency_decimals,
    flutterwave_charge_in_major_units_and_partial_refund,
    flutterwave_decline_and_raw_cards_fail_without_moving_money,
    flutterwave_verif_hash_webhook_settles_a_processing_payment,
);
