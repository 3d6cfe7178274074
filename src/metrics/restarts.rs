//! The latest payment-actor restarts, in memory: the supervisor's `actor restarted` log line's
//! fields (payment id, reason, restart count) and its time, fed through the core's `Observer`
//! hook where the supervisor logs, so the operator console can show the last hour's restarts
//! without reading log files. Bounded: the oldest entry goes when the ring is full.

use std::collections::VecDeque;
use std::sync::Mutex;

use chrono::{DateTime, Utc};

/// Restarts kept; more than an hour's worth in any healthy process.
const CAPACITY: usize = 256;

/// One restart, as the log line reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Restart {
    pub at: DateTime<Utc>,
    pub payment_id: String,
    pub reason: String,
    pub restart_count: u64,
}

/// A bounded ring of the latest restarts.
#[derive(Default)]
pub struct RestartLog {
    ring: Mutex<VecDeque<Restart>>,
}

impl RestartLog {
    pub fn record(&self, payment_id: &str, reason: &str, restart_count: u64) {
        self.push(Restart {
            at: Utc::now(),
            payment_id: payment_id.to_owned(),
            reason: reason.to_owned(),
            restart_count,
        });
    }

    fn push(&self, restart: Restart) {
        // A poisoned lock only means another thread panicked mid-push; the ring is still usable.
        let mut ring = self.ring.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if ring.len() == CAPACITY {
            ring.pop_front();
        }
        ring.push_back(restart);
    }

    /// Restarts at or after `since`, newest first.
    pub fn since(&self, since: DateTime<Utc>) -> Vec<Restart> {
        let ring = self.ring.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        ring.iter().rev().filter(|r| r.at >= since).cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ring_keeps_the_latest_restarts_newest_first() {
        let log = RestartLog::default();
        for n in 0..(CAPACITY as u64 + 3) {
            log.record(&format!("pay_{n}"), "mailbox closed", n + 1);
        }
        let all = log.since(DateTime::<Utc>::MIN_UTC);
        assert_eq!(all.len(), CAPACITY);
        assert_eq!(all[0].payment_id, format!("pay_{}", CAPACITY + 2));
        assert_eq!(all.last().unwrap().restart_count, 4, "the three oldest were dropped");
        assert!(log.since(Utc::now() + chrono::Duration::seconds(1)).is_empty());
    }
}
