//! Finding a change payrail may have sent to Flutterwave, without sending it again: v3 has no
//! idempotency header, so a capture, void or refund whose answer was lost (a crash, a timeout) is
//! settled by the reconciler from Flutterwave's records.
//!
//! - Capture and void of a preauthorization: the charge, verified by `tx_ref`, says `successful`
//!   (captured), `voided`, or still `pending` (neither happened: safe to send).
//! - Refund: the transaction's refunds (`GET /v3/refunds?id=<transaction id>`, page by page),
//!   matched on the `comments` payrail sends (its idempotency key); a preauthorization's refund
//!   carries no comment, so there an unrecorded refund of the same amount is the one. Every page
//!   read and nothing found proves Flutterwave never saw it.

use payrail_core::domain::Currency;
use payrail_core::ports::{CancelRequest, CaptureRequest, ChangeLookup, ProviderError, RefundOutcome, RefundRequest};
use serde::Deserialize;
use serde_json::Value;

use super::transformers::{self as wire, Transaction};
use super::Flutterwave;
use crate::providers::http;

/// Most refund pages read before the lookup gives up for this round.
const MAX_PAGES: u32 = 20;
/// The listing's date window around now; a refund intent is settled within hours.
const WINDOW: chrono::Duration = chrono::Duration::days(3);

#[derive(Debug, Deserialize)]
struct RefundPage {
    status: String,
    #[serde(default)]
    message: String,
    #[serde(default)]
    data: Vec<ListedRefund>,
    meta: Option<PageMeta>,
}

#[derive(Debug, Deserialize)]
struct PageMeta {
    page_info: Option<PageInfo>,
}

#[derive(Debug, Deserialize)]
struct PageInfo {
    total_pages: Option<u32>,
}

#[derive(Debug, Deserialize)]
struct ListedRefund {
    id: i64,
    status: String,
    amount_refunded: Option<Value>,
    /// The listing names it `comment`; the create request sends `comments`.
    #[serde(alias = "comments")]
    comment: Option<String>,
}

impl Flutterwave {
    /// The charge with payrail's `tx_ref`, or `None` when Flutterwave has none.
    async fn charge_by_reference(&self, tx_ref: &str) -> Result<Option<Transaction>, ProviderError> {
        let url = format!("{}/transactions/verify_by_reference", self.base);
        match self
            .send::<Transaction>(self.client.get(url).query(&[("tx_ref", tx_ref)]))
            .await
        {
            Ok(tx) => Ok(Some(tx)),
            Err(ProviderError::Rejected { code, .. }) if code != "authentication_failed" => Ok(None),
            Err(other) => Err(other),
        }
    }

    /// Where a preauthorization stands: `done` is the status the change leaves, `refusing` the
    /// one that rules it out.
    async fn preauthorization_lookup(
        &self,
        tx_ref: &str,
        done: &str,
        refusing: &[&str],
    ) -> Result<ChangeLookup<()>, ProviderError> {
        let Some(tx) = self.charge_by_reference(tx_ref).await? else {
            return Ok(ChangeLookup::Undecided);
        };
        Ok(match tx.status.as_str() {
            status if status == done => ChangeLookup::Made(()),
            "pending" => ChangeLookup::NeverSeen,
            status if refusing.contains(&status) => ChangeLookup::Refused,
            _ => ChangeLookup::Undecided,
        })
    }

    pub(super) async fn lookup_capture(&self, request: &CaptureRequest) -> Result<ChangeLookup<()>, ProviderError> {
        self.preauthorization_lookup(request.payment_id.as_str(), "successful", &["voided", "failed"])
            .await
    }

    pub(super) async fn lookup_cancel(&self, request: &CancelRequest) -> Result<ChangeLookup<()>, ProviderError> {
        self.preauthorization_lookup(request.payment_id.as_str(), "voided", &["successful", "failed"])
            .await
    }

    pub(super) async fn lookup_refund(
        &self,
        request: &RefundRequest,
        recorded: &[String],
    ) -> Result<ChangeLookup<RefundOutcome>, ProviderError> {
        let Some(transaction) = self
            .charge_by_reference(request.payment_id.as_str())
            .await?
            .and_then(|tx| tx.id)
        else {
            return Ok(ChangeLookup::Undecided);
        };
        let today = chrono::Utc::now().date_naive();
        let window = [
            ("from", (today - WINDOW).to_string()),
            ("to", (today + chrono::Duration::days(1)).to_string()),
        ];
        let mut unrecorded_of_amount = None;
        for page in 1..=MAX_PAGES {
            let query = [("id", transaction.to_string()), ("page", page.to_string())];
            let sent = self
                .client
                .get(format!("{}/refunds", self.base))
                .query(&query)
                .query(&window);
            let (status, body) = http::send_with_bearer(Self::NAME, sent, self.secret_key.expose()).await?;
            if !status.is_success() {
                return Err(wire::error_from(status, &body));
            }
            let listed: RefundPage = serde_json::from_str(&body)
                .map_err(|e| ProviderError::Failed(format!("flutterwave: unexpected response: {e}")))?;
            if listed.status != "success" {
                return Err(ProviderError::Rejected {
                    code: "invalid_request".into(),
                    message: listed.message,
                });
            }
            for refund in &listed.data {
                let outcome = || RefundOutcome {
                    status: wire::refund_status(&refund.status),
                    provider_reference: Some(refund.id.to_string()),
                };
                if refund.comment.as_deref() == Some(request.idempotency_key.as_str()) {
                    return Ok(ChangeLookup::Made(outcome()));
                }
                let unrecorded = !recorded.contains(&refund.id.to_string()) && refund.comment.is_none();
                if unrecorded
                    && same_amount(
                        request.currency,
                        refund.amount_refunded.as_ref(),
                        request.amount.minor_units(),
                    )
                {
                    unrecorded_of_amount.get_or_insert_with(outcome);
                }
            }
            let pages = listed.meta.and_then(|m| m.page_info?.total_pages).unwrap_or(1);
            if page >= pages {
                return Ok(match unrecorded_of_amount {
                    Some(outcome) => ChangeLookup::Made(outcome),
                    None => ChangeLookup::NeverSeen,
                });
            }
        }
        Ok(ChangeLookup::Undecided)
    }
}

fn same_amount(currency: Currency, amount: Option<&Value>, minor_units: i64) -> bool {
    amount.and_then(|a| wire::minor_amount(currency, a)) == Some(minor_units)
}
