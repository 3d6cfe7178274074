//! A fake PayPal REST API: OAuth2 client credentials (Basic auth → Bearer token with
//! `expires_in`), Orders v2 paid by card in one step (decimal-string major-unit amounts,
//! `PayPal-Request-Id` required and replayed with the latest state), authorization capture and
//! void, capture refunds, 422 `UNPROCESSABLE_ENTITY` errors with `details[].issue`, and the
//! verify-webhook-signature API for deliveries it signed itself. Requests are checked as PayPal's
//! OpenAPI documents say ([`super::paypal_checks`]), and answered with the minimal representation
//! (id, status, links) unless `Prefer: return=representation` asks for the whole resource.
//! Cards: 4000000000000002 is declined; vault id `declined` is refused with INSTRUMENT_DECLINED;
//! 4000002500003155 and 4000002760003184 with a `card.experience_context.return_url` need 3-D
//! Secure: the order is `PAYER_ACTION_REQUIRED` with a `payer-action` link to the fake's approval
//! page (`POST /checkoutnow?token={order}` with `outcome=complete|fail`, the payer's browser: no
//! token), which approves the order (`APPROVED`) and redirects to the `return_url`, or to the
//! `cancel_url` on failure. An approved order is then authorized or captured
//! (`POST /v2/checkout/orders/{id}/authorize|capture`), as PayPal requires. Transaction Search over
//! the captures and refunds is [`super::paypal_reporting`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Value};

use super::paypal_checks::{self as checks, minor};
use super::recorded::Recorded;
use super::FakeServer;

pub const CLIENT_ID: &str = "AfakeClientId-payrail";
pub const CLIENT_SECRET: &str = "EfakeClientSecret-payrail-0123456789";
pub const WEBHOOK_ID: &str = "8FAKE0123456789WH";

#[derive(Default)]
struct State {
    tokens: Vec<String>,
    orders: HashMap<String, Value>,
    /// PayPal-Request-Id → order id or resource JSON.
    request_ids: HashMap<String, Value>,
    /// transmission id → (signature, event) the fake signed.
    deliveries: HashMap<String, (String, Value)>,
    stall_next: Option<Duration>,
    certificates: Vec<String>,
    recorded: Vec<Recorded>,
    counter: u64,
}

#[derive(Clone)]
pub struct FakePaypal {
    state: Arc<Mutex<State>>,
    pub base_url: String,
    _server: Arc<FakeServer>,
}

impl FakePaypal {
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

    /// Requests as `METHOD /path request-id`.
    pub fn requests(&self) -> Vec<String> {
        let state = self.state.lock().unwrap();
        state
            .recorded
            .iter()
            .map(|r| {
                let id = r.header("paypal-request-id").unwrap_or_default();
                format!("{} {} {id}", r.method, r.path)
            })
            .collect()
    }

    /// Every request received, whole.
    pub fn recorded(&self) -> Vec<Recorded> {
        self.state.lock().unwrap().recorded.clone()
    }

    pub fn order(&self, id: &str) -> Value {
        self.state.lock().unwrap().orders.get(id).cloned().expect("order")
    }

    /// Changes the capture of payrail's payment `payment_id`, as if PayPal's record differed.
    pub fn edit_capture(&self, payment_id: &str, edit: impl FnOnce(&mut Value)) {
        let mut state = self.state.lock().unwrap();
        let order = state
            .orders
            .values_mut()
            .find(|o| o["purchase_units"][0]["custom_id"] == payment_id)
            .expect("order");
        edit(&mut order["purchase_units"][0]["payments"]["captures"][0]);
    }

    /// An order captured at PayPal that payrail never made (no `custom_id`), for `value` USD.
    pub fn add_foreign_capture(&self, id: &str, value: &str) {
        let amount = json!({ "currency_code": "USD", "value": value });
        let capture =
            json!({ "id": format!("{id}CAPTURE"), "create_time": now(), "status": "COMPLETED", "amount": amount });
        let order = json!({ "id": id, "intent": "CAPTURE", "status": "COMPLETED",
            "purchase_units": [{ "reference_id": "default", "amount": amount, "payments": { "captures": [capture] } }] });
        self.state.lock().unwrap().orders.insert(id.to_owned(), order);
    }

    pub fn order_for(&self, payment_id: &str) -> Value {
        let state = self.state.lock().unwrap();
        state
            .orders
            .values()
            .find(|o| o["purchase_units"][0]["custom_id"] == payment_id)
            .cloned()
            .expect("order")
    }

    /// Serves a PEM certificate (as PayPal serves its webhook signing certs); returns its URL.
    pub fn serve_certificate(&self, pem: String) -> String {
        let mut state = self.state.lock().unwrap();
        state.certificates.push(pem);
        format!(
            "{}/v1/notifications/certs/CERT-{}",
            self.base_url,
            state.certificates.len() - 1
        )
    }

    /// The transmission headers PayPal would send with `event`, registered for verification.
    pub fn sign_delivery(&self, event: &Value) -> Vec<(&'static str, String)> {
        let mut state = self.state.lock().unwrap();
        state.counter += 1;
        let id = format!("transmission-{}", state.counter);
        let signature = format!("c2lnbmF0dXJl{}", state.counter);
        state.deliveries.insert(id.clone(), (signature.clone(), event.clone()));
        vec![
            ("PAYPAL-AUTH-ALGO", "SHA256withRSA".into()),
            (
                "PAYPAL-CERT-URL",
                "https://api.sandbox.paypal.com/v1/notifications/certs/CERT-fake".into(),
            ),
            ("PAYPAL-TRANSMISSION-ID", id),
            ("PAYPAL-TRANSMISSION-SIG", signature),
            ("PAYPAL-TRANSMISSION-TIME", chrono::Utc::now().to_rfc3339()),
        ]
    }
}

fn unprocessable(issue: &str, description: &str) -> (u16, Value) {
    (
        422,
        json!({ "name": "UNPROCESSABLE_ENTITY", "message": "The requested action could not be performed, semantically incorrect, or failed business validation.",
            "debug_id": "fake0debug", "details": [{ "issue": issue, "description": description }] }),
    )
}

async fn handle(state: web::Data<Mutex<State>>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let request_id = req
        .headers()
        .get("paypal-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let recorded = Recorded::of(&req, &body);
    let (status, answer, stall) = {
        let mut s = state.lock().unwrap();
        // The payer's browser on the approval page, not a call to PayPal's API: not recorded.
        if req.path() == "/checkoutnow" {
            return approve(&mut s, &req, &body);
        }
        s.recorded.push(recorded.clone());
        let auth = req
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        if let Some(n) = req.path().strip_prefix("/v1/notifications/certs/CERT-") {
            let pem = n.parse::<usize>().ok().and_then(|n| s.certificates.get(n).cloned());
            return match pem {
                Some(pem) => HttpResponse::Ok().content_type("application/x-pem-file").body(pem),
                None => reply(404, json!({ "name": "RESOURCE_NOT_FOUND" })),
            };
        }
        if req.path() == "/v1/oauth2/token" {
            use base64::Engine;
            let expected = base64::engine::general_purpose::STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"));
            if auth != format!("Basic {expected}") {
                return reply(
                    401,
                    json!({ "error": "invalid_client", "error_description": "Client Authentication failed" }),
                );
            }
            // RFC 6749 §4.4: a form-encoded client-credentials grant.
            let form = recorded
                .header("content-type")
                .is_some_and(|t| t.starts_with("application/x-www-form-urlencoded"));
            if !form || recorded.body != "grant_type=client_credentials" {
                return reply(
                    400,
                    json!({ "error": "unsupported_grant_type", "error_description": "Grant Type is NULL" }),
                );
            }
            let token = format!("A21AA.fake.{}", s.tokens.len());
            s.tokens.push(token.clone());
            return reply(
                200,
                json!({ "scope": "https://uri.paypal.com/services/payments", "access_token": token,
                "token_type": "Bearer", "app_id": "APP-FAKE", "expires_in": 32400, "nonce": "fake" }),
            );
        }
        if !s.tokens.iter().any(|t| auth == format!("Bearer {t}")) {
            return reply(
                401,
                json!({ "error": "invalid_token", "error_description": "Token signature verification failed" }),
            );
        }
        if let Err(refusal) = checks::check_headers(&recorded) {
            let (status, answer) = checks::refused(refusal);
            return reply(status, answer);
        }
        let body: Value = if body.is_empty() {
            json!({})
        } else {
            match serde_json::from_slice(&body) {
                Ok(body) => body,
                Err(_) => {
                    let (status, answer) = checks::refused(("/".into(), "MALFORMED_REQUEST_JSON"));
                    return reply(status, answer);
                }
            }
        };
        let stall = s.stall_next.take();
        let full = checks::wants_representation(&recorded);
        let (status, answer) = process(&mut s, &req, &body, request_id, full);
        (status, answer, stall)
    };
    if let Some(delay) = stall {
        tokio::time::sleep(delay).await;
    }
    reply(status, answer)
}

/// The payer's answer on the approval page: approves the order (or not) and sends the payer back.
fn approve(s: &mut State, req: &HttpRequest, body: &[u8]) -> HttpResponse {
    let query: Vec<(String, String)> = serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
    let form: Vec<(String, String)> = serde_urlencoded::from_bytes(body).unwrap_or_default();
    let find = |pairs: &[(String, String)], key: &str| pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
    let (Some(id), Some(outcome)) = (find(&query, "token"), find(&form, "outcome")) else {
        return HttpResponse::BadRequest().body("token and outcome required");
    };
    let Some(order) = s.orders.get_mut(&id).filter(|o| o["status"] == "PAYER_ACTION_REQUIRED") else {
        return HttpResponse::BadRequest().body("no order awaiting the payer");
    };
    let context = order["experience_context"].clone();
    let target = if outcome == "complete" {
        order["status"] = json!("APPROVED");
        context["return_url"].as_str()
    } else {
        context["cancel_url"].as_str()
    };
    let target = target.unwrap_or_default();
    let separator = if target.contains('?') { '&' } else { '?' };
    HttpResponse::SeeOther()
        .insert_header(("Location", format!("{target}{separator}token={id}&PayerID=FAKEPAYER")))
        .finish()
}

/// A resource's `create_time`, as PayPal writes it.
fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn reply(status: u16, body: Value) -> HttpResponse {
    let mut response = HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap());
    if status == 204 {
        return response.finish();
    }
    response.json(body)
}

/// What a POST answers with: the whole resource, or its minimal representation.
fn answer(resource: Value, full: bool, href: String) -> Value {
    if full {
        resource
    } else {
        checks::minimal(&resource, &href)
    }
}

fn process(s: &mut State, req: &HttpRequest, body: &Value, request_id: Option<String>, full: bool) -> (u16, Value) {
    s.counter += 1;
    let n = s.counter;
    let path = req.path().to_owned();
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    if req.method() == "POST" && path != "/v1/notifications/verify-webhook-signature" {
        if let Some(saved) = request_id.as_ref().and_then(|id| s.request_ids.get(id)) {
            // A repeat returns the latest state of what the first request created.
            let latest = saved["order"]
                .as_str()
                .and_then(|o| s.orders.get(o))
                .cloned()
                .unwrap_or(saved.clone());
            if latest.get("id").is_none() {
                return (204, Value::Null);
            }
            return (200, answer(latest, full, path.clone()));
        }
    }
    let remember = |s: &mut State, value: Value| {
        if let Some(id) = request_id.clone() {
            s.request_ids.insert(id, value);
        }
    };
    match (req.method().as_str(), segments.as_slice()) {
        ("POST", ["v2", "checkout", "orders"]) => {
            if request_id.is_none() && !body["payment_source"].is_null() {
                return unprocessable(
                    "PAYPAL_REQUEST_ID_REQUIRED",
                    "A PayPal-Request-Id is required if you are trying to process payment for an Order.",
                );
            }
            if let Err(refusal) = checks::check_order(body) {
                return checks::refused(refusal);
            }
            let card = &body["payment_source"]["card"];
            if card["vault_id"] == "declined" {
                return unprocessable("INSTRUMENT_DECLINED", "The instrument presented was declined.");
            }
            let unit = body["purchase_units"][0].clone();
            let declined = card["number"] == "4000000000000002";
            let id = format!("{n}ORDER");
            let challenged = card["number"] == "4000002500003155" || card["number"] == "4000002760003184";
            if challenged && card["experience_context"]["return_url"].is_string() {
                let host = req.connection_info().host().to_owned();
                let order = json!({ "id": id, "intent": body["intent"], "status": "PAYER_ACTION_REQUIRED",
                    "purchase_units": [{ "reference_id": unit["reference_id"], "custom_id": unit["custom_id"], "amount": unit["amount"] }],
                    "links": [{ "href": format!("http://{host}/checkoutnow?token={id}"), "rel": "payer-action", "method": "GET" },
                              { "href": format!("http://{host}/v2/checkout/orders/{id}"), "rel": "self", "method": "GET" }] });
                let mut stored = order.clone();
                stored["experience_context"] = card["experience_context"].clone();
                s.orders.insert(id.clone(), stored);
                remember(s, json!({ "order": id }));
                return (200, answer(order, full, format!("/v2/checkout/orders/{id}")));
            }
            let payments = if body["intent"] == "CAPTURE" {
                json!({ "captures": [{ "id": format!("{n}CAPTURE"), "create_time": now(), "status": if declined { "DECLINED" } else { "COMPLETED" }, "amount": unit["amount"] }] })
            } else {
                json!({ "authorizations": [{ "id": format!("{n}AUTHORIZATION"), "status": if declined { "DENIED" } else { "CREATED" }, "amount": unit["amount"] }] })
            };
            let order = json!({ "id": id, "intent": body["intent"], "status": "COMPLETED",
                "purchase_units": [{ "reference_id": unit["reference_id"], "custom_id": unit["custom_id"], "amount": unit["amount"], "payments": payments }] });
            s.orders.insert(id.clone(), order.clone());
            remember(s, json!({ "order": id }));
            (201, answer(order, full, format!("/v2/checkout/orders/{id}")))
        }
        ("POST", ["v2", "checkout", "orders", id, step @ ("authorize" | "capture")]) => {
            let Some(order) = s.orders.get_mut(*id) else {
                return (
                    404,
                    json!({ "name": "RESOURCE_NOT_FOUND", "message": "The specified resource does not exist.", "details": [{ "issue": "INVALID_RESOURCE_ID" }] }),
                );
            };
            if order["status"] != "APPROVED" {
                return unprocessable(
                    "ORDER_NOT_APPROVED",
                    "Payer has not yet approved the Order for payment.",
                );
            }
            let wanted = if *step == "capture" { "CAPTURE" } else { "AUTHORIZE" };
            if order["intent"] != wanted {
                return unprocessable(
                    "ACTION_DOES_NOT_MATCH_INTENT",
                    "Order was created with an intent that does not match this action.",
                );
            }
            let amount = order["purchase_units"][0]["amount"].clone();
            order["purchase_units"][0]["payments"] = if *step == "capture" {
                json!({ "captures": [{ "id": format!("{n}CAPTURE"), "create_time": now(), "status": "COMPLETED", "amount": amount }] })
            } else {
                json!({ "authorizations": [{ "id": format!("{n}AUTHORIZATION"), "status": "CREATED", "amount": amount }] })
            };
            order["status"] = json!("COMPLETED");
            let mut shown = order.clone();
            if let Some(fields) = shown.as_object_mut() {
                fields.remove("experience_context");
            }
            let id = id.to_string();
            remember(s, json!({ "order": id }));
            (201, answer(shown, full, format!("/v2/checkout/orders/{id}")))
        }
        ("GET", ["v2", "checkout", "orders", id]) => match s.orders.get(*id) {
            Some(order) => {
                let mut shown = order.clone();
                if let Some(fields) = shown.as_object_mut() {
                    fields.remove("experience_context");
                }
                (200, shown)
            }
            None => (
                404,
                json!({ "name": "RESOURCE_NOT_FOUND", "message": "The specified resource does not exist.", "details": [{ "issue": "INVALID_RESOURCE_ID" }] }),
            ),
        },
        ("POST", ["v2", "payments", "authorizations", auth, action]) => {
            let Some(order_id) = s
                .orders
                .iter()
                .find(|(_, o)| o["purchase_units"][0]["payments"]["authorizations"][0]["id"] == *auth)
                .map(|(id, _)| id.clone())
            else {
                return (
                    404,
                    json!({ "name": "RESOURCE_NOT_FOUND", "message": "not found", "details": [{ "issue": "INVALID_RESOURCE_ID" }] }),
                );
            };
            let order = s.orders.get_mut(&order_id).unwrap();
            let payments = &mut order["purchase_units"][0]["payments"];
            if payments["authorizations"][0]["status"] != "CREATED" {
                return unprocessable(
                    "AUTHORIZATION_ALREADY_CAPTURED",
                    "Authorization has already been captured or voided.",
                );
            }
            if *action == "void" {
                payments["authorizations"][0]["status"] = json!("VOIDED");
                let authorization = payments["authorizations"][0].clone();
                remember(s, json!({}));
                return if full { (200, authorization) } else { (204, Value::Null) };
            }
            if let Err(refusal) = checks::check_capture(body) {
                return checks::refused(refusal);
            }
            if minor(&body["amount"]) > minor(&payments["authorizations"][0]["amount"]) {
                return unprocessable("MAX_CAPTURE_AMOUNT_EXCEEDED", "Capture amount exceeds allowable limit.");
            }
            payments["authorizations"][0]["status"] = json!("CAPTURED");
            let capture = json!({ "id": format!("{n}CAPTURE"), "create_time": now(), "status": "COMPLETED", "amount": body["amount"],
                "final_capture": body["final_capture"].as_bool().unwrap_or(false) });
            payments["captures"] = json!([capture.clone()]);
            remember(s, capture.clone());
            (201, answer(capture, full, format!("/v2/payments/captures/{n}CAPTURE")))
        }
        ("POST", ["v2", "payments", "captures", capture, "refund"]) => {
            let Some(order) = s
                .orders
                .values()
                .find(|o| o["purchase_units"][0]["payments"]["captures"][0]["id"] == *capture)
                .cloned()
            else {
                return (
                    404,
                    json!({ "name": "RESOURCE_NOT_FOUND", "message": "not found", "details": [{ "issue": "INVALID_RESOURCE_ID" }] }),
                );
            };
            if let Err(refusal) = checks::check_refund(body) {
                return checks::refused(refusal);
            }
            let captured = minor(&order["purchase_units"][0]["payments"]["captures"][0]["amount"]);
            let refunded: i64 = order["purchase_units"][0]["payments"]["refunds"]
                .as_array()
                .map(|r| r.iter().map(|r| minor(&r["amount"])).sum())
                .unwrap_or(0);
            if minor(&body["amount"]) + refunded > captured {
                return unprocessable("REFUND_AMOUNT_EXCEEDED", "The refund amount must be less than or equal to the capture amount that has not yet been refunded.");
            }
            let refund = json!({ "id": format!("{n}REFUND"), "create_time": now(), "status": "COMPLETED", "amount": body["amount"] });
            let order = s.orders.get_mut(order["id"].as_str().unwrap()).unwrap();
            let refunds = &mut order["purchase_units"][0]["payments"]["refunds"];
            if refunds.is_null() {
                *refunds = json!([]);
            }
            refunds.as_array_mut().unwrap().push(refund.clone());
            remember(s, refund.clone());
            (201, answer(refund, full, format!("/v2/payments/refunds/{n}REFUND")))
        }
        ("GET", ["v1", "reporting", "transactions"]) => super::paypal_reporting::search(&s.orders, req.query_string()),
        ("POST", ["v1", "notifications", "verify-webhook-signature"]) => {
            if let Err(refusal) = checks::check_verification(body) {
                return checks::refused(refusal);
            }
            let id = body["transmission_id"].as_str().unwrap_or_default();
            let verified = s.deliveries.get(id).is_some_and(|(sig, event)| {
                body["transmission_sig"] == *sig && body["webhook_event"] == *event && body["webhook_id"] == WEBHOOK_ID
            });
            (
                200,
                json!({ "verification_status": if verified { "SUCCESS" } else { "FAILURE" } }),
            )
        }
        _ => (
            404,
            json!({ "name": "RESOURCE_NOT_FOUND", "message": "The specified resource does not exist." }),
        ),
    }
}
