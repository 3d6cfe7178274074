//! The reconciler (DESIGN §6): payments left `pending` or `processing` — a timeout after sending, a
//! crash between the provider's answer and the commit — and changes left open as intents (issue
//! 14: a node died between its provider call and the settlement) are asked about at their provider by
//! payrail's reference and settled through their own actor, so reconciliation is serialised with
//! everything else that happens to the payment. Payments in `requires_action` are asked about too
//! (the customer may have finished without coming back), and canceled once older than
//! `REQUIRES_ACTION_TTL_SECS`. It runs at start-up, periodically in the server, and on demand
//! (`payrail reconcile`).

use std::sync::Arc;
use std::time::Duration;

use payrail_core::actors::PaymentSupervisor;
use payrail_core::operation::Operation;
use payrail_core::ports::JobLease;

use crate::metrics::Metrics;
use crate::store::Database;

/// Payments looked at per pass; the next pass continues with the rest.
const BATCH: i64 = 500;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Report {
    /// Payments that were awaiting their provider.
    pub examined: usize,
    /// Of those, settled by this pass.
    pub settled: usize,
    /// Of those, whose provider could not be asked (tried again next pass).
    pub errors: usize,
}

/// One pass over payments awaiting their provider for at least `min_age`.
pub async fn run_once(database: &Database, supervisor: &PaymentSupervisor, min_age: Duration) -> Report {
    let cutoff = chrono::Utc::now() - chrono::Duration::from_std(min_age).unwrap_or_default();
    let ids = match database.awaiting_provider(cutoff.timestamp_micros(), BATCH).await {
        Ok(ids) => ids,
        Err(error) => {
            tracing::warn!(%error, "reconciler cannot list payments");
            return Report {
                errors: 1,
                ..Report::default()
            };
        }
    };
    let mut report = Report {
        examined: ids.len(),
        ..Report::default()
    };
    for id in ids {
        match supervisor.execute(&id, Operation::Reconcile).await {
            Ok(outcome)
                if !outcome.payment.status.is_awaiting_provider() && outcome.payment.pending_change.is_none() =>
            {
                report.settled += 1;
                tracing::info!(payment_id = %id, status = %outcome.payment.status, "payment reconciled");
            }
            Ok(_) => {}
            Err(error) => {
                report.errors += 1;
                tracing::warn!(payment_id = %id, %error, "payment could not be reconciled");
            }
        }
    }
    report
}

/// Reconciles now, then every `interval`, until the actix system stops; on one node at a time
/// (the `reconciler` lease in `job_leases`). After each pass the node holding the lease reports
/// what is still waiting as `payrail_reconciler_backlog`; the others report 0.
pub fn spawn_periodic(
    database: Database,
    supervisor: PaymentSupervisor,
    lease: Arc<dyn JobLease>,
    interval: Duration,
    min_age: Duration,
    metrics: Metrics,
) {
    actix_web::rt::spawn(async move {
        let mut ticker = tokio::time::interval(interval.max(Duration::from_millis(100)));
        loop {
            ticker.tick().await;
            if !lease.hold("reconciler").await {
                metrics.set_reconciler_backlog(0);
                continue;
            }
            let report = run_once(&database, &supervisor, min_age).await;
            let cutoff = chrono::Utc::now() - chrono::Duration::from_std(min_age).unwrap_or_default();
            match database.awaiting_provider_count(cutoff.timestamp_micros()).await {
                Ok(backlog) => metrics.set_reconciler_backlog(backlog),
                Err(error) => tracing::warn!(%error, "reconciler cannot count its backlog"),
            }
            if report.examined > 0 {
                tracing::info!(
                    examined = report.examined,
                    settled = report.settled,
                    errors = report.errors,
                    "reconciliation pass"
                );
            }
        }
    });
}
