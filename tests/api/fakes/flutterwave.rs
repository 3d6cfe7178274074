//! A fake Flutterwave v3: tokenized card charges (and preauthorizations, `preauthorize: true`,
//! captured, voided and refunded through `/v3/charges/{flw_ref}/capture|void|refund`),
//! verification by `tx_ref`, and refunds, with the `{status: "success"|"error", message, data}`
//! envelope, Bearer secret keys and **major-unit** amounts: a JSON number with at most the
//! currency's decimals (none for JPY, three for KWD), else 400. `tx_ref`, `token`, `currency`,
//! `email` are required strings; `narration` is a string when sent. Tokens choose the outcome:
//! `flw-t1nf-declined`, `flw-t1nf-insufficient`, anything else succeeds. A preauthorization is
//! `pending` when verified until it is captured. Direct card charges and their authorization
//! modes are in [`cards`]. Transactions and refunds are listed page by page, with
//! `meta.page_info`, in [`listing`]. Faults on demand: a stalled answer (after the money moved), a 500 after
//! processing, or a lost request (never processed; the caller times out).

pub mod cards;
pub mod listing;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Value};

use super::recorded::{exponent, minor_from_decimal, optional_string, required_string, Recorded};
use super::FakeServer;

pub const SECRET_KEY: &str = "FLWSECK_TEST-fake0123456789abcdef-X";
pub const SECRET_HASH: &str = "payrail-fake-flutterwave-hash";

#[derive(Default)]
pub struct State {
    transactions: Vec<Value>,
    refunds: Vec<Value>,
    stall_next: Option<Duration>,
    lose_next: Option<Duration>,
    break_after_processing_next: bool,
    recorded: Vec<Recorded>,
    base_url: String,
    /// Items per listed page (`listing.rs`); 0 means Flutterwave's ten.
    page_size: usize,
}

impl State {
    fn page_size(&self) -> usize {
        if self.page_size == 0 {
            10
        } else {
            self.page_size
        }
    }
}

/// When a transaction or refund was created, as Flutterwave writes it.
fn created_at() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
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
        state.lock().unwrap().base_url = server.base_url.clone();
        Self {
            state,
            base_url: server.base_url.clone(),
            _server: server,
        }
    }

    /// Listings answer `n` items a page instead of Flutterwave's ten (to read several pages).
    pub fn set_page_size(&self, n: usize) {
        self.state.lock().unwrap().page_size = n;
    }

    /// Changes the transaction payrail made for `tx_ref`, as if Flutterwave's record differed.
    pub fn edit_transaction(&self, tx_ref: &str, edit: impl FnOnce(&mut Value)) {
        let mut state = self.state.lock().unwrap();
        let tx = state
            .transactions
            .iter_mut()
            .find(|t| t["tx_ref"] == tx_ref)
            .expect("transaction");
        edit(tx);
    }

    /// Forgets the refund `id` (Flutterwave has no record of it).
    pub fn remove_refund(&self, id: i64) {
        self.state.lock().unwrap().refunds.retain(|r| r["id"] != id);
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

    /// The next request is lost before Flutterwave processes it: nothing happens, and the answer
    /// (a 504) comes after `delay`, when the caller has given up.
    pub fn lose_next(&self, delay: Duration) {
        self.state.lock().unwrap().lose_next = Some(delay);
    }

    /// The next request is processed, then answered with a 500 as if the connection broke.
    pub fn break_after_processing_next(&self) {
        self.state.lock().unwrap().break_after_processing_next = true;
    }

    /// Money moved for the charge with this `tx_ref`: captured minus refunded, in minor units.
    pub fn net_minor(&self, tx_ref: &str) -> i64 {
        let state = self.state.lock().unwrap();
        let Some(tx) = state.transactions.iter().find(|t| t["tx_ref"] == tx_ref) else {
            return 0;
        };
        let captured = if tx["status"] == "successful" {
            tx["captured_minor"].as_i64().unwrap_or_default()
        } else {
            0
        };
        let refunded: i64 = state
            .refunds
            .iter()
            .filter(|r| r["transaction_id"] == tx["id"])
            .map(|r| r["minor"].as_i64().unwrap_or_default())
            .sum();
        captured - refunded
    }

    /// Every request received, whole.
    pub fn recorded(&self) -> Vec<Recorded> {
        self.state.lock().unwrap().recorded.clone()
    }
}

pub(super) fn envelope(status: u16, ok: bool, message: &str, data: Value) -> (u16, Value) {
    let status_text = if ok { "success" } else { "error" };
    (
        status,
        json!({ "status": status_text, "message": message, "data": data }),
    )
}

async fn handle(state: web::Data<Mutex<State>>, req: HttpRequest, bytes: web::Bytes) -> HttpResponse {
    let body: Value = serde_json::from_slice(&bytes).unwrap_or(json!({}));
    let lost = state.lock().unwrap().lose_next.take();
    if let Some(delay) = lost {
        tokio::time::sleep(delay).await;
        return reply(504, json!({ "status": "error", "message": "Gateway timeout" }));
    }
    let ((status, answer), stall) = {
        let mut s = state.lock().unwrap();
        s.recorded.push(Recorded::of(&req, &bytes));
        if req.path() == "/mockvbvpage" {
            // The customer's browser on Flutterwave's 3-D Secure page: no API key.
            return match cards::challenge_page(&mut s, req.query_string()) {
                (302, Some(location)) => HttpResponse::Found().insert_header(("location", location)).finish(),
                _ => HttpResponse::NotFound().finish(),
            };
        }
        let auth = req.headers().get("authorization").and_then(|v| v.to_str().ok());
        if auth != Some(&format!("Bearer {SECRET_KEY}")) {
            let (status, body) = envelope(401, false, "Invalid authorization key", Value::Null);
            return reply(status, body);
        }
        let stall = s.stall_next.take();
        let answer = process(&mut s, &req, &body);
        if std::mem::take(&mut s.break_after_processing_next) {
            return reply(500, json!({ "status": "error", "message": "Internal server error" }));
        }
        (answer, stall)
    };
    if let Some(delay) = stall {
        tokio::time::sleep(delay).await;
    }
    reply(status, answer)
}

fn reply(status: u16, body: Value) -> HttpResponse {
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap()).json(body)
}

/// Minor units of a major-unit JSON number in `currency`, if it has no more decimals than the
/// currency allows (Flutterwave: "amount in the currency's major unit").
pub(super) fn minor_units(currency: &str, amount: &Value) -> Option<i64> {
    let Value::Number(number) = amount else {
        return None;
    };
    minor_from_decimal(&number.to_string(), exponent(currency)?)
}

/// A JSON number in major units for `minor` units of `currency`.
fn major(currency: &str, minor: i64) -> Value {
    let text = payrail_core::domain::Currency::parse(currency)
        .map(|c| c.to_major_string(minor))
        .unwrap_or_else(|_| minor.to_string());
    // As Flutterwave writes them: 600, 100.5, 0.005.
    let text = if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.')
    } else {
        &text
    };
    serde_json::from_str(text).unwrap_or(Value::Null)
}

fn check_charge(body: &Value) -> Result<i64, String> {
    let refused = |(field, issue): (String, &str)| format!("{field}: {}", issue.to_ascii_lowercase());
    for field in ["/token", "/currency", "/email", "/tx_ref"] {
        required_string(body, field, 255).map_err(refused)?;
    }
    optional_string(body, "/narration", 255).map_err(refused)?;
    if body.get("preauthorize").is_some_and(|p| !p.is_boolean()) {
        return Err("preauthorize must be a boolean".into());
    }
    let currency = body["currency"].as_str().unwrap_or_default();
    minor_units(currency, &body["amount"]).ok_or_else(|| format!("Invalid amount for {currency}"))
}

fn not_found() -> (u16, Value) {
    envelope(404, false, "Transaction not found", Value::Null)
}

/// `/v3/charges/{flw_ref}/capture|void|refund` on a preauthorization.
fn preauthorization(s: &mut State, flw_ref: &str, action: &str, body: &Value) -> (u16, Value) {
    let Some(index) = s
        .transactions
        .iter()
        .position(|t| t["flw_ref"] == flw_ref && t["preauthorized"] == true)
    else {
        return not_found();
    };
    let tx = s.transactions[index].clone();
    let currency = tx["currency"].as_str().unwrap_or_default().to_owned();
    let held = tx["amount_minor"].as_i64().unwrap_or_default();
    let requested = match body.get("amount") {
        None => None,
        Some(amount) => match minor_units(&currency, amount) {
            Some(minor) => Some(minor),
            None => return envelope(400, false, &format!("Invalid amount for {currency}"), Value::Null),
        },
    };
    let state = tx["status"].as_str().unwrap_or_default().to_owned();
    match action {
        "capture" if state == "pending" => {
            let amount = requested.unwrap_or(held);
            if amount > held {
                return envelope(400, false, "Capture amount exceeds the authorized amount", Value::Null);
            }
            let t = &mut s.transactions[index];
            t["status"] = json!("successful");
            t["captured_minor"] = json!(amount);
            t["amount"] = major(&currency, amount);
            envelope(200, true, "Capture complete", s.transactions[index].clone())
        }
        "void" if state == "pending" => {
            s.transactions[index]["status"] = json!("voided");
            envelope(200, true, "Charge voided", s.transactions[index].clone())
        }
        "refund" if state == "successful" => {
            let captured = tx["captured_minor"].as_i64().unwrap_or_default();
            let refunded: i64 = s
                .refunds
                .iter()
                .filter(|r| r["flw_ref"] == flw_ref)
                .map(|r| r["minor"].as_i64().unwrap_or(0))
                .sum();
            let amount = requested.unwrap_or(captured - refunded);
            if amount + refunded > captured {
                return envelope(400, false, "Refund amount exceeds the captured amount", Value::Null);
            }
            let refund = json!({ "id": 9_000 + s.refunds.len() as i64, "transaction_id": tx["id"], "flw_ref": flw_ref, "comment": null,
                "amount_refunded": major(&currency, amount), "minor": amount, "status": "completed",
                "created_at": created_at() });
            s.refunds.push(refund.clone());
            envelope(200, true, "Refund complete", refund)
        }
        _ => envelope(400, false, &format!("Cannot {action} a {state} charge"), Value::Null),
    }
}

fn process(s: &mut State, req: &HttpRequest, body: &Value) -> (u16, Value) {
    let path = req.path().to_owned();
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match (req.method().as_str(), segments.as_slice()) {
        ("POST", ["v3", "tokenized-charges"]) => {
            let amount = match check_charge(body) {
                Ok(amount) => amount,
                Err(message) => return envelope(400, false, &message, Value::Null),
            };
            let tx_ref = body["tx_ref"].as_str().unwrap_or_default();
            if s.transactions.iter().any(|t| t["tx_ref"] == tx_ref) {
                return envelope(400, false, "Duplicate tx_ref", Value::Null);
            }
            let (status, response) = match body["token"].as_str().unwrap_or_default() {
                "flw-t1nf-declined" => ("failed", "Declined"),
                "flw-t1nf-insufficient" => ("failed", "Insufficient funds"),
                _ => ("successful", "Approved"),
            };
            let preauthorized = body["preauthorize"] == true;
            let tx = json!({
                "id": 4_000_000 + s.transactions.len() as i64, "tx_ref": tx_ref,
                "flw_ref": format!("FLW-MOCK-{}", s.transactions.len()), "amount": body["amount"],
                "charged_amount": body["amount"], "currency": body["currency"], "status": status,
                "processor_response": response, "amount_minor": amount, "captured_minor": amount,
                "preauthorized": preauthorized, "created_at": created_at(),
            });
            let mut stored = tx.clone();
            if preauthorized && status == "successful" {
                // The hold is placed; the transaction stays pending until it is captured.
                stored["status"] = json!("pending");
                stored["captured_minor"] = json!(0);
            }
            s.transactions.push(stored);
            envelope(200, true, "Charge successful", tx)
        }
        ("GET", ["v3", "transactions", "verify_by_reference"]) => {
            let tx_ref = req.query_string().split('=').nth(1).unwrap_or_default().to_owned();
            match s.transactions.iter().find(|t| t["tx_ref"] == tx_ref) {
                Some(tx) => envelope(200, true, "Transaction fetched successfully", tx.clone()),
                None => envelope(400, false, "No transaction was found for this id", Value::Null),
            }
        }
        ("POST", ["v3", "charges"]) if req.query_string() == "type=card" => {
            let base_url = s.base_url.clone();
            cards::charge(s, body, &base_url)
        }
        ("POST", ["v3", "validate-charge"]) => cards::validate(s, body),
        ("GET", ["v3", "refunds"]) => listing::refunds(s, req.query_string()),
        ("GET", ["v3", "transactions"]) => listing::transactions(s, req.query_string()),
        ("GET", ["v3", "transactions", id, "verify"]) => listing::verify(s, id),
        ("POST", ["v3", "charges", flw_ref, action @ ("capture" | "void" | "refund")]) => {
            preauthorization(s, flw_ref, action, body)
        }
        ("POST", ["v3", "transactions", id, "refund"]) => {
            let id: i64 = id.parse().unwrap_or(-1);
            let Some(tx) = s
                .transactions
                .iter()
                .find(|t| t["id"] == id && t["status"] == "successful" && t["preauthorized"] == false)
                .cloned()
            else {
                return not_found();
            };
            let currency = tx["currency"].as_str().unwrap_or_default().to_owned();
            let refunded: i64 = s
                .refunds
                .iter()
                .filter(|r| r["transaction_id"] == id)
                .map(|r| r["minor"].as_i64().unwrap_or(0))
                .sum();
            let captured = tx["captured_minor"].as_i64().unwrap_or_default();
            let amount = match body.get("amount") {
                None => captured - refunded,
                Some(amount) => match minor_units(&currency, amount) {
                    Some(minor) => minor,
                    None => return envelope(400, false, &format!("Invalid amount for {currency}"), Value::Null),
                },
            };
            if amount + refunded > captured {
                return envelope(400, false, "Refund amount exceeds the transaction amount", Value::Null);
            }
            if body.get("comments").is_some_and(|c| !c.is_string()) {
                return envelope(400, false, "comments must be a string", Value::Null);
            }
            let refund = json!({ "id": 9_000 + s.refunds.len() as i64, "transaction_id": id,
                "amount_refunded": major(&currency, amount), "minor": amount,
                "status": "completed", "comment": body["comments"], "created_at": created_at() });
            s.refunds.push(refund.clone());
            envelope(200, true, "Transaction refund initiated", refund)
        }
        _ => envelope(404, false, "Not found", Value::Null),
    }
}
