//! Idempotency keys (DESIGN §5): a retry with the same `Idempotency-Key` executes at most once and
//! gets the first answer back, byte for byte; a key is the merchant's own; a reused key, a key in
//! use, and an invalid key are refused with their own codes.

use std::time::Duration;

use reqwest::{Response, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{card, expect_error, expect_json, spawn_app_with, token_for, Backend, TestApp};
use crate::sql::execute;

/// A keyed POST as `token`.
pub async fn post_keyed(app: &TestApp, token: &str, path: &str, key: &str, body: &Value) -> Response {
    app.client
        .post(app.url(path))
        .bearer_auth(token)
        .header("Idempotency-Key", key)
        .json(body)
        .send()
        .await
        .expect("request")
}

fn new_payment(amount: i64, capture: bool) -> Value {
    json!({ "amount": amount, "currency": "usd", "capture": capture, "payment_method": card("4242424242424242") })
}

async fn payment_count(app: &TestApp, token: &str) -> usize {
    let page = expect_json(app.get_as(token, "/api/v1/payments?limit=100").await, StatusCode::OK).await;
    page["data"].as_array().expect("data").len()
}

async fn fifty_concurrent_requests_with_one_key_create_one_payment(app: TestApp) {
    let body = new_payment(1_234, true);
    let requests = (0..50).map(|_| post_keyed(&app, &app.token, "/api/v1/payments", "order-50", &body));
    let responses = futures::future::join_all(requests).await;
    let mut ids = std::collections::HashSet::new();
    let mut in_progress = 0;
    for response in responses {
        let status = response.status();
        let body: Value = response.json().await.expect("json");
        match status {
            StatusCode::CREATED => {
                assert_eq!(body["status"], "succeeded", "{body}");
                ids.insert(body["id"].as_str().expect("id").to_owned());
            }
            StatusCode::CONFLICT => {
                assert_eq!(body["error"]["code"], "idempotency_in_progress", "{body}");
                in_progress += 1;
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!(ids.len(), 1, "every success is the same payment");
    assert!(in_progress < 50, "the first request succeeded");
    assert_eq!(payment_count(&app, &app.token).await, 1, "exactly one payment exists");
}

async fn a_replay_returns_the_same_status_and_body_and_says_so(app: TestApp) {
    let path = "/api/v1/payments";
    let first = post_keyed(&app, &app.token, path, "k-replay", &new_payment(5_000, false)).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first_body = first.bytes().await.unwrap();
    let id = serde_json::from_slice::<Value>(&first_body).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // The same request spelled differently (key order) is the same request.
    let respelled =
        json!({ "payment_method": card("4242424242424242"), "capture": false, "currency": "usd", "amount": 5_000 });
    let replay = post_keyed(&app, &app.token, path, "k-replay", &respelled).await;
    assert_eq!(replay.status(), StatusCode::CREATED);
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    assert_eq!(replay.bytes().await.unwrap(), first_body, "byte for byte");

    // Changes replay too, and execute once.
    let capture_path = format!("/api/v1/payments/{id}/capture");
    let captured = post_keyed(&app, &app.token, &capture_path, "k-cap", &json!({ "amount": 3_000 })).await;
    let captured_body = expect_json(captured, StatusCode::OK).await;
    let again = post_keyed(&app, &app.token, &capture_path, "k-cap", &json!({ "amount": 3_000 })).await;
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(expect_json(again, StatusCode::OK).await, captured_body);

    let refund_path = format!("/api/v1/payments/{id}/refund");
    let refund = expect_json(
        post_keyed(&app, &app.token, &refund_path, "k-ref", &json!({ "amount": 1_000 })).await,
        StatusCode::CREATED,
    )
    .await;
    let again = expect_json(
        post_keyed(&app, &app.token, &refund_path, "k-ref", &json!({ "amount": 1_000 })).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(again["id"], refund["id"]);
    let payment = app.payment(&id).await;
    assert_eq!(payment["captured_amount"], 3_000);
    assert_eq!(payment["refunded_amount"], 1_000, "refunded once");

    // The state machine's refusal is a final answer, and is replayed as such.
    let cancel_path = format!("/api/v1/payments/{id}/cancel");
    expect_error(
        post_keyed(&app, &app.token, &cancel_path, "k-cancel", &json!({})).await,
        StatusCode::CONFLICT,
        "invalid_state",
        None,
    )
    .await;
    let again = post_keyed(&app, &app.token, &cancel_path, "k-cancel", &json!({})).await;
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    expect_error(again, StatusCode::CONFLICT, "invalid_state", None).await;
}

async fn reusing_a_key_for_another_request_is_422(app: TestApp) {
    let path = "/api/v1/payments";
    expect_json(
        post_keyed(&app, &app.token, path, "k-reuse", &new_payment(1_000, true)).await,
        StatusCode::CREATED,
    )
    .await;
    expect_error(
        post_keyed(&app, &app.token, path, "k-reuse", &new_payment(1_001, true)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency_key_reused",
        None,
    )
    .await;
    assert_eq!(payment_count(&app, &app.token).await, 1);
}

async fn the_alias_path_is_the_same_request(app: TestApp) {
    let body = new_payment(1_500, true);
    let first = post_keyed(&app, &app.token, "/payments", "k-alias", &body).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let first = first.bytes().await.expect("body");
    let again = post_keyed(&app, &app.token, "/api/v1/payments", "k-alias", &body).await;
    assert_eq!(again.status(), StatusCode::CREATED);
    assert_eq!(again.headers()["Idempotent-Replayed"], "true");
    assert_eq!(again.bytes().await.expect("body"), first);
}

async fn keys_belong_to_one_merchant(app: TestApp) {
    let other = token_for("merchant_other");
    let body = new_payment(2_000, true);
    let mine = expect_json(
        post_keyed(&app, &app.token, "/api/v1/payments", "shared-key", &body).await,
        StatusCode::CREATED,
    )
    .await;
    let theirs = post_keyed(&app, &other, "/api/v1/payments", "shared-key", &body).await;
    assert!(theirs.headers().get("idempotent-replayed").is_none());
    let theirs = expect_json(theirs, StatusCode::CREATED).await;
    assert_ne!(mine["id"], theirs["id"]);
    assert_eq!(payment_count(&app, &other).await, 1);
    assert_eq!(payment_count(&app, &app.token).await, 1);
}

async fn invalid_keys_and_invalid_requests_store_nothing(app: TestApp) {
    let path = "/api/v1/payments";
    for key in ["k".repeat(256), "tab\tkey".to_owned()] {
        expect_error(
            post_keyed(&app, &app.token, path, &key, &new_payment(1_000, true)).await,
            StatusCode::BAD_REQUEST,
            "invalid_idempotency_key",
            Some("Idempotency-Key"),
        )
        .await;
    }
    let bad = json!({ "amount": -5, "currency": "usd", "payment_method": card("4242424242424242") });
    expect_error(
        post_keyed(&app, &app.token, path, "k-fix", &bad).await,
        StatusCode::BAD_REQUEST,
        "invalid_amount",
        None,
    )
    .await;
    // The rejected request claimed nothing: the corrected request may use the same key.
    expect_json(
        post_keyed(&app, &app.token, path, "k-fix", &new_payment(1_000, true)).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(payment_count(&app, &app.token).await, 1);
}

async fn a_key_in_use_is_409_with_retry_after(backend: Backend) {
    let Some(app) = spawn_app_with(backend, &[("SANDBOX_LATENCY_MS", "1500")]).await else {
        return;
    };
    let body = new_payment(1_000, true);
    let first = post_keyed(&app, &app.token, "/api/v1/payments", "k-slow", &body);
    let second = async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        post_keyed(&app, &app.token, "/api/v1/payments", "k-slow", &body).await
    };
    let (first, second) = futures::join!(first, second);
    assert_eq!(second.headers()["retry-after"], "1");
    expect_error(second, StatusCode::CONFLICT, "idempotency_in_progress", None).await;
    expect_json(first, StatusCode::CREATED).await;
}

async fn a_client_that_gives_up_gets_the_answer_on_its_retry(backend: Backend) {
    let Some(app) = spawn_app_with(backend, &[("SANDBOX_LATENCY_MS", "800")]).await else {
        return;
    };
    let body = new_payment(1_000, true);
    let gave_up = app
        .client
        .post(app.url("/api/v1/payments"))
        .bearer_auth(&app.token)
        .header("Idempotency-Key", "k-impatient")
        .json(&body)
        .timeout(Duration::from_millis(200))
        .send()
        .await;
    assert!(gave_up.is_err(), "the client hung up before the answer");
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    // The work went on without the client, so the retry is answered at once, not blocked for the
    // lock timeout.
    let retry = post_keyed(&app, &app.token, "/api/v1/payments", "k-impatient", &body).await;
    assert_eq!(retry.headers()["idempotent-replayed"], "true");
    assert_eq!(expect_json(retry, StatusCode::CREATED).await["status"], "succeeded");
    assert_eq!(payment_count(&app, &app.token).await, 1);
}

/// Simulates a process that died after committing the change but before storing its response:
/// the claim is back in progress, with a lock long expired.
async fn orphan_the_claim(app: &TestApp, key: &str) {
    let sql = format!(
        "UPDATE idempotency_keys SET response_status = NULL, response_body = NULL, locked_at = 0 \
         WHERE idempotency_key = '{key}'"
    );
    assert_eq!(execute(&app.database, &sql).await.expect("update"), 1);
}

async fn a_retry_after_a_crash_finds_the_committed_change_instead_of_repeating_it(backend: Backend) {
    let Some(app) = spawn_app_with(backend, &[("IDEMPOTENCY_LOCK_TIMEOUT_SECS", "1")]).await else {
        return;
    };
    let create = new_payment(9_000, false);
    let created = expect_json(
        post_keyed(&app, &app.token, "/api/v1/payments", "c-1", &create).await,
        StatusCode::CREATED,
    )
    .await;
    let id = created["id"].as_str().unwrap().to_owned();
    orphan_the_claim(&app, "c-1").await;
    let retried = expect_json(
        post_keyed(&app, &app.token, "/api/v1/payments", "c-1", &create).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(retried["id"], created["id"], "the retry continued the same payment");
    assert_eq!(payment_count(&app, &app.token).await, 1);

    let capture_path = format!("/api/v1/payments/{id}/capture");
    let capture = json!({ "amount": 6_000 });
    expect_json(
        post_keyed(&app, &app.token, &capture_path, "c-2", &capture).await,
        StatusCode::OK,
    )
    .await;
    orphan_the_claim(&app, "c-2").await;
    let retried = expect_json(
        post_keyed(&app, &app.token, &capture_path, "c-2", &capture).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(retried["captured_amount"], 6_000);

    let refund_path = format!("/api/v1/payments/{id}/refund");
    let refund = json!({ "amount": 2_500 });
    let first = expect_json(
        post_keyed(&app, &app.token, &refund_path, "c-3", &refund).await,
        StatusCode::CREATED,
    )
    .await;
    orphan_the_claim(&app, "c-3").await;
    let retried = expect_json(
        post_keyed(&app, &app.token, &refund_path, "c-3", &refund).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(retried["id"], first["id"], "the same refund, not a second one");
    let payment = app.payment(&id).await;
    assert_eq!(payment["refunded_amount"], 2_500);
    assert_eq!(
        app.events(&id).await.len(),
        6,
        "created, authorized, capture requested and settled, refund requested and settled: once each"
    );
}

async fn expired_keys_are_reaped(backend: Backend) {
    let extra = [
        ("IDEMPOTENCY_KEY_TTL_SECS", "1"),
        ("IDEMPOTENCY_REAP_INTERVAL_SECS", "1"),
    ];
    let Some(app) = spawn_app_with(backend, &extra).await else {
        return;
    };
    let path = "/api/v1/payments";
    expect_json(
        post_keyed(&app, &app.token, path, "k-old", &new_payment(1_000, true)).await,
        StatusCode::CREATED,
    )
    .await;
    tokio::time::sleep(Duration::from_millis(3_000)).await;
    // Forgotten: the key is free for another request.
    expect_json(
        post_keyed(&app, &app.token, path, "k-old", &new_payment(1_001, true)).await,
        StatusCode::CREATED,
    )
    .await;
}

/// A keyed create is two commits — its claim rides with the `pending` payment, its response with
/// the outcome — and a keyed refund two as well (claim first: the provider is asked before its only
/// transition). What was stored is what the client got, byte for byte.
async fn keyed_requests_store_their_records_with_the_payments_transitions(app: TestApp) {
    let (_, writes_before) = app.database.commit_stats();
    let created = post_keyed(&app, &app.token, "/api/v1/payments", "k-two", &new_payment(2_000, true)).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let first = created.bytes().await.expect("body");
    let (_, writes_after_create) = app.database.commit_stats();
    assert_eq!(
        writes_after_create - writes_before,
        2,
        "claim + pending, outcome + response"
    );
    let stored = crate::sql::count(
        &app.database,
        "SELECT COUNT(*) FROM idempotency_keys WHERE idempotency_key = 'k-two' AND response_status = 201",
    )
    .await;
    assert_eq!(stored, 1, "the response was stored with the outcome");

    let payment: Value = serde_json::from_slice(&first).expect("json");
    let path = format!("/api/v1/payments/{}/refund", payment["id"].as_str().expect("id"));
    let refunded = post_keyed(&app, &app.token, &path, "k-refund", &json!({ "amount": 500 })).await;
    assert_eq!(refunded.status(), StatusCode::CREATED);
    let refund = refunded.bytes().await.expect("body");
    let (_, writes_after_refund) = app.database.commit_stats();
    assert_eq!(
        writes_after_refund - writes_after_create,
        3,
        "claim, then the refund's intent, then its settlement + response"
    );

    let replayed = post_keyed(&app, &app.token, "/api/v1/payments", "k-two", &new_payment(2_000, true)).await;
    assert_eq!(replayed.headers()["Idempotent-Replayed"], "true");
    assert_eq!(replayed.bytes().await.expect("body"), first);
    let replayed = post_keyed(&app, &app.token, &path, "k-refund", &json!({ "amount": 500 })).await;
    assert_eq!(replayed.status(), StatusCode::CREATED);
    assert_eq!(replayed.bytes().await.expect("body"), refund);
    assert_eq!(payment_count(&app, &app.token).await, 1, "a replay creates nothing");
    let refunds = crate::sql::count(&app.database, "SELECT COUNT(*) FROM refunds").await;
    assert_eq!(refunds, 1, "a replay refunds nothing");
}

crate::backend_tests!(
    fifty_concurrent_requests_with_one_key_create_one_payment,
    a_replay_returns_the_same_status_and_body_and_says_so,
    reusing_a_key_for_another_request_is_422,
    keys_belong_to_one_merchant,
    the_alias_path_is_the_same_request,
    invalid_keys_and_invalid_requests_store_nothing,
    keyed_requests_store_their_records_with_the_payments_transitions,
);

mod by_backend {
    use super::*;

    #[actix_web::test]
    async fn a_key_in_use_is_409_with_retry_after_sqlite() {
        a_key_in_use_is_409_with_retry_after(Backend::Sqlite).await;
    }

    #[actix_web::test]
    async fn a_key_in_use_is_409_with_retry_after_postgres() {
        a_key_in_use_is_409_with_retry_after(Backend::Postgres).await;
    }

    #[actix_web::test]
    async fn a_retry_after_a_crash_finds_the_committed_change_sqlite() {
        a_retry_after_a_crash_finds_the_committed_change_instead_of_repeating_it(Backend::Sqlite).await;
    }

    #[actix_web::test]
    async fn a_retry_after_a_crash_finds_the_committed_change_postgres() {
        a_retry_after_a_crash_finds_the_committed_change_instead_of_repeating_it(Backend::Postgres).await;
    }

    #[actix_web::test]
    async fn a_client_that_gives_up_gets_the_answer_on_its_retry_sqlite() {
        a_client_that_gives_up_gets_the_answer_on_its_retry(Backend::Sqlite).await;
    }

    #[actix_web::test]
    async fn a_client_that_gives_up_gets_the_answer_on_its_retry_postgres() {
        a_client_that_gives_up_gets_the_answer_on_its_retry(Backend::Postgres).await;
    }

    #[actix_web::test]
    async fn expired_keys_are_reaped_sqlite() {
        expired_keys_are_reaped(Backend::Sqlite).await;
    }

    #[actix_web::test]
    async fn expired_keys_are_reaped_postgres() {
        expired_keys_are_reaped(Backend::Postgres).await;
    }
}
