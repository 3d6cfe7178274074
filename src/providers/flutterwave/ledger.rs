//! Flutterwave's record of a day, for reconciliation: its transactions (`GET /v3/transactions?
//! from=&to=&page=`) and refunds (`GET /v3/refunds?from=&to=&page=`), dates `YYYY-MM-DD`
//! inclusive, each read page by page up to `meta.page_info.total_pages` (Flutterwave fixes the
//! page size). A transaction names payrail's payment by its `tx_ref` (payrail's payment id) and is
//! matched by it; a refund is keyed by its id, as payrail stores it. Amounts are major units.
//!
//! Statuses: a transaction `successful` succeeded (its `charged_amount`), `failed` failed; one
//! still `pending` (a hold not captured, a charge waiting for the customer) or `voided` moved no
//! money and is not a record. A refund `completed`/`successful` succeeded, `failed` failed, the
//! rest is pending.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use payrail_core::domain::Currency;
use payrail_core::ports::ProviderError;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;

use super::transformers::{self as wire, minor_amount};
use super::Flutterwave;
use crate::config::Secret;
use crate::providers::http;
use crate::reconciliation::ledger::{numbered_pages, ProviderLedger, ProviderRecord, RecordStatus, RecordType};

pub struct FlutterwaveLedger {
    flutterwave: Flutterwave,
}

#[derive(Debug, Deserialize)]
struct Listing<T> {
    status: String,
    #[serde(default)]
    message: String,
    #[serde(default = "Vec::new")]
    data: Vec<T>,
    meta: Option<Meta>,
}

#[derive(Debug, Deserialize)]
struct Meta {
    page_info: Option<PageInfo>,
}

#[derive(Debug, Deserialize)]
struct PageInfo {
    total_pages: Option<u32>,
}

#[derive(Debug, Deserialize)]
struct ListedTransaction {
    id: i64,
    tx_ref: Option<String>,
    amount: Value,
    charged_amount: Option<Value>,
    currency: String,
    status: String,
}

/// A refund as listed: no currency of its own; its transaction has it.
#[derive(Debug, Deserialize)]
struct ListedRefund {
    id: i64,
    amount_refunded: Value,
    #[serde(alias = "transaction_id")]
    tx_id: i64,
    status: String,
}

#[derive(Debug, Deserialize)]
struct VerifiedTransaction {
    currency: String,
}

impl FlutterwaveLedger {
    pub fn new(client: reqwest::Client, api_base: &str, secret_key: Secret) -> Self {
        Self {
            flutterwave: Flutterwave::new(client, api_base, secret_key, None),
        }
    }

    async fn list<T: DeserializeOwned>(&self, path: &str, from: &str, to: &str) -> Result<Vec<T>, ProviderError> {
        numbered_pages(&format!("flutterwave {path}"), |page| {
            let query = [
                ("from", from.to_owned()),
                ("to", to.to_owned()),
                ("page", page.to_string()),
            ];
            let url = format!("{}{path}", self.flutterwave.base);
            let request = self.flutterwave.client.get(url).query(&query);
            async move {
                let key = self.flutterwave.secret_key.expose();
                let (status, body) = http::send_with_bearer(Flutterwave::NAME, request, key).await?;
                if !status.is_success() {
                    return Err(wire::error_from(status, &body));
                }
                let listing: Listing<T> = serde_json::from_str(&body)
                    .map_err(|e| ProviderError::Failed(format!("flutterwave: unexpected listing: {e}")))?;
                if listing.status != "success" {
                    return Err(ProviderError::Failed(format!("flutterwave: {}", listing.message)));
                }
                let pages = listing.meta.and_then(|m| m.page_info).and_then(|p| p.total_pages);
                Ok((listing.data, pages))
            }
        })
        .await
    }
}

fn transaction_record(tx: ListedTransaction) -> Option<ProviderRecord> {
    let status = match tx.status.as_str() {
        "successful" => RecordStatus::Succeeded,
        "failed" => RecordStatus::Failed,
        _ => return None,
    };
    let currency = Currency::parse(&tx.currency.to_ascii_lowercase()).ok()?;
    let amount = minor_amount(currency, tx.charged_amount.as_ref().unwrap_or(&tx.amount))?;
    Some(ProviderRecord {
        record_type: RecordType::Payment,
        reference: tx.id.to_string(),
        payment_id: tx.tx_ref.filter(|r| r.starts_with("pay_")),
        amount,
        currency: currency.code().to_owned(),
        status,
    })
}

fn refund_record(refund: ListedRefund, currency: &str) -> Option<ProviderRecord> {
    let currency = Currency::parse(&currency.to_ascii_lowercase()).ok()?;
    Some(ProviderRecord {
        record_type: RecordType::Refund,
        reference: refund.id.to_string(),
        payment_id: None,
        amount: minor_amount(currency, &refund.amount_refunded)?,
        currency: currency.code().to_owned(),
        status: match refund.status.as_str() {
            "completed" | "successful" | "refunded" => RecordStatus::Succeeded,
            "failed" => RecordStatus::Failed,
            _ => RecordStatus::Pending,
        },
    })
}

#[async_trait]
impl ProviderLedger for FlutterwaveLedger {
    fn provider(&self) -> &str {
        Flutterwave::NAME
    }

    fn lists_failures(&self) -> bool {
        true
    }

    async fn records(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Vec<ProviderRecord>, ProviderError> {
        let first = from.date_naive().to_string();
        let last = (to - chrono::Duration::seconds(1)).date_naive().to_string();
        let transactions: Vec<ListedTransaction> = self.list("/transactions", &first, &last).await?;
        let refunds: Vec<ListedRefund> = self.list("/refunds", &first, &last).await?;
        let mut currencies: HashMap<i64, String> = transactions.iter().map(|tx| (tx.id, tx.currency.clone())).collect();
        let mut records: Vec<ProviderRecord> = transactions.into_iter().filter_map(transaction_record).collect();
        for refund in refunds {
            // A refund of an earlier day's charge: its transaction says the currency.
            let currency = match currencies.get(&refund.tx_id) {
                Some(currency) => currency.clone(),
                None => {
                    let url = format!("{}/transactions/{}/verify", self.flutterwave.base, refund.tx_id);
                    let verified: VerifiedTransaction = self.flutterwave.send(self.flutterwave.client.get(url)).await?;
                    currencies.insert(refund.tx_id, verified.currency.clone());
                    verified.currency
                }
            };
            let id = refund.id;
            records.push(
                refund_record(refund, &currency).ok_or_else(|| {
                    ProviderError::Failed(format!("flutterwave: refund {id} has an unreadable amount"))
                })?,
            );
        }
        Ok(records)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_charges_that_moved_money_or_failed_are_records() {
        let tx = |status: &str| -> ListedTransaction {
            serde_json::from_value(serde_json::json!({
                "id": 4000001, "tx_ref": "pay_1", "amount": 25.5, "charged_amount": 25.5, "currency": "NGN",
                "status": status, "created_at": "2026-12-07T10:00:00.000Z"
            }))
            .unwrap()
        };
        let record = transaction_record(tx("successful")).unwrap();
        assert_eq!(
            (record.reference.as_str(), record.amount, record.payment_id.as_deref()),
            ("4000001", 2_550, Some("pay_1"))
        );
        assert_eq!(transaction_record(tx("failed")).unwrap().status, RecordStatus::Failed);
        assert!(transaction_record(tx("pending")).is_none());
        assert!(transaction_record(tx("voided")).is_none());
        let refund: ListedRefund = serde_json::from_value(serde_json::json!({
            "id": 9000, "tx_id": 4000001, "amount_refunded": 5, "status": "completed"
        }))
        .unwrap();
        let record = refund_record(refund, "NGN").unwrap();
        assert_eq!(
            (record.record_type, record.amount, record.currency.as_str()),
            (RecordType::Refund, 500, "ngn")
        );
    }
}
