//! An endpoint's delivery attempts (`GET /api/v1/webhook_endpoints/{id}/deliveries`) as a
//! merchant pages through them: newest first, `limit` and `starting_after` as on every list,
//! `has_more` saying whether another page exists, the same 400s for a bad limit or cursor, and
//! another merchant's endpoint a 404. Each rule runs on SQLite and on PostgreSQL.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{expect_error, expect_json, token_for, Backend, TestApp};
use crate::merchant_events::both_backends;
use crate::merchant_events_receiver::{register, spawn_fast, Mode, Receiver};

const CARD: &str = "4242424242424242";

fn attempt_ids(page: &Value) -> Vec<String> {
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Waits until the endpoint lists `count` attempts (an attempt row is written after the
/// receiver has answered), and returns them all, newest first.
async fn wait_for_attempts(app: &TestApp, endpoint: &str, count: usize) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let all = expect_json(
            app.get(&format!("/api/v1/webhook_endpoints/{endpoint}/deliveries?limit=100"))
                .await,
            StatusCode::OK,
        )
        .await;
        if all["data"].as_array().unwrap().len() >= count {
            return all;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {count} attempts: {all}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

async fn paging_through_attempts_lists_each_once_newest_first(backend: Backend) {
    let Some(app) = spawn_fast(backend).await else { return };
    let receiver = Receiver::start(Mode::Ok);
    let (endpoint, _) = register(&app, &receiver.url, &["*"]).await;
    for amount in [100, 200, 300] {
        app.create_payment(amount, CARD, true).await;
    }
    let events = expect_json(app.get("/api/v1/events?limit=100").await, StatusCode::OK).await;
    let count = events["data"].as_array().unwrap().len();
    assert!(count >= 5, "three payments, several events each: {events}");
    let all = wait_for_attempts(&app, &endpoint, count).await;
    assert_eq!(all["has_more"], false);
    let newest_first = attempt_ids(&all);
    assert_eq!(newest_first.len(), count, "one attempt per event: {all}");
    let times: Vec<&str> = all["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["attempted_at"].as_str().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "newest first: {times:?}");
    let default = expect_json(
        app.get(&format!("/api/v1/webhook_endpoints/{endpoint}/deliveries"))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(attempt_ids(&default), newest_first[..count.min(10)]);

    let mut paged = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let after = cursor
            .as_ref()
            .map(|c| format!("&starting_after={c}"))
            .unwrap_or_default();
        let page = expect_json(
            app.get(&format!(
                "/api/v1/webhook_endpoints/{endpoint}/deliveries?limit=2{after}"
            ))
            .await,
            StatusCode::OK,
        )
        .await;
        let ids = attempt_ids(&page);
        assert!(!ids.is_empty() && ids.len() <= 2, "{page}");
        paged.extend(ids.iter().cloned());
        assert_eq!(
            page["has_more"],
            paged.len() < count,
            "has_more after {} of {count}",
            paged.len()
        );
        if page["has_more"] == false {
            break;
        }
        cursor = ids.last().cloned();
    }
    assert_eq!(paged, newest_first, "every attempt exactly once, in order");
}

async fn a_bad_limit_or_cursor_is_a_400_and_another_merchants_endpoint_a_404(backend: Backend) {
    let Some(app) = spawn_fast(backend).await else { return };
    let receiver = Receiver::start(Mode::Ok);
    let (endpoint, _) = register(&app, &receiver.url, &["*"]).await;
    let path = format!("/api/v1/webhook_endpoints/{endpoint}/deliveries");
    for limit in ["0", "101", "ten", "-1"] {
        let response = app.get(&format!("{path}?limit={limit}")).await;
        expect_error(response, StatusCode::BAD_REQUEST, "invalid_limit", Some("limit")).await;
    }
    // Malformed cursors, then well-formed ones naming no item of the list: the same 400, here
    // and in the events API.
    let malformed = ["nope", "wha_nope", "evt_00000000-0000-4000-8000-000000000000"];
    let unknown = [
        format!("{path}?starting_after=wha_00000000-0000-4000-8000-000000000000"),
        "/api/v1/events?starting_after=evt_00000000-0000-4000-8000-000000000000".to_owned(),
    ];
    let cursors = malformed
        .iter()
        .map(|c| format!("{path}?starting_after={c}"))
        .chain(unknown);
    for url in cursors {
        let response = app.get(&url).await;
        expect_error(
            response,
            StatusCode::BAD_REQUEST,
            "invalid_cursor",
            Some("starting_after"),
        )
        .await;
    }
    let empty = expect_json(app.get(&format!("{path}?starting_after=")).await, StatusCode::OK).await;
    assert_eq!(empty["has_more"], false);

    let other = token_for("merchant_other");
    for query in [
        "",
        "?limit=2",
        "?starting_after=wha_00000000-0000-4000-8000-000000000000",
    ] {
        let response = app.get_as(&other, &format!("{path}{query}")).await;
        expect_error(response, StatusCode::NOT_FOUND, "resource_missing", None).await;
    }
}

both_backends!(
    paging_through_attempts_lists_each_once_newest_first,
    a_bad_limit_or_cursor_is_a_400_and_another_merchants_endpoint_a_404,
);
