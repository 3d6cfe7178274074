//! Bearer-token authentication and tenancy: no token, a bad or expired token is 401; one
//! merchant's payments do not exist for another.

use jsonwebtoken::{encode, EncodingKey, Header};
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{expect_error, expect_json, token_for, TestApp, JWT_SECRET};

fn token_with(claims: serde_json::Value, secret: &str) -> String {
    encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

async fn requests_without_a_valid_token_are_401(app: TestApp) {
    let now = chrono::Utc::now().timestamp();
    let no_token = app.client.get(app.url("/api/v1/payments")).send().await.unwrap();
    assert!(no_token.headers().contains_key("www-authenticate"));
    expect_error(no_token, StatusCode::UNAUTHORIZED, "missing_token", None).await;
    for token in [
        "garbage".to_owned(),
        token_with(json!({ "sub": "m", "exp": now + 60 }), "another-secret"),
        token_with(json!({ "sub": "m" }), JWT_SECRET),
        token_with(json!({ "exp": now + 60 }), JWT_SECRET),
        token_with(json!({ "sub": "", "exp": now + 60 }), JWT_SECRET),
    ] {
        expect_error(
            app.get_as(&token, "/api/v1/payments").await,
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            None,
        )
        .await;
    }
    let expired = token_with(json!({ "sub": "m", "exp": now - 3600 }), JWT_SECRET);
    expect_error(
        app.get_as(&expired, "/api/v1/payments").await,
        StatusCode::UNAUTHORIZED,
        "token_expired",
        None,
    )
    .await;
    let create = app
        .client
        .post(app.url("/api/v1/payments"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    expect_error(create, StatusCode::UNAUTHORIZED, "missing_token", None).await;
}

async fn merchants_never_see_each_others_payments(app: TestApp) {
    let id = app.create_payment(1_000, "4242424242424242", false).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let other = token_for("merchant_other");
    expect_error(
        app.get_as(&other, &format!("/api/v1/payments/{id}")).await,
        StatusCode::NOT_FOUND,
        "resource_missing",
        None,
    )
    .await;
    expect_error(
        app.get_as(&other, &format!("/api/v1/payments/{id}/events")).await,
        StatusCode::NOT_FOUND,
        "resource_missing",
        None,
    )
    .await;
    for action in ["capture", "cancel", "refund"] {
        let response = app
            .post_as(&other, &format!("/api/v1/payments/{id}/{action}"), &json!({}))
            .await;
        expect_error(response, StatusCode::NOT_FOUND, "resource_missing", None).await;
    }
    let list = expect_json(app.get_as(&other, "/api/v1/payments").await, StatusCode::OK).await;
    assert_eq!(list["data"], json!([]));
    expect_error(
        app.get_as(&other, &format!("/api/v1/payments?starting_after={id}"))
            .await,
        StatusCode::BAD_REQUEST,
        "invalid_cursor",
        None,
    )
    .await;
    // The owner's payment is untouched by the other merchant's attempts.
    assert_eq!(app.payment(&id).await["status"], "authorized");
    assert_eq!(app.events(&id).await.len(), 2);
}

crate::backend_tests!(
    requests_without_a_valid_token_are_401,
    merchants_never_see_each_others_payments
);
