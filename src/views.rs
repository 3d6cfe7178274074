//! The JSON views of payments and refunds, as the API answers them and as merchant events carry
//! them (`events/object.rs`): one place decides their field names and formats, for both. Domain
//! types never serialise themselves. It sits below `http/` and `events/` so both import it.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use payrail_core::domain::{NextAction, Payment, Refund, ReturnUrl};
use serde::Serialize;

/// RFC 3339, UTC, millisecond precision: `2026-11-22T02:14:21.123Z`.
pub fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[derive(Debug, Serialize)]
pub struct CardView {
    pub brand: String,
    pub last4: String,
    pub exp_month: u8,
    pub exp_year: u16,
    pub fingerprint: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct PaymentView {
    pub id: String,
    pub amount: i64,
    pub currency: &'static str,
    pub status: &'static str,
    pub captured_amount: i64,
    pub refunded_amount: i64,
    pub provider: String,
    pub provider_reference: Option<String>,
    pub order_id: Option<String>,
    pub description: Option<String>,
    pub metadata: BTreeMap<String, String>,
    pub card: Option<CardView>,
    /// Present on reads (retrieve, list) when the payment has one; never in the responses of
    /// mutating requests, which are stored in clear for idempotent replay.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub receipt_email: Option<String>,
    pub failure_code: Option<String>,
    pub failure_message: Option<String>,
    pub return_url: Option<String>,
    /// What the customer must do while the payment is `requires_action` (Stripe's shape).
    pub next_action: Option<NextActionView>,
    pub created_at: String,
    pub updated_at: String,
}

/// `next_action`: `{"type": "redirect_to_url", "redirect_to_url": {"url", "return_url"}}`, or
/// for a value the customer must give, `{"type": "otp", "otp": {"display_text"}}` (likewise
/// `pin`, `phone`, `birthday`), submitted with `POST /payments/{id}/confirm`.
#[derive(Debug, Serialize)]
pub struct NextActionView {
    #[serde(rename = "type")]
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redirect_to_url: Option<RedirectView>,
    #[serde(flatten)]
    pub collect: BTreeMap<&'static str, PromptView>,
}

#[derive(Debug, Serialize)]
pub struct PromptView {
    pub display_text: Option<String>,
    /// The parts to ask for when the input has several (`address`: address, city, state,
    /// country, zipcode), each submitted under its name inside `confirm`'s `address`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fields: Option<&'static [&'static str]>,
}

#[derive(Debug, Serialize)]
pub struct RedirectView {
    pub url: String,
    /// The merchant's page the customer lands on afterwards.
    pub return_url: Option<String>,
}

impl NextActionView {
    fn new(action: NextAction, return_url: Option<&ReturnUrl>) -> Self {
        match action {
            NextAction::RedirectToUrl { url } => Self {
                kind: "redirect_to_url",
                redirect_to_url: Some(RedirectView {
                    url,
                    return_url: return_url.map(|u| u.to_string()),
                }),
                collect: BTreeMap::new(),
            },
            NextAction::Collect { input, display_text } => Self {
                kind: input.as_str(),
                redirect_to_url: None,
                collect: BTreeMap::from([(
                    input.as_str(),
                    PromptView {
                        display_text,
                        fields: input.fields(),
                    },
                )]),
            },
        }
    }
}

impl From<Payment> for PaymentView {
    fn from(p: Payment) -> Self {
        Self {
            id: p.id.to_string(),
            amount: p.amount.minor_units(),
            currency: p.currency.code(),
            status: p.status.as_str(),
            captured_amount: p.captured_amount,
            refunded_amount: p.refunded_amount,
            provider: p.provider,
            provider_reference: p.provider_reference,
            order_id: p.order_id,
            description: p.description,
            metadata: p.metadata,
            card: p.card.map(|c| CardView {
                brand: c.brand,
                last4: c.last4,
                exp_month: c.exp_month,
                exp_year: c.exp_year,
                fingerprint: c.fingerprint,
            }),
            // Filled by the handler from the sealed store (`http/contacts.rs`).
            receipt_email: None,
            failure_code: p.failure_code,
            failure_message: p.failure_message,
            next_action: p.next_action.map(|a| NextActionView::new(a, p.return_url.as_ref())),
            return_url: p.return_url.map(|u| u.to_string()),
            created_at: timestamp(p.created_at),
            updated_at: timestamp(p.updated_at),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct RefundView {
    pub id: String,
    pub payment_id: String,
    pub amount: i64,
    pub status: &'static str,
    pub reason: Option<&'static str>,
    pub created_at: String,
}

impl From<Refund> for RefundView {
    fn from(r: Refund) -> Self {
        Self {
            id: r.id.to_string(),
            payment_id: r.payment_id.to_string(),
            amount: r.amount.minor_units(),
            status: r.status.as_str(),
            reason: r.reason.map(|reason| reason.as_str()),
            created_at: timestamp(r.created_at),
        }
    }
}
