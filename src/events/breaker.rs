//! A circuit breaker per webhook endpoint, in memory per node: after `threshold` consecutive failed
//! attempts it opens for the cooldown (the endpoint's deliveries wait, untouched), then lets one
//! attempt probe — a success closes it, a failure opens it again. It keeps a dead endpoint from
//! taking slots, connections and log lines that other endpoints could use.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Default)]
struct State {
    consecutive_failures: u32,
    open_until: Option<Instant>,
}

pub struct Breakers {
    threshold: u32,
    cooldown: Duration,
    /// How long a half-open probe may take before another is allowed.
    probe_timeout: Duration,
    endpoints: Mutex<HashMap<String, State>>,
}

impl Breakers {
    pub fn new(threshold: u32, cooldown: Duration, probe_timeout: Duration) -> Self {
        Self {
            threshold: threshold.max(1),
            cooldown,
            probe_timeout,
            endpoints: Mutex::new(HashMap::new()),
        }
    }

    /// How many attempts the endpoint's breaker lets through now: any number when closed, one
    /// probe once the cooldown has passed, none while open.
    pub fn allows(&self, endpoint: &str) -> usize {
        let mut endpoints = self.endpoints.lock().unwrap_or_else(|e| e.into_inner());
        let Some(state) = endpoints.get_mut(endpoint) else {
            return usize::MAX;
        };
        match state.open_until {
            None => usize::MAX,
            Some(until) if Instant::now() < until => 0,
            Some(_) => {
                state.open_until = Some(Instant::now() + self.probe_timeout);
                1
            }
        }
    }

    pub fn record(&self, endpoint: &str, delivered: bool) {
        let mut endpoints = self.endpoints.lock().unwrap_or_else(|e| e.into_inner());
        let state = endpoints.entry(endpoint.to_owned()).or_default();
        if delivered {
            *state = State::default();
            return;
        }
        state.consecutive_failures += 1;
        if state.consecutive_failures >= self.threshold {
            state.open_until = Some(Instant::now() + self.cooldown);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_the_threshold_then_probes_once_and_closes_on_success() {
        let breakers = Breakers::new(2, Duration::from_millis(20), Duration::from_secs(10));
        breakers.record("we_a", false);
        assert_eq!(breakers.allows("we_a"), usize::MAX);
        breakers.record("we_a", false);
        assert_eq!(breakers.allows("we_a"), 0, "open");
        assert_eq!(breakers.allows("we_b"), usize::MAX, "other endpoints are not affected");
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(breakers.allows("we_a"), 1, "one probe");
        assert_eq!(breakers.allows("we_a"), 0, "while the probe runs");
        breakers.record("we_a", true);
        assert_eq!(breakers.allows("we_a"), usize::MAX, "closed");
    }
}
