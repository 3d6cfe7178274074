//! A circuit breaker per provider, as plain logic over an `Instant` the caller passes in, so it is
//! unit-tested without a clock.
//!
//! Closed: calls flow; `threshold` consecutive provider faults open it. Open: calls fail fast
//! (certainly not sent, so the payment may be routed elsewhere) until `cooldown` has passed.
//! Half-open: one probe call is let through; its success closes the circuit, its failure opens it
//! again for another cooldown. Other calls keep failing fast while the probe is out.

use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CircuitState {
    Closed,
    Open,
    HalfOpen,
}

#[derive(Debug)]
pub struct CircuitBreaker {
    threshold: u32,
    cooldown: Duration,
    consecutive_failures: u32,
    opened_at: Option<Instant>,
    probe_in_flight: bool,
}

impl CircuitBreaker {
    pub fn new(threshold: u32, cooldown: Duration) -> Self {
        Self {
            threshold: threshold.max(1),
            cooldown,
            consecutive_failures: 0,
            opened_at: None,
            probe_in_flight: false,
        }
    }

    pub fn state(&self, now: Instant) -> CircuitState {
        match self.opened_at {
            None => CircuitState::Closed,
            Some(at) if now.duration_since(at) >= self.cooldown => CircuitState::HalfOpen,
            Some(_) => CircuitState::Open,
        }
    }

    /// Whether a call may go out now; in half-open, only the first caller gets to probe.
    pub fn try_acquire(&mut self, now: Instant) -> bool {
        match self.state(now) {
            CircuitState::Closed => true,
            CircuitState::Open => false,
            CircuitState::HalfOpen if self.probe_in_flight => false,
            CircuitState::HalfOpen => {
                self.probe_in_flight = true;
                true
            }
        }
    }

    /// Returns true when this success closed a circuit that was open (a probe got through).
    pub fn on_success(&mut self) -> bool {
        self.consecutive_failures = 0;
        self.probe_in_flight = false;
        self.opened_at.take().is_some()
    }

    /// Returns true when this failure opened (or re-opened) the circuit.
    pub fn on_failure(&mut self, now: Instant) -> bool {
        self.consecutive_failures = self.consecutive_failures.saturating_add(1);
        let probing = std::mem::take(&mut self.probe_in_flight);
        if probing || (self.opened_at.is_none() && self.consecutive_failures >= self.threshold) {
            self.opened_at = Some(now);
            return true;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_consecutive_failures_then_probes_once() {
        let t0 = Instant::now();
        let mut b = CircuitBreaker::new(3, Duration::from_secs(10));
        assert!(b.try_acquire(t0));
        assert!(!b.on_failure(t0));
        b.on_success();
        for _ in 0..2 {
            b.on_failure(t0);
        }
        assert_eq!(b.state(t0), CircuitState::Closed);
        assert!(b.on_failure(t0));
        assert!(!b.try_acquire(t0 + Duration::from_secs(5)));
        let later = t0 + Duration::from_secs(11);
        assert!(b.try_acquire(later), "the first call after the cooldown probes");
        assert!(!b.try_acquire(later), "only one probe at a time");
        assert!(b.on_failure(later), "a failed probe re-opens");
        assert_eq!(b.state(later), CircuitState::Open);
        let much_later = later + Duration::from_secs(11);
        assert!(b.try_acquire(much_later));
        b.on_success();
        assert_eq!(b.state(much_later), CircuitState::Closed);
    }
}
