//! A fake Paystack: `charge_authorization` and `/charge`, `verify/:reference`, transactions listed
//! page by page (`GET /transaction`), refunds (create,
//! list page by page with `perPage`/`page`/`from`/`to`, fetch by id), the `{status, message, data}`
//! envelope, amounts in kobo, unique references (a reused one is 400 "Duplicate Transaction
//! Reference"), and declines as HTTP 200 with `data.status: failed`. Requests are checked as
//! Paystack's OpenAPI document says: required fields and their types, references of only `-`, `.`,
//! `=` and alphanumerics, currencies from its enum, and no query parameter it does not document.
//! Authorization codes choose the outcome: `AUTH_declined`, `AUTH_insufficient`, anything else
//! succeeds. Cards as in Paystack's test mode: `507850785078507812` asks for a PIN (`send_pin`,
//! PIN 1111) then an OTP (`send_otp`, 123456), each submitted to `/charge/submit_pin` and
//! `/charge/submit_otp` with the charge's reference; a wrong PIN or OTP fails the charge, and a
//! submission for a charge not waiting for it is a 400. Faults on demand: a stalled answer, or a 500 after the charge went through.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{web, HttpRequest, HttpResponse};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha512;

use super::recorded::{optional_string, required_integer, required_string, Recorded};
use super::FakeServer;

pub const SECRET_KEY: &str = "sk_test_paystack_fake_b7c1d0e2f3a4";

#[derive(Default)]
struct State {
    transactions: Vec<Value>,
    refunds: Vec<Value>,
    stall_next: Option<Duration>,
    /// `METHOD /path` of a request to stall after processing, or to lose before it.
    stall_on: Option<(String, Duration)>,
    lose_on: Option<(String, Duration)>,
    break_after_processing_next: bool,
    recorded: Vec<Recorded>,
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

    /// The next `METHOD /path` request is processed, then answered after `delay` (the money moved;
    /// the caller gave up waiting).
    pub fn stall_on(&self, request: &str, delay: Duration) {
        self.state.lock().unwrap().stall_on = Some((request.to_owned(), delay));
    }

    /// The next `METHOD /path` request is lost before Paystack processes it: a 504 after `delay`.
    pub fn lose_on(&self, request: &str, delay: Duration) {
        self.state.lock().unwrap().lose_on = Some((request.to_owned(), delay));
    }

    /// The next request is processed, then answered with a 500 as if the connection broke.
    pub fn break_after_processing_next(&self) {
        self.state.lock().unwrap().break_after_processing_next = true;
    }

    /// Requests received: `METHOD /path` and the JSON body.
    pub fn requests(&self) -> Vec<(String, Value)> {
        let state = self.state.lock().unwrap();
        state
            .recorded
            .iter()
            .map(|r| {
                let body = serde_json::from_str(&r.body).unwrap_or(Value::Null);
                (format!("{} {}", r.method, r.path), body)
            })
            .collect()
    }

    /// Every request received, whole.
    pub fn recorded(&self) -> Vec<Recorded> {
        self.state.lock().unwrap().recorded.clone()
    }

    /// The transaction payrail made for a payment (its reference is `pay-<uuid>`).
    pub fn transaction(&self, payment_id: &str) -> Value {
        let reference = payment_id.replacen('_', "-", 1);
        let state = self.state.lock().unwrap();
        state
            .transactions
            .iter()
            .find(|t| t["reference"] == reference.as_str())
            .cloned()
            .expect("transaction")
    }

    pub fn refunds(&self) -> Vec<Value> {
        self.state.lock().unwrap().refunds.clone()
    }

    /// Changes the transaction payrail made for `payment_id`, as if Paystack's record differed.
    pub fn edit_transaction(&self, payment_id: &str, edit: impl FnOnce(&mut Value)) {
        let reference = payment_id.replacen('_', "-", 1);
        let mut state = self.state.lock().unwrap();
        let tx = state
            .transactions
            .iter_mut()
            .find(|t| t["reference"] == reference.as_str())
            .expect("transaction");
        edit(tx);
    }

    /// Every pending refund is processed, as Paystack does a little later.
    pub fn process_refunds(&self) {
        for refund in self.state.lock().unwrap().refunds.iter_mut() {
            if refund["status"] == "pending" {
                refund["status"] = json!("processed");
            }
        }
    }

    /// Listing requests received (`GET /transaction` and `GET /refund`).
    pub fn listings(&self) -> Vec<String> {
        let state = self.state.lock().unwrap();
        state
            .recorded
            .iter()
            .filter(|r| r.method == "GET" && (r.path == "/transaction" || r.path == "/refund"))
            .map(|r| r.path.clone())
            .collect()
    }
}

fn envelope(status: u16, ok: bool, message: &str, data: Value) -> (u16, Value) {
    (status, json!({ "status": ok, "message": message, "data": data }))
}

async fn handle(state: web::Data<Mutex<State>>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let this = format!("{} {}", req.method(), req.path());
    let lost = state.lock().unwrap().lose_on.take_if(|(request, _)| *request == this);
    if let Some((_, delay)) = lost {
        // Lost before Paystack processed it: the 504 arrives after the caller gave up.
        tokio::time::sleep(delay).await;
        return reply(504, json!({ "status": false, "message": "Gateway timeout" }));
    }
    let (status, body, stall) = {
        let mut s = state.lock().unwrap();
        let recorded = Recorded::of(&req, &body);
        s.recorded.push(recorded.clone());
        let json = recorded
            .header("content-type")
            .is_some_and(|t| t.starts_with("application/json"));
        let body: Value = match serde_json::from_slice(&body) {
            Ok(body) if json => body,
            _ if req.method() == "GET" => Value::Null,
            _ => return reply(400, json!({ "status": false, "message": "Invalid JSON body" })),
        };
        let auth = req.headers().get("authorization").and_then(|v| v.to_str().ok());
        if auth != Some(&format!("Bearer {SECRET_KEY}")) {
            let (status, body) = envelope(401, false, "Invalid key", Value::Null);
            return reply(status, body);
        }
        let stall_on = s
            .stall_on
            .take_if(|(request, _)| *request == this)
            .map(|(_, delay)| delay);
        let stall = s.stall_next.take().or(stall_on);
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

/// Paystack's `Currency` enum.
const CURRENCIES: &[&str] = &["GHS", "KES", "NGN", "ZAR", "USD"];

/// "Only -, ., = and alphanumeric characters allowed."
fn valid_reference(reference: &str) -> bool {
    !reference.is_empty()
        && reference
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '='))
}

/// The documented fields of a charge: `TransactionChargeAuthorization` (`authorization_code`
/// required) or `ChargeCreate`.
fn check_charge(body: &Value, by_authorization: bool) -> Result<(), String> {
    let refused = |(field, issue): (String, &str)| format!("{} {field}", issue.to_ascii_lowercase());
    required_string(body, "/email", 254).map_err(refused)?;
    required_integer(body, "/amount").map_err(refused)?;
    if by_authorization {
        required_string(body, "/authorization_code", 100).map_err(refused)?;
        optional_string(body, "/metadata", 10_000).map_err(refused)?;
    }
    match body.get("reference") {
        None => {}
        Some(Value::String(r)) if valid_reference(r) => {}
        Some(_) => return Err("Invalid reference: only -, ., = and alphanumeric characters allowed".into()),
    }
    match body.get("currency") {
        None => Ok(()),
        Some(Value::String(c)) if CURRENCIES.contains(&c.as_str()) => Ok(()),
        Some(_) => Err("Currency not supported by merchant".into()),
    }
}

/// `RefundCreate`: `transaction` required; `amount` an integer; notes strings; `currency` enum.
fn check_refund(body: &Value) -> Result<(), String> {
    let refused = |(field, issue): (String, &str)| format!("{} {field}", issue.to_ascii_lowercase());
    required_string(body, "/transaction", 100).map_err(refused)?;
    if body.get("amount").is_some() {
        required_integer(body, "/amount").map_err(refused)?;
    }
    optional_string(body, "/customer_note", 1000).map_err(refused)?;
    optional_string(body, "/merchant_note", 1000).map_err(refused)?;
    match body.get("currency") {
        Some(Value::String(c)) if !CURRENCIES.contains(&c.as_str()) => Err("Currency not supported".into()),
        Some(Value::String(_)) | None => Ok(()),
        Some(_) => Err("invalid currency".into()),
    }
}

/// `GET /refund` and `GET /transaction`: only `perPage` (`per_page` in the OpenAPI document's
/// transaction listing), `page`, `from` and `to` (inclusive) are accepted; items are filtered on
/// their `createdAt` and paged with `meta.pageCount`.
fn listing_page(items: &[Value], query: &str, message: &str) -> (u16, Value) {
    let mut per_page = 50_usize;
    let mut page = 1_usize;
    let mut from = None;
    let mut to = None;
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let value = value.replace("%3A", ":").replace("%2B", "+");
        match name {
            "perPage" | "per_page" => match value.parse() {
                Ok(n) if n > 0 => per_page = n,
                _ => return envelope(400, false, "perPage must be an integer", Value::Null),
            },
            "page" => match value.parse() {
                Ok(n) if n > 0 => page = n,
                _ => return envelope(400, false, "page must be an integer", Value::Null),
            },
            "from" | "to" => match chrono::DateTime::parse_from_rfc3339(&value) {
                Ok(at) if name == "from" => from = Some(at),
                Ok(at) => to = Some(at),
                Err(_) => return envelope(400, false, "Invalid date", Value::Null),
            },
            other => return envelope(400, false, &format!("{other} is not a valid filter"), Value::Null),
        }
    }
    let matching: Vec<&Value> = items
        .iter()
        .filter(|r| {
            let created = r["createdAt"]
                .as_str()
                .and_then(|c| chrono::DateTime::parse_from_rfc3339(c).ok());
            // Paystack's dates are to the second: `to` covers its whole second.
            from.map_or(true, |from| created.is_some_and(|c| c >= from))
                && to.map_or(true, |to| {
                    created.is_some_and(|c| c < to + chrono::Duration::seconds(1))
                })
        })
        .collect();
    let data: Vec<Value> = matching
        .iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .map(|r| (*r).clone())
        .collect();
    let meta = json!({ "total": matching.len(), "skipped": (page - 1) * per_page, "perPage": per_page.to_string(),
        "page": page, "pageCount": matching.len().div_ceil(per_page), "failedRefundCount": 0 });
    (
        200,
        json!({ "status": true, "message": message, "data": data, "meta": meta }),
    )
}

/// `/charge/submit_{pin,otp}`: `reference` and the value are required strings; the charge must be
/// waiting for exactly that value.
fn submit(s: &mut State, field: &str, body: &Value) -> (u16, Value) {
    let (Some(value), Some(reference)) = (body[field].as_str(), body["reference"].as_str()) else {
        return envelope(
            400,
            false,
            &format!("{field} and reference are required strings"),
            Value::Null,
        );
    };
    let Some(tx) = s.transactions.iter_mut().find(|t| t["reference"] == reference) else {
        return envelope(400, false, "Transaction reference not found", Value::Null);
    };
    if tx["status"] != format!("send_{field}").as_str() {
        return envelope(400, false, "Transaction is not awaiting this input", Value::Null);
    }
    let (status, gateway, prompt) = match (field, value) {
        ("pin", "1111") => (
            "send_otp",
            "OTP required",
            Some("Please enter the OTP sent to 080******12"),
        ),
        ("otp", "123456") => ("success", "Approved", None),
        ("pin", _) => ("failed", "Incorrect PIN", None),
        _ => ("failed", "Token Authentication Failed", None),
    };
    tx["status"] = json!(status);
    tx["gateway_response"] = json!(gateway);
    tx["display_text"] = json!(prompt);
    envelope(200, true, "Charge attempted", tx.clone())
}

fn process(s: &mut State, req: &HttpRequest, body: &Value) -> (u16, Value) {
    let path = req.path().to_owned();
    match (req.method().as_str(), path.as_str()) {
        ("POST", "/transaction/charge_authorization") | ("POST", "/charge") => {
            if let Err(message) = check_charge(body, path == "/transaction/charge_authorization") {
                return envelope(400, false, &message, Value::Null);
            }
            let amount = body["amount"].as_i64().unwrap_or_default();
            let reference = body["reference"].as_str().unwrap_or_default().to_owned();
            if s.transactions.iter().any(|t| t["reference"] == reference) {
                return envelope(400, false, "Duplicate Transaction Reference", Value::Null);
            }
            let code = body["authorization_code"].as_str().unwrap_or_default();
            let number = body["card"]["number"].as_str().unwrap_or_default();
            let (status, gateway) = match (code, number) {
                ("AUTH_declined", _) | (_, "4000000000000002") => ("failed", "Declined"),
                ("AUTH_insufficient", _) => ("failed", "Insufficient Funds"),
                (_, "507850785078507812") => ("send_pin", "PIN required"),
                _ => ("success", "Approved"),
            };
            let mut tx = json!({
                "id": 1_000_000 + s.transactions.len() as i64, "reference": reference, "amount": amount,
                "currency": body.get("currency").cloned().unwrap_or(json!("NGN")), "status": status, "gateway_response": gateway,
                "authorization": { "authorization_code": if code.is_empty() { "AUTH_new" } else { code }, "reusable": true },
                "createdAt": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            });
            if status == "send_pin" {
                tx["display_text"] = json!("Please enter your 4-digit PIN");
            }
            s.transactions.push(tx.clone());
            envelope(200, true, "Charge attempted", tx)
        }
        ("POST", p) if p.starts_with("/charge/submit_") => submit(s, p.trim_start_matches("/charge/submit_"), body),
        ("GET", p) if p.starts_with("/transaction/verify/") => {
            let reference = p.trim_start_matches("/transaction/verify/");
            match s.transactions.iter().find(|t| t["reference"] == reference) {
                Some(tx) => envelope(200, true, "Verification successful", tx.clone()),
                None => envelope(400, false, "Transaction reference not found", Value::Null),
            }
        }
        ("GET", "/refund") => listing_page(&s.refunds, req.query_string(), "Refunds retrieved"),
        ("GET", "/transaction") => listing_page(&s.transactions, req.query_string(), "Transactions retrieved"),
        ("GET", p) if p.starts_with("/refund/") => {
            let Ok(id) = p.trim_start_matches("/refund/").parse::<i64>() else {
                return envelope(400, false, "Refund ID must be an integer", Value::Null);
            };
            match s.refunds.iter().find(|r| r["id"] == id) {
                Some(refund) => envelope(200, true, "Refund retrieved", refund.clone()),
                None => envelope(404, false, "Refund not found", Value::Null),
            }
        }
        ("POST", "/refund") => {
            if let Err(message) = check_refund(body) {
                return envelope(400, false, &message, Value::Null);
            }
            let reference = body["transaction"].as_str().unwrap_or_default().to_owned();
            let Some(tx) = s
                .transactions
                .iter()
                .find(|t| {
                    (t["reference"] == reference.as_str() || reference.parse::<i64>().ok() == t["id"].as_i64())
                        && t["status"] == "success"
                })
                .cloned()
            else {
                return envelope(404, false, "Transaction not found", Value::Null);
            };
            let refunded: i64 = s
                .refunds
                .iter()
                .filter(|r| r["transaction"] == tx["id"] && r["status"] != "failed")
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
                "id": 5_000_000 + s.refunds.len() as i64, "amount": amount, "currency": tx["currency"], "status": "pending",
                "merchant_note": body.get("merchant_note").cloned().unwrap_or(json!("")),
                "transaction": tx["id"], "transaction_reference": tx["reference"],
                "createdAt": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            });
            s.refunds.push(refund.clone());
            envelope(200, true, "Refund has been queued for processing", refund)
        }
        _ => envelope(404, false, "Not found", Value::Null),
    }
}
