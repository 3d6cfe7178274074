//! Response headers every client sees: an `X-Request-Id` on every response (the client's when it is
//! sane, else a fresh one) that also appears in the logs, `X-Content-Type-Options: nosniff`, no
//! `Server` banner, and CORS only for allow-listed origins.

use reqwest::{Method, Response, StatusCode};
use serde_json::json;

use crate::helpers::{card, spawn_app_with, Backend, TestApp};

fn assert_standard_headers(response: &Response) {
    let headers = response.headers();
    let id = headers.get("x-request-id").expect("x-request-id").to_str().unwrap();
    assert!(!id.is_empty() && id.len() <= 128, "{id}");
    assert_eq!(headers.get("x-content-type-options").unwrap(), "nosniff");
    assert_eq!(headers.get("cache-control").unwrap(), "no-store");
    assert_eq!(headers.get("x-frame-options").unwrap(), "DENY");
    assert!(headers.contains_key("content-security-policy"));
    assert!(
        !headers.contains_key("server"),
        "server banner: {:?}",
        headers.get("server")
    );
}

async fn every_response_carries_a_request_id_nosniff_and_no_server_banner(app: TestApp) {
    let body = json!({ "amount": 100, "currency": "usd", "payment_method": card("4242424242424242") });
    let huge = "x".repeat(2 * 1024 * 1024);
    let responses = vec![
        (app.client.get(app.url("/health")).send().await.unwrap(), StatusCode::OK),
        (app.post("/api/v1/payments", &body).await, StatusCode::CREATED),
        (app.get("/api/v1/payments/pay_missing").await, StatusCode::NOT_FOUND),
        (app.get("/nowhere").await, StatusCode::NOT_FOUND),
        (app.get_as("bad", "/api/v1/payments").await, StatusCode::UNAUTHORIZED),
        (app.post_raw("/api/v1/payments", "{").await, StatusCode::BAD_REQUEST),
        (
            app.client.delete(app.url("/api/v1/payments")).send().await.unwrap(),
            StatusCode::METHOD_NOT_ALLOWED,
        ),
        (
            app.client
                .post(app.url("/api/v1/payments"))
                .bearer_auth(&app.token)
                .body(huge)
                .send()
                .await
                .unwrap(),
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
    ];
    let mut ids = std::collections::HashSet::new();
    for (response, status) in responses {
        assert_eq!(response.status(), status);
        assert_standard_headers(&response);
        ids.insert(response.headers()["x-request-id"].to_str().unwrap().to_owned());
    }
    assert_eq!(ids.len(), 8, "each response has its own id");
}

async fn a_sane_client_request_id_is_kept_and_logged(app: TestApp) {
    let id = format!("client-{}", uuid::Uuid::new_v4().simple());
    let response = app
        .client
        .get(app.url("/api/v1/payments"))
        .bearer_auth("not-a-token")
        .header("x-request-id", &id)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(response.headers()["x-request-id"], id.as_str());
    let logs = crate::logs::captured();
    let line = logs
        .lines()
        .find(|line| line.contains(&id))
        .expect("the request id is in the logs");
    assert!(line.contains("authentication failed"), "{line}");
    assert!(!line.contains("not-a-token"), "the token is never logged: {line}");

    for bad in ["has space", "<script>", &"x".repeat(200)] {
        let response = app
            .client
            .get(app.url("/health"))
            .header("x-request-id", bad)
            .send()
            .await
            .unwrap();
        let echoed = response.headers()["x-request-id"].to_str().unwrap().to_owned();
        assert_ne!(echoed, bad);
        assert_eq!(echoed.len(), 32, "a fresh id replaces {bad:?}");
    }
}

/// The payment actor's `payment operation` line carries the request id of the request it served,
/// keyed or not.
async fn payment_operation_lines_carry_the_request_id(app: TestApp) {
    for key in [None, Some(uuid::Uuid::new_v4().to_string())] {
        let id = format!("op-{}", uuid::Uuid::new_v4().simple());
        let mut request = app
            .client
            .post(app.url("/api/v1/payments"))
            .bearer_auth(&app.token)
            .header("x-request-id", &id)
            .json(&serde_json::json!({
                "amount": 1_200, "currency": "usd", "capture": true,
                "payment_method": crate::helpers::card("4242424242424242"),
            }));
        if let Some(key) = &key {
            request = request.header("Idempotency-Key", key);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
        let logs = crate::logs::captured();
        let line = logs
            .lines()
            .find(|line| line.contains(&id) && line.contains("payment operation"))
            .unwrap_or_else(|| panic!("no `payment operation` line with {id} (keyed: {})", key.is_some()));
        assert!(line.contains("\"operation\":\"create\""), "{line}");
    }
}

#[actix_web::test]
async fn cors_answers_only_allow_listed_origins() {
    let app = spawn_app_with(
        Backend::Sqlite,
        &[("CORS_ORIGINS", "https://shop.example, https://admin.example")],
    )
    .await
    .unwrap();
    let preflight = |origin: &'static str| {
        app.client
            .request(Method::OPTIONS, app.url("/api/v1/payments"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "authorization, content-type")
            .send()
    };
    let allowed = preflight("https://shop.example").await.unwrap();
    assert_eq!(allowed.status(), StatusCode::NO_CONTENT);
    assert_eq!(allowed.headers()["access-control-allow-origin"], "https://shop.example");
    assert!(allowed.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .contains("authorization"));
    assert!(!allowed.headers().contains_key("access-control-allow-credentials"));
    let refused = preflight("https://evil.example").await.unwrap();
    assert!(!refused.headers().contains_key("access-control-allow-origin"));

    let simple = app
        .client
        .get(app.url("/api/v1/payments"))
        .bearer_auth(&app.token)
        .header("origin", "https://admin.example")
        .send()
        .await
        .unwrap();
    assert_eq!(simple.status(), StatusCode::OK);
    assert_eq!(simple.headers()["access-control-allow-origin"], "https://admin.example");
    assert!(simple.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .contains("x-request-id"));
    let other = app
        .client
        .get(app.url("/api/v1/payments"))
        .bearer_auth(&app.token)
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert!(!other.headers().contains_key("access-control-allow-origin"));
}

crate::backend_tests!(
    every_response_carries_a_request_id_nosniff_and_no_server_banner,
    a_sane_client_request_id_is_kept_and_logged,
    payment_operation_lines_carry_the_request_id,
);
