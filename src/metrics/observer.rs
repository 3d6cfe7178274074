//! [`Metrics`] as the core's [`Observer`]: payment operations (count and latency), provider calls,
//! actor restarts and circuit-breaker changes, reported by the core and recorded here under the
//! names `mod.rs` registers.

use std::time::Duration;

use payrail_core::observer::{CallOutcome, Observer};

use super::Metrics;

impl Observer for Metrics {
    fn operation(&self, operation: &str, provider: &str, outcome: CallOutcome, elapsed: Duration) {
        let inner = &self.inner;
        inner
            .payment_requests
            .with_label_values(&[operation, provider, outcome.as_str()])
            .inc();
        inner
            .payment_processing_time
            .with_label_values(&[operation, provider])
            .observe(elapsed.as_secs_f64());
    }

    fn provider_request(&self, provider: &str, outcome: CallOutcome) {
        self.inner
            .provider_requests
            .with_label_values(&[provider, outcome.as_str()])
            .inc();
    }

    fn actor_restarted(&self) {
        self.inner.actor_restarts.inc();
    }

    fn actor_restart_logged(&self, payment_id: &str, reason: &str, restart_count: u64) {
        self.inner.restart_log.record(payment_id, reason, restart_count);
    }

    fn circuit_changed(&self, provider: &str, open: bool) {
        self.set_circuit_open(provider, open);
    }
}
