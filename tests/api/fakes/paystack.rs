//! A fake Paystack: `charge_authorization` and `/charge`, `verify/:reference`, refunds (create,
//! list), the `{status, message, data}` envelope, amounts in kobo, unique references (a reused one
//! is 400 "Duplicate Transaction Reference"), and declines as HTTP 200 with `data.status: failed`.
//! Authorization codes choose the outcome: `AUTH_declined`, `AUTH_insufficient`, anything else
//! succeeds. Faults on demand: a stalled answer, or a 500 after the charge went through.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{web, HttpRequest, HttpResponse};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha512;

use super::FakeServer;

pub const SECRET_KEY: &str = "sk_test_paystack_fake_b7c1d0e2f3a4";

#[derive(Default)]
struct State {
    transactions: Vec<Value>,
    refunds: Vec<Value>,
    stall_next: Option<Duration>,
    break_after_processing_next: bool,
    requests: Vec<(String, Value)>,
}

#[derive(Clone)]
pub struct FakePaystack {
    state: Arc<Mutex<State>>,
    pub base_url: String,
    _server: Arc<FakeServer>,
}

/// `x-paystack-signature` for a body: HMAC-SHA512 with the secret key, lowercase hex.
pub fn sign(body: &str) -> String {
    let mut mac = Hmac::<Sha512>::new_from_slice(SECRET_KEY.as_bytes()).unwrap();
    mac.update(body.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

impl FakePaystack {
    pub fn start() -> Self {
        let state = Arc::new(Mutex::new(State::default()));
        let server = FakeServer::with_state(&state, handle);
        Self {
            state,
            base_url: server.base_url.clone(),
            _server: server,
        }
    }

    pub fn stall_next(&self, delay: Duration) {
        self.state.lock().unwrap().stall_next = Some(delay);
    }

    /// The next request is processed, then answered with a 500 as if the connection broke.
    pub fn break_after_processing_next(&self) {
        self.state.lock().unwrap().break_after_processing_next = true;
    }

    /// Requests received: `METHOD /path` and the JSON body.
    pub fn requests(&self) -> Vec<(String, Value)> {
        self.state.lock().unwrap().requests.clone()
    }

    pub fn transaction(&self, reference: &str) -> Value {
        let state = self.state.lock().unwrap();
        state
            .transactions
            .iter()
            .find(|t| t["reference"] == reference)
            .cloned()
            .expect("transaction")
    }

    pub fn refunds(&self) -> Vec<Value> {
        self.state.lock().unwrap().refunds.clone()
    }
}

fn envelope(status: u16, ok: bool, message: &str, data: Value) -> (u16, Value) {
    (status, json!({ "status": ok, "message": message, "data": data }))
}

async fn handle(state: web::Data<Mutex<State>>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let (status, body, stall) = {
        let mut s = state.lock().unwrap();
        let route = format!("{} {}", req.method(), req.path());
        let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        s.requests.push((route, body.clone()));
        let auth = req.headers().get("authorization").and_then(|v| v.to_str().ok());
        if auth != Some(&format!("Bearer {SECRET_KEY}")) {
            let (status, body) = envelope(401, false, "Invalid key", Value::Null);
            return reply(status, body);
        }
        let stall = s.stall_next.take();
        let (status, answer) = process(&mut s, &req, &body);
        if std::mem::take(&mut s.break_after_processing_next) {
            return reply(500, json!({ "status": false, "message": "Internal error" }));
        }
        (status, answer, stall)
    };
    if let Some(delay) = stall {
        tokio::time::sleep(delay).await;
    }
    reply(status, body)
}

fn reply(status: u16, body: Value) -> HttpResponse {
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap()).json(body)
}

fn process(s: &mut State, req: &HttpRequest, body: &Value) -> (u16, Value) {
    let path = req.path().to_owned();
    match (req.method().as_str(), path.as_str()) {
        ("POST", "/transaction/charge_authorization") | ("POST", "/charge") => {
            let (Some(amount), Some(_email)) = (body["amount"].as_i64(), body["email"].as_str()) else {
                return envelope(400, false, "Amount and email are required", Value::Null);
            };
            let reference = body["reference"].as_str().unwrap_or_default().to_owned();
            if s.transactions.iter().any(|t| t["reference"] == reference) {
                return envelope(400, false, "Duplicate Transaction Reference", Value::Null);
            }
            let code = body["authorization_code"].as_str().unwrap_or_default();
            let number = body["card"]["number"].as_str().unwrap_or_default();
            let (status, gateway) = match (code, number) {
                ("AUTH_declined", _) | (_, "4000000000000002") => ("failed", "Declined"),
                ("AUTH_insufficient", _) => ("failed", "Insufficient Funds"),
                _ => ("success", "Approved"),
            };
            let tx = json!({
                "id": 1_000_000 + s.transactions.len() as i64, "reference": reference, "amount": amount,
                "currency": body["currency"], "status": status, "gateway_response": gateway,
                "authorization": { "authorization_code": if code.is_empty() { "AUTH_new" } else { code }, "reusable": true },
            });
            s.transactions.push(tx.clone());
            envelope(200, true, "Charge attempted", tx)
        }
        ("GET", p) if p.starts_with("/transaction/verify/") => {
            let reference = p.trim_start_matches("/transaction/verify/");
            match s.transactions.iter().find(|t| t["reference"] == reference) {
                Some(tx) => envelope(200, true, "Verification successful", tx.clone()),
                None => envelope(400, false, "Transaction reference not found", Value::Null),
            }
        }
        ("GET", "/refund") => {
            let reference = req.query_string().split('=').nth(1).unwrap_or_default().to_owned();
            let data: Vec<Value> = s
                .refunds
                .iter()
                .filter(|r| r["transaction"]["reference"] == reference)
                .cloned()
                .collect();
            envelope(200, true, "Refunds retrieved", json!(data))
        }
        ("POST", "/refund") => {
            let reference = body["transaction"].as_str().unwrap_or_default().to_owned();
            let Some(tx) = s
                .transactions
                .iter()
                .find(|t| t["reference"] == reference && t["status"] == "success")
                .cloned()
            else {
                return envelope(404, false, "Transaction not found", Value::Null);
            };
            let refunded: i64 = s
                .refunds
                .iter()
                .filter(|r| r["transaction"]["reference"] == reference && r["status"] != "failed")
                .map(|r| r["amount"].as_i64().unwrap())
                .sum();
            let amount = body["amount"]
                .as_i64()
                .unwrap_or(tx["amount"].as_i64().unwrap() - refunded);
            if amount + refunded > tx["amount"].as_i64().unwrap() {
                return envelope(
                    400,
                    false,
                    "Refund amount cannot be more than the unrefunded balance",
                    Value::Null,
                );
            }
            let refund = json!({
                "id": 5_000_000 + s.refunds.len() as i64, "amount": amount, "status": "pending",
                "merchant_note": body["merchant_note"], "transaction": { "id": tx["id"], "reference": reference },
            });
            s.refunds.push(refund.clone());
            envelope(200, true, "Refund has been queued for processing", refund)
        }
        _ => envelope(404, false, "Not found", Value::Null),
    }
}
