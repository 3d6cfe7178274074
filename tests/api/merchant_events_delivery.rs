//! Merchant events are delivered at least once, in order per payment, whatever the receiver or
//! payrail does meanwhile: a receiver that is down and comes back, one that answers 410, payrail
//! restarted (gracefully, and SIGKILLed) with deliveries pending, and a batch of payments against
//! a receiver that fails 30 % of attempts at random.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::crash::Server;
use crate::helpers::{card, expect_json, token_for, Backend, TestApp, TestDatabase};
use crate::merchant_events::both_backends;
use crate::merchant_events_receiver::{assert_verified, register, spawn_fast, Mode, Received, Receiver, FAST_DELIVERY};

const CARD: &str = "4242424242424242";

/// Every event of `payments` (id → sequence), from the payments API.
async fn sequences(app: &TestApp, payments: &[String]) -> HashMap<String, (String, i64)> {
    let mut all = HashMap::new();
    for payment in payments {
        for event in app.events(payment).await {
            let id = event["id"].as_str().unwrap().to_owned();
            all.insert(id, (payment.clone(), event["sequence"].as_i64().unwrap()));
        }
    }
    all
}

/// Asserts every event was delivered and, per payment, first deliveries came in sequence order.
fn assert_all_delivered_in_order(delivered: &[Received], expected: &HashMap<String, (String, i64)>) {
    let mut seen = HashSet::new();
    let mut last: HashMap<&str, i64> = HashMap::new();
    for r in delivered {
        if !seen.insert(r.id.clone()) {
            continue;
        }
        let (payment, sequence) = expected
            .get(&r.id)
            .unwrap_or_else(|| panic!("unexpected event {}", r.id));
        let previous = last.insert(payment, *sequence).unwrap_or(0);
        assert!(
            previous < *sequence,
            "payment {payment}: event {sequence} arrived after {previous}"
        );
    }
    let missing: Vec<&String> = expected.keys().filter(|id| !seen.contains(*id)).collect();
    assert!(missing.is_empty(), "never delivered: {missing:?}");
}

fn all_delivered(expected: &HashMap<String, (String, i64)>) -> impl Fn(&[Received]) -> bool + '_ {
    move |delivered: &[Received]| {
        let seen: HashSet<&str> = delivered.iter().map(|r| r.id.as_str()).collect();
        expected.keys().all(|id| seen.contains(id.as_str()))
    }
}

async fn a_receiver_that_is_down_gets_everything_when_it_recovers(backend: Backend) {
    let Some(app) = spawn_fast(backend).await else { return };
    let receiver = Receiver::start(Mode::Status(503));
    let (endpoint, secret) = register(&app, &receiver.url, &["*"]).await;
    let mut payments = Vec::new();
    for amount in [1_000, 2_000, 3_000] {
        let payment = app.create_payment(amount, CARD, false).await;
        let id = payment["id"].as_str().unwrap().to_owned();
        expect_json(app.capture(&id, json!({})).await, StatusCode::OK).await;
        payments.push(id);
    }
    // Failed attempts are retried on schedule and listed with their answer.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while receiver.requests().len() < 6 {
        assert!(
            std::time::Instant::now() < deadline,
            "no retries while the receiver is down"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let attempts = expect_json(
        app.get(&format!("/api/v1/webhook_endpoints/{endpoint}/deliveries"))
            .await,
        StatusCode::OK,
    )
    .await;
    let first = &attempts["data"][0];
    assert_eq!(first["status_code"], 503, "{attempts}");
    assert!(first["latency_ms"].is_i64());

    receiver.set_mode(Mode::Ok);
    let expected = sequences(&app, &payments).await;
    let delivered = receiver
        .wait_for(
            Duration::from_secs(30),
            "every event after recovery",
            all_delivered(&expected),
        )
        .await;
    assert_all_delivered_in_order(&delivered, &expected);
    assert_verified(&secret, &delivered).await;
}

async fn gone_disables_the_endpoint(backend: Backend) {
    let Some(app) = spawn_fast(backend).await else { return };
    let receiver = Receiver::start(Mode::Status(410));
    let (endpoint, _) = register(&app, &receiver.url, &["*"]).await;
    app.create_payment(1_000, CARD, true).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let read = expect_json(
            app.get(&format!("/api/v1/webhook_endpoints/{endpoint}")).await,
            StatusCode::OK,
        )
        .await;
        if read["status"] == "disabled" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "410 did not disable the endpoint: {read}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let requests = receiver.requests().len();
    app.create_payment(2_000, CARD, true).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.requests().len(), requests, "a disabled endpoint gets nothing");
    let metrics = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("webhook_endpoints_disabled_total 1"), "{metrics}");
    assert!(
        metrics.contains("webhook_deliveries_total{outcome=\"gone\"}"),
        "{metrics}"
    );
}

async fn deliveries_pending_at_a_restart_are_delivered_after_it(backend: Backend) {
    let Some(app) = spawn_fast(backend).await else { return };
    let receiver = Receiver::start(Mode::Status(500));
    let (_, secret) = register(&app, &receiver.url, &["*"]).await;
    let mut payments = Vec::new();
    for amount in [1_100, 1_200, 1_300, 1_400] {
        let payment = app.create_payment(amount, CARD, true).await;
        payments.push(payment["id"].as_str().unwrap().to_owned());
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while receiver.requests().is_empty() {
        assert!(std::time::Instant::now() < deadline, "no attempt before the restart");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let app = app.restart().await;
    receiver.set_mode(Mode::Ok);
    let expected = sequences(&app, &payments).await;
    let delivered = receiver
        .wait_for(
            Duration::from_secs(30),
            "every event after the restart",
            all_delivered(&expected),
        )
        .await;
    assert_all_delivered_in_order(&delivered, &expected);
    assert_verified(&secret, &delivered).await;
}

/// The load: 500 payments of mixed life, a receiver failing 30% of attempts at random.
const PAYMENTS: i64 = 500;

async fn every_event_of_500_payments_arrives_in_order_despite_random_failures(backend: Backend) {
    let Some(app) = spawn_fast(backend).await else { return };
    let receiver = Receiver::start(Mode::FailRate(0.3));
    let (_, secret) = register(&app, &receiver.url, &["*"]).await;
    let creates = (0..PAYMENTS).map(|i| {
        let app = &app;
        async move {
            let payment = app.create_payment(1_000 + i, CARD, i % 2 == 0).await;
            let id = payment["id"].as_str().unwrap().to_owned();
            if i % 2 == 1 {
                expect_json(app.capture(&id, json!({})).await, StatusCode::OK).await;
            }
            if i % 5 == 0 {
                expect_json(app.refund(&id, json!({ "amount": 100 })).await, StatusCode::CREATED).await;
            }
            id
        }
    });
    let payments: Vec<String> = futures::future::join_all(creates).await;
    let expected = sequences(&app, &payments).await;
    // Per payment: created + authorized or succeeded (+ captured) (+ refunded): at least 2.5 on average.
    assert!(expected.len() as i64 >= PAYMENTS * 5 / 2, "{} events", expected.len());
    let delivered = receiver
        .wait_for(
            Duration::from_secs(90),
            "every event of 500 payments",
            all_delivered(&expected),
        )
        .await;
    assert_all_delivered_in_order(&delivered, &expected);
    let failed = receiver.requests().iter().filter(|r| r.status == 500).count();
    assert!(failed > 0, "the receiver failed some attempts");
    assert_verified(&secret, &delivered).await;
}

both_backends!(
    a_receiver_that_is_down_gets_everything_when_it_recovers,
    gone_disables_the_endpoint,
    deliveries_pending_at_a_restart_are_delivered_after_it,
    every_event_of_500_payments_arrives_in_order_despite_random_failures,
    no_delivery_is_lost_when_payrail_is_killed,
);

/// Two nodes on one PostgreSQL database: both fan out and deliver, and each delivery is attempted
/// by one node at a time (leases taken with `FOR UPDATE SKIP LOCKED`), so each event arrives once.
#[actix_web::test]
async fn two_nodes_on_one_postgres_deliver_each_event_once() {
    let Some(app) = spawn_fast(Backend::Postgres).await else {
        return;
    };
    let second = payrail::startup::Application::build(app.settings.clone())
        .await
        .expect("second node starts");
    let second_handle = second.handle();
    actix_web::rt::spawn(second.run_until_stopped());
    let receiver = Receiver::start(Mode::FailRate(0.2));
    let (_, secret) = register(&app, &receiver.url, &["*"]).await;
    let creates = (0..40).map(|i| {
        let app = &app;
        async move {
            let payment = app.create_payment(2_000 + i, CARD, false).await;
            let id = payment["id"].as_str().unwrap().to_owned();
            expect_json(app.capture(&id, json!({})).await, StatusCode::OK).await;
            id
        }
    });
    let payments: Vec<String> = futures::future::join_all(creates).await;
    let expected = sequences(&app, &payments).await;
    let delivered = receiver
        .wait_for(
            Duration::from_secs(60),
            "every event from two nodes",
            all_delivered(&expected),
        )
        .await;
    assert_all_delivered_in_order(&delivered, &expected);
    let unique: HashSet<&str> = delivered.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(unique.len(), delivered.len(), "an event was delivered twice");
    assert_verified(&secret, &delivered).await;
    second_handle.stop(false).await;
}

/// The real binary (`crash.rs` starts it), SIGKILLed with deliveries pending, then started again
/// on the same database: no sandbox latency, fast delivery.
async fn start_server(url: &str) -> Server {
    let mut env = vec![("SANDBOX_LATENCY_MS", "0"), ("IDEMPOTENCY_LOCK_TIMEOUT_SECS", "30")];
    env.extend_from_slice(FAST_DELIVERY);
    crate::crash::start_server(url, &env).await
}

async fn post(client: &reqwest::Client, url: String, body: Value) -> Value {
    let response = client
        .post(url)
        .bearer_auth(token_for(crate::helpers::MERCHANT))
        .json(&body)
        .send()
        .await
        .expect("request");
    assert!(response.status().is_success(), "{}", response.status());
    response.json().await.expect("json")
}

async fn no_delivery_is_lost_when_payrail_is_killed(backend: Backend) {
    let Some(db) = TestDatabase::create(backend).await else {
        return;
    };
    let client = reqwest::Client::new();
    let receiver = Receiver::start(Mode::Status(503));
    let mut server = start_server(&db.url).await;
    let base = server.address.clone();
    let endpoint = post(
        &client,
        format!("{base}/api/v1/webhook_endpoints"),
        json!({ "url": receiver.url, "enabled_events": ["*"] }),
    )
    .await;
    let secret = endpoint["secret"].as_str().unwrap().to_owned();
    let mut payments = Vec::new();
    for i in 0..10 {
        let body = json!({ "amount": 1_000 + i, "currency": "usd", "payment_method": card(CARD) });
        let payment = post(&client, format!("{base}/api/v1/payments"), body).await;
        payments.push(payment["id"].as_str().unwrap().to_owned());
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while receiver.requests().len() < 3 {
        assert!(std::time::Instant::now() < deadline, "no attempt before the kill");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.child.start_kill().expect("SIGKILL");
    server.child.wait().await.expect("killed");
    receiver.set_mode(Mode::Ok);

    let mut server = start_server(&db.url).await;
    let base = server.address.clone();
    let mut expected = HashMap::new();
    for payment in &payments {
        let events: Value = client
            .get(format!("{base}/api/v1/payments/{payment}/events?limit=100"))
            .bearer_auth(token_for(crate::helpers::MERCHANT))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        for event in events["data"].as_array().unwrap() {
            expected.insert(
                event["id"].as_str().unwrap().to_owned(),
                (payment.clone(), event["sequence"].as_i64().unwrap()),
            );
        }
    }
    let delivered = receiver
        .wait_for(
            Duration::from_secs(30),
            "every event after SIGKILL",
            all_delivered(&expected),
        )
        .await;
    assert_all_delivered_in_order(&delivered, &expected);
    assert_verified(&secret, &delivered).await;
    server.child.start_kill().ok();
}
