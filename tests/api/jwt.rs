//! JWT done right: the algorithm is pinned by configuration, and every forged, expired, premature,
//! misaddressed or subject-less token is a 401 with `WWW-Authenticate` and nothing but a code.
//!
//! Token checks do not touch the database, so these run on SQLite only.

use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{spawn_app_with, Backend, TestApp, JWT_SECRET};

const RS_PRIVATE: &str = include_str!("fixtures/jwt_test_rs256_private.pem");
const RS_PUBLIC: &str = include_str!("fixtures/jwt_test_rs256_public.pem");

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn hs256(claims: Value, secret: &[u8]) -> String {
    encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret),
    )
    .unwrap()
}

fn rs256(claims: Value) -> String {
    let key = EncodingKey::from_rsa_pem(RS_PRIVATE.as_bytes()).unwrap();
    encode(&Header::new(Algorithm::RS256), &claims, &key).unwrap()
}

async fn app_with(extra: &[(&str, &str)]) -> TestApp {
    spawn_app_with(Backend::Sqlite, extra).await.expect("sqlite app")
}

/// Asserts a 401 that says only `code`, with a `WWW-Authenticate` challenge.
async fn assert_rejected(app: &TestApp, token: &str, code: &str) {
    let response = app.get_as(token, "/api/v1/payments").await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "token {token}");
    let challenge = response.headers().get("www-authenticate").expect("WWW-Authenticate");
    assert!(challenge.to_str().unwrap().starts_with("Bearer"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body,
        json!({ "error": { "type": "authentication_error", "code": code, "message": "authentication required" } })
    );
}

async fn assert_accepted(app: &TestApp, token: &str) {
    let response = app.get_as(token, "/api/v1/payments").await;
    assert_eq!(response.status(), StatusCode::OK, "{}", response.text().await.unwrap());
}

#[actix_web::test]
async fn alg_none_tokens_are_rejected() {
    let app = app_with(&[]).await;
    let valid = hs256(json!({ "sub": "m", "exp": now() + 600 }), JWT_SECRET.as_bytes());
    assert_accepted(&app, &valid).await;
    let payload = valid.split('.').nth(1).unwrap();
    // base64url({"alg":"none","typ":"JWT"}) with an empty signature, and with the old one kept.
    let header = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0";
    assert_rejected(&app, &format!("{header}.{payload}."), "invalid_token").await;
    let signature = valid.split('.').nth(2).unwrap();
    assert_rejected(&app, &format!("{header}.{payload}.{signature}"), "invalid_token").await;
}

#[actix_web::test]
async fn hs256_tokens_signed_with_the_rs256_public_key_are_rejected() {
    let app = app_with(&[("JWT_ALGORITHM", "RS256"), ("JWT_PUBLIC_KEY", RS_PUBLIC)]).await;
    let claims = json!({ "sub": "merchant_rs", "exp": now() + 600 });
    assert_accepted(&app, &rs256(claims.clone())).await;
    // The classic confusion attack: HMAC keyed with the public key the server trusts.
    assert_rejected(&app, &hs256(claims.clone(), RS_PUBLIC.as_bytes()), "invalid_token").await;
    // And HS256 with the shared secret the test helpers also configure: RS256 is pinned.
    assert_rejected(&app, &hs256(claims, JWT_SECRET.as_bytes()), "invalid_token").await;
}

#[actix_web::test]
async fn rs256_public_keys_may_be_given_as_a_file() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/api/fixtures/jwt_test_rs256_public.pem"
    );
    let app = app_with(&[("JWT_ALGORITHM", "RS256"), ("JWT_PUBLIC_KEY", path)]).await;
    assert_accepted(&app, &rs256(json!({ "sub": "merchant_rs", "exp": now() + 600 }))).await;
}

#[actix_web::test]
async fn hs256_mode_rejects_rs256_tokens() {
    let app = app_with(&[]).await;
    assert_rejected(&app, &rs256(json!({ "sub": "m", "exp": now() + 600 })), "invalid_token").await;
}

#[actix_web::test]
async fn expired_tokens_are_rejected_beyond_the_leeway() {
    let app = app_with(&[]).await;
    let secret = JWT_SECRET.as_bytes();
    assert_rejected(
        &app,
        &hs256(json!({ "sub": "m", "exp": now() - 120 }), secret),
        "token_expired",
    )
    .await;
    // Ten seconds of clock skew is within the leeway.
    assert_accepted(&app, &hs256(json!({ "sub": "m", "exp": now() - 10 }), secret)).await;
    assert_rejected(&app, &hs256(json!({ "sub": "m" }), secret), "invalid_token").await;
}

#[actix_web::test]
async fn not_yet_valid_tokens_are_rejected() {
    let app = app_with(&[]).await;
    let secret = JWT_SECRET.as_bytes();
    let premature = json!({ "sub": "m", "exp": now() + 7200, "nbf": now() + 3600 });
    assert_rejected(&app, &hs256(premature, secret), "invalid_token").await;
    let nearly = json!({ "sub": "m", "exp": now() + 7200, "nbf": now() + 5 });
    assert_accepted(&app, &hs256(nearly, secret)).await;
}

#[actix_web::test]
async fn tokens_for_another_audience_are_rejected() {
    let app = app_with(&[("JWT_AUDIENCE", "payrail-api")]).await;
    let secret = JWT_SECRET.as_bytes();
    let exp = now() + 600;
    assert_accepted(
        &app,
        &hs256(json!({ "sub": "m", "exp": exp, "aud": "payrail-api" }), secret),
    )
    .await;
    assert_accepted(
        &app,
        &hs256(json!({ "sub": "m", "exp": exp, "aud": ["x", "payrail-api"] }), secret),
    )
    .await;
    assert_rejected(
        &app,
        &hs256(json!({ "sub": "m", "exp": exp, "aud": "other-api" }), secret),
        "invalid_token",
    )
    .await;
    assert_rejected(&app, &hs256(json!({ "sub": "m", "exp": exp }), secret), "invalid_token").await;
}

#[actix_web::test]
async fn tokens_from_another_issuer_are_rejected() {
    let app = app_with(&[("JWT_ISSUER", "https://auth.example")]).await;
    let secret = JWT_SECRET.as_bytes();
    let exp = now() + 600;
    assert_accepted(
        &app,
        &hs256(json!({ "sub": "m", "exp": exp, "iss": "https://auth.example" }), secret),
    )
    .await;
    let wrong = json!({ "sub": "m", "exp": exp, "iss": "https://evil.example" });
    assert_rejected(&app, &hs256(wrong, secret), "invalid_token").await;
    assert_rejected(&app, &hs256(json!({ "sub": "m", "exp": exp }), secret), "invalid_token").await;
}

#[actix_web::test]
async fn tampered_tokens_are_rejected() {
    let app = app_with(&[]).await;
    let valid = hs256(
        json!({ "sub": "merchant_a", "exp": now() + 600 }),
        JWT_SECRET.as_bytes(),
    );
    let parts: Vec<&str> = valid.split('.').collect();
    // A flipped signature character.
    let mut signature: Vec<char> = parts[2].chars().collect();
    signature[5] = if signature[5] == 'A' { 'B' } else { 'A' };
    let flipped: String = signature.into_iter().collect();
    assert_rejected(&app, &format!("{}.{}.{flipped}", parts[0], parts[1]), "invalid_token").await;
    // Another merchant's claims under the original signature.
    let forged = hs256(json!({ "sub": "merchant_b", "exp": now() + 600 }), b"whatever");
    let forged_payload = forged.split('.').nth(1).unwrap();
    assert_rejected(
        &app,
        &format!("{}.{forged_payload}.{}", parts[0], parts[2]),
        "invalid_token",
    )
    .await;
    assert_rejected(&app, &format!("{}.{}", parts[0], parts[1]), "invalid_token").await;
}

#[actix_web::test]
async fn tokens_without_a_subject_are_rejected() {
    let app = app_with(&[]).await;
    let secret = JWT_SECRET.as_bytes();
    let exp = now() + 600;
    for claims in [
        json!({ "exp": exp }),
        json!({ "sub": "", "exp": exp }),
        json!({ "sub": null, "exp": exp }),
        json!({ "sub": 42, "exp": exp }),
    ] {
        assert_rejected(&app, &hs256(claims, secret), "invalid_token").await;
    }
}

#[actix_web::test]
async fn malformed_authorization_headers_are_rejected() {
    let app = app_with(&[]).await;
    for value in ["Basic dXNlcjpwYXNz", "Bearer", "Bearer ", "token abc"] {
        let response = app
            .client
            .get(app.url("/api/v1/payments"))
            .header("authorization", value)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{value}");
        assert!(response.headers().contains_key("www-authenticate"));
    }
}
