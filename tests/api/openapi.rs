//! The OpenAPI document is served, without a token, and is the one in the repository; and the
//! rules it states that Schemathesis found the API did not keep (`scripts/schemathesis.sh`).

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{card, expect_error, expect_json};

async fn the_openapi_document_is_served_without_a_token(app: crate::helpers::TestApp) {
    let response = app.client.get(app.url("/api/v1/openapi.json")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    let served: serde_json::Value = response.json().await.unwrap();
    let file: serde_json::Value =
        serde_json::from_str(include_str!("../../openapi/openapi.json")).expect("openapi.json is JSON");
    assert_eq!(served, file);
    assert_eq!(served["openapi"], "3.1.0");
}

/// `payment_method` is a card or a token, never both: the one not named by `type` used to be
/// ignored, so a client could not tell which was charged.
async fn a_payment_method_carries_a_card_or_a_token_never_both(app: crate::helpers::TestApp) {
    let create = |method: serde_json::Value| json!({ "amount": 1000, "currency": "usd", "payment_method": method });
    let mut card_and_token = card("4242424242424242");
    card_and_token["token"] = json!("pm_card_visa");
    let response = app.post("/api/v1/payments", &create(card_and_token)).await;
    expect_error(
        response,
        StatusCode::BAD_REQUEST,
        "invalid_payment_method",
        Some("payment_method.token"),
    )
    .await;

    let mut token_and_card = card("4242424242424242");
    token_and_card["type"] = json!("token");
    token_and_card["token"] = json!("pm_card_visa");
    let response = app.post("/api/v1/payments", &create(token_and_card)).await;
    expect_error(
        response,
        StatusCode::BAD_REQUEST,
        "invalid_payment_method",
        Some("payment_method.card"),
    )
    .await;

    let mut card_with_null_token = card("4242424242424242");
    card_with_null_token["token"] = json!(null);
    let payment = expect_json(
        app.post("/api/v1/payments", &create(card_with_null_token)).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(payment["status"], "succeeded");
}

crate::backend_tests!(
    the_openapi_document_is_served_without_a_token,
    a_payment_method_carries_a_card_or_a_token_never_both
);
