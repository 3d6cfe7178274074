//! Graceful shutdown, black-box: the real `payrail` binary under load (sandbox latency 200 ms, so
//! requests are in flight) gets SIGTERM (or SIGINT, which actix alone would treat as a hard stop). It must exit 0, answer the requests it had accepted, and
//! leave the database consistent: every acknowledged (201) payment is persisted as acknowledged,
//! and no payment is left mid-transition (`pending`).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use payrail::store::{self, Database};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{card, test_settings, token_for, Backend, TestDatabase, JWT_SECRET, MERCHANT};

/// Starts the binary on `url` and returns it with the port it printed.
fn start_payrail(url: &str, extra: &[(&str, &str)]) -> (Child, u16) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_payrail"))
        .env("CONFIG_DIR", concat!(env!("CARGO_MANIFEST_DIR"), "/config"))
        .env("DATABASE_URL", url)
        .env("PORT", "0")
        .env("HTTP_WORKERS", "2")
        .env("JWT_SECRET", JWT_SECRET)
        .env("LOG_LEVEL", "warn")
        .env("RATE_LIMIT_ENABLED", "false")
        .envs(extra.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start payrail");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let port = loop {
        let line = lines.next().expect("payrail printed its address").expect("stdout line");
        if let Some(rest) = line.split("http://").nth(1) {
            let port = rest.split(':').nth(1).and_then(|p| p.split(' ').next()).expect("port");
            break port.parse().expect("numeric port");
        }
    };
    // Keep draining stdout so the child never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    (child, port)
}

async fn a_signal_under_load_loses_no_acknowledged_payment(backend: Backend, signal: &str) {
    let Some(db) = TestDatabase::create(backend).await else {
        return;
    };
    // The audit writer's periodic batches are pushed out of the way (an hour apart), so only the
    // shutdown flush can have audited the payments made during the run.
    let (mut child, port) = start_payrail(
        &db.url,
        &[
            ("SANDBOX_LATENCY_MS", "200"),
            ("SHUTDOWN_TIMEOUT", "10"),
            ("AUDIT_INTERVAL_MS", "3600000"),
        ],
    );
    let url = format!("http://127.0.0.1:{port}/api/v1/payments");
    let signalled = Arc::new(AtomicBool::new(false));
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let mut clients = Vec::new();
    for _ in 0..24 {
        let (client, url, signalled) = (client.clone(), url.clone(), Arc::clone(&signalled));
        clients.push(actix_web::rt::spawn(async move {
            // (payment id, answered after SIGTERM was sent)
            let mut acknowledged: Vec<(String, bool)> = Vec::new();
            loop {
                let body = json!({ "amount": 1_000, "currency": "usd", "payment_method": card("4242424242424242") });
                let sent = client
                    .post(&url)
                    .bearer_auth(token_for(MERCHANT))
                    .json(&body)
                    .send()
                    .await;
                let after_signal = signalled.load(Ordering::SeqCst);
                match sent {
                    Ok(response) if response.status() == StatusCode::CREATED => {
                        let payment: Value = response.json().await.expect("a 201 carries the payment");
                        assert_eq!(payment["status"], "succeeded");
                        acknowledged.push((payment["id"].as_str().unwrap().to_owned(), after_signal));
                    }
                    // Refused or cut off after the signal: not acknowledged, and fine.
                    _ if after_signal => return acknowledged,
                    Ok(response) => panic!("unexpected status before shutdown: {}", response.status()),
                    Err(error) => panic!("request failed before shutdown: {error}"),
                }
            }
        }));
    }
    actix_web::rt::time::sleep(Duration::from_millis(700)).await;
    let status = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    signalled.store(true, Ordering::SeqCst);

    let deadline = Instant::now() + Duration::from_secs(20);
    let exit = loop {
        if let Some(exit) = child.try_wait().unwrap() {
            break exit;
        }
        assert!(Instant::now() < deadline, "payrail did not exit after {signal}");
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(exit.code(), Some(0), "graceful shutdown exits 0");

    let mut acknowledged = Vec::new();
    for handle in clients {
        acknowledged.extend(handle.await.expect("client task"));
    }
    assert!(
        acknowledged.len() >= 24,
        "load ran: {} acknowledged",
        acknowledged.len()
    );
    assert!(
        acknowledged.iter().any(|(_, after)| *after),
        "requests in flight at SIGTERM were answered, not cut"
    );

    let stored: std::collections::HashMap<String, String> = statuses(&db.url).await.into_iter().collect();
    for (id, _) in &acknowledged {
        assert_eq!(stored.get(id).map(String::as_str), Some("succeeded"), "{id} persisted");
    }
    let mid_transition: Vec<_> = stored.iter().filter(|(_, s)| *s == "pending").collect();
    assert!(mid_transition.is_empty(), "left mid-transition: {mid_transition:?}");

    let database = store::open(&test_settings(&db.url, &[]).database)
        .await
        .expect("open database");
    let unaudited = crate::sql::count(&database, crate::sql::UNAUDITED_SQL).await;
    database.close().await;
    assert_eq!(unaudited, 0, "the audit writer was flushed before exit");
}

#[actix_web::test]
async fn sigterm_under_load_loses_no_acknowledged_payment_sqlite() {
    a_signal_under_load_loses_no_acknowledged_payment(Backend::Sqlite, "-TERM").await;
}

#[actix_web::test]
async fn sigint_under_load_loses_no_acknowledged_payment_sqlite() {
    a_signal_under_load_loses_no_acknowledged_payment(Backend::Sqlite, "-INT").await;
}

#[actix_web::test]
async fn sigterm_under_load_loses_no_acknowledged_payment_postgres() {
    a_signal_under_load_loses_no_acknowledged_payment(Backend::Postgres, "-TERM").await;
}

/// Every payment's (id, status), read straight from the database after payrail exited.
async fn statuses(url: &str) -> Vec<(String, String)> {
    const SQL: &str = "SELECT id, status FROM payments";
    let database = store::open(&test_settings(url, &[]).database)
        .await
        .expect("open database");
    let rows = match &database {
        Database::Sqlite(s) => sqlx::query_as(SQL).fetch_all(s.pool()).await,
        Database::Postgres(s) => sqlx::query_as(SQL).fetch_all(s.pool()).await,
    };
    database.close().await;
    rows.expect("read payments")
}
