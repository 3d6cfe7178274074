//! Retention (issue 11): events are kept 30 days (`retention_days`). The events API and the
//! deliveries listing hide older rows at once; this job deletes them, on one node at a time (the
//! `merchant_event_retention` job lease, renewed before every batch, so a node that loses it
//! stops mid-pass and the new holder carries on), in batches of [`BATCH`] rows per statement.
//!
//! What it deletes: delivery attempts, delivered/failed deliveries and fan-out markers (with
//! the rendered body) older than the cutoff. What it keeps: `payment_events` itself — the outbox
//! is also the source of the audit chain (`store/audit.rs` re-reads every audited event to verify
//! the chain, and a missing one breaks it), of the settlement reports and of the payments API's
//! event list, so merchant-event retention never deletes it; an event past retention is merely
//! no longer shown as an `evt_…`. Also kept: any delivery still pending (being retried or
//! leased), its attempts and its event's marker, whatever their age — a purge can never take the
//! body from under a delivery; and markers the fan-out's cursor has not passed yet (a marker
//! deleted ahead of the cursor would make the event look new and fan it out again).

use std::sync::Arc;
use std::time::Duration;

use payrail_core::ports::{JobLease, StoreError};

use crate::store::merchant_events as db;
use crate::store::Database;

/// Rows per statement.
pub const BATCH: i64 = 1_000;
/// Batches per table per pass; the next pass continues.
const MAX_BATCHES: usize = 100;
/// How often the job looks for expired rows.
const INTERVAL: Duration = Duration::from_secs(600);
const JOB: &str = "merchant_event_retention";

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Purged {
    pub attempts: u64,
    pub deliveries: u64,
    pub events: u64,
}

/// Deletes what is older than `retention_days` before `now_micros`, batch by batch, while
/// `lease` is held.
pub async fn purge_once(
    database: &Database,
    lease: &dyn JobLease,
    retention_days: u64,
    now_micros: i64,
) -> Result<Purged, StoreError> {
    let days = i64::try_from(retention_days).unwrap_or(i64::MAX / 86_400_000_000);
    let cutoff = now_micros.saturating_sub(days.saturating_mul(86_400_000_000));
    let attempts = batches(lease, || db::purge_attempts(database, cutoff, BATCH)).await?;
    let deliveries = batches(lease, || db::purge_deliveries(database, cutoff, BATCH)).await?;
    // Never ahead of the fan-out's cursor; with no cursor yet nothing was fanned out.
    let events = match db::cursor(database).await? {
        Some(position) => {
            let markers = cutoff.min(position);
            batches(lease, || db::purge_markers(database, markers, BATCH)).await?
        }
        None => 0,
    };
    Ok(Purged {
        attempts,
        deliveries,
        events,
    })
}

async fn batches<F, Fut>(lease: &dyn JobLease, mut batch: F) -> Result<u64, StoreError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<u64, StoreError>>,
{
    let mut total = 0;
    for _ in 0..MAX_BATCHES {
        if !lease.hold(JOB).await {
            break;
        }
        let deleted = batch().await?;
        total += deleted;
        if deleted < u64::try_from(BATCH).unwrap_or(u64::MAX) {
            break;
        }
    }
    Ok(total)
}

/// Purges now and every [`INTERVAL`] until the actix system stops.
pub fn spawn_periodic(database: Database, lease: Arc<dyn JobLease>, retention_days: u64) {
    actix_web::rt::spawn(async move {
        let mut ticker = tokio::time::interval(INTERVAL);
        loop {
            ticker.tick().await;
            if !lease.hold(JOB).await {
                continue;
            }
            let now = chrono::Utc::now().timestamp_micros();
            match purge_once(&database, lease.as_ref(), retention_days, now).await {
                Ok(purged) if purged != Purged::default() => tracing::info!(
                    attempts = purged.attempts,
                    deliveries = purged.deliveries,
                    events = purged.events,
                    "merchant events past retention purged"
                ),
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "merchant-event retention purge failed; retried next pass"),
            }
        }
    });
}
