//! [`JobLease`]: whether this node may run a job that must run on one node at a time — the
//! reconciler, the idempotency reaper, the audit appender's sweep of new events, the merchant
//! webhook dispatcher (issue 14). The service implements it with a lease row and a heartbeat
//! (`job_leases`); a node that dies stops renewing, and another takes the job over once the lease
//! expires. Jobs ask before each pass, so asking is also the heartbeat.

use async_trait::async_trait;

#[async_trait]
pub trait JobLease: Send + Sync + 'static {
    /// Whether this node holds `job`'s lease now: taken if free or expired, renewed if already
    /// its own. A node that cannot tell (database unreachable) does not hold it.
    async fn hold(&self, job: &str) -> bool;
}

/// One node alone (tests, a single SQLite node's tools): every lease is always its own.
#[derive(Debug, Default, Clone, Copy)]
pub struct SoleNode;

#[async_trait]
impl JobLease for SoleNode {
    async fn hold(&self, _job: &str) -> bool {
        true
    }
}
