//! A fake Flutterwave v3: tokenized card charges, verification by `tx_ref`, and refunds, with the
//! `{status: "success"|"error", message, data}` envelope, Bearer secret keys and **major-unit**
//! amounts. Tokens choose the outcome: `flw-t1nf-declined`, `flw-t1nf-insufficient`, anything
//! else succeeds. Faults on demand: a stalled answer.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Value};

use super::FakeServer;

pub const SECRET_KEY: &str = "FLWSECK_TEST-fake0123456789abcdef-X";
pub const SECRET_HASH: &str = "payrail-fake-flutterwave-hash";

#[derive(Default)]
struct State {
    transactions: Vec<Value>,
    refunds: Vec<Value>,
    stall_next: Option<Duration>,
}

#[derive(Clone)]
pub struct FakeFlutterwave {
    state: Arc<Mutex<State>>,
    pub base_url: String,
    _server: Arc<FakeServer>,
}

impl FakeFlutterwave {
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

    pub fn transaction(&self, tx_ref: &str) -> Value {
        let state = self.state.lock().unwrap();
        state
            .transactions
            .iter()
            .find(|t| t["tx_ref"] == tx_ref)
            .cloned()
            .expect("transaction")
    }

    pub fn refunds(&self) -> Vec<Value> {
        self.state.lock().unwrap().refunds.clone()
    }
}

fn envelope(status: u16, ok: bool, message: &str, data: Value) -> (u16, Value) {
    let status_text = if ok { "success" } else { "error" };
    (
        status,
        json!({ "status": status_text, "message": message, "data": data }),
    )
}

async fn handle(state: web::Data<Mutex<State>>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let ((status, answer), stall) = {
        let mut s = state.lock().unwrap();
        let auth = req.headers().get("authorization").and_then(|v| v.to_str().ok());
        if auth != Some(&format!("Bearer {SECRET_KEY}")) {
            let (status, body) = envelope(401, false, "Invalid authorization key", Value::Null);
            return reply(status, body);
        }
        let stall = s.stall_next.take();
        (process(&mut s, &req, &body), stall)
    };
    if let Some(delay) = stall {
        tokio::time::sleep(delay).await;
    }
    reply(status, answer)
}

fn reply(status: u16, body: Value) -> HttpResponse {
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap()).json(body)
}

fn process(s: &mut State, req: &HttpRequest, body: &Value) -> (u16, Value) {
    let path = req.path().to_owned();
    match (req.method().as_str(), path.as_str()) {
        ("POST", "/v3/tokenized-charges") => {
            let (Some(_), Some(tx_ref)) = (body["amount"].as_f64(), body["tx_ref"].as_str()) else {
                return envelope(400, false, "amount and tx_ref are required", Value::Null);
            };
            if s.transactions.iter().any(|t| t["tx_ref"] == tx_ref) {
                return envelope(400, false, "Duplicate tx_ref", Value::Null);
            }
            let (status, response) = match body["token"].as_str().unwrap_or_default() {
                "flw-t1nf-declined" => ("failed", "Declined"),
                "flw-t1nf-insufficient" => ("failed", "Insufficient funds"),
                _ => ("successful", "Approved"),
            };
            let tx = json!({
                "id": 4_000_000 + s.transactions.len() as i64, "tx_ref": tx_ref,
                "flw_ref": format!("FLW-MOCK-{}", s.transactions.len()), "amount": body["amount"],
                "charged_amount": body["amount"], "currency": body["currency"], "status": status,
                "processor_response": response,
            });
            s.transactions.push(tx.clone());
            envelope(200, true, "Charge successful", tx)
        }
        ("GET", "/v3/transactions/verify_by_reference") => {
            let tx_ref = req.query_string().split('=').nth(1).unwrap_or_default().to_owned();
            match s.transactions.iter().find(|t| t["tx_ref"] == tx_ref) {
                Some(tx) => envelope(200, true, "Transaction fetched successfully", tx.clone()),
                None => envelope(400, false, "No transaction was found for this id", Value::Null),
            }
        }
        ("POST", p) if p.starts_with("/v3/transactions/") && p.ends_with("/refund") => {
            let id: i64 = p.split('/').nth(3).and_then(|id| id.parse().ok()).unwrap_or(-1);
            let Some(tx) = s
                .transactions
                .iter()
                .find(|t| t["id"] == id && t["status"] == "successful")
                .cloned()
            else {
                return envelope(404, false, "Transaction not found", Value::Null);
            };
            let refunded: f64 = s
                .refunds
                .iter()
                .filter(|r| r["transaction_id"] == id)
                .map(|r| r["amount_refunded"].as_f64().unwrap())
                .sum();
            let amount = body["amount"]
                .as_f64()
                .unwrap_or(tx["amount"].as_f64().unwrap() - refunded);
            if amount + refunded > tx["amount"].as_f64().unwrap() + 1e-9 {
                return envelope(400, false, "Refund amount exceeds the transaction amount", Value::Null);
            }
            let refund = json!({ "id": 9_000 + s.refunds.len() as i64, "transaction_id": id, "amount_refunded": amount,
                "status": "completed", "comments": body["comments"] });
            s.refunds.push(refund.clone());
            envelope(200, true, "Transaction refund initiated", refund)
        }
        _ => envelope(404, false, "Not found", Value::Null),
    }
}
