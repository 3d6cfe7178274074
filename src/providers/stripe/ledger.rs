//! Stripe's record of a day, for reconciliation: the balance transactions created in it
//! (`GET /v1/balance_transactions?created[gte]=&created[lt]=&limit=&starting_after=`, page after
//! page while `has_more`), each with its source expanded (`expand[]=data.source`) so a charge
//! names its PaymentIntent — the reference payrail stores — and a refund its `re_…` id.
//!
//! Balance transactions are money that moved: `charge`/`payment` (captured), `refund` (negative
//! amount), and `refund_failure`/`payment_failure_refund` (a refund given back: the refund failed).
//! Fees, payouts and adjustments are not payments and are skipped. Declined charges never reach
//! the balance, so Stripe does not list failures.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use payrail_core::ports::ProviderError;
use serde::Deserialize;

use super::transformers::PAYMENT_ID_KEY;
use super::{expect, Stripe};
use crate::config::Secret;
use crate::reconciliation::ledger::{ProviderLedger, ProviderRecord, RecordStatus, RecordType, MAX_PAGES};

/// Stripe caps `limit` at 100.
const MAX_PAGE: u32 = 100;

pub struct StripeLedger {
    stripe: Stripe,
    page_size: u32,
}

#[derive(Debug, Deserialize)]
struct Page {
    data: Vec<BalanceTransaction>,
    has_more: bool,
}

#[derive(Debug, Deserialize)]
struct BalanceTransaction {
    id: String,
    amount: i64,
    currency: String,
    #[serde(rename = "type")]
    kind: String,
    source: Option<Source>,
}

/// `source`, expanded (an object) or not (its id).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Source {
    Object(SourceObject),
    Id(String),
}

#[derive(Debug, Deserialize)]
struct SourceObject {
    id: String,
    payment_intent: Option<String>,
    #[serde(default)]
    metadata: std::collections::HashMap<String, String>,
}

impl StripeLedger {
    pub fn new(client: reqwest::Client, api_base: &str, secret_key: Secret, page_size: u32) -> Self {
        Self {
            stripe: Stripe::new(client, api_base, secret_key),
            page_size: page_size.clamp(1, MAX_PAGE),
        }
    }
}

/// One balance transaction as a reconciliation record, or `None` when it is not a payment's.
fn record(transaction: BalanceTransaction) -> Option<ProviderRecord> {
    let (source_id, payment_intent, payment_id) = match transaction.source {
        Some(Source::Object(source)) => {
            let payment_id = source.metadata.get(PAYMENT_ID_KEY).cloned();
            (source.id, source.payment_intent, payment_id)
        }
        Some(Source::Id(id)) => (id, None, None),
        None => (transaction.id.clone(), None, None),
    };
    let (record_type, reference, amount, status) = match transaction.kind.as_str() {
        "charge" | "payment" => (
            RecordType::Payment,
            payment_intent.unwrap_or(source_id),
            transaction.amount,
            RecordStatus::Succeeded,
        ),
        "refund" | "payment_refund" => (
            RecordType::Refund,
            source_id,
            -transaction.amount,
            RecordStatus::Succeeded,
        ),
        // The refund's money came back: the refund failed; its amount stays the refund's.
        "refund_failure" | "payment_failure_refund" => (RecordType::Refund, source_id, 0, RecordStatus::Failed),
        _ => return None,
    };
    Some(ProviderRecord {
        record_type,
        reference,
        payment_id,
        amount,
        currency: transaction.currency.to_ascii_lowercase(),
        status,
    })
}

#[async_trait]
impl ProviderLedger for StripeLedger {
    fn provider(&self) -> &str {
        Stripe::NAME
    }

    fn lists_failures(&self) -> bool {
        false
    }

    async fn records(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Vec<ProviderRecord>, ProviderError> {
        let (gte, lt, limit) = (
            from.timestamp().to_string(),
            to.timestamp().to_string(),
            self.page_size.to_string(),
        );
        let mut records = Vec::new();
        let mut after: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut query = vec![
                ("created[gte]", gte.as_str()),
                ("created[lt]", lt.as_str()),
                ("limit", limit.as_str()),
                ("expand[]", "data.source"),
            ];
            if let Some(after) = &after {
                query.push(("starting_after", after));
            }
            let page: Page = expect(self.stripe.get("/balance_transactions", &query).await?)?;
            after = page.data.last().map(|t| t.id.clone());
            records.extend(page.data.into_iter().filter_map(record));
            if !page.has_more || after.is_none() {
                return Ok(records);
            }
        }
        Err(ProviderError::Failed(
            "stripe: balance transaction listing did not end".into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transaction(kind: &str, amount: i64, source: serde_json::Value) -> BalanceTransaction {
        serde_json::from_value(serde_json::json!({
            "id": "txn_1", "object": "balance_transaction", "amount": amount, "currency": "USD",
            "type": kind, "status": "available", "source": source,
        }))
        .unwrap()
    }

    #[test]
    fn charges_are_keyed_by_their_payment_intent_and_refunds_by_their_id() {
        let charge = record(transaction(
            "charge",
            1_000,
            serde_json::json!({ "id": "ch_1", "object": "charge", "payment_intent": "pi_1",
                                "metadata": { "payrail_payment_id": "pay_1" } }),
        ))
        .unwrap();
        assert_eq!(
            (
                charge.record_type,
                charge.reference.as_str(),
                charge.amount,
                charge.currency.as_str()
            ),
            (RecordType::Payment, "pi_1", 1_000, "usd")
        );
        assert_eq!(charge.payment_id.as_deref(), Some("pay_1"));
        let refund = record(transaction(
            "refund",
            -250,
            serde_json::json!({ "id": "re_1", "object": "refund", "payment_intent": "pi_1" }),
        ))
        .unwrap();
        assert_eq!(
            (refund.record_type, refund.reference.as_str(), refund.amount),
            (RecordType::Refund, "re_1", 250)
        );
        let failed = record(transaction("refund_failure", 250, serde_json::json!("re_1"))).unwrap();
        assert_eq!(
            (failed.reference.as_str(), failed.status),
            ("re_1", RecordStatus::Failed)
        );
        assert!(record(transaction("stripe_fee", -30, serde_json::Value::Null)).is_none());
    }
}
