//! One reconciliation run (`payrail reconcile-report --date D --provider P`): read payrail's side
//! of the UTC day (the settlement's money events for P, and P's failed charges), page through the
//! provider's own record of the same day ([`ProviderLedger`]), match them (`report.rs`), then
//! write one report per merchant with its mismatches, and one audit entry per mismatch.
//!
//! Every run writes a new set of reports (ids `rec_…`, sharing a run id `rcr_…`): a report is a
//! statement of what both sides said at that moment, not a figure to revise.

use std::collections::BTreeSet;

use chrono::{DateTime, NaiveDate, Utc};
use payrail_core::audit::NewAuditEntry;
use payrail_core::ports::{ProviderError, StoreError};
use serde_json::json;

use crate::reconciliation::ledger::ProviderLedger;
use crate::reconciliation::report::{self, MerchantReconciliation, Mismatch};
use crate::store::Database;

/// The audit entry kind of a mismatch.
pub const AUDIT_KIND: &str = "reconciliation_mismatch";

/// How often an audit append is retried when another writer (the running service's audit actor)
/// appended first.
const AUDIT_ATTEMPTS: usize = 20;

#[derive(Debug, thiserror::Error)]
pub enum ReconciliationError {
    #[error("the provider's listing failed: {0}")]
    Provider(#[from] ProviderError),
    #[error("storage failed: {0}")]
    Store(#[from] StoreError),
}

/// What a run found: its id, and each merchant's report under its id.
#[derive(Debug)]
pub struct Reconciled {
    pub run_id: String,
    pub reports: Vec<(String, MerchantReconciliation)>,
}

/// Reconciles `date` (UTC) of the provider `ledger` lists.
pub async fn reconcile_day(
    database: &Database,
    ledger: &dyn ProviderLedger,
    date: NaiveDate,
    now: DateTime<Utc>,
) -> Result<Reconciled, ReconciliationError> {
    let from = date.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
    let to = from + chrono::Duration::days(1);
    let provider = ledger.provider().to_owned();
    let (from_micros, to_micros) = (from.timestamp_micros(), to.timestamp_micros());
    let events: Vec<_> = database
        .money_events(from_micros, to_micros)
        .await?
        .into_iter()
        .filter(|event| event.provider == provider)
        .collect();
    let failures = database.failed_charges(from_micros, to_micros, &provider).await?;
    let theirs = ledger.records(from, to).await?;
    let named: BTreeSet<String> = theirs.iter().filter_map(|r| r.payment_id.clone()).collect();
    let owners = database.payment_owners(&named.into_iter().collect::<Vec<_>>()).await?;
    let ours = report::payrail_records(&events, &failures, ledger.lists_failures());
    let reports: Vec<(String, MerchantReconciliation)> = report::reconcile(ours, theirs, &owners)
        .into_iter()
        .map(|report| (format!("rec_{}", uuid::Uuid::new_v4().simple()), report))
        .collect();
    let run_id = format!("rcr_{}", uuid::Uuid::new_v4().simple());
    let day = date.format("%Y-%m-%d").to_string();
    database
        .record_reconciliation(&run_id, &day, &provider, &reports, now.timestamp_micros())
        .await?;
    let entries: Vec<NewAuditEntry> = reports
        .iter()
        .flat_map(|(id, report)| {
            report
                .mismatches
                .iter()
                .map(|mismatch| audit_entry(id, &run_id, &day, &provider, report, mismatch, now))
        })
        .collect();
    append_audit(database, &entries).await?;
    let mismatches: usize = reports.iter().map(|(_, r)| r.mismatches.len()).sum();
    tracing::info!(run_id, date = %day, provider, mismatches, "reconciliation report written");
    Ok(Reconciled { run_id, reports })
}

fn audit_entry(
    id: &str,
    run_id: &str,
    date: &str,
    provider: &str,
    report: &MerchantReconciliation,
    mismatch: &Mismatch,
    now: DateTime<Utc>,
) -> NewAuditEntry {
    let side = |side: &Option<report::Side>| {
        side.as_ref()
            .map(|s| json!({ "amount": s.amount, "currency": s.currency, "status": s.status.as_str() }))
    };
    let payload = json!({
        "reconciliation_id": id,
        "run_id": run_id,
        "date": date,
        "provider": provider,
        "merchant_id": report.merchant_id,
        "mismatch": mismatch.kind.as_str(),
        "record_type": mismatch.record_type.as_str(),
        "provider_reference": mismatch.reference,
        "payment_id": mismatch.payment_id,
        "refund_id": mismatch.refund_id,
        "payrail": side(&mismatch.payrail),
        "provider_record": side(&mismatch.provider),
        "at": now.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
    });
    NewAuditEntry {
        kind: AUDIT_KIND.to_owned(),
        event_id: None,
        payload: payload.to_string(),
        recorded_at: now,
    }
}

/// Appends `entries` after the chain's head, retrying while another writer gets there first.
async fn append_audit(database: &Database, entries: &[NewAuditEntry]) -> Result<(), StoreError> {
    if entries.is_empty() {
        return Ok(());
    }
    let audit = database.audit_store();
    for attempt in 1..=AUDIT_ATTEMPTS {
        match audit.append(entries).await {
            Err(StoreError::Conflict) if attempt < AUDIT_ATTEMPTS => {
                tokio::time::sleep(std::time::Duration::from_millis(20 * attempt as u64)).await;
            }
            other => return other,
        }
    }
    Err(StoreError::Conflict)
}
