//! The fake PayPal's request checks, written from PayPal's published OpenAPI documents (Orders v2,
//! Payments v2): required fields, string types and lengths (a `null` where a string is typed is
//! refused), the `intent` enum, money as `{currency_code (3 letters), value (decimal string)}`
//! with the currency's decimals, card fields' patterns, and the `Prefer` and `PayPal-Request-Id`
//! headers. A refusal is PayPal's 400 `INVALID_REQUEST` (or 422 for an unsupported currency or
//! precision), naming the field.

use serde_json::{json, Value};

use super::recorded::{exponent, minor_from_decimal, optional_string, required_string, Recorded, Refusal};

/// Currencies PayPal takes (its currency-codes reference); the zero-decimal ones by PayPal's rule.
const CURRENCIES: &[&str] = &[
    "AUD", "BRL", "CAD", "CHF", "CNY", "CZK", "DKK", "EUR", "GBP", "HKD", "HUF", "ILS", "JPY", "MXN", "MYR", "NOK",
    "NZD", "PHP", "PLN", "SEK", "SGD", "THB", "TWD", "USD",
];
const WHOLE_UNITS_ONLY: &[&str] = &["HUF", "JPY", "TWD"];

/// PayPal's answer to a refused request: 422 for business rules (currency, precision), 400 for
/// a request that violates the schema.
pub fn refused((field, issue): Refusal) -> (u16, Value) {
    if matches!(issue, "CURRENCY_NOT_SUPPORTED" | "DECIMAL_PRECISION") {
        return (
            422,
            json!({ "name": "UNPROCESSABLE_ENTITY", "message": "The requested action could not be performed, semantically incorrect, or failed business validation.",
                "debug_id": "fake0debug", "details": [{ "field": field, "location": "body", "issue": issue }] }),
        );
    }
    (
        400,
        json!({ "name": "INVALID_REQUEST", "message": "Request is not well-formed, syntactically incorrect, or violates schema.",
            "debug_id": "fake0debug", "details": [{ "field": field, "location": "body", "issue": issue }] }),
    )
}

/// The minimal representation PayPal answers with unless asked for more: id, status, links.
pub fn minimal(resource: &Value, self_href: &str) -> Value {
    json!({ "id": resource["id"], "status": resource["status"],
        "links": [{ "href": self_href, "rel": "self", "method": "GET" }] })
}

/// `Prefer` (`^[a-zA-Z=]*$`, at most 25 characters; PayPal knows `return=minimal` and
/// `return=representation`) and `PayPal-Request-Id` (1–108 characters), when sent.
pub fn check_headers(request: &Recorded) -> Result<(), Refusal> {
    if let Some(prefer) = request.header("prefer") {
        if !matches!(prefer, "return=minimal" | "return=representation") {
            return Err(("Prefer".into(), "INVALID_PARAMETER_VALUE"));
        }
    }
    if let Some(id) = request.header("paypal-request-id") {
        if id.is_empty() || id.chars().count() > 108 {
            return Err(("PayPal-Request-Id".into(), "INVALID_STRING_LENGTH"));
        }
    }
    if request.method == "POST" && !request.body.is_empty() {
        let json = request
            .header("content-type")
            .is_some_and(|t| t.starts_with("application/json"));
        if !json {
            return Err(("Content-Type".into(), "UNSUPPORTED_MEDIA_TYPE"));
        }
    }
    Ok(())
}

/// Whether the request asked for the full representation (the default is minimal).
pub fn wants_representation(request: &Recorded) -> bool {
    request.header("prefer") == Some("return=representation")
}

/// `money`: both fields required, `value` a decimal string with the currency's decimals.
/// Returns 422 issues for a currency PayPal does not take or a wrong precision.
pub fn check_money(body: &Value, pointer: &str) -> Result<(), Refusal> {
    required_string(body, &format!("{pointer}/currency_code"), 3)?;
    required_string(body, &format!("{pointer}/value"), 32)?;
    let code = body
        .pointer(&format!("{pointer}/currency_code"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    let value = body
        .pointer(&format!("{pointer}/value"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    if code.len() != 3 {
        return Err((format!("{pointer}/currency_code"), "INVALID_STRING_LENGTH"));
    }
    if !CURRENCIES.contains(&code) {
        return Err((format!("{pointer}/currency_code"), "CURRENCY_NOT_SUPPORTED"));
    }
    let decimals = if WHOLE_UNITS_ONLY.contains(&code) {
        0
    } else {
        exponent(code).unwrap_or(2)
    };
    if minor_from_decimal(value, decimals).is_none() {
        return Err((format!("{pointer}/value"), "DECIMAL_PRECISION"));
    }
    Ok(())
}

/// `order_request`.
pub fn check_order(body: &Value) -> Result<(), Refusal> {
    match body.get("intent").and_then(Value::as_str) {
        None => return Err(("/intent".into(), "MISSING_REQUIRED_PARAMETER")),
        Some("CAPTURE" | "AUTHORIZE") => {}
        Some(_) => return Err(("/intent".into(), "INVALID_PARAMETER_VALUE")),
    }
    let units = match body.get("purchase_units") {
        None => return Err(("/purchase_units".into(), "MISSING_REQUIRED_PARAMETER")),
        Some(Value::Array(units)) if (1..=10).contains(&units.len()) => units.len(),
        Some(_) => return Err(("/purchase_units".into(), "INVALID_ARRAY_LENGTH")),
    };
    for i in 0..units {
        let unit = format!("/purchase_units/{i}");
        optional_string(body, &format!("{unit}/reference_id"), 256)?;
        optional_string(body, &format!("{unit}/description"), 127)?;
        optional_string(body, &format!("{unit}/custom_id"), 127)?;
        optional_string(body, &format!("{unit}/invoice_id"), 127)?;
        if body.pointer(&format!("{unit}/amount")).is_none() {
            return Err((format!("{unit}/amount"), "MISSING_REQUIRED_PARAMETER"));
        }
        check_money(body, &format!("{unit}/amount"))?;
    }
    if let Some(card) = body.pointer("/payment_source/card") {
        check_card(card)?;
    }
    Ok(())
}

fn all_digits(text: &str, lengths: std::ops::RangeInclusive<usize>) -> bool {
    lengths.contains(&text.len()) && text.bytes().all(|b| b.is_ascii_digit())
}

/// `card_request`: a number (13–19 digits), `YYYY-MM` expiry and 3–4 digit security code, or a
/// vault id (`^[0-9a-zA-Z_-]+$`).
fn check_card(card: &Value) -> Result<(), Refusal> {
    let text = |field: &str| card.get(field).map(Value::as_str);
    let refuse = |field: &str| (format!("/payment_source/card/{field}"), "INVALID_PARAMETER_SYNTAX");
    // card_experience_context: return_url and cancel_url are URIs of 10 to 4000 characters.
    if let Some(context) = card.get("experience_context") {
        for field in ["return_url", "cancel_url"] {
            match context.get(field).map(Value::as_str) {
                None => {}
                Some(Some(url)) if (10..=4000).contains(&url.len()) && url.contains("://") => {}
                Some(_) => return Err(refuse(&format!("experience_context/{field}"))),
            }
        }
    }
    if let Some(vault) = text("vault_id") {
        let vault = vault.ok_or_else(|| refuse("vault_id"))?;
        let ok = !vault.is_empty()
            && vault
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        return if ok { Ok(()) } else { Err(refuse("vault_id")) };
    }
    match text("number") {
        Some(Some(number)) if all_digits(number, 13..=19) => {}
        _ => return Err(refuse("number")),
    }
    match text("expiry") {
        Some(Some(expiry))
            if expiry.len() == 7
                && all_digits(&expiry[..4], 4..=4)
                && &expiry[4..5] == "-"
                && matches!(expiry[5..].parse::<u8>(), Ok(1..=12)) => {}
        _ => return Err(refuse("expiry")),
    }
    match text("security_code") {
        None => Ok(()),
        Some(Some(code)) if all_digits(code, 3..=4) => Ok(()),
        _ => Err(refuse("security_code")),
    }
}

/// `capture_request`: optional money, `final_capture` a boolean, strings typed as strings.
pub fn check_capture(body: &Value) -> Result<(), Refusal> {
    if body.get("amount").is_some() {
        check_money(body, "/amount")?;
    }
    if body.get("final_capture").is_some_and(|v| !v.is_boolean()) {
        return Err(("/final_capture".into(), "INVALID_PARAMETER_SYNTAX"));
    }
    optional_string(body, "/invoice_id", 127)?;
    optional_string(body, "/note_to_payer", 255)
}

/// `refund_request`: optional money; `note_to_payer`, `invoice_id`, `custom_id` strings.
pub fn check_refund(body: &Value) -> Result<(), Refusal> {
    if body.get("amount").is_some() {
        check_money(body, "/amount")?;
    }
    optional_string(body, "/note_to_payer", 255)?;
    optional_string(body, "/invoice_id", 127)?;
    optional_string(body, "/custom_id", 127)
}

/// Minor units of a money object (the currency's decimals by PayPal's rule).
pub fn minor(money: &Value) -> i64 {
    let code = money["currency_code"].as_str().unwrap_or("USD");
    let decimals = if WHOLE_UNITS_ONLY.contains(&code) {
        0
    } else {
        exponent(code).unwrap_or(2)
    };
    minor_from_decimal(money["value"].as_str().unwrap_or("0"), decimals).unwrap_or(0)
}

/// `verify_webhook_signature`: every field required, `webhook_id` alphanumeric, the event an object.
pub fn check_verification(body: &Value) -> Result<(), Refusal> {
    for field in [
        "auth_algo",
        "cert_url",
        "transmission_id",
        "transmission_sig",
        "transmission_time",
    ] {
        required_string(body, &format!("/{field}"), 10_000)?;
    }
    required_string(body, "/webhook_id", 50)?;
    let id = body["webhook_id"].as_str().unwrap_or_default();
    if !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(("/webhook_id".into(), "INVALID_PARAMETER_SYNTAX"));
    }
    if !body["webhook_event"].is_object() {
        return Err(("/webhook_event".into(), "MISSING_REQUIRED_PARAMETER"));
    }
    Ok(())
}
