//! Bad input never gives a 5xx and never changes anything: each case gets a 4xx with a
//! machine-readable code naming the parameter at fault.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{card, expect_error, expect_json, TestApp};

fn valid() -> Value {
    json!({ "amount": 1000, "currency": "usd", "payment_method": card("4242424242424242") })
}

fn with(path: &[&str], value: Value) -> Value {
    let mut body = valid();
    let mut node = &mut body;
    for key in &path[..path.len() - 1] {
        node = &mut node[*key];
    }
    node[path[path.len() - 1]] = value;
    body
}

async fn invalid_create_requests_are_400_and_create_nothing(app: TestApp) {
    let cases: Vec<(Value, &str, &str)> = vec![
        (with(&["amount"], json!(0)), "invalid_amount", "amount"),
        (with(&["amount"], json!(-5)), "invalid_amount", "amount"),
        (
            with(&["amount"], json!(1_000_000_000_000_i64)),
            "invalid_amount",
            "amount",
        ),
        (with(&["amount"], json!(1e30)), "parameter_invalid", "amount"),
        (with(&["amount"], json!(10.5)), "parameter_invalid", "amount"),
        (with(&["amount"], json!("1000")), "parameter_invalid", "amount"),
        (with(&["amount"], json!(u64::MAX)), "parameter_invalid", "amount"),
        (with(&["currency"], json!("xyz")), "invalid_currency", "currency"),
        (with(&["currency"], json!(840)), "parameter_invalid", "currency"),
        (with(&["capture"], json!("yes")), "parameter_invalid", "capture"),
        (
            with(&["metadata"], json!({ "k": 1 })),
            "parameter_invalid",
            "metadata.k",
        ),
        (
            with(&["metadata"], json!({ "k": "v".repeat(501) })),
            "invalid_metadata",
            "metadata",
        ),
        (
            with(&["order_id"], json!("o".repeat(256))),
            "parameter_too_long",
            "order_id",
        ),
        (with(&["provider"], json!("nope")), "invalid_provider", "provider"),
        (with(&["unexpected"], json!(1)), "parameter_unknown", "unexpected"),
        (
            with(&["payment_method", "type"], json!("bank")),
            "invalid_payment_method",
            "payment_method.type",
        ),
        (
            with(&["payment_method", "card", "number"], json!("4242424242424241")),
            "invalid_card_number",
            "payment_method.card.number",
        ),
        (
            with(&["payment_method", "card", "number"], json!(4242424242424242_u64)),
            "parameter_invalid",
            "payment_method.card.number",
        ),
        (
            with(&["payment_method", "card", "exp_month"], json!(13)),
            "invalid_expiry_month",
            "payment_method.card.exp_month",
        ),
        (
            with(&["payment_method", "card", "exp_year"], json!(2001)),
            "expired_card",
            "payment_method.card.exp_year",
        ),
        (
            with(&["payment_method", "card", "cvc"], json!("12")),
            "invalid_cvc",
            "payment_method.card.cvc",
        ),
        (
            json!({ "currency": "usd", "payment_method": card("4242424242424242") }),
            "parameter_missing",
            "amount",
        ),
        (
            json!({ "amount": 1, "currency": "usd", "payment_method": { "type": "card" } }),
            "parameter_missing",
            "payment_method.card",
        ),
        (json!([1, 2]), "parameter_invalid", "body"),
    ];
    for (body, code, param) in cases {
        let response = app.post("/api/v1/payments", &body).await;
        let error = expect_error(response, StatusCode::BAD_REQUEST, code, Some(param)).await;
        assert!(
            !error.to_string().contains("4242424242424242"),
            "card number echoed: {error}"
        );
    }
    let list = expect_json(app.get("/api/v1/payments").await, StatusCode::OK).await;
    assert_eq!(list["data"], json!([]), "no bad request created a payment");
}

async fn malformed_json_is_400(app: TestApp) {
    // `{"amou\`: a body cut off inside an escape (a crash the `create_body` fuzz target found).
    for raw in ["{", "not json", "{\"amount\": }", "{\"amount\"", "\u{0}", "{\"amou\\"] {
        expect_error(
            app.post_raw("/api/v1/payments", raw).await,
            StatusCode::BAD_REQUEST,
            "invalid_json",
            None,
        )
        .await;
    }
    expect_error(
        app.post_raw("/api/v1/payments", "").await,
        StatusCode::BAD_REQUEST,
        "parameter_missing",
        None,
    )
    .await;
}

async fn invalid_changes_are_400_and_change_nothing(app: TestApp) {
    let id = app.create_payment(1_000, "4242424242424242", false).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for (body, code, param) in [
        (json!({ "amount": 0 }), "invalid_amount", "amount"),
        (json!({ "amount": -1 }), "invalid_amount", "amount"),
        (json!({ "amount": "all" }), "parameter_invalid", "amount"),
        (
            json!({ "amount_to_capture": 1 }),
            "parameter_unknown",
            "amount_to_capture",
        ),
    ] {
        expect_error(app.capture(&id, body).await, StatusCode::BAD_REQUEST, code, Some(param)).await;
    }
    expect_json(app.capture(&id, json!({})).await, StatusCode::OK).await;
    for (body, code, param) in [
        (json!({ "amount": 0 }), "invalid_amount", "amount"),
        (json!({ "reason": "bored" }), "invalid_reason", "reason"),
    ] {
        expect_error(app.refund(&id, body).await, StatusCode::BAD_REQUEST, code, Some(param)).await;
    }
    assert_eq!(
        app.events(&id).await.len(),
        4,
        "only create, authorise and capture (requested, then settled) happened"
    );
}

async fn unknown_ids_are_404(app: TestApp) {
    for id in [
        "pay_00000000-0000-0000-0000-000000000000",
        "nope",
        "pay_",
        "re_00000000-0000-0000-0000-000000000000",
    ] {
        expect_error(
            app.get(&format!("/api/v1/payments/{id}")).await,
            StatusCode::NOT_FOUND,
            "resource_missing",
            None,
        )
        .await;
        expect_error(
            app.capture(id, json!({})).await,
            StatusCode::NOT_FOUND,
            "resource_missing",
            None,
        )
        .await;
        expect_error(
            app.refund(id, json!({})).await,
            StatusCode::NOT_FOUND,
            "resource_missing",
            None,
        )
        .await;
        expect_error(app.cancel(id).await, StatusCode::NOT_FOUND, "resource_missing", None).await;
        expect_error(
            app.get(&format!("/api/v1/payments/{id}/events")).await,
            StatusCode::NOT_FOUND,
            "resource_missing",
            None,
        )
        .await;
    }
    expect_error(
        app.get("/api/v1/nothing-here").await,
        StatusCode::NOT_FOUND,
        "resource_missing",
        None,
    )
    .await;
    let put = app
        .client
        .put(app.url("/api/v1/payments"))
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap();
    expect_error(put, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", None).await;
}

async fn oversized_bodies_are_413(app: TestApp) {
    let huge = "x".repeat(2 * 1024 * 1024);
    let body = with(&["description"], json!(huge));
    expect_error(
        app.post("/api/v1/payments", &body).await,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        None,
    )
    .await;
    // Webhooks read raw bytes (the signature covers them), and answer the same JSON error.
    for path in ["/api/v1/webhooks/stripe", "/api/v1/payments/webhook?gateway=stripe"] {
        let response = app
            .client
            .post(app.url(path))
            .header("content-type", "application/json")
            .body(huge.clone())
            .send()
            .await
            .unwrap();
        expect_error(response, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", None).await;
    }
}

/// The issue 15 reproduction and its relatives: text that PostgreSQL refuses (NUL) or that would
/// forge a log line is a 400 naming the field, the same on both databases, and stores nothing.
async fn control_characters_are_400_naming_the_field_and_store_nothing(app: TestApp) {
    let id = app.create_payment(1_000, "4242424242424242", true).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let creates = [
        (with(&["description"], json!("x\u{0}y")), "description"),
        (with(&["order_id"], json!("o\u{0}")), "order_id"),
        (with(&["order_id"], json!("line\nforged")), "order_id"),
        (with(&["metadata"], json!({ "k": "v\u{1b}[2J" })), "metadata.k"),
        (with(&["metadata"], json!({ "k\u{0}": "v" })), "metadata"),
        (with(&["receipt_email"], json!("a\u{0}@b.co")), "receipt_email"),
        (with(&["currency"], json!("us\u{7f}")), "currency"),
        (
            with(&["payment_method", "card", "number"], json!("4242424242424242\u{0}")),
            "payment_method.card.number",
        ),
    ];
    for (body, param) in creates {
        let response = app.post("/api/v1/payments", &body).await;
        expect_error(response, StatusCode::BAD_REQUEST, "invalid_characters", Some(param)).await;
    }
    let refund = app.refund(&id, json!({ "reason": "duplicate\u{0}" })).await;
    expect_error(refund, StatusCode::BAD_REQUEST, "invalid_characters", Some("reason")).await;
    let reads = [
        ("/api/v1/payments?order_id=o%00".to_owned(), "order_id"),
        ("/api/v1/payments?order_id=%FF".to_owned(), "order_id"),
        ("/api/v1/payments?starting_after=pay_%0A".to_owned(), "starting_after"),
        ("/api/v1/payments?limit=1%09".to_owned(), "limit"),
        ("/api/v1/payments/order/o%00".to_owned(), "path"),
        (format!("/api/v1/payments/{id}%00"), "path"),
        (
            format!("/api/v1/payments/{id}/events?starting_after=%1B"),
            "starting_after",
        ),
    ];
    for (path, param) in reads {
        expect_error(
            app.get(&path).await,
            StatusCode::BAD_REQUEST,
            "invalid_characters",
            Some(param),
        )
        .await;
    }
    let webhook = app
        .client
        .post(app.url("/api/v1/payments/webhook?gateway=stripe%00"))
        .body("{}")
        .send()
        .await
        .unwrap();
    expect_error(webhook, StatusCode::BAD_REQUEST, "invalid_characters", Some("gateway")).await;
    let keyed = app
        .client
        .post(app.url(&format!("/api/v1/payments/{id}/refund")))
        .bearer_auth(&app.token)
        .header("Idempotency-Key", "key\tx")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    expect_error(keyed, StatusCode::BAD_REQUEST, "invalid_idempotency_key", None).await;
    let list = expect_json(app.get("/api/v1/payments").await, StatusCode::OK).await;
    assert_eq!(list["data"].as_array().unwrap().len(), 1, "nothing was created");
    assert_eq!(app.payment(&id).await["refunded_amount"], 0, "nothing was refunded");
    // Text outside the control range is stored and read back as sent, on both databases.
    let text = "café – 払い \u{80}\u{2028} ✓";
    let body = with(&["description"], json!(text));
    let created = expect_json(app.post("/api/v1/payments", &body).await, StatusCode::CREATED).await;
    assert_eq!(app.payment(created["id"].as_str().unwrap()).await["description"], text);
}

crate::backend_tests!(
    invalid_create_requests_are_400_and_create_nothing,
    malformed_json_is_400,
    invalid_changes_are_400_and_change_nothing,
    unknown_ids_are_404,
    oversized_bodies_are_413,
    control_characters_are_400_naming_the_field_and_store_nothing,
);
