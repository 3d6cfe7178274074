//! Crash safety of idempotent requests: the real `payrail` binary is SIGKILLed in the middle of a
//! batch of keyed creates, restarted on the same database, and every request is retried with its
//! key. No payment is created twice, every retry gets a final answer, and the audit trail is whole.

use std::collections::{HashMap, HashSet};
use std::process::Stdio;
use std::time::Duration;

use payrail::config::DatabaseSettings;
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::audit::payrail_cli;
use crate::helpers::{card, token_for, Backend, TestDatabase, JWT_SECRET, MERCHANT};
use crate::sql::{assert_every_event_audited_once, count};

/// The real binary as a child process, and the address it reported.
pub struct Server {
    pub child: Child,
    pub address: String,
}

/// Starts the `payrail` binary on `url`, with `extra` environment variables on top of the
/// defaults here (later ones win).
pub async fn start_server(url: &str, extra: &[(&str, &str)]) -> Server {
    let mut command = Command::new(env!("CARGO_BIN_EXE_payrail"));
    command
        .env("CONFIG_DIR", concat!(env!("CARGO_MANIFEST_DIR"), "/config"))
        .env("DATABASE_URL", url)
        .env("PORT", "0")
        .env("JWT_SECRET", JWT_SECRET)
        .env("HTTP_WORKERS", "2")
        .env("DATABASE_MAX_CONNECTIONS", "5")
        .env("SANDBOX_LATENCY_MS", "300")
        .env("IDEMPOTENCY_LOCK_TIMEOUT_SECS", "1")
        .env("LOG_LEVEL", "warn")
        .envs(extra.iter().copied())
        .stdout(Stdio::piped())
        .kill_on_drop(true);
    let mut child = command.spawn().expect("payrail starts");
    let pid = child.id().unwrap_or_default();
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let address = loop {
        let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .expect("payrail reports its address in time")
            .expect("stdout readable")
            .expect("payrail exited before listening");
        if let Some(rest) = line.strip_prefix("payrail listening on ") {
            break rest.split_whitespace().next().expect("address").to_owned();
        }
    };
    // Keep draining stdout (logs) so the server never blocks on a full pipe; the test harness
    // captures what is printed here and shows it only when the test fails.
    actix_web::rt::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            eprintln!("[payrail pid {pid}] {line}");
        }
    });
    Server { child, address }
}

fn create_body(i: usize) -> Value {
    json!({ "amount": 1_000 + i, "currency": "usd", "order_id": format!("order-{i}"), "payment_method": card("4242424242424242") })
}

async fn send(client: &reqwest::Client, address: &str, i: usize) -> Result<(StatusCode, Value), reqwest::Error> {
    let response = client
        .post(format!("{address}/api/v1/payments"))
        .bearer_auth(token_for(MERCHANT))
        .header("Idempotency-Key", format!("crash-{i}"))
        .json(&create_body(i))
        .timeout(Duration::from_secs(20))
        .send()
        .await?;
    let status = response.status();
    Ok((status, response.json().await?))
}

async fn keyed_creates_survive_a_sigkill_exactly_once(backend: Backend) {
    const N: usize = 24;
    let Some(db) = TestDatabase::create(backend).await else {
        return;
    };
    let client = reqwest::Client::new();

    // First life: requests go out 25 ms apart; the server dies about a third of the way in, with
    // some answered, some waiting on the provider, and some not yet sent.
    let mut server = start_server(&db.url, &[]).await;
    let batch = {
        let (client, address) = (client.clone(), server.address.clone());
        actix_web::rt::spawn(async move {
            let sends = (0..N).map(|i| {
                let (client, address) = (client.clone(), address.clone());
                async move {
                    tokio::time::sleep(Duration::from_millis(25 * i as u64)).await;
                    (i, send(&client, &address, i).await.ok())
                }
            });
            futures::future::join_all(sends).await
        })
    };
    tokio::time::sleep(Duration::from_millis(450)).await;
    server.child.start_kill().expect("SIGKILL");
    server.child.wait().await.expect("killed");
    let first: HashMap<usize, Value> = batch
        .await
        .expect("batch")
        .into_iter()
        .filter_map(|(i, answer)| match answer {
            Some((StatusCode::CREATED, body)) => Some((i, body)),
            _ => None,
        })
        .collect();
    assert!(first.len() < N, "the kill interrupted the batch");
    let settings = DatabaseSettings {
        url: db.url.clone(),
        max_connections: 2,
        acquire_timeout_secs: 5,
        commit_writers: 0,
        lease_secs: 15,
    };
    let database = payrail::store::open(&settings).await.expect("open");
    let pending = count(&database, "SELECT COUNT(*) FROM payments WHERE status = 'pending'").await;
    database.close().await;
    eprintln!(
        "at the kill: {} answered, {pending} payments pending at the provider",
        first.len()
    );
    assert!(
        pending > 0,
        "the kill caught payments between their commit and the provider's answer"
    );

    // Second life: retry everything with the same keys until each has a final answer.
    let mut server = start_server(&db.url, &[]).await;
    let mut ids = HashSet::new();
    for i in 0..N {
        let mut attempts = 0;
        let answer = loop {
            attempts += 1;
            assert!(attempts <= 40, "request {i} never got a final answer");
            let (status, body) = send(&client, &server.address, i).await.expect("server answers");
            match status {
                StatusCode::CREATED => break body,
                StatusCode::CONFLICT if body["error"]["code"] == "idempotency_in_progress" => {
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
                other => panic!("request {i}: unexpected {other}: {body}"),
            }
        };
        assert_eq!(answer["status"], "succeeded", "request {i} finished: {answer}");
        assert_eq!(answer["amount"], 1_000 + i as i64);
        if let Some(before) = first.get(&i) {
            assert_eq!(&answer, before, "an answered request replays its answer");
        }
        assert!(
            ids.insert(answer["id"].as_str().unwrap().to_owned()),
            "one payment per key"
        );
    }

    let listed: Value = client
        .get(format!("{}/api/v1/payments?limit=100", server.address))
        .bearer_auth(token_for(MERCHANT))
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    let listed = listed["data"].as_array().expect("data");
    assert_eq!(listed.len(), N, "no payment was created twice");
    assert!(listed.iter().all(|p| p["status"] == "succeeded"), "none left pending");

    let database = payrail::store::open(&settings).await.expect("open");
    assert_every_event_audited_once(&database).await;
    database.close().await;
    server.child.start_kill().expect("stop");
    let _ = server.child.wait().await;
    let verified = payrail_cli(&db.url, &["audit", "verify"]).await;
    assert!(
        verified.status.success(),
        "{}",
        String::from_utf8_lossy(&verified.stderr)
    );
}

#[actix_web::test]
async fn keyed_creates_survive_a_sigkill_exactly_once_sqlite() {
    keyed_creates_survive_a_sigkill_exactly_once(Backend::Sqlite).await;
}

#[actix_web::test]
async fn keyed_creates_survive_a_sigkill_exactly_once_postgres() {
    keyed_creates_survive_a_sigkill_exactly_once(Backend::Postgres).await;
}
