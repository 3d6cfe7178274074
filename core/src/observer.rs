//! `Observer`: how the core reports what it does to whoever counts it (Prometheus in the service),
//! without depending on any metrics library. Every method has a no-op default, so an
//! implementation overrides only what it records, and the core can call hooks others have not
//! wired yet.

use std::time::Duration;

/// How an operation or a provider call ended, as a metric label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallOutcome {
    /// Completed (a declined card is still a completed operation).
    Ok,
    /// Refused by the rules: invalid state, amount too large, not found, conflict.
    Rejected,
    /// Could not complete: store or provider unavailable, timeout, overload.
    Error,
}

impl CallOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            CallOutcome::Ok => "ok",
            CallOutcome::Rejected => "rejected",
            CallOutcome::Error => "error",
        }
    }
}

/// Receives the core's events for metrics. Implementations must be cheap and never block.
pub trait Observer: Send + Sync + 'static {
    /// One payment operation finished (`create`, `capture`, `cancel`, `refund`).
    fn operation(&self, _operation: &str, _provider: &str, _outcome: CallOutcome, _elapsed: Duration) {}

    /// One request to a provider finished.
    fn provider_request(&self, _provider: &str, _outcome: CallOutcome) {}

    /// A dead payment actor was evicted and will be replaced (the supervisor also logs it).
    fn actor_restarted(&self) {}

    /// The restart log line's fields (`actor restarted`: payment_id, reason, restart_count), for
    /// whoever keeps recent restarts readable (the operator console).
    fn actor_restart_logged(&self, _payment_id: &str, _reason: &str, _restart_count: u64) {}

    /// A provider's circuit breaker opened (`true`) or closed (`false`).
    fn circuit_changed(&self, _provider: &str, _open: bool) {}
}

/// Records nothing: the default, and what tests of the core use.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoopObserver;

impl Observer for NoopObserver {}
