//! PayPal's record of a day, for reconciliation: the Transaction Search API
//! (`GET /v1/reporting/transactions?start_date=&end_date=&page_size=&page=`, pages 1 to
//! `total_pages`; the app needs the Transaction Search permission, and PayPal lists a transaction
//! up to three hours after it happened — reconcile a day once it is well over).
//!
//! It lists captures and refunds, not orders: a capture (`T00xx`, positive amount) names payrail's
//! payment in `custom_field` (payrail sends its payment id as `custom_id`), which is how it is
//! matched; a refund (`T11xx`, negative amount) is keyed by its id, as payrail stores it. Statuses:
//! `S` succeeded, `P` pending, `D` (denied) and `V` (reversed) failed. Amounts are decimal strings
//! in major units.

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use payrail_core::domain::Currency;
use payrail_core::ports::ProviderError;
use serde::Deserialize;

use super::{expect, Paypal};
use crate::providers::flutterwave::transformers::minor_amount;
use crate::reconciliation::ledger::{numbered_pages, ProviderLedger, ProviderRecord, RecordStatus, RecordType};

/// PayPal allows 1 to 500 a page.
const MAX_PAGE: u32 = 500;

pub struct PaypalLedger {
    paypal: std::sync::Arc<Paypal>,
    page_size: u32,
}

#[derive(Debug, Deserialize)]
struct SearchPage {
    #[serde(default)]
    transaction_details: Vec<Detail>,
    #[serde(default)]
    total_pages: u32,
}

#[derive(Debug, Deserialize)]
struct Detail {
    transaction_info: Info,
}

#[derive(Debug, Deserialize)]
struct Info {
    transaction_id: String,
    transaction_event_code: String,
    transaction_amount: Money,
    transaction_status: String,
    custom_field: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Money {
    currency_code: String,
    value: String,
}

impl PaypalLedger {
    pub fn new(paypal: std::sync::Arc<Paypal>, page_size: u32) -> Self {
        Self {
            paypal,
            page_size: page_size.clamp(1, MAX_PAGE),
        }
    }
}

/// One listed transaction as a record; `None` for what is not a capture or a refund (fees,
/// transfers, holds) or an amount that cannot be read.
fn record(info: Info) -> Option<ProviderRecord> {
    let record_type = match info.transaction_event_code.get(..3)? {
        "T00" => RecordType::Payment,
        "T11" => RecordType::Refund,
        _ => return None,
    };
    let currency = Currency::parse(&info.transaction_amount.currency_code.to_ascii_lowercase()).ok()?;
    let magnitude = info.transaction_amount.value.trim_start_matches('-');
    let amount = minor_amount(currency, &serde_json::Value::String(magnitude.to_owned()))?;
    Some(ProviderRecord {
        record_type,
        reference: info.transaction_id,
        payment_id: match record_type {
            RecordType::Payment => info.custom_field.filter(|c| !c.is_empty()),
            RecordType::Refund => None,
        },
        amount,
        currency: currency.code().to_owned(),
        status: match info.transaction_status.as_str() {
            "S" => RecordStatus::Succeeded,
            "P" => RecordStatus::Pending,
            _ => RecordStatus::Failed,
        },
    })
}

#[async_trait]
impl ProviderLedger for PaypalLedger {
    fn provider(&self) -> &str {
        Paypal::NAME
    }

    /// Denied captures are listed (status `D`).
    fn lists_failures(&self) -> bool {
        true
    }

    async fn records(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Vec<ProviderRecord>, ProviderError> {
        let start = from.to_rfc3339_opts(SecondsFormat::Secs, true);
        // `end_date` is inclusive: stop a second short of the next day.
        let end = (to - chrono::Duration::seconds(1)).to_rfc3339_opts(SecondsFormat::Secs, true);
        let page_size = self.page_size.to_string();
        let details: Vec<Detail> = numbered_pages("paypal transaction search", |page| {
            let query = serde_urlencoded::to_string([
                ("start_date", start.as_str()),
                ("end_date", end.as_str()),
                ("fields", "transaction_info"),
                ("page_size", page_size.as_str()),
                ("page", &page.to_string()),
            ]);
            async move {
                let query = query.map_err(|e| ProviderError::Failed(format!("paypal: {e}")))?;
                let path = format!("/v1/reporting/transactions?{query}");
                let listed: SearchPage = expect(self.paypal.send(reqwest::Method::GET, &path, None, None).await?)?;
                Ok((listed.transaction_details, Some(listed.total_pages)))
            }
        })
        .await?;
        Ok(details.into_iter().filter_map(|d| record(d.transaction_info)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(code: &str, value: &str, status: &str) -> Info {
        serde_json::from_value(serde_json::json!({
            "transaction_id": "7TX", "transaction_event_code": code, "transaction_status": status,
            "transaction_amount": { "currency_code": "USD", "value": value },
            "custom_field": "pay_1", "transaction_initiation_date": "2026-12-07T10:00:00+0000"
        }))
        .unwrap()
    }

    #[test]
    fn captures_name_the_payment_and_refunds_are_positive_amounts() {
        let capture = record(info("T0006", "10.50", "S")).unwrap();
        assert_eq!(
            (
                capture.record_type,
                capture.amount,
                capture.payment_id.as_deref(),
                capture.status
            ),
            (RecordType::Payment, 1_050, Some("pay_1"), RecordStatus::Succeeded)
        );
        let refund = record(info("T1107", "-2.50", "S")).unwrap();
        assert_eq!(
            (refund.record_type, refund.amount, refund.payment_id),
            (RecordType::Refund, 250, None)
        );
        assert_eq!(record(info("T0006", "1.00", "D")).unwrap().status, RecordStatus::Failed);
        assert!(
            record(info("T0400", "5.00", "S")).is_none(),
            "a withdrawal is not a payment"
        );
    }
}
