//! Several nodes, one truth (issue 14): two payrail nodes on one PostgreSQL database, each with
//! its own actors and caches, in front of one Stripe-like fake that records every refund it makes.
//! Whatever node a request lands on, the database decides: a change is committed as an intent
//! (version-checked) before the provider moves money, and a node whose copy was stale loses the
//! race in the database, reloads and decides again.

use std::collections::BTreeMap;

use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::fakes::stripe_app;
use crate::helpers::{card, expect_json, Backend, TestApp, TestDatabase};
use crate::sql::count;

/// A second node: the same settings (database, provider), its own port, actors and caches.
async fn second_node(first: &TestApp) -> TestApp {
    TestApp::start(TestDatabase::shared(&first.db.url), first.settings.clone()).await
}

#[actix_web::test]
async fn concurrent_refunds_through_two_nodes_accept_every_refund_that_fits() {
    let Some((a, fake)) = stripe_app(Backend::Postgres, &[]).await else {
        return;
    };
    let b = second_node(&a).await;
    let body = json!({ "amount": 10_000, "currency": "usd", "capture": true, "provider": "stripe",
                       "payment_method": card("4242424242424242") });
    let created = expect_json(a.post("/api/v1/payments", &body).await, StatusCode::CREATED).await;
    let id = created["id"].as_str().unwrap().to_owned();
    // Both nodes have the payment cached before the race: each one's copy goes stale at once.
    assert_eq!(a.payment(&id).await["status"], "succeeded");
    assert_eq!(b.payment(&id).await["status"], "succeeded");

    let attempts = (0..100).map(|i| {
        let node = if i % 2 == 0 { &a } else { &b };
        node.refund(&id, json!({ "amount": 150 }))
    });
    let mut accepted = Vec::new();
    let mut statuses = BTreeMap::new();
    for response in join_all(attempts).await {
        let status = response.status();
        *statuses.entry(status.as_u16()).or_insert(0) += 1;
        match status {
            StatusCode::CREATED => accepted.push(response.json::<Value>().await.unwrap()),
            StatusCode::UNPROCESSABLE_ENTITY => {
                let error: Value = response.json().await.unwrap();
                assert_eq!(error["error"]["code"], "amount_too_large", "{error}");
            }
            other => panic!("refund answered {other}: {}", response.text().await.unwrap()),
        }
    }
    assert_eq!(
        accepted.len(),
        66,
        "10000 / 150: every refund that fits is accepted: {statuses:?}"
    );

    // payrail's record, from the database, on either node.
    for node in [&a, &b] {
        let payment = node.payment(&id).await;
        assert_eq!(payment["refunded_amount"], 66 * 150);
        assert_eq!(payment["status"], "partially_refunded");
    }
    let open = count(&a.database, "SELECT COUNT(*) FROM refunds WHERE awaiting_provider = 1").await;
    assert_eq!(open, 0, "every intent settled");
    let over = count(
        &a.database,
        "SELECT COUNT(*) FROM payments p WHERE refunded_amount <> \
         (SELECT COALESCE(SUM(amount), 0) FROM refunds r WHERE r.payment_id = p.id \
          AND r.status IN ('pending', 'succeeded'))",
    )
    .await;
    assert_eq!(over, 0, "refunded_amount is the sum of its live refunds");

    // Money moved at the provider = money recorded in payrail, refund by refund.
    let moved: BTreeMap<String, i64> = fake
        .refunds()
        .iter()
        .map(|r| (r["id"].as_str().unwrap().to_owned(), r["amount"].as_i64().unwrap()))
        .collect();
    assert!(accepted.iter().all(|r| r["status"] == "succeeded"), "{accepted:?}");
    let pool = sqlx::PgPool::connect(&a.db.url).await.expect("database");
    let rows: Vec<(Option<String>, i64, String)> =
        sqlx::query_as("SELECT provider_reference, amount, status FROM refunds WHERE payment_id = $1")
            .bind(&id)
            .fetch_all(&pool)
            .await
            .expect("refunds");
    assert!(rows.iter().all(|(_, _, status)| status == "succeeded"), "{rows:?}");
    let recorded: BTreeMap<String, i64> = rows
        .into_iter()
        .map(|(reference, amount, _)| (reference.expect("provider reference"), amount))
        .collect();
    assert_eq!(recorded.len(), 66);
    assert_eq!(moved, recorded, "the provider's refunds are payrail's, one for one");
}

/// A refund whose provider answer was lost (the call timed out after the fake moved the money)
/// stays reserved; the reconciler on the other node settles it from the provider, once.
#[actix_web::test]
async fn a_refund_left_open_is_settled_once_by_the_reconciler_on_another_node() {
    let settings = [("PROVIDER_TIMEOUT_MS", "300"), ("RECONCILE_INTERVAL_SECS", "3600")];
    let Some((a, fake)) = stripe_app(Backend::Postgres, &settings).await else {
        return;
    };
    let b = second_node(&a).await;
    let body = json!({ "amount": 1_000, "currency": "usd", "capture": true, "provider": "stripe",
                       "payment_method": card("4242424242424242") });
    let created = expect_json(a.post("/api/v1/payments", &body).await, StatusCode::CREATED).await;
    let id = created["id"].as_str().unwrap().to_owned();

    fake.stall_next(std::time::Duration::from_millis(1500));
    let lost = a.refund(&id, json!({ "amount": 700 })).await;
    assert!(!lost.status().is_success(), "the answer was lost: {}", lost.status());
    assert!(
        lost.status().as_u16() < 500 || lost.status().as_u16() >= 502,
        "{}",
        lost.status()
    );
    assert_eq!(fake.refunds().len(), 1, "the provider moved the money");
    let open = count(&a.database, "SELECT COUNT(*) FROM refunds WHERE awaiting_provider = 1").await;
    assert_eq!(open, 1, "the intent is open");
    // The reservation holds on every node: 700 of 1000 are promised back.
    assert_eq!(b.payment(&id).await["refunded_amount"], 700);
    let too_much = b.refund(&id, json!({ "amount": 400 })).await;
    assert_eq!(too_much.status(), StatusCode::UNPROCESSABLE_ENTITY);

    let report = payrail::reconcile::run_once(&b.database, &b.supervisor, std::time::Duration::ZERO).await;
    assert_eq!((report.examined, report.errors), (1, 0), "{report:?}");
    let again = payrail::reconcile::run_once(&a.database, &a.supervisor, std::time::Duration::ZERO).await;
    assert_eq!(again.examined, 0, "settled once: nothing left for the other node");

    let moved: Vec<(String, i64)> = fake
        .refunds()
        .iter()
        .map(|r| (r["id"].as_str().unwrap().to_owned(), r["amount"].as_i64().unwrap()))
        .collect();
    assert_eq!(
        moved.len(),
        1,
        "the reconciler's repeat was answered from the provider's record"
    );
    let pool = sqlx::PgPool::connect(&a.db.url).await.expect("database");
    let recorded: Vec<(Option<String>, i64, String, i64)> = sqlx::query_as(
        "SELECT provider_reference, amount, status, awaiting_provider FROM refunds WHERE payment_id = $1",
    )
    .bind(&id)
    .fetch_all(&pool)
    .await
    .expect("refunds");
    assert_eq!(recorded, [(Some(moved[0].0.clone()), 700, "succeeded".to_owned(), 0)]);
    let events = count(
        &a.database,
        &format!("SELECT COUNT(*) FROM payment_events WHERE payment_id = '{id}' AND kind = 'refund.updated'"),
    )
    .await;
    assert_eq!(events, 1, "settled exactly once");
}

/// Captures of one authorisation through two nodes: one intent wins in the database, the others
/// are 409 `invalid_state` as on one node, and the provider is asked to capture exactly once.
#[actix_web::test]
async fn concurrent_captures_through_two_nodes_capture_once_at_the_provider() {
    let Some((a, fake)) = stripe_app(Backend::Postgres, &[]).await else {
        return;
    };
    let b = second_node(&a).await;
    let body = json!({ "amount": 5_000, "currency": "usd", "capture": false, "provider": "stripe",
                       "payment_method": card("4242424242424242") });
    let created = expect_json(a.post("/api/v1/payments", &body).await, StatusCode::CREATED).await;
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(b.payment(&id).await["status"], "authorized");

    let attempts = (0..20).map(|i| {
        let node = if i % 2 == 0 { &a } else { &b };
        node.capture(&id, json!({ "amount": 1_000 + i }))
    });
    let mut captured = Vec::new();
    for response in join_all(attempts).await {
        match response.status() {
            StatusCode::OK => captured.push(response.json::<Value>().await.unwrap()),
            StatusCode::CONFLICT => {
                let error: Value = response.json().await.unwrap();
                assert_eq!(error["error"]["code"], "invalid_state", "{error}");
            }
            other => panic!("capture answered {other}: {}", response.text().await.unwrap()),
        }
    }
    assert_eq!(captured.len(), 1, "exactly one capture wins");
    let intent = fake.intent(created["provider_reference"].as_str().unwrap());
    assert_eq!(intent["amount_received"], captured[0]["captured_amount"]);
    let captures = fake.requests().iter().filter(|r| r.contains("/capture")).count();
    assert_eq!(captures, 1, "{:?}", fake.requests());
}

/// One job, one node: a lease is held until it expires, renewed by its holder, and taken over by
/// another node only once expired (times in microseconds, chosen by the test).
async fn a_job_lease_is_held_by_one_node_and_taken_over_when_it_expires(app: TestApp) {
    let lease = |holder: &'static str, now: i64| {
        let database = app.database.clone();
        async move { database.hold_lease("test-job", holder, now, now + 1_000).await.unwrap() }
    };
    assert!(lease("node-a", 1_000).await, "a free lease is taken");
    assert!(!lease("node-b", 1_500).await, "a held lease is not");
    assert!(lease("node-a", 1_900).await, "its holder renews it (to 2900)");
    assert!(!lease("node-b", 2_800).await, "renewed, so still held");
    assert!(lease("node-b", 3_000).await, "expired: another node takes it over");
    assert!(!lease("node-a", 3_100).await, "and the old holder has lost it");
}

crate::backend_tests!(a_job_lease_is_held_by_one_node_and_taken_over_when_it_expires);
