//! Paystack's record of a day, for reconciliation: its transactions (`GET /transaction?from=&to=
//! &perPage=&page=`) and its refunds (`GET /refund?from=&to=&perPage=&page=`), each read page by
//! page until `meta.pageCount`. A transaction is keyed by its numeric id and a refund by its own
//! (what payrail stores as their references); the payment is named by the transaction reference
//! payrail made (`pay-<uuid>`).
//!
//! Statuses: a transaction `success` (or `reversed`: charged, then refunded in full — the refunds
//! are listed on their own) succeeded, `failed`/`abandoned` failed, anything else is pending; a
//! refund `processed` succeeded, `failed` failed, `pending`/`processing` pending. Paystack lists
//! failed charges, so payrail's failures are compared.

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use payrail_core::ports::ProviderError;
use serde::Deserialize;

use super::{transformers as wire, Paystack};
use crate::config::Secret;
use crate::reconciliation::ledger::{numbered_pages, ProviderLedger, ProviderRecord, RecordStatus, RecordType};

pub struct PaystackLedger {
    paystack: Paystack,
    page_size: u32,
}

/// A listing's answer: the page's items and the page count.
#[derive(Debug, Deserialize)]
struct Listing<T> {
    status: bool,
    #[serde(default)]
    message: String,
    #[serde(default = "Vec::new")]
    data: Vec<T>,
    meta: Option<Meta>,
}

#[derive(Debug, Deserialize)]
struct Meta {
    #[serde(rename = "pageCount")]
    page_count: Option<u32>,
}

#[derive(Debug, Deserialize)]
struct ListedTransaction {
    id: i64,
    status: String,
    reference: Option<String>,
    amount: i64,
    currency: String,
}

#[derive(Debug, Deserialize)]
struct ListedRefund {
    id: i64,
    status: String,
    amount: i64,
    currency: String,
    transaction_reference: Option<String>,
}

impl PaystackLedger {
    pub fn new(client: reqwest::Client, api_base: &str, secret_key: Secret, page_size: u32) -> Self {
        Self {
            paystack: Paystack::new(client, api_base, secret_key),
            page_size: page_size.max(1),
        }
    }

    /// Every item of `path`'s listing in `[from, to)`, page after page.
    async fn list<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<T>, ProviderError> {
        let from = from.to_rfc3339_opts(SecondsFormat::Secs, true);
        // Paystack's `to` is inclusive: stop a second short of the next day.
        let to = (to - chrono::Duration::seconds(1)).to_rfc3339_opts(SecondsFormat::Secs, true);
        numbered_pages(&format!("paystack {path}"), |page| {
            let query = [
                ("from", from.clone()),
                ("to", to.clone()),
                ("perPage", self.page_size.to_string()),
                ("page", page.to_string()),
            ];
            let url = format!("{}{path}", self.paystack.base);
            let request = self.paystack.client.get(url).query(&query);
            async move {
                let key = self.paystack.secret_key.expose();
                let (status, body) = crate::providers::http::send_with_bearer(Paystack::NAME, request, key).await?;
                if !status.is_success() {
                    return Err(wire::error_from(status, &body));
                }
                let listing: Listing<T> = serde_json::from_str(&body)
                    .map_err(|e| ProviderError::Failed(format!("paystack: unexpected listing: {e}")))?;
                if !listing.status {
                    return Err(ProviderError::Failed(format!("paystack: {}", listing.message)));
                }
                Ok((listing.data, listing.meta.and_then(|m| m.page_count)))
            }
        })
        .await
    }
}

fn transaction_record(tx: ListedTransaction) -> ProviderRecord {
    ProviderRecord {
        record_type: RecordType::Payment,
        reference: tx.id.to_string(),
        payment_id: tx
            .reference
            .as_deref()
            .and_then(wire::payment_id)
            .map(|id| id.as_str().to_owned()),
        amount: tx.amount,
        currency: tx.currency.to_ascii_lowercase(),
        status: match tx.status.as_str() {
            "success" | "reversed" => RecordStatus::Succeeded,
            "failed" | "abandoned" => RecordStatus::Failed,
            _ => RecordStatus::Pending,
        },
    }
}

fn refund_record(refund: ListedRefund) -> ProviderRecord {
    ProviderRecord {
        record_type: RecordType::Refund,
        reference: refund.id.to_string(),
        payment_id: refund
            .transaction_reference
            .as_deref()
            .and_then(wire::payment_id)
            .map(|id| id.as_str().to_owned()),
        amount: refund.amount,
        currency: refund.currency.to_ascii_lowercase(),
        status: match refund.status.as_str() {
            "processed" => RecordStatus::Succeeded,
            "failed" => RecordStatus::Failed,
            _ => RecordStatus::Pending,
        },
    }
}

#[async_trait]
impl ProviderLedger for PaystackLedger {
    fn provider(&self) -> &str {
        Paystack::NAME
    }

    fn lists_failures(&self) -> bool {
        true
    }

    async fn records(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Vec<ProviderRecord>, ProviderError> {
        let transactions: Vec<ListedTransaction> = self.list("/transaction", from, to).await?;
        let refunds: Vec<ListedRefund> = self.list("/refund", from, to).await?;
        Ok(transactions
            .into_iter()
            .map(transaction_record)
            .chain(refunds.into_iter().map(refund_record))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transactions_and_refunds_are_keyed_by_their_ids_and_name_payrails_payment() {
        let tx: ListedTransaction = serde_json::from_value(serde_json::json!({
            "id": 1000001, "status": "reversed", "reference": "pay-0b6f1c2e-8a4d-4f3e-9c5b-1d2e3f4a5b6c",
            "amount": 50000, "currency": "NGN", "created_at": "2026-12-07T10:00:00.000Z"
        }))
        .unwrap();
        let record = transaction_record(tx);
        assert_eq!(
            (record.reference.as_str(), record.status, record.currency.as_str()),
            ("1000001", RecordStatus::Succeeded, "ngn")
        );
        assert_eq!(
            record.payment_id.as_deref(),
            Some("pay_0b6f1c2e-8a4d-4f3e-9c5b-1d2e3f4a5b6c")
        );
        let refund: ListedRefund = serde_json::from_value(serde_json::json!({
            "id": 5000000, "status": "processing", "amount": 100, "currency": "NGN", "transaction": 1000001
        }))
        .unwrap();
        let record = refund_record(refund);
        assert_eq!(
            (record.record_type, record.reference.as_str(), record.status),
            (RecordType::Refund, "5000000", RecordStatus::Pending)
        );
    }
}
