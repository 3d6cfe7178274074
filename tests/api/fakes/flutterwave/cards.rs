//! The fake Flutterwave's direct card charges, the v3 way: `POST /v3/charges?type=card` takes
//! only `{"client": …}`, which it decrypts with the account's encryption key (Triple DES, ECB,
//! PKCS#7, base64 — written here from the description, not with payrail's code) and refuses with
//! 400 when it does not decrypt or a required field (`card_number`, `cvv`, `expiry_month`,
//! `expiry_year`, `currency`, `amount`, `email`, `tx_ref`) is missing or mistyped.
//!
//! The card chooses the flow (Flutterwave's test cards where it documents them):
//! - [`PIN_CARD`]: `meta.authorization.mode: "pin"` (nothing is created); resent with
//!   `authorization {mode: "pin", pin: "3310"}` it becomes a pending charge whose mode is `otp`;
//!   `POST /v3/validate-charge {otp: "12345", flw_ref}` makes it `successful`. A wrong PIN or OTP
//!   fails the charge.
//! - [`INSUFFICIENT_CARD`]: declined at once, "Insufficient funds".
//! - [`OTP_CARD`]: `otp` straight away.
//! - [`REDIRECT_CARD`]: `redirect` to the fake's 3-D Secure page (`GET /mockvbvpage?ref=`), which
//!   completes the charge and sends the browser to the payload's `redirect_url` with
//!   `status`, `tx_ref` and `transaction_id`.
//! - [`AVS_CARD`]: `avs_noauth` with the fields to collect; resent with all five address parts it
//!   succeeds.
//! - any other card: successful at once.

use base64::Engine;
use des::cipher::generic_array::GenericArray;
use des::cipher::{BlockDecrypt, KeyInit};
use serde_json::{json, Value};

use super::{envelope, minor_units, State};

pub const ENCRYPTION_KEY: &str = "FLWSECK_TESTfake0123456a";
pub const PIN_CARD: &str = "5531886652142950";
pub const PIN: &str = "3310";
pub const OTP: &str = "12345";
pub const INSUFFICIENT_CARD: &str = "5258585922666506";
pub const OTP_CARD: &str = "5399838383838381";
pub const REDIRECT_CARD: &str = "4556052704172643";
pub const AVS_CARD: &str = "4000000000000077";

fn decrypt(client: &str) -> Option<Value> {
    let mut bytes = base64::engine::general_purpose::STANDARD.decode(client).ok()?;
    if bytes.is_empty() || bytes.len() % 8 != 0 {
        return None;
    }
    let cipher = des::TdesEde3::new_from_slice(ENCRYPTION_KEY.as_bytes()).ok()?;
    for block in bytes.chunks_exact_mut(8) {
        cipher.decrypt_block(GenericArray::from_mut_slice(block));
    }
    let pad = usize::from(*bytes.last()?);
    if !(1..=8).contains(&pad) || bytes[bytes.len() - pad..].iter().any(|b| usize::from(*b) != pad) {
        return None;
    }
    bytes.truncate(bytes.len() - pad);
    serde_json::from_slice(&bytes).ok()
}

fn check(payload: &Value) -> Result<i64, String> {
    for field in [
        "card_number",
        "cvv",
        "expiry_month",
        "expiry_year",
        "currency",
        "email",
        "tx_ref",
    ] {
        if !payload[field].as_str().is_some_and(|v| !v.is_empty()) {
            return Err(format!("{field} is required"));
        }
    }
    for field in ["redirect_url", "narration"] {
        if payload.get(field).is_some_and(|v| !v.is_string()) {
            return Err(format!("{field} must be a string"));
        }
    }
    if payload["expiry_year"].as_str().is_some_and(|y| y.len() != 2) {
        return Err("expiry_year must be two digits".into());
    }
    let currency = payload["currency"].as_str().unwrap_or_default();
    minor_units(currency, &payload["amount"]).ok_or_else(|| format!("Invalid amount for {currency}"))
}

fn needs(mode: &str, fields: &[&str]) -> (u16, Value) {
    (
        200,
        json!({ "status": "success", "message": "Charge authorization data required",
                "meta": { "authorization": { "mode": mode, "fields": fields } } }),
    )
}

/// `POST /v3/charges?type=card`.
pub fn charge(s: &mut State, body: &Value, base_url: &str) -> (u16, Value) {
    if body.as_object().map_or(true, |o| o.len() != 1) {
        return envelope(400, false, "Only the encrypted client payload is accepted", Value::Null);
    }
    let Some(payload) = body["client"].as_str().and_then(decrypt) else {
        return envelope(400, false, "Unable to decrypt the client payload", Value::Null);
    };
    let minor = match check(&payload) {
        Ok(minor) => minor,
        Err(message) => return envelope(400, false, &message, Value::Null),
    };
    let tx_ref = payload["tx_ref"].as_str().unwrap_or_default().to_owned();
    if s.transactions.iter().any(|t| t["tx_ref"] == tx_ref) {
        return envelope(400, false, "Duplicate tx_ref", Value::Null);
    }
    let authorization = &payload["authorization"];
    let mode = authorization["mode"].as_str();
    let (status, response, next) = match (payload["card_number"].as_str().unwrap_or_default(), mode) {
        (PIN_CARD, None) => return needs("pin", &["pin"]),
        (PIN_CARD, Some("pin")) if authorization["pin"] == PIN => {
            ("pending", "Kindly enter the OTP sent to *******0328", Some("otp"))
        }
        (PIN_CARD, Some("pin")) => ("failed", "Incorrect PIN", None),
        (AVS_CARD, None) => return needs("avs_noauth", &["city", "address", "state", "country", "zipcode"]),
        (AVS_CARD, Some("avs_noauth")) => {
            for field in ["city", "address", "state", "country", "zipcode"] {
                if !authorization[field].as_str().is_some_and(|v| !v.is_empty()) {
                    return envelope(400, false, &format!("authorization.{field} is required"), Value::Null);
                }
            }
            ("successful", "Approved", None)
        }
        (INSUFFICIENT_CARD, _) => ("failed", "Insufficient funds", None),
        (OTP_CARD, None) => (
            "pending",
            "Please enter the OTP sent to your mobile number 080****** and email te**@rave**.com",
            Some("otp"),
        ),
        (REDIRECT_CARD, None) => ("pending", "Pending redirect", Some("redirect")),
        (_, Some(other)) => {
            return envelope(
                400,
                false,
                &format!("Unexpected authorization mode {other}"),
                Value::Null,
            )
        }
        (_, None) => ("successful", "Approved", None),
    };
    let index = s.transactions.len();
    let flw_ref = format!("FLW-MOCK-CARD-{index}");
    let tx = json!({
        "id": 4_000_000 + index as i64, "tx_ref": tx_ref, "flw_ref": flw_ref, "amount": payload["amount"],
        "charged_amount": payload["amount"], "currency": payload["currency"], "status": status,
        "processor_response": response, "amount_minor": minor,
        "captured_minor": if status == "successful" { minor } else { 0 },
        "preauthorized": false, "created_at": super::created_at(), "payment_type": "card", "redirect_url": payload["redirect_url"],
        "card": { "last_4digits": &payload["card_number"].as_str().unwrap_or_default()[12..] },
    });
    s.transactions.push(tx.clone());
    let meta = match next {
        Some("otp") => json!({ "authorization": { "mode": "otp", "endpoint": "/v3/validate-charge" } }),
        Some(_) => json!({ "authorization": { "mode": "redirect",
            "redirect": format!("{base_url}/mockvbvpage?ref={flw_ref}&code=00&message=Approved") } }),
        None => Value::Null,
    };
    (
        200,
        json!({ "status": "success", "message": "Charge initiated", "data": public(&tx), "meta": meta }),
    )
}

/// `POST /v3/validate-charge {otp, flw_ref}`.
pub fn validate(s: &mut State, body: &Value) -> (u16, Value) {
    let (Some(otp), Some(flw_ref)) = (body["otp"].as_str(), body["flw_ref"].as_str()) else {
        return envelope(400, false, "otp and flw_ref are required", Value::Null);
    };
    let Some(tx) = s
        .transactions
        .iter_mut()
        .find(|t| t["flw_ref"] == flw_ref && t["payment_type"] == "card")
    else {
        return envelope(400, false, "Transaction not found", Value::Null);
    };
    if tx["status"] != "pending" {
        return envelope(400, false, "Transaction already validated", Value::Null);
    }
    if otp == OTP {
        tx["status"] = json!("successful");
        tx["captured_minor"] = tx["amount_minor"].clone();
        tx["processor_response"] = json!("successful");
    } else {
        tx["status"] = json!("failed");
        tx["processor_response"] = json!("Invalid OTP");
    }
    let tx = public(tx);
    envelope(200, true, "Charge validated", tx)
}

/// `GET /mockvbvpage?ref=`: the customer passes 3-D Secure; the browser goes to `redirect_url`.
pub fn challenge_page(s: &mut State, query: &str) -> (u16, Option<String>) {
    let flw_ref = query
        .split('&')
        .find_map(|pair| pair.strip_prefix("ref="))
        .unwrap_or_default();
    let Some(tx) = s.transactions.iter_mut().find(|t| t["flw_ref"] == flw_ref) else {
        return (404, None);
    };
    if tx["status"] == "pending" {
        tx["status"] = json!("successful");
        tx["captured_minor"] = tx["amount_minor"].clone();
    }
    let location = tx["redirect_url"].as_str().map(|url| {
        let separator = if url.contains('?') { '&' } else { '?' };
        format!(
            "{url}{separator}status=successful&tx_ref={}&transaction_id={}",
            tx["tx_ref"].as_str().unwrap_or_default(),
            tx["id"]
        )
    });
    (302, location)
}

/// A transaction as Flutterwave shows it (the fake's bookkeeping fields left out).
pub fn public(tx: &Value) -> Value {
    let mut shown = tx.clone();
    if let Some(fields) = shown.as_object_mut() {
        for private in ["amount_minor", "captured_minor", "preauthorized", "redirect_url"] {
            fields.remove(private);
        }
    }
    shown
}
