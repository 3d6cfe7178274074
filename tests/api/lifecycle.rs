//! A payment's whole life over HTTP: create, authorise, capture, cancel, refund, decline — and the
//! events that record each step, in order.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{card, expect_error, expect_json, TestApp};

fn kinds(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["type"].as_str().unwrap()).collect()
}

async fn automatic_capture_succeeds_in_one_request(app: TestApp) {
    let body = json!({
        "amount": 2500, "currency": "EUR", "order_id": "order-1", "description": "Two books",
        "metadata": { "cart": "42" }, "payment_method": card("4242 4242 4242 4242"),
    });
    let payment = expect_json(app.post("/api/v1/payments", &body).await, StatusCode::CREATED).await;
    assert!(payment["id"].as_str().unwrap().starts_with("pay_"));
    assert_eq!(payment["status"], "succeeded");
    assert_eq!(payment["amount"], 2500);
    assert_eq!(payment["currency"], "eur");
    assert_eq!(payment["captured_amount"], 2500);
    assert_eq!(payment["refunded_amount"], 0);
    assert_eq!(payment["provider"], "sandbox");
    assert!(payment["provider_reference"].is_string());
    assert_eq!(payment["order_id"], "order-1");
    assert_eq!(payment["metadata"]["cart"], "42");
    let mut card = payment["card"].clone();
    let fingerprint = card.as_object_mut().unwrap().remove("fingerprint").unwrap();
    assert_eq!(fingerprint.as_str().map(str::len), Some(64), "keyed card fingerprint");
    assert_eq!(
        card,
        json!({ "brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2034 })
    );
    assert!(payment["created_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(app.payment(payment["id"].as_str().unwrap()).await, payment);
    let events = app.events(payment["id"].as_str().unwrap()).await;
    assert_eq!(kinds(&events), ["payment.created", "payment.succeeded"]);
}

async fn manual_capture_partial_capture_and_refunds_walk_the_state_machine(app: TestApp) {
    let payment = app.create_payment(10_000, "4242424242424242", false).await;
    let id = payment["id"].as_str().unwrap();
    assert_eq!(payment["status"], "authorized");
    assert_eq!(payment["captured_amount"], 0);

    let captured = expect_json(app.capture(id, json!({ "amount": 8_000 })).await, StatusCode::OK).await;
    assert_eq!(captured["status"], "succeeded");
    assert_eq!(captured["captured_amount"], 8_000);

    let refund = expect_json(
        app.refund(id, json!({ "amount": 3_000, "reason": "requested_by_customer" }))
            .await,
        StatusCode::CREATED,
    )
    .await;
    assert!(refund["id"].as_str().unwrap().starts_with("re_"));
    assert_eq!(refund["payment_id"], id);
    assert_eq!(refund["amount"], 3_000);
    assert_eq!(refund["status"], "succeeded");
    assert_eq!(refund["reason"], "requested_by_customer");
    assert_eq!(app.payment(id).await["status"], "partially_refunded");

    // Refunding more than is left is refused, and changes nothing.
    expect_error(
        app.refund(id, json!({ "amount": 5_001 })).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "amount_too_large",
        Some("amount"),
    )
    .await;

    // No amount refunds the rest.
    let rest = expect_json(app.refund(id, json!({})).await, StatusCode::CREATED).await;
    assert_eq!(rest["amount"], 5_000);
    let done = app.payment(id).await;
    assert_eq!(done["status"], "refunded");
    assert_eq!(done["refunded_amount"], 8_000);
    expect_error(
        app.refund(id, json!({ "amount": 1 })).await,
        StatusCode::CONFLICT,
        "invalid_state",
        None,
    )
    .await;

    let events = app.events(id).await;
    assert_eq!(
        kinds(&events),
        [
            "payment.created",
            "payment.authorized",
            "payment.capture_requested",
            "payment.captured",
            "payment.refunded",
            "refund.updated",
            "payment.refunded",
            "refund.updated"
        ]
    );
    let sequences: Vec<i64> = events.iter().map(|e| e["sequence"].as_i64().unwrap()).collect();
    assert_eq!(sequences, [1, 2, 3, 4, 5, 6, 7, 8]);
    assert_eq!(events[4]["to_status"], "partially_refunded");
    assert_eq!(events[6]["to_status"], "refunded");
    assert_eq!(events[6]["from_status"], "partially_refunded");
}

async fn capture_defaults_to_the_full_authorisation(app: TestApp) {
    let id = app.create_payment(1_234, "5555555555554444", false).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let captured = expect_json(app.capture(&id, json!({})).await, StatusCode::OK).await;
    assert_eq!(captured["captured_amount"], 1_234);
    assert_eq!(captured["card"]["brand"], "mastercard");
}

async fn capture_beyond_the_authorisation_is_refused(app: TestApp) {
    let id = app.create_payment(1_000, "4242424242424242", false).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    expect_error(
        app.capture(&id, json!({ "amount": 1_001 })).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "amount_too_large",
        Some("amount"),
    )
    .await;
    assert_eq!(app.payment(&id).await["status"], "authorized");
}

async fn cancel_voids_an_authorisation(app: TestApp) {
    let id = app.create_payment(700, "4242424242424242", false).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let canceled = expect_json(app.cancel(&id).await, StatusCode::OK).await;
    assert_eq!(canceled["status"], "canceled");
    expect_error(
        app.capture(&id, json!({})).await,
        StatusCode::CONFLICT,
        "invalid_state",
        None,
    )
    .await;
    expect_error(app.cancel(&id).await, StatusCode::CONFLICT, "invalid_state", None).await;
    assert_eq!(
        kinds(&app.events(&id).await),
        [
            "payment.created",
            "payment.authorized",
            "payment.cancel_requested",
            "payment.canceled"
        ]
    );
}

async fn captured_payments_cannot_be_captured_or_canceled(app: TestApp) {
    let id = app.create_payment(700, "4242424242424242", true).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    expect_error(
        app.capture(&id, json!({})).await,
        StatusCode::CONFLICT,
        "invalid_state",
        None,
    )
    .await;
    expect_error(app.cancel(&id).await, StatusCode::CONFLICT, "invalid_state", None).await;
}

async fn declining_test_cards_fail_with_their_codes(app: TestApp) {
    for (number, code) in [
        ("4000000000000002", "card_declined"),
        ("4000000000009995", "insufficient_funds"),
        ("4000000000000119", "processing_error"),
    ] {
        let payment = app.create_payment(500, number, true).await;
        assert_eq!(payment["status"], "failed", "{number}");
        assert_eq!(payment["failure_code"], code);
        assert!(payment["failure_message"].is_string());
        assert_eq!(payment["captured_amount"], 0);
        let id = payment["id"].as_str().unwrap();
        let events = app.events(id).await;
        assert_eq!(kinds(&events), ["payment.created", "payment.failed"]);
        assert_eq!(events[1]["failure_code"], code);
        expect_error(
            app.refund(id, json!({})).await,
            StatusCode::CONFLICT,
            "invalid_state",
            None,
        )
        .await;
    }
}

async fn three_d_secure_card_requires_action(app: TestApp) {
    let payment = app.create_payment(500, "4000002500003155", true).await;
    assert_eq!(payment["status"], "requires_action");
    let id = payment["id"].as_str().unwrap();
    expect_error(
        app.capture(id, json!({})).await,
        StatusCode::CONFLICT,
        "invalid_state",
        None,
    )
    .await;
}

async fn zero_decimal_currencies_take_whole_units(app: TestApp) {
    let body = json!({ "amount": 500, "currency": "JPY", "payment_method": card("4242424242424242") });
    let payment = expect_json(app.post("/api/v1/payments", &body).await, StatusCode::CREATED).await;
    assert_eq!(payment["currency"], "jpy");
    assert_eq!(payment["amount"], 500);
}

async fn seed_paths_are_aliases(app: TestApp) {
    let body =
        json!({ "amount": 900, "currency": "usd", "capture": false, "payment_method": card("4242424242424242") });
    let payment = expect_json(app.post("/payments", &body).await, StatusCode::CREATED).await;
    let id = payment["id"].as_str().unwrap();
    assert_eq!(
        expect_json(app.get(&format!("/payments/{id}")).await, StatusCode::OK).await["id"],
        id
    );
    let captured = expect_json(
        app.post(&format!("/payments/{id}/capture"), &json!({})).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(captured["status"], "succeeded");
    let refund = expect_json(
        app.post(&format!("/payments/{id}/refund"), &json!({ "amount": 100 }))
            .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(refund["amount"], 100);
}

async fn health_and_readiness_answer(app: TestApp) {
    assert_eq!(
        expect_json(app.client.get(app.url("/health")).send().await.unwrap(), StatusCode::OK).await["status"],
        "ok"
    );
    assert_eq!(
        expect_json(app.client.get(app.url("/ready")).send().await.unwrap(), StatusCode::OK).await["status"],
        "ready"
    );
}

crate::backend_tests!(
    automatic_capture_succeeds_in_one_request,
    manual_capture_partial_capture_and_refunds_walk_the_state_machine,
    capture_defaults_to_the_full_authorisation,
    capture_beyond_the_authorisation_is_refused,
    cancel_voids_an_authorisation,
    captured_payments_cannot_be_captured_or_canceled,
    declining_test_cards_fail_with_their_codes,
    three_d_secure_card_requires_action,
    zero_decimal_currencies_take_whole_units,
    seed_paths_are_aliases,
    health_and_readiness_answer,
);
