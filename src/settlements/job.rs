//! Running a settlement: read the day's money events, build the reports, and write a new revision
//! of every report whose lines differ from its latest stored revision (all of them the first
//! time; none when nothing changed, so a re-run is a no-op with the same figures). The reports a
//! run writes share one batch id.
//!
//! The daily job settles yesterday (UTC) every hour, so late events become a revision within the
//! hour; one node at a time, under the `settlement` job lease (`JobLease`, issue 14). The job
//! renews its lease every [`HEARTBEAT`] so the holder keeps it between hourly runs; a node that
//! takes it over (the holder died) settles at once — a re-run is a no-op.

use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use std::sync::Arc;

use payrail_core::ports::{JobLease, StoreError};

use crate::settlements::report::{self, ReportKey};
use crate::store::settlements::NewRevision;
use crate::store::Database;

/// How often the daily job looks at yesterday.
const JOB_INTERVAL: Duration = Duration::from_secs(3600);

/// How often the job renews its lease: well inside `LEASE_SECS` (default 15), so the holder keeps
/// the job between runs instead of every node taking an expired lease at its own hourly tick.
const HEARTBEAT: Duration = Duration::from_secs(3);

/// What one run did.
#[derive(Debug, Default)]
pub struct Settled {
    /// The run's batch id, if it wrote anything.
    pub batch_id: Option<String>,
    /// (key, revision, figures) of every report of the day (provider-filtered), written or not.
    pub reports: Vec<(ReportKey, i64, report::Figures, bool)>,
}

/// Settles `date` (UTC), only `provider`'s reports when given.
pub async fn settle(
    database: &Database,
    date: NaiveDate,
    provider: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Settled, StoreError> {
    let from = date.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
    let to = from + chrono::Duration::days(1);
    let events = database
        .money_events(from.timestamp_micros(), to.timestamp_micros())
        .await?;
    let reports: Vec<report::Report> = report::build(events)
        .into_iter()
        .filter(|r| provider.map_or(true, |p| r.key.provider == p))
        .collect();
    let day = date.format("%Y-%m-%d").to_string();
    let latest = database.latest_settlements(&day).await?;
    let mut settled = Settled::default();
    let mut revisions = Vec::new();
    for report in &reports {
        let (revision, changed) = match latest.get(&report.key) {
            Some((revision, digest)) if *digest == report.digest => (*revision, false),
            Some((revision, _)) => (revision + 1, true),
            None => (1, true),
        };
        if changed {
            revisions.push(NewRevision {
                id: format!("stl_{}", uuid::Uuid::new_v4().simple()),
                revision,
                report,
            });
        }
        settled
            .reports
            .push((report.key.clone(), revision, report.figures, changed));
    }
    if !revisions.is_empty() {
        let batch_id = format!("stb_{}", uuid::Uuid::new_v4().simple());
        database
            .record_settlements(&batch_id, &day, &revisions, now.timestamp_micros())
            .await?;
        tracing::info!(batch_id, date = %day, reports = revisions.len(), "settlement batch closed");
        settled.batch_id = Some(batch_id);
    }
    Ok(settled)
}

/// Settles yesterday now and every hour, on whichever node holds the `settlement` lease, until the
/// actix system stops.
pub fn spawn_daily(database: Database, lease: Arc<dyn JobLease>) {
    actix_web::rt::spawn(async move {
        let mut heartbeat = tokio::time::interval(HEARTBEAT);
        let mut last_run: Option<tokio::time::Instant> = None;
        loop {
            heartbeat.tick().await;
            if !lease.hold("settlement").await {
                // Not ours (or lost): whoever takes it back later settles at once.
                last_run = None;
                continue;
            }
            if last_run.is_some_and(|at| at.elapsed() < JOB_INTERVAL) {
                continue;
            }
            last_run = Some(tokio::time::Instant::now());
            let now = Utc::now();
            let yesterday = now.date_naive() - chrono::Duration::days(1);
            if let Err(error) = settle(&database, yesterday, None, now).await {
                tracing::warn!(%error, date = %yesterday, "settlement run failed; retried next hour");
            }
        }
    });
}
