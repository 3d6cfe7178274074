//! Paystack's customer actions (issue 13): a card charge that answers `send_pin` is a
//! `requires_action` payment whose `next_action` asks for a PIN; the merchant submits it with
//! `POST /payments/{id}/confirm`, Paystack asks for an OTP next (`send_otp`), and the OTP settles
//! the charge. A wrong input, a confirm on a payment not awaiting one, and a second confirm change
//! nothing.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{card, expect_error, expect_json, Backend, TestApp};
use crate::paystack::paystack_app;

const PIN_CARD: &str = "507850785078507812";

async fn create_pin_charge(app: &TestApp) -> Value {
    let body =
        json!({ "amount": 250_000, "currency": "ngn", "provider": "paystack", "payment_method": card(PIN_CARD) });
    expect_json(app.post("/api/v1/payments", &body).await, StatusCode::CREATED).await
}

async fn confirm(app: &TestApp, id: &str, body: Value) -> reqwest::Response {
    app.post(&format!("/api/v1/payments/{id}/confirm"), &body).await
}

async fn paystack_pin_then_otp_settles_the_charge(backend: Backend) {
    let Some((app, fake)) = paystack_app(backend, &[]).await else {
        return;
    };
    let created = create_pin_charge(&app).await;
    let id = created["id"].as_str().unwrap();
    assert_eq!(created["status"], "requires_action", "{created}");
    assert_eq!(
        created["next_action"],
        json!({ "type": "pin", "pin": { "display_text": "Please enter your 4-digit PIN" } })
    );
    assert_eq!(app.payment(id).await["next_action"], created["next_action"]);

    // The wrong kind of input is refused before anything reaches Paystack.
    let submissions = |fake: &crate::fakes::paystack::FakePaystack| {
        fake.requests()
            .iter()
            .filter(|(r, _)| r.contains("/charge/submit_"))
            .count()
    };
    let wrong = confirm(&app, id, json!({ "otp": "123456" })).await;
    expect_error(wrong, StatusCode::BAD_REQUEST, "invalid_action_input", Some("pin")).await;
    let malformed = confirm(&app, id, json!({ "pin": "12a4" })).await;
    expect_error(malformed, StatusCode::BAD_REQUEST, "invalid_action_input", Some("pin")).await;
    let two = confirm(&app, id, json!({ "pin": "1111", "otp": "123456" })).await;
    expect_error(two, StatusCode::BAD_REQUEST, "invalid_action_input", None).await;
    assert_eq!(submissions(&fake), 0);

    let after_pin = expect_json(confirm(&app, id, json!({ "pin": "1111" })).await, StatusCode::OK).await;
    assert_eq!(after_pin["status"], "requires_action", "{after_pin}");
    assert_eq!(after_pin["next_action"]["type"], "otp");
    assert_eq!(
        after_pin["next_action"]["otp"]["display_text"],
        "Please enter the OTP sent to 080******12"
    );

    let paid = expect_json(confirm(&app, id, json!({ "otp": "123456" })).await, StatusCode::OK).await;
    assert_eq!(paid["status"], "succeeded", "{paid}");
    assert_eq!(paid["captured_amount"], 250_000);
    assert!(paid["next_action"].is_null());
    assert_eq!(submissions(&fake), 2);

    let again = confirm(&app, id, json!({ "otp": "123456" })).await;
    expect_error(again, StatusCode::CONFLICT, "invalid_state", None).await;
    assert_eq!(submissions(&fake), 2, "a second confirm reaches nobody");
    let kinds: Vec<Value> = app.events(id).await.into_iter().map(|e| e["type"].clone()).collect();
    assert_eq!(
        kinds,
        [
            "payment.created",
            "payment.requires_action",
            "payment.requires_action",
            "payment.succeeded"
        ]
        .map(Value::from)
    );
    // Nothing the customer typed is stored or logged.
    let stored = format!("{:?}", app.payment(id).await);
    assert!(!stored.contains("1111") && !stored.contains("123456"), "{stored}");
    assert!(!crate::logs::captured().contains("123456"));
}

async fn a_keyed_confirm_is_replayed_not_resubmitted(backend: Backend) {
    let Some((app, fake)) = paystack_app(backend, &[]).await else {
        return;
    };
    let created = create_pin_charge(&app).await;
    let path = app.url(&format!("/api/v1/payments/{}/confirm", created["id"].as_str().unwrap()));
    let send = || {
        app.client
            .post(&path)
            .bearer_auth(&app.token)
            .header("Idempotency-Key", "confirm-pin-1")
            .json(&json!({ "pin": "1111" }))
            .send()
    };
    let first = send().await.unwrap();
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first = expect_json(first, StatusCode::OK).await;
    assert_eq!(first["next_action"]["type"], "otp");
    let second = send().await.unwrap();
    assert_eq!(second.headers()["idempotent-replayed"], "true");
    assert_eq!(expect_json(second, StatusCode::OK).await, first);
    let submitted = fake
        .requests()
        .iter()
        .filter(|(r, _)| r.contains("/charge/submit_pin"))
        .count();
    assert_eq!(submitted, 1, "the PIN reached Paystack once");
}

async fn paystack_wrong_pin_fails_the_payment(backend: Backend) {
    let Some((app, _fake)) = paystack_app(backend, &[]).await else {
        return;
    };
    let created = create_pin_charge(&app).await;
    let id = created["id"].as_str().unwrap();
    let failed = expect_json(confirm(&app, id, json!({ "pin": "9999" })).await, StatusCode::OK).await;
    assert_eq!(failed["status"], "failed", "{failed}");
    assert_eq!(failed["failure_message"], "Incorrect PIN");
}

async fn confirm_on_a_payment_not_awaiting_input_is_invalid_state(backend: Backend) {
    let Some((app, _fake)) = paystack_app(backend, &[]).await else {
        return;
    };
    let paid = app.create_payment(500, "4242424242424242", true).await;
    let refused = confirm(&app, paid["id"].as_str().unwrap(), json!({ "otp": "123456" })).await;
    expect_error(refused, StatusCode::CONFLICT, "invalid_state", None).await;
    // A redirect-type action is completed by the customer's return, not by a confirm.
    let body = json!({ "amount": 900, "currency": "usd", "payment_method": card("4000002500003155") });
    let challenged = expect_json(app.post("/api/v1/payments", &body).await, StatusCode::CREATED).await;
    let refused = confirm(&app, challenged["id"].as_str().unwrap(), json!({ "otp": "123456" })).await;
    expect_error(refused, StatusCode::CONFLICT, "invalid_state", None).await;
    let other = app
        .post_as(
            &crate::helpers::token_for("merchant_other"),
            &format!("/api/v1/payments/{}/confirm", challenged["id"].as_str().unwrap()),
            &json!({ "otp": "123456" }),
        )
        .await;
    assert_eq!(other.status(), StatusCode::NOT_FOUND);
}

async fn an_abandoned_paystack_charge_expires_without_a_void(backend: Backend) {
    let Some((app, _fake)) = paystack_app(backend, &[("REQUIRES_ACTION_TTL_SECS", "1")]).await else {
        return;
    };
    let created = create_pin_charge(&app).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    payrail::reconcile::run_once(&app.database, &app.supervisor, Duration::ZERO).await;
    let payment = app.payment(created["id"].as_str().unwrap()).await;
    assert_eq!(payment["status"], "canceled", "{payment}");
    assert_eq!(payment["failure_code"], "action_expired");
}

crate::provider_tests!(
    paystack_pin_then_otp_settles_the_charge,
    paystack_wrong_pin_fails_the_payment,
    a_keyed_confirm_is_replayed_not_resubmitted,
    confirm_on_a_payment_not_awaiting_input_is_invalid_state,
    an_abandoned_paystack_charge_expires_without_a_void,
);
