//! A fake Stripe: PaymentMethods, PaymentIntents (create+confirm, capture, cancel, retrieve,
//! search by metadata) and Refunds over form-encoded bodies, Bearer keys, integer minor units,
//! Stripe's error bodies (402 `card_error` + `decline_code`, 400 `invalid_request_error`, 401), and
//! `Idempotency-Key` replay (`Idempotent-Replayed: true`, 400 `idempotency_error` on reuse with other
//! parameters). Test cards and `pm_card_*` tokens behave as in Stripe's test mode. Three-decimal
//! currencies (KWD, BHD, …) take only amounts divisible by ten, as Stripe requires; an unknown
//! currency, a `capture_method` outside its enum or an `Idempotency-Key` over 255 characters is a 400.
//!
//! 3-D Secure as Stripe's test mode does it: `4000002500003155` and `4000002760003184` (and any
//! card under `payment_method_options[card][request_three_d_secure]=any|challenge`) leave the
//! intent `requires_action`; with a `return_url` its `next_action` is `redirect_to_url` to the
//! fake's hosted challenge (`POST /3ds/{intent}` with `outcome=complete|fail`, no API key: the
//! customer's browser), which settles the intent and redirects to the `return_url` with
//! `payment_intent=…`; without one it is `use_stripe_sdk`, as Stripe answers.
//!
//! Balance transactions (`GET /v1/balance_transactions`, paginated) are in `stripe_balance.rs`.
//!
//! Faults on demand: answer the next N requests with 503, or process a request and then stall
//! before answering (a timeout after the money moved).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Value};

use super::FakeServer;

pub const SECRET_KEY: &str = "sk_test_fake_4eC39HqLyjWDarjtT1zdp7dc";
pub const WEBHOOK_SECRET: &str = "whsec_fake_test_secret_0123456789abcdef";

/// A saved first answer: method and path, parameters, status, body.
type Saved = (String, Vec<(String, String)>, u16, Value);

#[derive(Default)]
struct State {
    methods: HashMap<String, String>,
    intents: HashMap<String, Value>,
    refunds: HashMap<String, Value>,
    /// key → (method+path, params, status, body)
    idempotency: HashMap<String, Saved>,
    /// The next N requests get this status before anything is processed.
    failing_next: (usize, u16),
    stall_next: Option<Duration>,
    requests: Vec<String>,
    counter: u64,
    /// Card refunds usually succeed at once; tests that settle them by webhook hold them pending.
    refunds_pending: bool,
    /// Balance transactions (`stripe_balance.rs`): the money that moved.
    balance: Vec<Value>,
}

#[derive(Clone)]
pub struct FakeStripe {
    state: Arc<Mutex<State>>,
    pub base_url: String,
    _server: Arc<FakeServer>,
}

impl FakeStripe {
    pub fn start() -> Self {
        let state = Arc::new(Mutex::new(State::default()));
        let server = FakeServer::with_state(&state, handle);
        Self {
            state,
            base_url: server.base_url.clone(),
            _server: server,
        }
    }

    /// The next `n` requests get a 503 (`api_error`) before anything is processed.
    pub fn fail_next(&self, n: usize) {
        self.fail_next_with(n, 503);
    }

    /// The next `n` requests get `status` (e.g. 500) with Stripe's `api_error` body.
    pub fn fail_next_with(&self, n: usize, status: u16) {
        self.state.lock().unwrap().failing_next = (n, status);
    }

    /// The next request is processed, then its answer is held back for `delay`.
    pub fn stall_next(&self, delay: Duration) {
        self.state.lock().unwrap().stall_next = Some(delay);
    }

    /// New refunds answer `pending` (settled later by a webhook) instead of `succeeded`.
    pub fn hold_refunds(&self) {
        self.state.lock().unwrap().refunds_pending = true;
    }

    /// Requests received, as `METHOD /path idempotency-key`.
    pub fn requests(&self) -> Vec<String> {
        self.state.lock().unwrap().requests.clone()
    }

    pub fn intent(&self, id: &str) -> Value {
        self.try_intent(id).expect("intent")
    }

    pub fn try_intent(&self, id: &str) -> Option<Value> {
        self.state.lock().unwrap().intents.get(id).cloned()
    }

    /// Sets an intent's status as if Stripe changed it on its own (for webhook tests).
    pub fn set_intent_status(&self, id: &str, status: &str) -> Value {
        let mut state = self.state.lock().unwrap();
        let intent = state.intents.get_mut(id).expect("intent");
        intent["status"] = json!(status);
        intent.clone()
    }

    /// Every refund the fake made: the money it moved back, one record per refund.
    pub fn refunds(&self) -> Vec<Value> {
        self.state.lock().unwrap().refunds.values().cloned().collect()
    }

    pub fn try_refund(&self, id: &str) -> Option<Value> {
        self.state.lock().unwrap().refunds.get(id).cloned()
    }

    /// Changes the balance transaction whose source is (or charges) `reference` — a PaymentIntent
    /// or refund id — as if Stripe's record differed from payrail's.
    pub fn edit_balance_transaction(&self, reference: &str, edit: impl FnOnce(&mut Value)) {
        let mut state = self.state.lock().unwrap();
        let transaction = state
            .balance
            .iter_mut()
            .find(|t| t["_source"]["id"] == json!(reference) || t["_source"]["payment_intent"] == json!(reference))
            .expect("a balance transaction for that reference");
        edit(transaction);
    }

    /// Removes the balance transaction of `reference` (Stripe never recorded it).
    pub fn remove_balance_transaction(&self, reference: &str) {
        let mut state = self.state.lock().unwrap();
        state
            .balance
            .retain(|t| t["_source"]["id"] != json!(reference) && t["_source"]["payment_intent"] != json!(reference));
    }

    /// Adds a charge on an intent payrail never made (`pi_…` of its own), for `amount`.
    pub fn add_foreign_charge(&self, intent_id: &str, amount: i64) {
        let mut state = self.state.lock().unwrap();
        state.counter += 1;
        let intent = json!({ "id": intent_id, "currency": "usd", "metadata": {} });
        let transaction = super::stripe_balance::charge(state.counter, &intent, amount);
        state.balance.push(transaction);
    }

    /// `GET /v1/balance_transactions` requests received, with their query strings.
    pub fn balance_listings(&self) -> usize {
        self.requests()
            .iter()
            .filter(|r| r.starts_with("GET /v1/balance_transactions"))
            .count()
    }

    pub fn set_refund_status(&self, id: &str, status: &str) -> Value {
        let mut state = self.state.lock().unwrap();
        let refund = state.refunds.get_mut(id).expect("refund");
        refund["status"] = json!(status);
        refund.clone()
    }
}

/// A Stripe event envelope around `object`.
pub fn event(id: &str, kind: &str, object: &Value) -> String {
    json!({
        "id": id, "object": "event", "api_version": "2024-06-20", "created": chrono::Utc::now().timestamp(),
        "type": kind, "livemode": false, "data": { "object": object },
        "request": { "id": null, "idempotency_key": null }
    })
    .to_string()
}

fn error(status: u16, kind: &str, code: Option<&str>, message: &str) -> (u16, Value) {
    (
        status,
        json!({ "error": { "type": kind, "code": code, "message": message } }),
    )
}

async fn handle(state: web::Data<Mutex<State>>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    if let Some(intent) = req.path().strip_prefix("/3ds/") {
        return challenge(&state, intent, &body);
    }
    let key = req
        .headers()
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let route = format!("{} {}", req.method(), req.path());
    let params: Vec<(String, String)> = if req.method() == "GET" {
        serde_urlencoded::from_str(req.query_string()).unwrap_or_default()
    } else {
        serde_urlencoded::from_bytes(&body).unwrap_or_default()
    };
    let (status, body, replayed, stall) = {
        let mut s = state.lock().unwrap();
        s.requests.push(format!("{route} {}", key.clone().unwrap_or_default()));
        let auth = req.headers().get("authorization").and_then(|v| v.to_str().ok());
        if auth != Some(&format!("Bearer {SECRET_KEY}")) {
            let (status, body) = error(401, "invalid_request_error", None, "Invalid API Key provided.");
            return respond(status, body, false);
        }
        if s.failing_next.0 > 0 {
            s.failing_next.0 -= 1;
            let (status, body) = error(
                s.failing_next.1,
                "api_error",
                None,
                "Stripe is temporarily unavailable.",
            );
            return respond(status, body, false);
        }
        if key.as_ref().is_some_and(|k| k.is_empty() || k.len() > 255) {
            let (status, body) = error(
                400,
                "invalid_request_error",
                None,
                "Idempotency-Key must be 1 to 255 characters.",
            );
            return respond(status, body, false);
        }
        let stall = s.stall_next.take();
        match key.as_ref().and_then(|k| s.idempotency.get(k).cloned()) {
            Some((saved_route, saved_params, status, body)) => {
                if saved_route == route && saved_params == params {
                    (status, body, true, stall)
                } else {
                    let message = format!("Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '{}' if you meant to execute a different request.", key.clone().unwrap_or_default());
                    let (status, body) = error(400, "idempotency_error", None, &message);
                    (status, body, false, stall)
                }
            }
            None => {
                let (status, body) = process(&mut s, &req, &params);
                if let Some(k) = key.filter(|_| req.method() == "POST" && status != 400) {
                    s.idempotency.insert(k, (route, params, status, body.clone()));
                }
                (status, body, false, stall)
            }
        }
    };
    if let Some(delay) = stall {
        tokio::time::sleep(delay).await;
    }
    respond(status, body, replayed)
}

/// The hosted 3-D Secure page's answer: settles the intent as Stripe does and sends the customer
/// back to the intent's `return_url`.
fn challenge(state: &Mutex<State>, id: &str, body: &[u8]) -> HttpResponse {
    let params: Vec<(String, String)> = serde_urlencoded::from_bytes(body).unwrap_or_default();
    let mut s = state.lock().unwrap();
    s.requests.push(format!("POST /3ds/{id} "));
    let mut charged: Option<(Value, i64)> = None;
    let Some(intent) = s.intents.get_mut(id) else {
        return HttpResponse::NotFound().finish();
    };
    let return_url = intent["next_action"]["redirect_to_url"]["return_url"]
        .as_str()
        .map(str::to_owned);
    let (Some(return_url), Some("requires_action")) = (return_url, intent["status"].as_str()) else {
        return HttpResponse::BadRequest().body("no challenge pending");
    };
    match param(&params, "outcome") {
        Some("complete") if intent["capture_method"] == "manual" => {
            intent["status"] = json!("requires_capture");
            intent["amount_capturable"] = intent["amount"].clone();
        }
        Some("complete") => {
            intent["status"] = json!("succeeded");
            intent["amount_received"] = intent["amount"].clone();
            charged = Some((intent.clone(), intent["amount"].as_i64().unwrap_or(0)));
        }
        Some("fail") => {
            intent["status"] = json!("requires_payment_method");
            intent["last_payment_error"] = json!({ "type": "card_error", "code": "payment_intent_authentication_failure", "message": "The provided PaymentMethod has failed authentication." });
        }
        _ => return HttpResponse::BadRequest().body("outcome must be complete or fail"),
    }
    intent["next_action"] = Value::Null;
    if let Some((intent, amount)) = charged {
        s.counter += 1;
        let transaction = super::stripe_balance::charge(s.counter, &intent, amount);
        s.balance.push(transaction);
    }
    let separator = if return_url.contains('?') { '&' } else { '?' };
    HttpResponse::SeeOther()
        .insert_header((
            "Location",
            format!("{return_url}{separator}payment_intent={id}&payment_intent_client_secret={id}_secret_fake"),
        ))
        .finish()
}

fn respond(status: u16, body: Value, replayed: bool) -> HttpResponse {
    let mut response = HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap());
    if replayed {
        response.insert_header(("Idempotent-Replayed", "true"));
    }
    response.json(body)
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

fn metadata(params: &[(String, String)]) -> Value {
    let map: serde_json::Map<String, Value> = params
        .iter()
        .filter_map(|(k, v)| {
            k.strip_prefix("metadata[")
                .and_then(|rest| rest.strip_suffix(']'))
                .map(|key| (key.to_owned(), json!(v)))
        })
        .collect();
    Value::Object(map)
}

fn process(s: &mut State, req: &HttpRequest, params: &[(String, String)]) -> (u16, Value) {
    s.counter += 1;
    let n = s.counter;
    let segments: Vec<&str> = req.path().trim_start_matches('/').split('/').collect();
    let missing = |what: &str, id: &str| {
        error(
            404,
            "invalid_request_error",
            Some("resource_missing"),
            &format!("No such {what}: '{id}'"),
        )
    };
    match (req.method().as_str(), segments.as_slice()) {
        ("POST", ["v1", "payment_methods"]) => {
            let Some(number) = param(params, "card[number]") else {
                return error(
                    400,
                    "invalid_request_error",
                    Some("parameter_missing"),
                    "Missing required param: card[number].",
                );
            };
            let id = format!("pm_fake{n}");
            s.methods.insert(id.clone(), number.to_owned());
            (
                200,
                json!({ "id": id, "object": "payment_method", "type": "card", "card": { "last4": &number[number.len() - 4..] } }),
            )
        }
        ("POST", ["v1", "payment_intents"]) => {
            let host = req.connection_info().host().to_owned();
            create_intent(s, params, n, &host)
        }
        ("POST", ["v1", "payment_intents", id, action]) => {
            let Some(intent) = s.intents.get_mut(*id) else {
                return missing("payment_intent", id);
            };
            let status = intent["status"].as_str().unwrap_or_default().to_owned();
            match *action {
                "capture" if status == "requires_capture" => {
                    let capturable = intent["amount_capturable"].as_i64().unwrap();
                    let amount = param(params, "amount_to_capture")
                        .and_then(|a| a.parse().ok())
                        .unwrap_or(capturable);
                    if amount > capturable {
                        return error(
                            400,
                            "invalid_request_error",
                            Some("amount_too_large"),
                            "amount_to_capture exceeds amount_capturable",
                        );
                    }
                    intent["status"] = json!("succeeded");
                    intent["amount_received"] = json!(amount);
                    intent["amount_capturable"] = json!(0);
                    let intent = intent.clone();
                    s.balance.push(super::stripe_balance::charge(n, &intent, amount));
                    (200, intent)
                }
                "cancel"
                    if [
                        "requires_capture",
                        "requires_payment_method",
                        "requires_action",
                        "requires_confirmation",
                    ]
                    .contains(&status.as_str()) =>
                {
                    intent["status"] = json!("canceled");
                    intent["amount_capturable"] = json!(0);
                    (200, intent.clone())
                }
                _ => error(
                    400,
                    "invalid_request_error",
                    Some("payment_intent_unexpected_state"),
                    &format!("This PaymentIntent's status is {status}."),
                ),
            }
        }
        ("GET", ["v1", "balance_transactions"]) => super::stripe_balance::list(&s.balance, params),
        ("GET", ["v1", "payment_intents", "search"]) => {
            let query = param(params, "query").unwrap_or_default();
            let wanted = query.split('\'').nth(3).unwrap_or_default().to_owned();
            let data: Vec<Value> = s
                .intents
                .values()
                .filter(|i| i["metadata"]["payrail_payment_id"] == json!(wanted))
                .cloned()
                .collect();
            (
                200,
                json!({ "object": "search_result", "data": data, "has_more": false }),
            )
        }
        ("GET", ["v1", "payment_intents", id]) => match s.intents.get(*id) {
            Some(intent) => (200, intent.clone()),
            None => missing("payment_intent", id),
        },
        ("POST", ["v1", "refunds"]) => {
            let pi = param(params, "payment_intent").unwrap_or_default().to_owned();
            let Some(intent) = s.intents.get(&pi).cloned() else {
                return missing("payment_intent", &pi);
            };
            let refunded: i64 = s
                .refunds
                .values()
                .filter(|r| r["payment_intent"] == json!(pi) && r["status"] != json!("failed"))
                .map(|r| r["amount"].as_i64().unwrap())
                .sum();
            let available = intent["amount_received"].as_i64().unwrap_or(0) - refunded;
            let amount = param(params, "amount")
                .and_then(|a| a.parse().ok())
                .unwrap_or(available);
            if amount > available || available == 0 {
                return error(
                    400,
                    "invalid_request_error",
                    Some("charge_already_refunded"),
                    "Refund amount exceeds the remaining charge.",
                );
            }
            let id = format!("re_fake{n}");
            let status = if s.refunds_pending { "pending" } else { "succeeded" };
            let refund = json!({ "id": id, "object": "refund", "amount": amount, "currency": intent["currency"], "payment_intent": pi, "status": status, "reason": param(params, "reason"), "metadata": metadata(params) });
            s.refunds.insert(id, refund.clone());
            if status == "succeeded" {
                s.balance.push(super::stripe_balance::refund(n, &refund));
            }
            (200, refund)
        }
        _ => error(
            404,
            "invalid_request_error",
            None,
            &format!("Unrecognized request URL ({} {}).", req.method(), req.path()),
        ),
    }
}

fn create_intent(s: &mut State, params: &[(String, String)], n: u64, host: &str) -> (u16, Value) {
    let Some(amount) = param(params, "amount")
        .and_then(|a| a.parse::<i64>().ok())
        .filter(|a| *a > 0)
    else {
        return error(
            400,
            "invalid_request_error",
            Some("parameter_invalid_integer"),
            "Invalid integer: amount",
        );
    };
    let currency = param(params, "currency").unwrap_or_default();
    if super::recorded::exponent(currency).is_none() || currency != currency.to_ascii_lowercase() {
        return error(
            400,
            "invalid_request_error",
            Some("parameter_invalid_string"),
            "Invalid currency",
        );
    }
    if !matches!(
        param(params, "capture_method"),
        None | Some("automatic" | "automatic_async" | "manual")
    ) {
        return error(
            400,
            "invalid_request_error",
            Some("parameter_invalid_string"),
            "Invalid capture_method",
        );
    }
    // Stripe: three-decimal currencies are charged in multiples of ten minor units.
    if matches!(currency, "bhd" | "jod" | "kwd" | "omr" | "tnd") && amount % 10 != 0 {
        return error(
            400,
            "invalid_request_error",
            Some("amount_invalid"),
            "Amounts in three-decimal currencies must be divisible by 10.",
        );
    }
    let three_d_secure = param(params, "payment_method_options[card][request_three_d_secure]");
    if !matches!(three_d_secure, None | Some("automatic" | "any" | "challenge")) {
        return error(
            400,
            "invalid_request_error",
            Some("parameter_invalid_string"),
            "Invalid payment_method_options[card][request_three_d_secure]",
        );
    }
    let return_url = param(params, "return_url");
    if return_url.is_some() && param(params, "confirm") != Some("true") {
        return error(
            400,
            "invalid_request_error",
            Some("parameter_invalid_string"),
            "return_url can only be passed when confirm=true.",
        );
    }
    let pm = param(params, "payment_method").unwrap_or_default().to_owned();
    let card = match s.methods.get(&pm) {
        Some(number) => number.clone(),
        None => match pm.as_str() {
            "pm_card_visa" => "4242424242424242".into(),
            "pm_card_visa_chargeDeclined" => "4000000000000002".into(),
            "pm_card_visa_chargeDeclinedInsufficientFunds" => "4000000000009995".into(),
            _ => {
                return error(
                    400,
                    "invalid_request_error",
                    Some("resource_missing"),
                    &format!("No such PaymentMethod: '{pm}'"),
                )
            }
        },
    };
    let manual = param(params, "capture_method") == Some("manual");
    let id = format!("pi_fake{n}");
    let mut intent = json!({
        "id": id, "object": "payment_intent", "amount": amount, "currency": param(params, "currency"),
        "capture_method": if manual { "manual" } else { "automatic" }, "payment_method": pm,
        "metadata": metadata(params), "amount_received": 0, "amount_capturable": 0, "last_payment_error": null,
    });
    let decline = match card.as_str() {
        "4000000000000002" => Some("generic_decline"),
        "4000000000009995" => Some("insufficient_funds"),
        _ => None,
    };
    if let Some(decline_code) = decline {
        let error = json!({ "type": "card_error", "code": "card_declined", "decline_code": decline_code, "message": "Your card was declined." });
        intent["status"] = json!("requires_payment_method");
        intent["last_payment_error"] = error.clone();
        s.intents.insert(id, intent.clone());
        let mut error = error;
        error["payment_intent"] = intent;
        return (402, json!({ "error": error }));
    }
    let challenged = matches!(three_d_secure, Some("any" | "challenge"));
    if challenged || card == "4000002500003155" || card == "4000002760003184" {
        intent["status"] = json!("requires_action");
        intent["next_action"] = match return_url {
            Some(return_url) => json!({ "type": "redirect_to_url", "redirect_to_url": {
                "url": format!("http://{host}/3ds/{id}"), "return_url": return_url } }),
            None => json!({ "type": "use_stripe_sdk", "use_stripe_sdk": {} }),
        };
    } else if manual {
        intent["status"] = json!("requires_capture");
        intent["amount_capturable"] = json!(amount);
    } else {
        intent["status"] = json!("succeeded");
        intent["amount_received"] = json!(amount);
        s.balance.push(super::stripe_balance::charge(n, &intent, amount));
    }
    s.intents.insert(id, intent.clone());
    (200, intent)
}
