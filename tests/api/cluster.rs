//! Three payrail nodes on one PostgreSQL database (issue 14): two in-process `Application`s and
//! one child process of the real `payrail` binary, SIGKILLed in the middle of the run and
//! restarted. Mixed concurrent load goes through all three — keyed creates retried on another
//! node, captures, cancels, partial refunds racing on two nodes, Stripe webhooks to a random node
//! — against the Stripe fake. Afterwards, from the database: DESIGN §11's invariants; and money
//! moved at the provider = money recorded in payrail, capture by capture and refund by refund.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::crash::start_server;
use crate::fakes::stripe::{self, FakeStripe};
use crate::fakes::stripe_app;
use crate::helpers::{card, token_for, Backend, TestApp, TestDatabase, MERCHANT};
use crate::sql::{assert_every_event_audited_once, count};

const PAYMENTS: usize = 30;

/// Every node's settings: short leases, claims and reconciliation, so a dead node's work moves.
const CLUSTER_ENV: [(&str, &str); 6] = [
    // One address for the nodes, as behind a balancer: a create resumed on another node sends
    // Stripe the same parameters (the return URL is built from it) under the same key.
    ("PUBLIC_URL", "http://payrail.cluster.test"),
    ("LEASE_SECS", "2"),
    ("IDEMPOTENCY_LOCK_TIMEOUT_SECS", "1"),
    ("RECONCILE_INTERVAL_SECS", "1"),
    ("RECONCILE_MIN_AGE_SECS", "1"),
    ("PROVIDER_BACKOFF_MS", "10"),
];

/// The nodes' addresses; the child's changes when it restarts.
type Nodes = Arc<RwLock<Vec<String>>>;

/// Sends `body` to node `first`; a keyed request that finds no answer there (the node is dead,
/// or the key is still held by a request that died with it) is retried on the next node.
async fn send(nodes: &Nodes, first: usize, path: &str, key: Option<&str>, body: &Value) -> Option<(StatusCode, Value)> {
    let client = reqwest::Client::new();
    for attempt in 0..40 {
        let address = {
            let nodes = nodes.read().unwrap();
            nodes[(first + attempt) % nodes.len()].clone()
        };
        let mut request = client
            .post(format!("{address}{path}"))
            .bearer_auth(token_for(MERCHANT))
            .timeout(Duration::from_secs(10))
            .json(body);
        if let Some(key) = key {
            request = request.header("Idempotency-Key", key);
        }
        let answer = match request.send().await {
            Ok(response) => {
                let status = response.status();
                Some((status, response.json::<Value>().await.unwrap_or(Value::Null)))
            }
            Err(_) => None,
        };
        match (&answer, key) {
            (Some((status, body)), _) => {
                let in_progress = body["error"]["code"] == "idempotency_in_progress";
                assert!(!status.is_server_error(), "{path} answered {status}: {body}");
                if !(in_progress && key.is_some()) {
                    return answer;
                }
            }
            (None, None) => return None,
            (None, Some(_)) => {}
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    panic!("{path} with key {key:?} got no final answer")
}

/// A webhook from Stripe about `object`, delivered to a random node (a dead one just misses it).
async fn deliver(nodes: &Nodes, kind: &str, object: &Value) {
    let payload = stripe::event(&format!("evt_{}", uuid::Uuid::new_v4().simple()), kind, object);
    let header = crate::webhooks::signature(&payload, stripe::WEBHOOK_SECRET, chrono::Utc::now().timestamp());
    let address = {
        let nodes = nodes.read().unwrap();
        nodes[rand_index(nodes.len())].clone()
    };
    let sent = reqwest::Client::new()
        .post(format!("{address}/api/v1/webhooks/stripe"))
        .header("content-type", "application/json")
        .header("Stripe-Signature", header)
        .body(payload)
        .send()
        .await;
    if let Ok(response) = sent {
        assert_eq!(response.status(), StatusCode::OK, "webhook {kind}");
    }
}

async fn events_of(nodes: &Nodes, id: &str) -> Vec<Value> {
    let address = nodes.read().unwrap()[0].clone();
    let events: Value = reqwest::Client::new()
        .get(format!("{address}/api/v1/payments/{id}/events"))
        .bearer_auth(token_for(MERCHANT))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    events["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| json!([e["type"], e["to_status"]]))
        .collect()
}

fn rand_index(len: usize) -> usize {
    (uuid::Uuid::new_v4().as_u128() % len as u128) as usize
}

/// One payment's life, its requests spread over the nodes.
async fn life(i: usize, nodes: Nodes, fake: FakeStripe) {
    let manual = i % 3 != 0;
    let body = json!({ "amount": 2_000 + i as i64, "currency": "usd", "capture": !manual,
                       "provider": "stripe", "order_id": format!("cluster-{i}"),
                       "payment_method": card("4242424242424242") });
    let key = format!("cluster-create-{i}");
    let (status, created) = send(&nodes, i, "/api/v1/payments", Some(&key), &body).await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    // Under a loaded CI box the Stripe fake can be slow enough for a node's circuit breaker to
    // open; a create that then certainly did not reach Stripe is declined `provider_unavailable`
    // (nothing moved, nothing to capture). That is the only failure this life accepts; the
    // checks at the end still hold for it.
    if created["status"] == "failed" {
        assert_eq!(created["failure_code"], "provider_unavailable", "{created}");
        eprintln!("payment {i} was declined provider_unavailable (a circuit opened under load)");
        return;
    }
    // The same keyed create, retried on another node: the same payment, not a second one.
    let (_, again) = send(&nodes, i + 1, "/api/v1/payments", Some(&key), &body)
        .await
        .unwrap();
    assert_eq!(again["id"], created["id"]);
    if let Some(reference) = created["provider_reference"].as_str() {
        deliver(&nodes, "payment_intent.succeeded", &fake.intent(reference)).await;
    }
    if manual {
        let path = |op: &str| format!("/api/v1/payments/{id}/{op}");
        if i % 5 == 1 {
            let cancel_key = format!("cluster-cancel-{i}");
            send(&nodes, i + 2, &path("cancel"), Some(&cancel_key), &json!({}))
                .await
                .unwrap();
            return;
        }
        let capture_key = format!("cluster-capture-{i}");
        let (status, captured) = send(
            &nodes,
            i + 2,
            &path("capture"),
            Some(&capture_key),
            &json!({ "amount": 1_500 }),
        )
        .await
        .unwrap();
        assert_eq!(status, StatusCode::OK, "{captured}; created as {created}");
    }
    // Partial refunds racing on two nodes, keyed, and one unkeyed that may not fit.
    let refunds = (0..3).map(|j| {
        let (nodes, id) = (nodes.clone(), id.clone());
        async move {
            let path = format!("/api/v1/payments/{id}/refund");
            match j {
                2 => send(&nodes, i + j, &path, None, &json!({ "amount": 600 })).await,
                _ => {
                    let key = format!("cluster-refund-{i}-{j}");
                    send(&nodes, i + j, &path, Some(&key), &json!({ "amount": 400 })).await
                }
            }
        }
    });
    for answer in futures::future::join_all(refunds).await.into_iter().flatten() {
        let (status, body) = answer;
        assert!(
            [
                StatusCode::CREATED,
                StatusCode::UNPROCESSABLE_ENTITY,
                StatusCode::BAD_GATEWAY
            ]
            .contains(&status)
                || status == StatusCode::GATEWAY_TIMEOUT,
            "payment {i} (manual: {manual}): {status} {body}; events: {:?}",
            events_of(&nodes, &id).await
        );
    }
}

#[actix_web::test]
async fn three_nodes_one_killed_and_restarted_keep_money_and_records_equal() {
    let Some((a, fake)) = stripe_app(Backend::Postgres, &CLUSTER_ENV).await else {
        return;
    };
    let b = TestApp::start(TestDatabase::shared(&a.db.url), a.settings.clone()).await;
    let mut child_env = CLUSTER_ENV.to_vec();
    child_env.extend([
        ("STRIPE_SECRET_KEY", stripe::SECRET_KEY),
        ("STRIPE_WEBHOOK_SECRET", stripe::WEBHOOK_SECRET),
        ("STRIPE_API_BASE", fake.base_url.as_str()),
    ]);
    let mut child = start_server(&a.db.url, &child_env).await;
    let nodes: Nodes = Arc::new(RwLock::new(vec![
        a.address.clone(),
        b.address.clone(),
        child.address.clone(),
    ]));

    let load = {
        let (nodes, fake) = (nodes.clone(), fake.clone());
        actix_web::rt::spawn(async move {
            let lives = (0..PAYMENTS).map(|i| {
                let (nodes, fake) = (nodes.clone(), fake.clone());
                async move {
                    tokio::time::sleep(Duration::from_millis(20 * i as u64)).await;
                    life(i, nodes, fake).await
                }
            });
            futures::future::join_all(lives).await
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    child.child.start_kill().expect("SIGKILL");
    child.child.wait().await.expect("killed");
    tokio::time::sleep(Duration::from_millis(300)).await;
    child = start_server(&a.db.url, &child_env).await;
    nodes.write().unwrap()[2] = child.address.clone();
    load.await.expect("load");

    // Redeliver every refund's webhook to random nodes: nothing changes.
    for refund in fake.refunds() {
        deliver(&nodes, "refund.updated", &refund).await;
    }
    // What the dead node left open is settled by a reconciler (any node's).
    for _ in 0..5 {
        let report = payrail::reconcile::run_once(&a.database, &a.supervisor, Duration::ZERO).await;
        if report.examined == 0 {
            break;
        }
    }
    check_invariants(&a, &fake).await;
    drop(child);
}

async fn check_invariants(app: &TestApp, fake: &FakeStripe) {
    let db = &app.database;
    let sum = |sql: &'static str| count(db, sql);
    assert_eq!(
        sum("SELECT COUNT(*) FROM payments").await,
        PAYMENTS as i64,
        "each keyed create once"
    );
    assert_eq!(
        sum("SELECT COUNT(*) FROM payments WHERE status IN ('pending', 'processing') OR pending_change_id IS NOT NULL")
            .await,
        0,
        "nothing left awaiting the provider"
    );
    assert_eq!(sum("SELECT COUNT(*) FROM refunds WHERE awaiting_provider = 1").await, 0);
    let refunds_match = "SELECT COUNT(*) FROM payments p WHERE refunded_amount <> (SELECT COALESCE(SUM(amount), 0) \
         FROM refunds r WHERE r.payment_id = p.id AND r.status IN ('pending', 'succeeded')) \
         OR captured_amount > amount OR refunded_amount > captured_amount";
    assert_eq!(sum(refunds_match).await, 0, "§11.1");
    let gapless = "SELECT COUNT(*) FROM payments p WHERE version <> (SELECT COUNT(*) FROM payment_events e \
         WHERE e.payment_id = p.id) OR version <> (SELECT MAX(sequence) FROM payment_events e WHERE e.payment_id = p.id)";
    assert_eq!(sum(gapless).await, 0, "§11.2: one event per change, gap-free");
    assert_every_event_audited_once(db).await;

    let pool = sqlx::PgPool::connect(&app.db.url).await.expect("database");
    let payments: Vec<(String, Option<String>, i64, String)> =
        sqlx::query_as("SELECT id, provider_reference, captured_amount, status FROM payments")
            .fetch_all(&pool)
            .await
            .expect("payments");
    for (id, reference, captured, status) in payments {
        let intent = fake.intent(reference.as_deref().expect("provider reference"));
        assert_eq!(intent["amount_received"], captured, "{id} {status}: {intent}");
        if status == "canceled" {
            assert_eq!(intent["status"], "canceled", "{id}");
        }
    }
    let mut moved: BTreeMap<String, (String, i64)> = BTreeMap::new();
    for refund in fake.refunds() {
        let pi = refund["payment_intent"].as_str().unwrap().to_owned();
        moved.insert(
            refund["id"].as_str().unwrap().to_owned(),
            (pi, refund["amount"].as_i64().unwrap()),
        );
    }
    let recorded: Vec<(String, i64, String)> = sqlx::query_as(
        "SELECT p.provider_reference, r.amount, r.provider_reference FROM refunds r JOIN payments p ON p.id = r.payment_id \
         WHERE r.status = 'succeeded'",
    )
    .fetch_all(&pool)
    .await
    .expect("refunds");
    let recorded: BTreeMap<String, (String, i64)> = recorded
        .into_iter()
        .map(|(pi, amount, reference)| (reference, (pi, amount)))
        .collect();
    assert_eq!(
        recorded, moved,
        "money moved at the provider = money recorded, refund by refund"
    );
    assert!(!moved.is_empty());
}
