//! A database outage (PostgreSQL): a TCP proxy between payrail and the database is cut and
//! restored. While it is down, `/ready` fails and the API answers 503 quickly (no hang, no crash);
//! once it is back, readiness recovers by itself and nothing acknowledged before was lost.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::helpers::{card, expect_error, expect_json, test_settings, Backend, TestApp, TestDatabase};

/// A TCP proxy to one upstream that a test can cut (drop every connection, refuse new ones) and
/// restore.
struct Proxy {
    port: u16,
    up: Arc<AtomicBool>,
    cut: watch::Sender<u64>,
}

impl Proxy {
    async fn start(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let up = Arc::new(AtomicBool::new(true));
        let (cut, _) = watch::channel(0u64);
        let (accept_up, accept_cut) = (Arc::clone(&up), cut.clone());
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if !accept_up.load(Ordering::SeqCst) {
                    continue; // dropped: the connection closes at once
                }
                let upstream = upstream.clone();
                let mut cut = accept_cut.subscribe();
                tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect(&upstream).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = cut.changed() => {}
                    }
                });
            }
        });
        Self { port, up, cut }
    }

    fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        self.cut.send_modify(|generation| *generation += 1);
    }

    fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

/// `postgres://user@host:port/db` with host:port replaced by the proxy's.
fn through(url: &str, port: u16) -> (String, String) {
    let (scheme_user, rest) = url.rsplit_once('@').expect("user@host in TEST_POSTGRES_URL");
    let (upstream, database) = rest.split_once('/').expect("database in URL");
    (
        format!("{scheme_user}@127.0.0.1:{port}/{database}"),
        upstream.to_owned(),
    )
}

async fn timed<F: std::future::Future>(f: F) -> (F::Output, Duration) {
    let started = Instant::now();
    let output = f.await;
    (output, started.elapsed())
}

#[actix_web::test]
async fn a_database_outage_is_a_quick_503_and_recovers_by_itself() {
    let Some(db) = TestDatabase::create(Backend::Postgres).await else {
        return;
    };
    let (_, upstream) = through(&db.url, 0);
    let proxy = Proxy::start(upstream).await;
    let (url, _) = through(&db.url, proxy.port);
    let settings = test_settings(&url, &[("DATABASE_ACQUIRE_TIMEOUT_SECS", "1")]);
    let app = TestApp::start(db, settings).await;

    let before = app.create_payment(1_000, "4242424242424242", false).await;
    let id = before["id"].as_str().unwrap().to_owned();
    assert_eq!(
        app.client.get(app.url("/ready")).send().await.unwrap().status(),
        StatusCode::OK
    );

    proxy.cut();
    let limit = Duration::from_secs(3);
    let (ready, took) = timed(app.client.get(app.url("/ready")).send()).await;
    assert_eq!(ready.unwrap().status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(took < limit, "/ready took {took:?}");
    let body = json!({ "amount": 500, "currency": "usd", "payment_method": card("4242424242424242") });
    let (created, took) = timed(app.post("/api/v1/payments", &body)).await;
    expect_error(created, StatusCode::SERVICE_UNAVAILABLE, "database_unavailable", None).await;
    assert!(took < limit, "create took {took:?}");
    let (read, took) = timed(app.get(&format!("/api/v1/payments/{id}"))).await;
    expect_error(read, StatusCode::SERVICE_UNAVAILABLE, "database_unavailable", None).await;
    assert!(took < limit, "read took {took:?}");
    let (captured, took) = timed(app.capture(&id, json!({}))).await;
    assert_eq!(captured.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(took < limit, "capture took {took:?}");
    assert_eq!(
        app.client.get(app.url("/health")).send().await.unwrap().status(),
        StatusCode::OK
    );

    proxy.restore();
    let deadline = Instant::now() + Duration::from_secs(15);
    while app.client.get(app.url("/ready")).send().await.unwrap().status() != StatusCode::OK {
        assert!(Instant::now() < deadline, "/ready never recovered");
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    // Nothing lost, and the payment's actor works again (its state is reloaded from the store).
    let after = app.payment(&id).await;
    assert_eq!(after["status"], "authorized");
    assert_eq!(after["amount"], 1_000);
    let captured = expect_json(app.capture(&id, json!({})).await, StatusCode::OK).await;
    assert_eq!(captured["captured_amount"], 1_000);
    app.create_payment(700, "4242424242424242", true).await;
}
