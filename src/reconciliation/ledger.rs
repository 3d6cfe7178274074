//! The provider-listing port: what a provider's own record of a UTC day looks like to payrail
//! ([`ProviderRecord`]), and [`ProviderLedger`], which each provider's adapter implements next to
//! its payment code (`providers/<p>/ledger.rs`) by paging through that provider's listing API.
//!
//! Records are normalised the way payrail counts money: one per payment (its captured amount, or
//! a failed charge) and one per refund, keyed by the reference payrail stores for it
//! (`provider_reference` of the payment or the refund), amounts in minor units, currencies lower
//! case, statuses one of [`RecordStatus`].

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use payrail_core::ports::ProviderError;

/// What a record is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RecordType {
    /// A charge: money captured, or an attempt that failed.
    Payment,
    Refund,
}

impl RecordType {
    pub fn as_str(self) -> &'static str {
        match self {
            RecordType::Payment => "payment",
            RecordType::Refund => "refund",
        }
    }
}

/// Where the money of a record stands, in the few words both sides share.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordStatus {
    Succeeded,
    Pending,
    Failed,
}

impl RecordStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RecordStatus::Succeeded => "succeeded",
            RecordStatus::Pending => "pending",
            RecordStatus::Failed => "failed",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "succeeded" => Some(RecordStatus::Succeeded),
            "pending" => Some(RecordStatus::Pending),
            "failed" => Some(RecordStatus::Failed),
            _ => None,
        }
    }
}

/// One entry of a provider's listing, normalised.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProviderRecord {
    pub record_type: RecordType,
    /// The provider's id for it: what payrail stores as the payment's or refund's reference.
    pub reference: String,
    /// payrail's payment id when the provider echoes it (metadata, a reference), else `None`.
    pub payment_id: Option<String>,
    /// Minor units, positive.
    pub amount: i64,
    pub currency: String,
    pub status: RecordStatus,
}

/// A provider's own record of a time range.
#[async_trait]
pub trait ProviderLedger: Send + Sync {
    /// The provider's name, as payments store it.
    fn provider(&self) -> &str;

    /// Whether the listing shows failed charges (Stripe's balance only shows money that moved):
    /// when it does not, payrail's failures are not compared.
    fn lists_failures(&self) -> bool;

    /// Every record created in `[from, to)`, all pages of it.
    async fn records(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Vec<ProviderRecord>, ProviderError>;
}

/// A guard against a listing that never ends (a provider bug): this many pages at most.
pub const MAX_PAGES: u32 = 10_000;

/// Every item of a listing paged by number (Paystack, PayPal, Flutterwave): `fetch(page)` reads
/// page `page` (from 1) and says how many pages the listing has; reading stops after the last
/// page, or at an empty one.
pub async fn numbered_pages<T, F, Fut>(listing: &str, mut fetch: F) -> Result<Vec<T>, ProviderError>
where
    F: FnMut(u32) -> Fut,
    Fut: std::future::Future<Output = Result<(Vec<T>, Option<u32>), ProviderError>>,
{
    let mut items = Vec::new();
    for page in 1..=MAX_PAGES {
        let (listed, pages) = fetch(page).await?;
        let empty = listed.is_empty();
        items.extend(listed);
        if empty || page >= pages.unwrap_or(page) {
            return Ok(items);
        }
    }
    Err(ProviderError::Failed(format!("{listing}: the listing did not end")))
}
