//! Rate limits: a token bucket per merchant, per client IP without a valid token; 429 with a
//! `Retry-After` that is honest (waiting that long is enough); probes are never limited.
//!
//! The limiter is in memory and independent of the database, so these run on SQLite only.

use std::time::Duration;

use reqwest::{Response, StatusCode};

use crate::helpers::{expect_error, spawn_app_with, token_for, Backend, TestApp};

async fn app(per_second: &str, burst: &str) -> TestApp {
    spawn_app_with(
        Backend::Sqlite,
        &[("RATE_LIMIT_PER_SECOND", per_second), ("RATE_LIMIT_BURST", burst)],
    )
    .await
    .expect("sqlite app")
}

fn header(response: &Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .unwrap_or_else(|| panic!("missing {name}"))
        .to_str()
        .unwrap()
        .to_owned()
}

#[actix_web::test]
async fn a_burst_beyond_the_limit_gets_429_with_a_correct_retry_after() {
    let app = app("1", "5").await;
    for expected_remaining in (0..5).rev() {
        let response = app.get("/api/v1/payments").await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(header(&response, "ratelimit-limit"), "5");
        assert_eq!(header(&response, "ratelimit-remaining"), expected_remaining.to_string());
    }
    let refused = app.get("/api/v1/payments").await;
    assert_eq!(header(&refused, "retry-after"), "1");
    assert_eq!(header(&refused, "ratelimit-remaining"), "0");
    assert!(refused.headers().contains_key("x-request-id"));
    expect_error(refused, StatusCode::TOO_MANY_REQUESTS, "rate_limited", None).await;
    // Another merchant has its own bucket; probes are never limited.
    let other = token_for("merchant_other");
    assert_eq!(app.get_as(&other, "/api/v1/payments").await.status(), StatusCode::OK);
    for _ in 0..20 {
        assert_eq!(
            app.client.get(app.url("/health")).send().await.unwrap().status(),
            StatusCode::OK
        );
        assert_eq!(
            app.client.get(app.url("/ready")).send().await.unwrap().status(),
            StatusCode::OK
        );
    }
    // Retry-After is enough: after waiting it, the request goes through.
    actix_web::rt::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(app.get("/api/v1/payments").await.status(), StatusCode::OK);
}

#[actix_web::test]
async fn requests_without_a_valid_token_are_limited_by_client_address() {
    let app = app("1", "3").await;
    let forged = token_for("merchant_test").replace('.', ".x");
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(app.get_as(&forged, "/api/v1/payments").await.status());
    }
    assert_eq!(
        statuses,
        [
            StatusCode::UNAUTHORIZED,
            StatusCode::UNAUTHORIZED,
            StatusCode::UNAUTHORIZED,
            StatusCode::TOO_MANY_REQUESTS
        ]
    );
    let anonymous = app
        .client
        .post(app.url("/api/v1/webhooks/sandbox"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::TOO_MANY_REQUESTS);
    // Forged tokens drew from the address's bucket, not the merchant's.
    assert_eq!(app.get("/api/v1/payments").await.status(), StatusCode::OK);
}

/// Three requests from `forwarded_for` (as a proxy in front of payrail would say) without a valid
/// token; the statuses.
async fn anonymous_statuses(app: &TestApp, forwarded_for: &str) -> Vec<StatusCode> {
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let response = app
            .client
            .get(app.url("/api/v1/payments"))
            .header("x-forwarded-for", forwarded_for)
            .send()
            .await
            .unwrap();
        statuses.push(response.status());
    }
    statuses
}

#[actix_web::test]
async fn behind_a_trusted_proxy_clients_are_limited_by_their_forwarded_address() {
    let limited = [
        StatusCode::UNAUTHORIZED,
        StatusCode::UNAUTHORIZED,
        StatusCode::TOO_MANY_REQUESTS,
    ];
    let trusting = spawn_app_with(
        Backend::Sqlite,
        &[
            ("RATE_LIMIT_PER_SECOND", "1"),
            ("RATE_LIMIT_BURST", "2"),
            ("TRUSTED_PROXIES", "127.0.0.0/8, ::1"),
        ],
    )
    .await
    .expect("sqlite app");
    // The test client connects from loopback, a trusted proxy: each forwarded client has a bucket.
    assert_eq!(anonymous_statuses(&trusting, "198.51.100.1").await, limited);
    assert_eq!(anonymous_statuses(&trusting, "198.51.100.2").await, limited);
    // A client cannot pick its own bucket by writing the header itself: the proxy appends.
    assert_eq!(
        anonymous_statuses(&trusting, "203.0.113.5, 198.51.100.1").await[0],
        StatusCode::TOO_MANY_REQUESTS
    );

    // Without trusted proxies the header is ignored: every request is the TCP peer's.
    let plain = app("1", "2").await;
    assert_eq!(anonymous_statuses(&plain, "198.51.100.1").await, limited);
    assert_eq!(
        anonymous_statuses(&plain, "198.51.100.2").await[0],
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[actix_web::test]
async fn rate_limiting_can_be_disabled() {
    let app = spawn_app_with(
        Backend::Sqlite,
        &[
            ("RATE_LIMIT_ENABLED", "false"),
            ("RATE_LIMIT_PER_SECOND", "1"),
            ("RATE_LIMIT_BURST", "1"),
        ],
    )
    .await
    .unwrap();
    for _ in 0..5 {
        let response = app.get("/api/v1/payments").await;
        assert_eq!(response.status(), StatusCode::OK);
        assert!(!response.headers().contains_key("ratelimit-limit"));
    }
}
