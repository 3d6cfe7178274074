//! payrail driving the fake Stripe: raw cards become a PaymentMethod then a confirmed
//! PaymentIntent, tokens pass through, captures and refunds carry amounts in minor units, declines
//! keep Stripe's decline code, and every POST carries an idempotency key.

use reqwest::StatusCode;
use serde_json::json;

use crate::fakes::stripe_app;
use crate::helpers::{card, expect_json, Backend};

fn stripe_body(amount: i64, method: serde_json::Value, capture: bool) -> serde_json::Value {
    json!({ "amount": amount, "currency": "usd", "capture": capture, "provider": "stripe", "payment_method": method })
}

async fn stripe_card_payment_is_authorised_captured_in_part_and_refunded(backend: Backend) {
    let Some((app, fake)) = stripe_app(backend, &[]).await else {
        return;
    };
    let created = expect_json(
        app.post("/api/v1/payments", &stripe_body(1000, card("4242424242424242"), false))
            .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(created["status"], "authorized", "{created}");
    assert_eq!(created["provider"], "stripe");
    assert_eq!(created["card"]["last4"], "4242");
    let id = created["id"].as_str().unwrap();
    let intent_id = created["provider_reference"].as_str().unwrap().to_owned();
    assert!(intent_id.starts_with("pi_"), "{created}");
    let intent = fake.intent(&intent_id);
    assert_eq!(intent["capture_method"], "manual");
    assert_eq!(intent["metadata"]["payrail_payment_id"], id);

    let captured = expect_json(app.capture(id, json!({ "amount": 600 })).await, StatusCode::OK).await;
    assert_eq!(captured["status"], "succeeded");
    assert_eq!(captured["captured_amount"], 600);
    assert_eq!(fake.intent(&intent_id)["amount_received"], 600);

    let refund = expect_json(app.refund(id, json!({ "amount": 250 })).await, StatusCode::CREATED).await;
    assert_eq!(refund["status"], "succeeded");
    let payment = app.payment(id).await;
    assert_eq!(payment["status"], "partially_refunded");
    assert_eq!(payment["refunded_amount"], 250);

    let requests = fake.requests();
    let posts: Vec<&String> = requests.iter().filter(|r| r.starts_with("POST")).collect();
    assert_eq!(posts.len(), 4, "{requests:?}");
    for post in posts {
        let key = post.split(' ').nth(2).unwrap_or_default();
        assert!(
            key.starts_with(id),
            "every POST carries payrail's idempotency key: {post}"
        );
    }
}

async fn stripe_token_is_passed_through_without_card_data(backend: Backend) {
    let Some((app, fake)) = stripe_app(backend, &[]).await else {
        return;
    };
    let method = json!({ "type": "token", "token": "pm_card_visa" });
    let created = expect_json(
        app.post("/api/v1/payments", &stripe_body(500, method, true)).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(created["status"], "succeeded", "{created}");
    assert!(created["card"].is_null());
    assert_eq!(
        fake.intent(created["provider_reference"].as_str().unwrap())["payment_method"],
        "pm_card_visa"
    );
    assert!(!fake.requests().iter().any(|r| r.contains("/v1/payment_methods")));
}

async fn stripe_decline_keeps_the_decline_code(backend: Backend) {
    let Some((app, _fake)) = stripe_app(backend, &[]).await else {
        return;
    };
    let declined = expect_json(
        app.post("/api/v1/payments", &stripe_body(500, card("4000000000009995"), true))
            .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(declined["status"], "failed");
    assert_eq!(declined["failure_code"], "insufficient_funds");
    assert!(declined["provider_reference"].as_str().unwrap().starts_with("pi_"));
    let token = json!({ "type": "token", "token": "pm_card_visa_chargeDeclined" });
    let declined = expect_json(
        app.post("/api/v1/payments", &stripe_body(500, token, true)).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(declined["failure_code"], "generic_decline");
}

async fn stripe_retry_after_503_reuses_the_idempotency_key(backend: Backend) {
    let Some((app, fake)) = stripe_app(backend, &[]).await else {
        return;
    };
    fake.fail_next(1);
    let method = json!({ "type": "token", "token": "pm_card_visa" });
    let created = expect_json(
        app.post("/api/v1/payments", &stripe_body(700, method, true)).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(created["status"], "succeeded", "{created}");
    let intents: Vec<String> = fake
        .requests()
        .into_iter()
        .filter(|r| r.starts_with("POST /v1/payment_intents"))
        .collect();
    assert_eq!(intents.len(), 2, "{intents:?}");
    assert_eq!(intents[0], intents[1], "the retry resends the same key");
}

async fn stripe_capture_beyond_the_authorisation_changes_nothing(backend: Backend) {
    let Some((app, _fake)) = stripe_app(backend, &[]).await else {
        return;
    };
    let created = expect_json(
        app.post("/api/v1/payments", &stripe_body(1000, card("4242424242424242"), false))
            .await,
        StatusCode::CREATED,
    )
    .await;
    let id = created["id"].as_str().unwrap();
    let response = app.capture(id, json!({ "amount": 1001 })).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let canceled = expect_json(app.cancel(id).await, StatusCode::OK).await;
    assert_eq!(canceled["status"], "canceled");
}

async fn stripe_amounts_are_minor_units_in_yen_and_dinars(backend: Backend) {
    let Some((app, fake)) = stripe_app(backend, &[]).await else {
        return;
    };
    let mut yen = stripe_body(1500, card("4242424242424242"), true);
    yen["currency"] = json!("jpy");
    let payment = expect_json(app.post("/api/v1/payments", &yen).await, StatusCode::CREATED).await;
    assert_eq!(payment["status"], "succeeded", "{payment}");
    let intent = fake.intent(payment["provider_reference"].as_str().unwrap());
    assert_eq!(
        (intent["amount"].clone(), intent["currency"].clone()),
        (json!(1500), json!("jpy"))
    );

    let mut dinars = stripe_body(12_340, card("4242424242424242"), true);
    dinars["currency"] = json!("kwd");
    let payment = expect_json(app.post("/api/v1/payments", &dinars).await, StatusCode::CREATED).await;
    assert_eq!(payment["status"], "succeeded", "{payment}");
    let intent = fake.intent(payment["provider_reference"].as_str().unwrap());
    assert_eq!(intent["amount"], 12_340, "three decimals, in minor units");
    // Stripe takes three-decimal amounts only in multiples of ten.
    dinars["amount"] = json!(12_345);
    let refused = expect_json(app.post("/api/v1/payments", &dinars).await, StatusCode::CREATED).await;
    assert_eq!(refused["status"], "failed", "{refused}");
}

crate::provider_tests!(
    stripe_amounts_are_minor_units_in_yen_and_dinars,
    stripe_card_payment_is_authorised_captured_in_part_and_refunded,
    stripe_token_is_passed_through_without_card_data,
    stripe_decline_keeps_the_decline_code,
    stripe_retry_after_503_reuses_the_idempotency_key,
    stripe_capture_beyond_the_authorisation_changes_nothing,
);
