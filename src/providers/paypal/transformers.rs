//! Pure mappings between payrail's provider requests and PayPal's REST JSON: Orders v2 with
//! `intent` CAPTURE or AUTHORIZE and a card `payment_source` (raw details, or a vaulted card's
//! `vault_id` for tokens), amounts as **decimal strings in major units**, and PayPal's order,
//! capture, authorization and refund statuses and `{name, message, details[{issue}]}` errors.
//! Optional strings are omitted when absent, never sent as `null` (PayPal's spec does not allow it).

use payrail_core::domain::{AuthorizationOutcome, Currency, NextAction, PaymentMethod, RefundStatus};
use payrail_core::ports::{AuthorizeRequest, CaptureRequest, ProviderError, RefundRequest};
use serde::Deserialize;
use serde_json::{json, Value};

pub fn money(currency: Currency, minor_units: i64) -> Value {
    json!({ "currency_code": currency.code().to_ascii_uppercase(), "value": currency.to_major_string(minor_units) })
}

/// The currencies PayPal's REST API takes payments in (its currency-codes reference). HUF and TWD
/// are left out: PayPal takes them only as whole units although ISO gives them two decimals.
const CURRENCIES: &[&str] = &[
    "aud", "brl", "cad", "chf", "cny", "czk", "dkk", "eur", "gbp", "hkd", "ils", "jpy", "mxn", "myr", "nok", "nzd",
    "php", "pln", "sek", "sgd", "thb", "usd",
];

pub fn supports(currency: Currency) -> bool {
    CURRENCIES.contains(&currency.code())
}

pub fn currency_not_supported(currency: Currency) -> ProviderError {
    ProviderError::Rejected {
        code: "currency_not_supported".into(),
        message: format!("paypal does not support {}", currency.code().to_ascii_uppercase()),
    }
}

/// PayPal's free-text fields are bounded (a purchase unit's description: 127 characters).
fn bounded(text: &str, max_chars: usize) -> String {
    text.chars().take(max_chars).collect()
}

/// `POST /v2/checkout/orders`: a single-step order paid by card. `custom_id` and `reference_id`
/// carry payrail's payment id so webhooks and reconciliation can find the payment. Optional
/// fields are left out when absent: the spec types them as strings, never `null`.
pub fn order_body(request: &AuthorizeRequest) -> Value {
    let card = match &request.method {
        PaymentMethod::Card(card) => json!({
            "number": card.number.expose(),
            "expiry": format!("{}-{:02}", card.exp_year, card.exp_month),
            "security_code": card.cvc.expose(),
        }),
        PaymentMethod::Token(token) => json!({ "vault_id": token.expose() }),
    };
    let mut unit = json!({
        "reference_id": request.payment_id.as_str(),
        "custom_id": request.payment_id.as_str(),
        "amount": money(request.currency, request.amount.minor_units()),
    });
    if let Some(description) = request.description.as_deref().filter(|d| !d.is_empty()) {
        unit["description"] = json!(bounded(description, 127));
    }
    let mut card = card;
    if let Some(return_url) = &request.return_url {
        // Where PayPal sends the payer after a 3-D Secure challenge, completed or canceled:
        // payrail's return endpoint either way, which asks PayPal what happened.
        card["experience_context"] = json!({ "return_url": return_url, "cancel_url": return_url });
    }
    json!({
        "intent": if request.capture { "CAPTURE" } else { "AUTHORIZE" },
        "purchase_units": [unit],
        "payment_source": { "card": card },
    })
}

/// `POST /v2/payments/authorizations/{id}/capture`: the amount, and no further captures after it.
pub fn capture_body(request: &CaptureRequest) -> Value {
    json!({ "amount": money(request.currency, request.amount.minor_units()), "final_capture": true })
}

/// `POST /v2/payments/captures/{id}/refund`: the amount, and the reason as `note_to_payer` only
/// when there is one.
pub fn refund_body(request: &RefundRequest) -> Value {
    let mut body = json!({ "amount": money(request.currency, request.amount.minor_units()) });
    if let Some(reason) = request.reason {
        body["note_to_payer"] = json!(reason.as_str());
    }
    body
}

/// A capture's representation: declined or failed is a refusal, anything else (completed,
/// pending) is a capture PayPal accepted.
pub fn capture_result(capture: &Resource) -> Result<(), ProviderError> {
    match capture.status.as_str() {
        "DECLINED" | "FAILED" => Err(ProviderError::Rejected {
            code: "capture_declined".into(),
            message: format!("PayPal {} the capture", capture.status.to_ascii_lowercase()),
        }),
        _ => Ok(()),
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct Order {
    pub id: String,
    pub status: String,
    pub intent: Option<String>,
    #[serde(default)]
    pub purchase_units: Vec<PurchaseUnit>,
    #[serde(default)]
    pub links: Vec<Link>,
}

/// A HATEOAS link; `payer-action` is where the payer approves (3-D Secure, wallet approval).
#[derive(Debug, Clone, Deserialize)]
pub struct Link {
    pub href: String,
    pub rel: String,
}

/// The call that finishes an order the payer approved: authorize or capture it, per its intent.
pub fn completion_path(order: &Order) -> Option<String> {
    if order.status != "APPROVED" {
        return None;
    }
    let step = match order.intent.as_deref() {
        Some("AUTHORIZE") => "authorize",
        _ => "capture",
    };
    Some(format!("/v2/checkout/orders/{}/{step}", order.id))
}

#[derive(Debug, Clone, Deserialize)]
pub struct PurchaseUnit {
    #[serde(default)]
    pub payments: Payments,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Payments {
    #[serde(default)]
    pub captures: Vec<Resource>,
    #[serde(default)]
    pub authorizations: Vec<Resource>,
}

/// A capture, authorization or refund: PayPal gives them the same shape where payrail looks.
#[derive(Debug, Clone, Deserialize)]
pub struct Resource {
    pub id: String,
    pub status: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ErrorBody {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub details: Vec<ErrorDetail>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ErrorDetail {
    pub issue: String,
    pub description: Option<String>,
}

impl Order {
    fn payments(&self) -> Payments {
        self.purchase_units
            .first()
            .map(|u| u.payments.clone())
            .unwrap_or_default()
    }

    pub fn capture_id(&self) -> Option<String> {
        self.payments().captures.first().map(|c| c.id.clone())
    }

    pub fn authorization_id(&self) -> Option<String> {
        self.payments().authorizations.first().map(|a| a.id.clone())
    }
}

fn declined(order: &str, message: &str) -> AuthorizationOutcome {
    AuthorizationOutcome::Declined {
        provider_reference: Some(order.to_owned()),
        code: "card_declined".into(),
        message: message.into(),
    }
}

/// What an order says about the authorisation; the order id is payrail's provider reference.
pub fn order_outcome(order: &Order) -> AuthorizationOutcome {
    let reference = order.id.clone();
    let payments = order.payments();
    if let Some(capture) = payments.captures.first() {
        return match capture.status.as_str() {
            "COMPLETED" | "PARTIALLY_REFUNDED" | "REFUNDED" => AuthorizationOutcome::Captured {
                provider_reference: reference,
            },
            "DECLINED" | "FAILED" => declined(&reference, "The card was declined."),
            _ => AuthorizationOutcome::Unknown {
                provider_reference: Some(reference),
            },
        };
    }
    if let Some(authorization) = payments.authorizations.first() {
        return match authorization.status.as_str() {
            "CREATED" | "CAPTURED" | "PARTIALLY_CAPTURED" => AuthorizationOutcome::Authorized {
                provider_reference: reference,
            },
            "DENIED" | "VOIDED" => declined(&reference, "The authorization was denied."),
            _ => AuthorizationOutcome::Unknown {
                provider_reference: Some(reference),
            },
        };
    }
    match order.status.as_str() {
        "PAYER_ACTION_REQUIRED" => AuthorizationOutcome::RequiresAction {
            provider_reference: reference,
            next_action: order
                .links
                .iter()
                .find(|l| l.rel == "payer-action" || l.rel == "approve")
                .map(|l| NextAction::RedirectToUrl { url: l.href.clone() }),
        },
        "VOIDED" => declined(&reference, "The order was voided."),
        _ => AuthorizationOutcome::Unknown {
            provider_reference: Some(reference),
        },
    }
}

pub fn refund_status(status: &str) -> RefundStatus {
    match status {
        "COMPLETED" => RefundStatus::Succeeded,
        "FAILED" => RefundStatus::Failed,
        "CANCELLED" => RefundStatus::Canceled,
        _ => RefundStatus::Pending,
    }
}

fn error_body(body: &str) -> ErrorBody {
    serde_json::from_str(body).unwrap_or_default()
}

/// A card decline (422 `INSTRUMENT_DECLINED` and friends) as an authorisation outcome.
pub fn decline_from(status: reqwest::StatusCode, body: &str) -> Option<AuthorizationOutcome> {
    let error = error_body(body);
    let issue = error.details.first()?;
    let declines = [
        "INSTRUMENT_DECLINED",
        "CARD_EXPIRED",
        "TRANSACTION_REFUSED",
        "PAYER_CANNOT_PAY",
    ];
    (status == reqwest::StatusCode::UNPROCESSABLE_ENTITY && declines.contains(&issue.issue.as_str())).then(|| {
        AuthorizationOutcome::Declined {
            provider_reference: None,
            code: if issue.issue == "CARD_EXPIRED" {
                "expired_card".into()
            } else {
                "card_declined".into()
            },
            message: issue.description.clone().unwrap_or(error.message),
        }
    })
}

pub fn error_from(status: reqwest::StatusCode, body: &str) -> ProviderError {
    if let Some(error) = crate::providers::http::status_error("paypal", status) {
        return error;
    }
    let error = error_body(body);
    let code = error
        .details
        .first()
        .map(|d| d.issue.to_ascii_lowercase())
        .or_else(|| (!error.name.is_empty()).then(|| error.name.to_ascii_lowercase()))
        .unwrap_or_else(|| format!("http_{}", status.as_u16()));
    ProviderError::Rejected {
        code,
        message: if error.message.is_empty() {
            format!("paypal: HTTP {status}")
        } else {
            error.message
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_map_by_their_capture_or_authorization() {
        let order = |json: &str| -> Order { serde_json::from_str(json).unwrap() };
        let captured = order(
            r#"{"id":"O1","status":"COMPLETED","purchase_units":[{"payments":{"captures":[{"id":"C1","status":"COMPLETED"}]}}]}"#,
        );
        assert_eq!(
            order_outcome(&captured),
            AuthorizationOutcome::Captured {
                provider_reference: "O1".into()
            }
        );
        assert_eq!(captured.capture_id().as_deref(), Some("C1"));
        let held = order(
            r#"{"id":"O2","status":"COMPLETED","purchase_units":[{"payments":{"authorizations":[{"id":"A1","status":"CREATED"}]}}]}"#,
        );
        assert!(matches!(order_outcome(&held), AuthorizationOutcome::Authorized { .. }));
        let declined = order(
            r#"{"id":"O3","status":"COMPLETED","purchase_units":[{"payments":{"captures":[{"id":"C3","status":"DECLINED"}]}}]}"#,
        );
        assert!(matches!(
            order_outcome(&declined),
            AuthorizationOutcome::Declined { .. }
        ));
        let body = r#"{"name":"UNPROCESSABLE_ENTITY","message":"The requested action could not be performed","details":[{"issue":"INSTRUMENT_DECLINED","description":"The instrument presented was declined."}]}"#;
        assert!(decline_from(reqwest::StatusCode::UNPROCESSABLE_ENTITY, body).is_some());
        let body =
            r#"{"name":"UNPROCESSABLE_ENTITY","message":"x","details":[{"issue":"MAX_CAPTURE_AMOUNT_EXCEEDED"}]}"#;
        assert!(decline_from(reqwest::StatusCode::UNPROCESSABLE_ENTITY, body).is_none());
        assert!(
            matches!(error_from(reqwest::StatusCode::UNPROCESSABLE_ENTITY, body), ProviderError::Rejected { ref code, .. } if code == "max_capture_amount_exceeded")
        );
    }

    #[test]
    fn absent_optional_strings_are_left_out_never_null() {
        use payrail_core::domain::{Amount, PaymentId, PaymentToken, RefundId, RefundReason};
        let usd = Currency::parse("usd").unwrap();
        let mut order = AuthorizeRequest {
            payment_id: PaymentId::generate(),
            amount: Amount::new(1000).unwrap(),
            currency: usd,
            capture: true,
            method: PaymentMethod::Token(PaymentToken::parse("vault-1").unwrap()),
            description: None,
            return_url: None,
            idempotency_key: "k".into(),
        };
        let body = order_body(&order);
        assert!(body["purchase_units"][0].get("description").is_none(), "{body}");
        assert!(!body.to_string().contains("null"), "{body}");
        order.description = Some("x".repeat(300));
        assert_eq!(
            order_body(&order)["purchase_units"][0]["description"]
                .as_str()
                .unwrap()
                .len(),
            127
        );
        let mut refund = RefundRequest {
            payment_id: order.payment_id.clone(),
            refund_id: RefundId::generate(),
            provider_reference: None,
            amount: Amount::new(100).unwrap(),
            currency: usd,
            reason: None,
            idempotency_key: "k".into(),
        };
        assert!(refund_body(&refund).get("note_to_payer").is_none());
        refund.reason = Some(RefundReason::Duplicate);
        assert_eq!(refund_body(&refund)["note_to_payer"], "duplicate");
        assert!(supports(Currency::parse("jpy").unwrap()));
        assert!(!supports(Currency::parse("kwd").unwrap()));
    }

    #[test]
    fn amounts_are_decimal_strings_in_major_units() {
        let usd = Currency::parse("usd").unwrap();
        assert_eq!(money(usd, 1050), json!({ "currency_code": "USD", "value": "10.50" }));
        let jpy = Currency::parse("jpy").unwrap();
        assert_eq!(money(jpy, 500)["value"], "500");
    }
}
