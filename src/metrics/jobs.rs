//! The background jobs' health, for the alert rules (`deploy/prometheus/alerts.yml`): the
//! reconciler's backlog (payments still `pending`/`processing` or holding an open intent past
//! `reconcile_min_age_secs`, counted after each pass on the node holding the reconciler's lease, 0
//! elsewhere, so `max` over nodes is the backlog) and the audit chain's verification (the last
//! intact verdict's time, and verdicts that found it broken).

use prometheus::{IntCounter, IntGauge, Registry};

pub const RECONCILER_BACKLOG: &str = "payrail_reconciler_backlog";
pub const AUDIT_VERIFY_LAST_SUCCESS: &str = "payrail_audit_verify_last_success_timestamp_seconds";
pub const AUDIT_VERIFY_FAILURES: &str = "payrail_audit_verify_failures_total";

pub(super) struct JobMetrics {
    reconciler_backlog: IntGauge,
    audit_verify_last_success: IntGauge,
    audit_verify_failures: IntCounter,
}

impl JobMetrics {
    pub(super) fn register(registry: &Registry) -> Result<Self, prometheus::Error> {
        let reconciler_backlog = IntGauge::new(
            RECONCILER_BACKLOG,
            "Payments awaiting their provider (or holding an open intent) past reconcile_min_age_secs, after the reconciler's last pass on this node",
        )?;
        registry.register(Box::new(reconciler_backlog.clone()))?;
        let audit_verify_last_success = IntGauge::new(
            AUDIT_VERIFY_LAST_SUCCESS,
            "Unix time of the last audit chain verification on this node that found the chain intact (0: none yet)",
        )?;
        registry.register(Box::new(audit_verify_last_success.clone()))?;
        let audit_verify_failures = IntCounter::new(
            AUDIT_VERIFY_FAILURES,
            "Audit chain verifications on this node that found the chain broken or could not read it",
        )?;
        registry.register(Box::new(audit_verify_failures.clone()))?;
        Ok(Self {
            reconciler_backlog,
            audit_verify_last_success,
            audit_verify_failures,
        })
    }
}

impl super::Metrics {
    /// The reconciler's backlog after a pass (0 on a node that does not hold its lease).
    pub fn set_reconciler_backlog(&self, backlog: i64) {
        self.inner.jobs.reconciler_backlog.set(backlog);
    }

    /// An audit chain verification finished: `intact`, or broken / unreadable.
    pub fn audit_verified(&self, intact: bool) {
        if intact {
            self.inner
                .jobs
                .audit_verify_last_success
                .set(chrono::Utc::now().timestamp());
        } else {
            self.inner.jobs.audit_verify_failures.inc();
        }
    }
}
