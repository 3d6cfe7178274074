//! Rows as the database returns them, and their conversion into domain values. One place decides
//! how a column maps back to a domain type, for both backends (`columns.rs` decides the way in;
//! queries select `columns::names`, and sqlx matches the fields here by name).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use payrail_core::domain::{
    ActionInput, Amount, CardSummary, ChangeKind, Currency, EventId, EventKind, IntentId, MerchantId, NextAction,
    Payment, PaymentEvent, PaymentId, PendingChange, Refund, RefundId, ReturnUrl,
};
use payrail_core::ports::StoreError;

#[derive(sqlx::FromRow)]
pub struct PaymentRow {
    pub id: String,
    pub merchant_id: String,
    pub amount: i64,
    pub currency: String,
    pub status: String,
    pub capture_method: String,
    pub captured_amount: i64,
    pub refunded_amount: i64,
    pub provider: String,
    pub provider_reference: Option<String>,
    pub order_id: Option<String>,
    pub description: Option<String>,
    pub metadata: String,
    pub card_brand: Option<String>,
    pub card_last4: Option<String>,
    pub card_exp_month: Option<i64>,
    pub card_exp_year: Option<i64>,
    pub failure_code: Option<String>,
    pub failure_message: Option<String>,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub card_fingerprint: Option<String>,
    pub pending_change_id: Option<String>,
    pub pending_change_kind: Option<String>,
    pub pending_change_amount: Option<i64>,
    pub return_url: Option<String>,
    pub next_action: Option<String>,
}

#[derive(sqlx::FromRow)]
pub struct EventRow {
    pub id: String,
    pub payment_id: String,
    pub merchant_id: String,
    pub sequence: i64,
    pub kind: String,
    pub from_status: Option<String>,
    pub to_status: String,
    pub amount: Option<i64>,
    pub refund_id: Option<String>,
    pub failure_code: Option<String>,
    pub created_at: i64,
}

#[derive(sqlx::FromRow)]
pub struct RefundRow {
    pub id: String,
    pub payment_id: String,
    pub merchant_id: String,
    pub amount: i64,
    pub status: String,
    pub reason: Option<String>,
    pub provider_reference: Option<String>,
    pub awaiting_provider: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(what.to_string())
}

pub fn micros(at: DateTime<Utc>) -> i64 {
    at.timestamp_micros()
}

fn time(micros: i64) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_micros(micros).ok_or_else(|| corrupt(format!("timestamp {micros}")))
}

/// A next action as stored: Stripe's shape without the return URL (which is the payment's own).
pub fn next_action_json(action: &NextAction) -> String {
    let body = match action {
        NextAction::RedirectToUrl { url } => serde_json::json!({ "url": url }),
        NextAction::Collect { display_text, .. } => serde_json::json!({ "display_text": display_text }),
    };
    serde_json::json!({ "type": action.kind(), action.kind(): body }).to_string()
}

fn next_action(json: &str) -> Result<NextAction, StoreError> {
    let value: serde_json::Value = serde_json::from_str(json).map_err(corrupt)?;
    let kind = value["type"].as_str().unwrap_or_default();
    let body = &value[kind];
    match (kind, ActionInput::parse(kind)) {
        ("redirect_to_url", _) => match body["url"].as_str() {
            Some(url) => Ok(NextAction::RedirectToUrl { url: url.to_owned() }),
            None => Err(corrupt(format!("next_action {json}"))),
        },
        (_, Some(input)) => Ok(NextAction::Collect {
            input,
            display_text: body["display_text"].as_str().map(str::to_owned),
        }),
        _ => Err(corrupt(format!("next_action {json}"))),
    }
}

pub fn metadata_json(metadata: &BTreeMap<String, String>) -> String {
    serde_json::to_string(metadata).unwrap_or_else(|_| "{}".into())
}

impl TryFrom<PaymentRow> for Payment {
    type Error = StoreError;

    fn try_from(row: PaymentRow) -> Result<Self, StoreError> {
        let card = match (row.card_brand, row.card_last4, row.card_exp_month, row.card_exp_year) {
            (Some(brand), Some(last4), Some(month), Some(year)) => Some(CardSummary {
                brand,
                last4,
                exp_month: u8::try_from(month).map_err(corrupt)?,
                exp_year: u16::try_from(year).map_err(corrupt)?,
                fingerprint: row.card_fingerprint,
            }),
            _ => None,
        };
        let pending_change = match (row.pending_change_id, row.pending_change_kind) {
            (Some(id), Some(kind)) => Some(PendingChange {
                id: IntentId::parse(&id).map_err(corrupt)?,
                kind: ChangeKind::parse(&kind).ok_or_else(|| corrupt(&kind))?,
                amount: row
                    .pending_change_amount
                    .map(Amount::new)
                    .transpose()
                    .map_err(corrupt)?,
            }),
            _ => None,
        };
        Ok(Payment {
            id: PaymentId::parse(&row.id).map_err(corrupt)?,
            merchant_id: MerchantId::parse(&row.merchant_id).map_err(corrupt)?,
            amount: Amount::new(row.amount).map_err(corrupt)?,
            currency: Currency::parse(&row.currency).map_err(corrupt)?,
            status: row.status.parse().map_err(corrupt)?,
            capture_method: row.capture_method.parse().map_err(corrupt)?,
            captured_amount: row.captured_amount,
            refunded_amount: row.refunded_amount,
            provider: row.provider,
            provider_reference: row.provider_reference,
            order_id: row.order_id,
            description: row.description,
            metadata: serde_json::from_str(&row.metadata).map_err(corrupt)?,
            card,
            return_url: row.return_url.map(ReturnUrl::trusted),
            next_action: row.next_action.as_deref().map(next_action).transpose()?,
            failure_code: row.failure_code,
            failure_message: row.failure_message,
            pending_change,
            version: row.version,
            created_at: time(row.created_at)?,
            updated_at: time(row.updated_at)?,
        })
    }
}

impl TryFrom<EventRow> for PaymentEvent {
    type Error = StoreError;

    fn try_from(row: EventRow) -> Result<Self, StoreError> {
        Ok(PaymentEvent {
            id: EventId::parse(&row.id).map_err(corrupt)?,
            payment_id: PaymentId::parse(&row.payment_id).map_err(corrupt)?,
            merchant_id: MerchantId::parse(&row.merchant_id).map_err(corrupt)?,
            sequence: row.sequence,
            kind: EventKind::parse(&row.kind).ok_or_else(|| corrupt(&row.kind))?,
            from_status: row.from_status.map(|s| s.parse()).transpose().map_err(corrupt)?,
            to_status: row.to_status.parse().map_err(corrupt)?,
            amount: row.amount,
            refund_id: row
                .refund_id
                .map(|id| RefundId::parse(&id))
                .transpose()
                .map_err(corrupt)?,
            failure_code: row.failure_code,
            created_at: time(row.created_at)?,
        })
    }
}

impl TryFrom<RefundRow> for Refund {
    type Error = StoreError;

    fn try_from(row: RefundRow) -> Result<Self, StoreError> {
        Ok(Refund {
            id: RefundId::parse(&row.id).map_err(corrupt)?,
            payment_id: PaymentId::parse(&row.payment_id).map_err(corrupt)?,
            merchant_id: MerchantId::parse(&row.merchant_id).map_err(corrupt)?,
            amount: Amount::new(row.amount).map_err(corrupt)?,
            status: row.status.parse().map_err(corrupt)?,
            reason: row.reason.map(|r| r.parse()).transpose().map_err(corrupt)?,
            provider_reference: row.provider_reference,
            awaiting_provider: row.awaiting_provider != 0,
            created_at: time(row.created_at)?,
            updated_at: time(row.updated_at)?,
        })
    }
}
