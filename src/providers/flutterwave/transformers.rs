//! Pure mappings between payrail's provider requests and Flutterwave v3's JSON: the
//! `{status: "success"|"error", message, data}` envelope, **major-unit** amounts (converted exactly
//! through decimal strings, never floating-point arithmetic), and `tx_ref` — payrail's payment id —
//! as the reference that finds a charge again.

use payrail_core::domain::{AuthorizationOutcome, Currency, RefundStatus};
use payrail_core::ports::{AuthorizeRequest, CaptureRequest, ProviderError, RefundRequest};
use serde::Deserialize;
use serde_json::{json, Value};

/// A JSON number in major units for `minor_units` of `currency` (2500 NGN kobo → 25, as
/// Flutterwave writes it: no trailing zeros, an integer when whole).
pub fn major_amount(currency: Currency, minor_units: i64) -> Value {
    let text = currency.to_major_string(minor_units);
    let text = match text.contains('.') {
        true => text.trim_end_matches('0').trim_end_matches('.'),
        false => &text,
    };
    serde_json::from_str(text).unwrap_or(Value::Null)
}

/// Minor units from a JSON amount in major units, exactly: `"25.5"` NGN → 2550; `None` if it has
/// more decimals than the currency allows.
pub fn minor_amount(currency: Currency, amount: &Value) -> Option<i64> {
    let text = match amount {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        _ => return None,
    };
    let exponent = usize::from(currency.exponent());
    let (whole, fraction) = text.split_once('.').unwrap_or((&text, ""));
    let fraction = fraction.trim_end_matches('0');
    if fraction.len() > exponent {
        return None;
    }
    let digits = format!("{whole}{fraction:0<exponent$}");
    digits.parse().ok()
}

/// `POST /v3/tokenized-charges`: a card token from an earlier Flutterwave charge. A payment
/// captured later is preauthorized (`preauthorize: true`): the card is held, and captured or
/// voided through `/v3/charges/{flw_ref}/…`. `narration` is left out when there is no description.
pub fn tokenized_charge_body(request: &AuthorizeRequest, token: &str) -> Value {
    let mut body = json!({
        "token": token,
        "currency": request.currency.code().to_ascii_uppercase(),
        "amount": major_amount(request.currency, request.amount.minor_units()),
        "email": format!("{}@customers.payrail.invalid", request.payment_id),
        "tx_ref": request.payment_id.as_str(),
    });
    if let Some(description) = request.description.as_deref().filter(|d| !d.is_empty()) {
        body["narration"] = json!(description);
    }
    if !request.capture {
        body["preauthorize"] = json!(true);
    }
    body
}

/// `POST /v3/charges/{flw_ref}/capture`: the amount to take from the hold, in major units.
pub fn capture_body(request: &CaptureRequest) -> Value {
    json!({ "amount": major_amount(request.currency, request.amount.minor_units()) })
}

/// `POST /v3/charges/{flw_ref}/refund`: the amount to give back from a captured preauthorization.
pub fn preauthorization_refund_body(request: &RefundRequest) -> Value {
    json!({ "amount": major_amount(request.currency, request.amount.minor_units()) })
}

pub fn refund_body(request: &RefundRequest) -> Value {
    json!({
        "amount": major_amount(request.currency, request.amount.minor_units()),
        "comments": request.idempotency_key,
    })
}

/// A provider reference is a transaction id (digits) for charges captured at once, or the
/// charge's `flw_ref` for a preauthorization, whose capture, void and refund go through
/// `/v3/charges/{flw_ref}/…`.
pub fn is_preauthorization(provider_reference: &str) -> bool {
    !provider_reference.bytes().all(|b| b.is_ascii_digit())
}

#[derive(Debug, Deserialize)]
pub struct Envelope<T> {
    pub status: String,
    #[serde(default)]
    pub message: String,
    pub data: Option<T>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Transaction {
    pub id: Option<i64>,
    pub tx_ref: Option<String>,
    #[serde(default)]
    pub flw_ref: Option<String>,
    pub status: String,
    pub amount: Option<Value>,
    pub currency: Option<String>,
    pub processor_response: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct RefundObject {
    pub id: i64,
    pub status: String,
}

/// What a transaction says, once its amount and currency are checked against what payrail asked:
/// a success for another amount is not this payment's success.
pub fn transaction_outcome(tx: &Transaction, currency: Option<Currency>, amount: Option<i64>) -> AuthorizationOutcome {
    let reference = tx.id.map(|id| id.to_string());
    let matches = match (currency, amount) {
        (Some(currency), Some(expected)) => {
            tx.amount.as_ref().and_then(|a| minor_amount(currency, a)) == Some(expected)
                && tx.currency.as_deref().map(str::to_ascii_lowercase).as_deref() == Some(currency.code())
        }
        _ => true,
    };
    match (tx.status.as_str(), reference) {
        ("successful", Some(reference)) if matches => AuthorizationOutcome::Captured {
            provider_reference: reference,
        },
        ("successful", reference) => {
            tracing::error!(tx_ref = ?tx.tx_ref, "flutterwave reports success for a different amount or currency");
            AuthorizationOutcome::Unknown {
                provider_reference: reference,
            }
        }
        ("failed", reference) => AuthorizationOutcome::Declined {
            provider_reference: reference,
            code: if tx
                .processor_response
                .as_deref()
                .unwrap_or_default()
                .to_ascii_lowercase()
                .contains("insufficient")
            {
                "insufficient_funds".into()
            } else {
                "card_declined".into()
            },
            message: tx.processor_response.clone().unwrap_or_else(|| "Declined".into()),
        },
        (_, reference) => AuthorizationOutcome::Unknown {
            provider_reference: reference,
        },
    }
}

/// The answer to a preauthorization: a successful one is a hold on the card, named by its
/// `flw_ref` (what capture and void need).
pub fn preauthorization_outcome(tx: &Transaction, currency: Currency, amount: i64) -> AuthorizationOutcome {
    match (
        transaction_outcome(tx, Some(currency), Some(amount)),
        tx.flw_ref.clone(),
    ) {
        (AuthorizationOutcome::Captured { .. }, Some(flw_ref)) => AuthorizationOutcome::Authorized {
            provider_reference: flw_ref,
        },
        (AuthorizationOutcome::Captured { provider_reference }, None) => AuthorizationOutcome::Unknown {
            provider_reference: Some(provider_reference),
        },
        (other, _) => other,
    }
}

/// The answer to a capture or void of a preauthorization: anything but the expected status is a
/// refusal.
pub fn charge_action_result(tx: &Transaction, expected: &[&str]) -> Result<(), ProviderError> {
    if expected.contains(&tx.status.as_str()) {
        Ok(())
    } else {
        Err(ProviderError::Rejected {
            code: "charge_not_updated".into(),
            message: format!("flutterwave answered with status {}", tx.status),
        })
    }
}

pub fn refund_status(status: &str) -> RefundStatus {
    match status {
        "completed" | "successful" | "refunded" => RefundStatus::Succeeded,
        "failed" => RefundStatus::Failed,
        _ => RefundStatus::Pending,
    }
}

pub fn error_from(status: reqwest::StatusCode, body: &str) -> ProviderError {
    if let Some(error) = crate::providers::http::status_error("flutterwave", status) {
        return error;
    }
    let message = serde_json::from_str::<Envelope<Value>>(body)
        .map(|e| e.message)
        .unwrap_or_else(|_| format!("flutterwave: HTTP {status}"));
    let code = match status.as_u16() {
        401 => "authentication_failed",
        404 => "resource_missing",
        _ => "invalid_request",
    };
    ProviderError::Rejected {
        code: code.into(),
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_convert_exactly_between_minor_and_major_units() {
        let ngn = Currency::parse("ngn").unwrap();
        let jpy = Currency::parse("jpy").unwrap();
        assert_eq!(major_amount(ngn, 250_050), json!(2500.5));
        assert_eq!(major_amount(jpy, 500), json!(500));
        assert_eq!(major_amount(ngn, 750_000), json!(7500), "whole amounts are integers");
        assert_eq!(minor_amount(ngn, &json!(2500.5)), Some(250_050));
        assert_eq!(minor_amount(ngn, &json!(2500)), Some(250_000));
        assert_eq!(minor_amount(ngn, &json!("0.07")), Some(7));
        assert_eq!(minor_amount(jpy, &json!(500)), Some(500));
        assert_eq!(minor_amount(ngn, &json!(1.001)), None);
        let kwd = Currency::parse("kwd").unwrap();
        assert_eq!(major_amount(kwd, 12_345), json!(12.345));
        assert_eq!(minor_amount(kwd, &json!(12.345)), Some(12_345));
        assert_eq!(minor_amount(jpy, &json!(500.5)), None);
    }

    #[test]
    fn success_for_another_amount_is_not_trusted() {
        let ngn = Currency::parse("ngn").unwrap();
        let tx = Transaction {
            id: Some(7),
            tx_ref: Some("pay".into()),
            flw_ref: None,
            status: "successful".into(),
            amount: Some(json!(25)),
            currency: Some("NGN".into()),
            processor_response: None,
        };
        assert!(matches!(
            transaction_outcome(&tx, Some(ngn), Some(2500)),
            AuthorizationOutcome::Captured { .. }
        ));
        assert!(matches!(
            transaction_outcome(&tx, Some(ngn), Some(2600)),
            AuthorizationOutcome::Unknown { .. }
        ));
    }
}
