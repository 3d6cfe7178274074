//! The matching, as plain values: payrail's side of a day (the settlement's money events plus the
//! day's failed charges, turned into [`PayrailRecord`]s) against the provider's
//! [`ProviderRecord`]s, giving every mismatch — present on one side only, or the amount, currency
//! or status differs — grouped per merchant. No I/O: `run.rs` reads both sides and writes the
//! result.
//!
//! Refunds are keyed by their provider reference. Payments are keyed by payrail's payment id when
//! the provider's record names it (metadata, a reference payrail made, a custom field: PayPal lists
//! captures, not the orders payrail refers to), else by the provider reference. Several records
//! under one key are folded into one: amounts add up (two captures of one charge), and a failure
//! wins over a success (a refund reversed later, a refund the provider reports failed).

use std::collections::{BTreeMap, HashMap};

use crate::reconciliation::ledger::{ProviderRecord, RecordStatus, RecordType};
use crate::settlements::report::{LineKind, MoneyEvent};

/// A charge that failed at its provider, from its `payment.failed` event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FailedCharge {
    pub payment_id: String,
    pub merchant_id: String,
    pub currency: String,
    pub amount: i64,
    pub provider_reference: Option<String>,
}

/// One record as payrail's committed events tell it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PayrailRecord {
    pub record_type: RecordType,
    pub reference: String,
    pub payment_id: String,
    pub refund_id: Option<String>,
    pub merchant_id: String,
    pub amount: i64,
    pub currency: String,
    pub status: RecordStatus,
}

/// How the two sides disagree about a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum MismatchKind {
    MissingAtProvider,
    MissingAtPayrail,
    AmountDiffers,
    CurrencyDiffers,
    StatusDiffers,
}

impl MismatchKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MismatchKind::MissingAtProvider => "missing_at_provider",
            MismatchKind::MissingAtPayrail => "missing_at_payrail",
            MismatchKind::AmountDiffers => "amount_differs",
            MismatchKind::CurrencyDiffers => "currency_differs",
            MismatchKind::StatusDiffers => "status_differs",
        }
    }
}

/// One side's figures for a record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Side {
    pub amount: i64,
    pub currency: String,
    pub status: RecordStatus,
}

/// One mismatch: what disagrees, about which record, and both sides' figures.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mismatch {
    pub kind: MismatchKind,
    pub record_type: RecordType,
    pub reference: String,
    pub payment_id: Option<String>,
    pub refund_id: Option<String>,
    pub payrail: Option<Side>,
    pub provider: Option<Side>,
}

/// One merchant's share of a run (`merchant_id` None: provider records payrail cannot attribute).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MerchantReconciliation {
    pub merchant_id: Option<String>,
    pub payrail_count: i64,
    pub provider_count: i64,
    pub matched_count: i64,
    pub mismatches: Vec<Mismatch>,
}

/// payrail's records for a provider's day: captures and refunds from the settlement's money
/// events (a reversal marks its refund failed), and failed charges when `with_failures`.
pub fn payrail_records(events: &[MoneyEvent], failures: &[FailedCharge], with_failures: bool) -> Vec<PayrailRecord> {
    let mut records: Vec<PayrailRecord> = events
        .iter()
        .map(|event| {
            let record_type = match event.kind {
                LineKind::Capture => RecordType::Payment,
                LineKind::Refund | LineKind::RefundReversal => RecordType::Refund,
            };
            let fallback = || match &event.refund_id {
                Some(refund) if record_type == RecordType::Refund => format!("refund:{refund}"),
                _ => format!("payment:{}", event.payment_id),
            };
            PayrailRecord {
                record_type,
                reference: event.provider_reference.clone().unwrap_or_else(fallback),
                payment_id: event.payment_id.clone(),
                refund_id: event.refund_id.clone(),
                merchant_id: event.merchant_id.clone(),
                // A reversal restates its refund as failed; its amount is the refund's, not more.
                amount: if event.kind == LineKind::RefundReversal {
                    0
                } else {
                    event.amount
                },
                currency: event.currency.clone(),
                status: if event.kind == LineKind::RefundReversal {
                    RecordStatus::Failed
                } else {
                    RecordStatus::Succeeded
                },
            }
        })
        .collect();
    if with_failures {
        records.extend(failures.iter().map(|failed| {
            PayrailRecord {
                record_type: RecordType::Payment,
                reference: failed
                    .provider_reference
                    .clone()
                    .unwrap_or_else(|| format!("payment:{}", failed.payment_id)),
                payment_id: failed.payment_id.clone(),
                refund_id: None,
                merchant_id: failed.merchant_id.clone(),
                amount: failed.amount,
                currency: failed.currency.clone(),
                status: RecordStatus::Failed,
            }
        }));
    }
    records
}

type Key = (RecordType, String);

fn fold_status(a: RecordStatus, b: RecordStatus) -> RecordStatus {
    match (a, b) {
        (RecordStatus::Failed, _) | (_, RecordStatus::Failed) => RecordStatus::Failed,
        (RecordStatus::Pending, _) | (_, RecordStatus::Pending) => RecordStatus::Pending,
        _ => RecordStatus::Succeeded,
    }
}

/// Compares both sides; `owners` maps payment ids to merchants, for provider-only records that
/// name a payrail payment. Merchants come out in order, the unattributed group last.
pub fn reconcile(
    payrail: Vec<PayrailRecord>,
    provider: Vec<ProviderRecord>,
    owners: &HashMap<String, String>,
) -> Vec<MerchantReconciliation> {
    let payrail_key = |record: &PayrailRecord| match record.record_type {
        RecordType::Payment => (RecordType::Payment, format!("payment {}", record.payment_id)),
        RecordType::Refund => (RecordType::Refund, record.reference.clone()),
    };
    // payrail's references, for provider records that do not name the payment.
    let by_reference: HashMap<(RecordType, String), Key> = payrail
        .iter()
        .map(|r| ((r.record_type, r.reference.clone()), payrail_key(r)))
        .collect();
    let provider_key = |record: &ProviderRecord| match (record.record_type, &record.payment_id) {
        (RecordType::Payment, Some(payment_id)) => (RecordType::Payment, format!("payment {payment_id}")),
        (record_type, _) => by_reference
            .get(&(record_type, record.reference.clone()))
            .cloned()
            .unwrap_or_else(|| (record_type, record.reference.clone())),
    };
    let mut ours: BTreeMap<Key, PayrailRecord> = BTreeMap::new();
    for record in payrail.iter().cloned() {
        let key = payrail_key(&record);
        match ours.get_mut(&key) {
            Some(seen) => {
                seen.amount += record.amount;
                seen.status = fold_status(seen.status, record.status);
            }
            None => {
                ours.insert(key, record);
            }
        }
    }
    let mut theirs: BTreeMap<Key, ProviderRecord> = BTreeMap::new();
    for record in provider {
        let key = provider_key(&record);
        match theirs.get_mut(&key) {
            Some(seen) => {
                seen.amount += record.amount;
                seen.status = fold_status(seen.status, record.status);
            }
            None => {
                theirs.insert(key, record);
            }
        }
    }
    let mut merchants: BTreeMap<Option<String>, MerchantReconciliation> = BTreeMap::new();
    for (key, mine) in &ours {
        let group = merchants.entry(Some(mine.merchant_id.clone())).or_default();
        group.payrail_count += 1;
        let side = Side {
            amount: mine.amount,
            currency: mine.currency.clone(),
            status: mine.status,
        };
        let mismatch = |kind, provider: Option<Side>| Mismatch {
            kind,
            record_type: key.0,
            reference: mine.reference.clone(),
            payment_id: Some(mine.payment_id.clone()),
            refund_id: mine.refund_id.clone(),
            payrail: Some(side.clone()),
            provider,
        };
        let Some(other) = theirs.get(key) else {
            group.mismatches.push(mismatch(MismatchKind::MissingAtProvider, None));
            continue;
        };
        group.provider_count += 1;
        let their_side = Side {
            amount: other.amount,
            currency: other.currency.clone(),
            status: other.status,
        };
        let before = group.mismatches.len();
        if other.status != mine.status {
            group
                .mismatches
                .push(mismatch(MismatchKind::StatusDiffers, Some(their_side.clone())));
        }
        if other.currency != mine.currency {
            group
                .mismatches
                .push(mismatch(MismatchKind::CurrencyDiffers, Some(their_side.clone())));
        }
        if other.amount != mine.amount {
            group
                .mismatches
                .push(mismatch(MismatchKind::AmountDiffers, Some(their_side)));
        }
        if group.mismatches.len() == before {
            group.matched_count += 1;
        }
    }
    for (key, other) in theirs.iter().filter(|(key, _)| !ours.contains_key(*key)) {
        let owner = other.payment_id.as_ref().and_then(|id| owners.get(id)).cloned();
        let group = merchants.entry(owner).or_default();
        group.provider_count += 1;
        group.mismatches.push(Mismatch {
            kind: MismatchKind::MissingAtPayrail,
            record_type: key.0,
            reference: other.reference.clone(),
            payment_id: other.payment_id.clone(),
            refund_id: None,
            payrail: None,
            provider: Some(Side {
                amount: other.amount,
                currency: other.currency.clone(),
                status: other.status,
            }),
        });
    }
    let mut groups: Vec<MerchantReconciliation> = merchants
        .into_iter()
        .map(|(merchant_id, mut group)| {
            group.merchant_id = merchant_id;
            group
        })
        .collect();
    // `None` sorts first in a BTreeMap; operators read the unattributed group last.
    let unattributed_first = groups.first().is_some_and(|g| g.merchant_id.is_none());
    groups.rotate_left(usize::from(unattributed_first));
    groups
}

#[cfg(test)]
#[path = "report_tests.rs"]
mod tests;
