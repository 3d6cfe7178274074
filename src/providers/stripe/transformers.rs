//! Pure mappings between payrail's provider requests and Stripe's wire format: form-encoded
//! request bodies (bracket nesting, integer minor units) and the JSON PaymentIntent, Refund and
//! error objects Stripe answers with. No I/O here, so every mapping is unit-tested.

use payrail_core::domain::{AuthorizationOutcome, CardDetails, NextAction, RefundStatus};
use payrail_core::ports::{AuthorizeRequest, CaptureRequest, ProviderError, RefundRequest};
use serde::Deserialize;
use std::collections::HashMap;

/// The metadata keys payrail writes on Stripe objects, so webhooks and reconciliation can find
/// the payment (and refund) they are about.
pub const PAYMENT_ID_KEY: &str = "payrail_payment_id";
pub const REFUND_ID_KEY: &str = "payrail_refund_id";

pub type Form = Vec<(String, String)>;

fn pair(key: &str, value: impl ToString) -> (String, String) {
    (key.to_owned(), value.to_string())
}

/// `POST /v1/payment_methods` from raw card details (the number goes to Stripe, nowhere else).
pub fn payment_method_form(card: &CardDetails) -> Form {
    vec![
        pair("type", "card"),
        pair("card[number]", card.number.expose()),
        pair("card[exp_month]", card.exp_month),
        pair("card[exp_year]", card.exp_year),
        pair("card[cvc]", card.cvc.expose()),
    ]
}

/// `POST /v1/payment_intents`, confirmed at once with the given PaymentMethod. With a return URL
/// (payrail's return endpoint), a card that needs 3-D Secure answers `requires_action` with
/// `next_action.redirect_to_url`; Stripe decides when to challenge (`automatic`).
pub fn payment_intent_form(request: &AuthorizeRequest, payment_method: &str) -> Form {
    let mut form = vec![
        pair("amount", request.amount.minor_units()),
        pair("currency", request.currency.code()),
        pair("payment_method", payment_method),
        pair("payment_method_types[]", "card"),
        pair("confirm", "true"),
        pair("capture_method", if request.capture { "automatic" } else { "manual" }),
        pair(&format!("metadata[{PAYMENT_ID_KEY}]"), request.payment_id.as_str()),
    ];
    if let Some(description) = &request.description {
        form.push(pair("description", description));
    }
    if let Some(return_url) = &request.return_url {
        form.push(pair("return_url", return_url));
        form.push(pair(
            "payment_method_options[card][request_three_d_secure]",
            "automatic",
        ));
    }
    form
}

pub fn capture_form(request: &CaptureRequest) -> Form {
    vec![pair("amount_to_capture", request.amount.minor_units())]
}

pub fn refund_form(request: &RefundRequest, payment_intent: &str) -> Form {
    let mut form = vec![
        pair("payment_intent", payment_intent),
        pair("amount", request.amount.minor_units()),
        pair(&format!("metadata[{PAYMENT_ID_KEY}]"), request.payment_id.as_str()),
        pair(&format!("metadata[{REFUND_ID_KEY}]"), request.refund_id.as_str()),
    ];
    if let Some(reason) = request.reason {
        form.push(pair("reason", reason.as_str()));
    }
    form
}

/// The search query that finds a PaymentIntent by payrail's payment id.
pub fn search_query(payment_id: &str) -> String {
    format!("metadata['{PAYMENT_ID_KEY}']:'{payment_id}'")
}

#[derive(Debug, Deserialize)]
pub struct PaymentMethodObject {
    pub id: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PaymentIntent {
    pub id: String,
    pub status: String,
    #[serde(default)]
    pub metadata: HashMap<String, String>,
    pub last_payment_error: Option<StripeError>,
    pub next_action: Option<IntentNextAction>,
}

/// A PaymentIntent's `next_action`; payrail follows `redirect_to_url` (the others need Stripe.js).
#[derive(Debug, Clone, Deserialize)]
pub struct IntentNextAction {
    pub redirect_to_url: Option<RedirectToUrl>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct RedirectToUrl {
    pub url: String,
}

#[derive(Debug, Deserialize)]
pub struct SearchResult<T> {
    pub data: Vec<T>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct RefundObject {
    pub id: String,
    pub status: String,
    pub payment_intent: Option<String>,
    #[serde(default)]
    pub metadata: HashMap<String, String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct StripeError {
    #[serde(rename = "type", default)]
    pub kind: String,
    pub code: Option<String>,
    pub decline_code: Option<String>,
    #[serde(default)]
    pub message: String,
    pub payment_intent: Option<PaymentIntentRef>,
}

/// Stripe embeds the PaymentIntent in a card error.
#[derive(Debug, Clone, Deserialize)]
pub struct PaymentIntentRef {
    pub id: String,
}

#[derive(Debug, Deserialize)]
pub struct ErrorBody {
    pub error: StripeError,
}

impl StripeError {
    /// payrail's failure code: the decline code when Stripe gives one (`insufficient_funds`),
    /// else the error code (`card_declined`, `expired_card`).
    pub fn failure_code(&self) -> String {
        self.decline_code
            .clone()
            .or_else(|| self.code.clone())
            .unwrap_or_else(|| "card_declined".into())
    }
}

/// What a PaymentIntent's status says about the authorisation.
pub fn intent_outcome(intent: &PaymentIntent) -> AuthorizationOutcome {
    let reference = intent.id.clone();
    match intent.status.as_str() {
        "succeeded" => AuthorizationOutcome::Captured {
            provider_reference: reference,
        },
        "requires_capture" => AuthorizationOutcome::Authorized {
            provider_reference: reference,
        },
        "requires_action" | "requires_confirmation" => AuthorizationOutcome::RequiresAction {
            provider_reference: reference,
            next_action: intent
                .next_action
                .as_ref()
                .and_then(|a| a.redirect_to_url.as_ref())
                .map(|r| NextAction::RedirectToUrl { url: r.url.clone() }),
        },
        "canceled" => AuthorizationOutcome::Declined {
            provider_reference: Some(reference),
            code: "canceled".into(),
            message: "The payment was canceled at the provider.".into(),
        },
        "requires_payment_method" => match &intent.last_payment_error {
            Some(error) => AuthorizationOutcome::Declined {
                provider_reference: Some(reference),
                code: error.failure_code(),
                message: error.message.clone(),
            },
            // Created but never attempted: nothing decided yet.
            None => AuthorizationOutcome::Unknown {
                provider_reference: Some(reference),
            },
        },
        // `processing` and anything newer: not decided yet.
        _ => AuthorizationOutcome::Unknown {
            provider_reference: Some(reference),
        },
    }
}

pub fn refund_status(status: &str) -> RefundStatus {
    match status {
        "succeeded" => RefundStatus::Succeeded,
        "failed" => RefundStatus::Failed,
        "canceled" => RefundStatus::Canceled,
        // pending, requires_action
        _ => RefundStatus::Pending,
    }
}

/// A non-2xx answer: Stripe's error body decides, after the transport-level statuses.
pub fn error_from(status: reqwest::StatusCode, body: &str) -> ProviderError {
    if let Some(error) = crate::providers::http::status_error("stripe", status) {
        return error;
    }
    let error = serde_json::from_str::<ErrorBody>(body)
        .map(|b| b.error)
        .unwrap_or_default();
    // The key was used before with other parameters: the first request's outcome stands and is
    // not known here (it may have authorised money), so it is reconciled, never called a refusal.
    if error.kind == "idempotency_error" {
        return ProviderError::Failed(format!("stripe idempotency_error: {}", error.message));
    }
    let code = error.code.clone().unwrap_or_else(|| {
        if error.kind.is_empty() {
            "provider_error".into()
        } else {
            error.kind.clone()
        }
    });
    ProviderError::Rejected {
        code,
        message: if error.message.is_empty() {
            format!("stripe: HTTP {status}")
        } else {
            error.message
        },
    }
}

/// A card decline (402 `card_error`) as an authorisation outcome; `None` for other errors.
pub fn decline_from(status: reqwest::StatusCode, body: &str) -> Option<AuthorizationOutcome> {
    let error = serde_json::from_str::<ErrorBody>(body).ok()?.error;
    (status == reqwest::StatusCode::PAYMENT_REQUIRED || error.kind == "card_error").then(|| {
        AuthorizationOutcome::Declined {
            provider_reference: error.payment_intent.as_ref().map(|pi| pi.id.clone()),
            code: error.failure_code(),
            message: error.message.clone(),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::StatusCode;

    fn intent(json: &str) -> PaymentIntent {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn a_reused_idempotency_key_is_an_unknown_outcome_not_a_refusal() {
        let body = r#"{"error":{"type":"idempotency_error","message":"Keys for idempotent requests can only be used with the same parameters"}}"#;
        let error = error_from(StatusCode::BAD_REQUEST, body);
        assert!(matches!(error, ProviderError::Failed(_)), "{error:?}");
        assert!(decline_from(StatusCode::BAD_REQUEST, body).is_none());
    }

    #[test]
    fn statuses_map_to_outcomes() {
        let outcome = |status: &str| intent_outcome(&intent(&format!(r#"{{"id":"pi_1","status":"{status}"}}"#)));
        assert!(matches!(outcome("succeeded"), AuthorizationOutcome::Captured { .. }));
        assert!(matches!(
            outcome("requires_capture"),
            AuthorizationOutcome::Authorized { .. }
        ));
        assert!(matches!(
            outcome("requires_action"),
            AuthorizationOutcome::RequiresAction { .. }
        ));
        assert!(matches!(outcome("processing"), AuthorizationOutcome::Unknown { .. }));
        let challenged = intent_outcome(&intent(
            r#"{"id":"pi_1","status":"requires_action","next_action":{"type":"redirect_to_url","redirect_to_url":{"url":"https://hooks.stripe.com/3d_secure_2/pi_1","return_url":"https://p.example/r"}}}"#,
        ));
        assert_eq!(
            challenged,
            AuthorizationOutcome::RequiresAction {
                provider_reference: "pi_1".into(),
                next_action: Some(NextAction::RedirectToUrl {
                    url: "https://hooks.stripe.com/3d_secure_2/pi_1".into()
                }),
            }
        );
        let declined = intent_outcome(&intent(
            r#"{"id":"pi_1","status":"requires_payment_method","last_payment_error":{"type":"card_error","code":"card_declined","decline_code":"insufficient_funds","message":"no"}}"#,
        ));
        assert!(matches!(declined, AuthorizationOutcome::Declined { ref code, .. } if code == "insufficient_funds"));
    }

    #[test]
    fn card_errors_are_declines_and_others_are_refusals() {
        let body = r#"{"error":{"type":"card_error","code":"card_declined","decline_code":"generic_decline","message":"Your card was declined.","payment_intent":{"id":"pi_9","status":"requires_payment_method"}}}"#;
        let declined = decline_from(StatusCode::PAYMENT_REQUIRED, body).unwrap();
        assert_eq!(
            declined,
            AuthorizationOutcome::Declined {
                provider_reference: Some("pi_9".into()),
                code: "generic_decline".into(),
                message: "Your card was declined.".into()
            }
        );
        let invalid = r#"{"error":{"type":"invalid_request_error","code":"resource_missing","message":"No such payment_intent"}}"#;
        assert!(decline_from(StatusCode::NOT_FOUND, invalid).is_none());
        assert!(
            matches!(error_from(StatusCode::NOT_FOUND, invalid), ProviderError::Rejected { ref code, .. } if code == "resource_missing")
        );
        assert!(matches!(
            error_from(StatusCode::SERVICE_UNAVAILABLE, ""),
            ProviderError::Unavailable(_)
        ));
    }
}
