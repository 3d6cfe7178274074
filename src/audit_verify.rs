//! The audit chain's periodic verification: every `AUDIT_VERIFY_INTERVAL_SECS` (0: never) the node
//! holding the `audit_verify` lease walks the whole chain as `payrail audit verify` does
//! (`store::verify_chain`) and reports the verdict as metrics — the time of the last intact
//! verdict, and a count of broken or unreadable ones — which the `AuditVerifyFailing` and
//! `AuditVerifyStale` alerts read. The console's "verify now" reports through the same metrics.

use std::sync::Arc;
use std::time::Duration;

use payrail_core::ports::JobLease;

use crate::metrics::Metrics;
use crate::store::Database;

/// How often the job checks whether its interval has passed (and renews its lease).
const HEARTBEAT: Duration = Duration::from_secs(3);

/// Verifies now and every `interval` on whichever node holds the lease, until the system stops.
pub fn spawn_periodic(database: Database, lease: Arc<dyn JobLease>, interval: Duration, metrics: Metrics) {
    if interval.is_zero() {
        return;
    }
    actix_web::rt::spawn(async move {
        let mut heartbeat = tokio::time::interval(HEARTBEAT);
        let mut last_run: Option<tokio::time::Instant> = None;
        loop {
            heartbeat.tick().await;
            if !lease.hold("audit_verify").await {
                last_run = None;
                continue;
            }
            if last_run.is_some_and(|at| at.elapsed() < interval) {
                continue;
            }
            last_run = Some(tokio::time::Instant::now());
            match crate::store::verify_chain(database.audit_store().as_ref()).await {
                Ok(Ok(entries)) => {
                    metrics.audit_verified(true);
                    tracing::info!(entries, "audit chain verified: intact");
                }
                Ok(Err(broken)) => {
                    metrics.audit_verified(false);
                    tracing::error!(%broken, "audit chain verification found the chain broken");
                }
                Err(error) => {
                    metrics.audit_verified(false);
                    tracing::warn!(%error, "audit chain verification could not read the chain");
                }
            }
        }
    });
}
