//! A merchant's webhook receiver for the merchant-events tests: a real HTTP server on 127.0.0.1
//! that records every request and answers as told (2xx, a fixed status, or failures at random),
//! plus verification of what it received by the official `standardwebhooks` Python package.
//!
//! CI installs `standardwebhooks==1.1.0` and sets REQUIRE_STANDARDWEBHOOKS_PYTHON=1, which turns
//! its absence into a failure; locally the verification skips loudly.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{web, HttpRequest, HttpResponse};
use rand::Rng;
use serde_json::{json, Value};

use crate::fakes::FakeServer;
use crate::helpers::{expect_json, Backend, TestApp};

/// How the receiver answers.
#[derive(Clone, Copy, Debug)]
pub enum Mode {
    Ok,
    Status(u16),
    /// Answers 500 to this fraction of requests, at random.
    FailRate(f64),
}

/// One request as received.
#[derive(Clone, Debug)]
pub struct Received {
    pub id: String,
    pub timestamp: String,
    pub signature: String,
    pub body: String,
    pub status: u16,
}

impl Received {
    pub fn event(&self) -> Value {
        serde_json::from_str(&self.body).expect("event body is JSON")
    }
}

pub struct ReceiverState {
    pub mode: Mode,
    pub requests: Vec<Received>,
}

pub struct Receiver {
    pub url: String,
    pub state: Arc<Mutex<ReceiverState>>,
    _server: Arc<FakeServer>,
}

async fn receive(req: HttpRequest, body: web::Bytes, state: web::Data<Mutex<ReceiverState>>) -> HttpResponse {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let mut state = state.lock().unwrap();
    let status = match state.mode {
        Mode::Ok => 200,
        Mode::Status(status) => status,
        Mode::FailRate(rate) if rand::thread_rng().gen_bool(rate) => 500,
        Mode::FailRate(_) => 204,
    };
    state.requests.push(Received {
        id: header("webhook-id"),
        timestamp: header("webhook-timestamp"),
        signature: header("webhook-signature"),
        body: String::from_utf8_lossy(&body).into_owned(),
        status,
    });
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap()).finish()
}

impl Receiver {
    pub fn start(mode: Mode) -> Self {
        let state = Arc::new(Mutex::new(ReceiverState {
            mode,
            requests: Vec::new(),
        }));
        let server = FakeServer::with_state(&state, receive);
        Self {
            url: format!("{}/hooks", server.base_url),
            state,
            _server: server,
        }
    }

    pub fn set_mode(&self, mode: Mode) {
        self.state.lock().unwrap().mode = mode;
    }

    pub fn requests(&self) -> Vec<Received> {
        self.state.lock().unwrap().requests.clone()
    }

    /// The requests answered with a 2xx, in arrival order.
    pub fn delivered(&self) -> Vec<Received> {
        self.requests()
            .into_iter()
            .filter(|r| (200..300).contains(&r.status))
            .collect()
    }

    /// Waits until `done(delivered)` holds, or panics after `limit`.
    pub async fn wait_for(&self, limit: Duration, what: &str, done: impl Fn(&[Received]) -> bool) -> Vec<Received> {
        let deadline = std::time::Instant::now() + limit;
        loop {
            let delivered = self.delivered();
            if done(&delivered) {
                return delivered;
            }
            if std::time::Instant::now() > deadline {
                panic!(
                    "timed out waiting for {what}: {} delivered, {} requests",
                    delivered.len(),
                    self.requests().len()
                );
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

/// Fast delivery for tests: short polls, a retry schedule in milliseconds, a quick breaker.
pub const FAST_DELIVERY: &[(&str, &str)] = &[
    ("WEBHOOK_POLL_INTERVAL_MS", "20"),
    (
        "WEBHOOK_RETRY_SCHEDULE",
        "20ms,40ms,80ms,100ms,100ms,100ms,100ms,100ms,100ms,100ms,100ms,100ms",
    ),
    ("WEBHOOK_BREAKER_COOLDOWN_MS", "100"),
    ("WEBHOOK_TIMEOUT_MS", "2000"),
    ("WEBHOOK_ALLOW_PRIVATE_TARGETS", "true"),
];

pub async fn spawn_fast(backend: Backend) -> Option<TestApp> {
    crate::helpers::spawn_app_with(backend, FAST_DELIVERY).await
}

/// Registers an endpoint for `url` and `events`; returns (endpoint id, secret).
pub async fn register(app: &TestApp, url: &str, events: &[&str]) -> (String, String) {
    let body = json!({ "url": url, "enabled_events": events, "description": "test receiver" });
    let created = expect_json(
        app.post("/api/v1/webhook_endpoints", &body).await,
        reqwest::StatusCode::CREATED,
    )
    .await;
    (
        created["id"].as_str().unwrap().to_owned(),
        created["secret"].as_str().unwrap().to_owned(),
    )
}

/// Verifies every request with `standardwebhooks.Webhook(secret).verify`. `Some(Ok)` when all
/// verify, `Some(Err(why))` when one does not, `None` when the package is unavailable (skipped).
pub async fn verify_with_python(secret: &str, requests: &[Received]) -> Option<Result<(), String>> {
    let script = r#"
import json, sys
from standardwebhooks.webhooks import Webhook
secret = sys.argv[1]
requests = json.load(sys.stdin)
wh = Webhook(secret)
for r in requests:
    headers = {"webhook-id": r["id"], "webhook-timestamp": r["timestamp"], "webhook-signature": r["signature"]}
    try:
        event = wh.verify(r["body"], headers)
    except Exception as e:
        print("not verified: %s: %r" % (r["id"], e))
        sys.exit(3)
    if event["id"] != r["id"]:
        print("webhook-id %s differs from the event id %s" % (r["id"], event["id"]))
        sys.exit(3)
print("verified %d" % len(requests))
"#;
    let input: Vec<Value> = requests
        .iter()
        .map(|r| json!({ "id": r.id, "timestamp": r.timestamp, "signature": r.signature, "body": r.body }))
        .collect();
    let mut child = match tokio::process::Command::new("python3")
        .args(["-c", script, secret])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
    {
        Ok(child) => child,
        Err(error) => return unavailable(&error.to_string()),
    };
    // Without the package python3 exits at the import before reading stdin, so this write fails
    // with a broken pipe: that is the "unavailable" case (decided by the exit status below), not a
    // crash of the test.
    let written = {
        use tokio::io::AsyncWriteExt;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(Value::from(input).to_string().as_bytes()).await
    };
    let output = child.wait_with_output().await.unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    // The traceback's last line names what is missing.
    let stderr = stderr.trim().lines().last().unwrap_or_default();
    match (output.status.code(), written) {
        (Some(0), Ok(())) => Some(Ok(())),
        (Some(3), Ok(())) => Some(Err(stdout)),
        (Some(0 | 3), Err(error)) => panic!("the verifier exited before reading every request: {error}"),
        (_, Err(error)) => unavailable(&format!("{stderr} (stdin: {error})")),
        (_, Ok(())) => unavailable(stderr),
    }
}

fn unavailable(why: &str) -> Option<Result<(), String>> {
    if std::env::var("REQUIRE_STANDARDWEBHOOKS_PYTHON").as_deref() == Ok("1") {
        panic!("REQUIRE_STANDARDWEBHOOKS_PYTHON=1 but python3 with standardwebhooks==1.1.0 is unavailable: {why}");
    }
    eprintln!(
        "SKIPPED: python3 with the standardwebhooks package is unavailable ({why}); \
         pip install standardwebhooks==1.1.0"
    );
    None
}

/// Asserts that every request verifies with `secret` (or skips loudly without the package).
pub async fn assert_verified(secret: &str, requests: &[Received]) {
    if let Some(result) = verify_with_python(secret, requests).await {
        result.unwrap_or_else(|why| panic!("standardwebhooks refused a delivery: {why}"));
    }
}
