//! Pure mappings between payrail's provider requests and Paystack's JSON wire format: the
//! `{status, message, data}` envelope, integer subunits (kobo), `reference` as the idempotency key
//! (derived from payrail's payment id, and mapped back), and declines that arrive as HTTP 200 with
//! `data.status: failed`.

use payrail_core::domain::{
    ActionInput, AuthorizationOutcome, CardDetails, Currency, NextAction, PaymentId, RefundStatus,
};
use payrail_core::ports::{AuthorizeRequest, ProviderError, RefundRequest, SubmitActionRequest};
use serde::Deserialize;
use serde_json::{json, Value};

/// The currencies Paystack's API documents (its `Currency` enum).
const CURRENCIES: &[&str] = &["ghs", "kes", "ngn", "usd", "zar"];

pub fn supports(currency: Currency) -> bool {
    CURRENCIES.contains(&currency.code())
}

pub fn currency_not_supported(currency: Currency) -> ProviderError {
    ProviderError::Rejected {
        code: "currency_not_supported".into(),
        message: format!("paystack does not support {}", currency.code().to_ascii_uppercase()),
    }
}

/// The transaction reference for a payment. Paystack allows only `-`, `.`, `=` and alphanumeric
/// characters, so `pay_<uuid>` is sent as `pay-<uuid>` (the UUID is already hyphenated hex).
pub fn reference(payment: &PaymentId) -> String {
    payment.as_str().replacen('_', "-", 1)
}

/// The payment a Paystack reference names: the inverse of [`reference`]. References payrail did
/// not make name no payment.
pub fn payment_id(reference: &str) -> Option<PaymentId> {
    let id = reference.strip_prefix("pay-")?;
    PaymentId::parse(&format!("pay_{id}")).ok()
}

/// Paystack requires a customer email on every charge; payrail's API has none, so a stable
/// placeholder per payment is sent (merchants who need receipts pass the authorization's email).
pub fn customer_email(request: &AuthorizeRequest) -> String {
    format!("{}@customers.payrail.invalid", reference(&request.payment_id))
}

/// `POST /transaction/charge_authorization` for a reusable authorization code (the token path).
pub fn charge_authorization_body(request: &AuthorizeRequest, authorization_code: &str) -> Value {
    json!({
        "authorization_code": authorization_code,
        "email": customer_email(request),
        "amount": request.amount.minor_units(),
        "currency": request.currency.code().to_ascii_uppercase(),
        "reference": reference(&request.payment_id),
    })
}

/// `POST /charge` with card details (for PCI-DSS merchants enabled by Paystack).
pub fn card_charge_body(request: &AuthorizeRequest, card: &CardDetails) -> Value {
    json!({
        "email": customer_email(request),
        "amount": request.amount.minor_units(),
        "currency": request.currency.code().to_ascii_uppercase(),
        "reference": reference(&request.payment_id),
        "card": {
            "number": card.number.expose(),
            "cvv": card.cvc.expose(),
            "expiry_month": format!("{:02}", card.exp_month),
            "expiry_year": card.exp_year.to_string(),
        },
    })
}

/// `POST /refund`; the merchant note carries payrail's idempotency key so a retry can find the
/// refund the first attempt created (Paystack has no idempotency header).
pub fn refund_body(request: &RefundRequest) -> Value {
    json!({
        "transaction": reference(&request.payment_id),
        "amount": request.amount.minor_units(),
        "merchant_note": request.idempotency_key,
    })
}

#[derive(Debug, Deserialize)]
pub struct Envelope<T> {
    pub status: bool,
    #[serde(default)]
    pub message: String,
    pub data: Option<T>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Transaction {
    pub id: Option<i64>,
    pub status: String,
    pub reference: Option<String>,
    pub gateway_response: Option<String>,
    /// The prompt for the customer on `send_*` statuses.
    pub display_text: Option<String>,
    /// Where the customer goes on `open_url`.
    pub url: Option<String>,
}

/// The next action a charge's status asks for: `send_pin`, `send_otp`, `send_phone`,
/// `send_birthday` ask the customer for a value; `open_url` sends them to Paystack's page.
pub fn next_action(tx: &Transaction) -> Option<NextAction> {
    let input = match tx.status.as_str() {
        "open_url" => return tx.url.clone().map(|url| NextAction::RedirectToUrl { url }),
        "send_pin" => ActionInput::Pin,
        "send_otp" => ActionInput::Otp,
        "send_phone" => ActionInput::Phone,
        "send_birthday" => ActionInput::Birthday,
        _ => return None,
    };
    Some(NextAction::Collect {
        input,
        display_text: tx.display_text.clone(),
    })
}

/// `POST /charge/submit_{pin,otp,phone,birthday}`: the value under its own name and the charge's
/// reference, and the path it goes to.
pub fn submit_body(request: &SubmitActionRequest) -> (String, Value) {
    let field = request.input.as_str();
    let value = request.value.text().unwrap_or_default();
    let body = json!({ field: value, "reference": reference(&request.payment_id) });
    (format!("/charge/submit_{field}"), body)
}

#[derive(Debug, Clone, Deserialize)]
pub struct RefundObject {
    pub id: i64,
    pub status: String,
    pub merchant_note: Option<String>,
}

/// What a transaction's status says about the authorisation.
pub fn transaction_outcome(tx: &Transaction) -> AuthorizationOutcome {
    let reference = tx.id.map(|id| id.to_string()).or_else(|| tx.reference.clone());
    match (tx.status.as_str(), reference) {
        ("success", Some(reference)) => AuthorizationOutcome::Captured {
            provider_reference: reference,
        },
        ("send_pin" | "send_otp" | "send_phone" | "send_birthday" | "open_url", Some(reference)) => {
            AuthorizationOutcome::RequiresAction {
                provider_reference: reference,
                next_action: next_action(tx),
            }
        }
        ("failed" | "abandoned" | "reversed", reference) => AuthorizationOutcome::Declined {
            provider_reference: reference,
            code: decline_code(tx.gateway_response.as_deref()),
            message: tx.gateway_response.clone().unwrap_or_else(|| "Declined".into()),
        },
        // ongoing, pending, queued, processing: not decided yet.
        (_, reference) => AuthorizationOutcome::Unknown {
            provider_reference: reference,
        },
    }
}

/// Paystack reports declines as free text in `gateway_response`; map the common ones to
/// payrail's (Stripe's) codes.
fn decline_code(gateway_response: Option<&str>) -> String {
    let text = gateway_response.unwrap_or_default().to_ascii_lowercase();
    if text.contains("insufficient") {
        "insufficient_funds"
    } else if text.contains("expired") {
        "expired_card"
    } else {
        "card_declined"
    }
    .into()
}

pub fn refund_status(status: &str) -> RefundStatus {
    match status {
        "processed" => RefundStatus::Succeeded,
        "failed" => RefundStatus::Failed,
        // pending, processing, needs-attention
        _ => RefundStatus::Pending,
    }
}

/// A non-2xx answer: transport-level statuses first, then Paystack's message.
pub fn error_from(status: reqwest::StatusCode, body: &str) -> ProviderError {
    if let Some(error) = crate::providers::http::status_error("paystack", status) {
        return error;
    }
    let message = serde_json::from_str::<Envelope<Value>>(body)
        .map(|e| e.message)
        .unwrap_or_else(|_| format!("paystack: HTTP {status}"));
    let code = if message.to_ascii_lowercase().contains("duplicate") {
        "duplicate_reference"
    } else if status == reqwest::StatusCode::UNAUTHORIZED {
        "authentication_failed"
    } else if status == reqwest::StatusCode::NOT_FOUND {
        "resource_missing"
    } else {
        "invalid_request"
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
    fn references_use_only_the_characters_paystack_allows_and_map_back() {
        let payment = PaymentId::generate();
        let sent = reference(&payment);
        assert!(sent
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '=')));
        assert_eq!(payment_id(&sent), Some(payment));
        assert_eq!(payment_id("T123456789"), None);
        assert!(supports(Currency::parse("NGN").unwrap()));
        assert!(!supports(Currency::parse("JPY").unwrap()));
    }

    fn tx(status: &str, gateway: &str) -> Transaction {
        Transaction {
            id: Some(42),
            status: status.into(),
            reference: Some("pay_x".into()),
            gateway_response: Some(gateway.into()),
            display_text: Some("Please enter OTP".into()),
            url: Some("https://standard.paystack.co/close".into()),
        }
    }

    #[test]
    fn send_and_open_statuses_are_next_actions() {
        let collect = |status: &str, input: ActionInput| {
            assert_eq!(
                next_action(&tx(status, "")),
                Some(NextAction::Collect {
                    input,
                    display_text: Some("Please enter OTP".into())
                })
            )
        };
        collect("send_otp", ActionInput::Otp);
        collect("send_pin", ActionInput::Pin);
        collect("send_phone", ActionInput::Phone);
        collect("send_birthday", ActionInput::Birthday);
        assert_eq!(
            next_action(&tx("open_url", "")),
            Some(NextAction::RedirectToUrl {
                url: "https://standard.paystack.co/close".into()
            })
        );
        assert_eq!(next_action(&tx("success", "")), None);
    }

    #[test]
    fn a_failed_charge_is_a_decline_with_a_mapped_code() {
        assert_eq!(
            transaction_outcome(&tx("success", "Approved")),
            AuthorizationOutcome::Captured {
                provider_reference: "42".into()
            }
        );
        let declined = transaction_outcome(&tx("failed", "Insufficient Funds"));
        assert!(matches!(declined, AuthorizationOutcome::Declined { ref code, .. } if code == "insufficient_funds"));
        assert!(matches!(
            transaction_outcome(&tx("ongoing", "")),
            AuthorizationOutcome::Unknown { .. }
        ));
        assert_eq!(refund_status("processed"), RefundStatus::Succeeded);
        assert!(matches!(
            error_from(reqwest::StatusCode::BAD_REQUEST, r#"{"status":false,"message":"Duplicate Transaction Reference"}"#),
            ProviderError::Rejected { ref code, .. } if code == "duplicate_reference"
        ));
    }
}
