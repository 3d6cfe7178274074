//! The dispatcher's share of the database while payments saturate it.
//!
//! A webhook is worth less than the payment it reports, and delivering it writes more rows than
//! the payment did (a delivery row, a marker, a lease, an attempt row, an update). So while the
//! payment writer is saturated — its batches hold on average [`SATURATED_BATCH`] writes or more,
//! which happens only when writes queue behind every batch — each dispatcher loop pauses after a
//! round for long enough that its rounds take at most [`SATURATED_SHARE`] of the time. Deliveries
//! then lag (they are in the database and nothing is lost) and catch up at full speed as soon as
//! payments leave room; with the writer not saturated, nothing pauses.
//!
//! A round's cost is its wall time: its statements, the waits for a connection and the CPU of
//! rendering bodies, all of which payments would otherwise have had.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::store::Database;

/// Mean writes per batch of the payment writer at and above which it counts as saturated.
pub const SATURATED_BATCH: f64 = 2.0;
/// The share of the time one dispatcher loop may spend in rounds while the writer is saturated.
pub const SATURATED_SHARE: f64 = 0.05;
/// The writer's batch sizes are averaged over at least this long before they are judged again.
const SAMPLE_EVERY: Duration = Duration::from_millis(100);
/// The longest pause: under any load each loop still runs a round every couple of seconds (a
/// fan-out round moves up to 500 events), so deliveries slow down but never stop.
const MAX_PAUSE: Duration = Duration::from_secs(2);

pub struct Pacing {
    database: Database,
    sample: Mutex<Sample>,
}

/// The writer's (batches, writes) counters when last read, and the verdict they gave.
struct Sample {
    at: Instant,
    batches: u64,
    writes: u64,
    saturated: bool,
}

impl Pacing {
    pub fn new(database: Database) -> Self {
        let (batches, writes) = database.commit_stats();
        Self {
            database,
            sample: Mutex::new(Sample {
                at: Instant::now(),
                batches,
                writes,
                saturated: false,
            }),
        }
    }

    /// How long a loop whose round just took `round` waits before the next one beyond its usual
    /// rhythm: zero while the payment writer has room, `round × (1 − share) / share` (at most
    /// [`MAX_PAUSE`]) while it is saturated.
    pub fn pause_after(&self, round: Duration) -> Duration {
        pause(round, self.writer_saturated())
    }

    /// Whether the payment writer's batches since the last sample averaged [`SATURATED_BATCH`]
    /// writes or more. Within [`SAMPLE_EVERY`] of the last sample, its verdict stands.
    fn writer_saturated(&self) -> bool {
        let mut sample = self.sample.lock().unwrap_or_else(|e| e.into_inner());
        if sample.at.elapsed() < SAMPLE_EVERY {
            return sample.saturated;
        }
        let (batches, writes) = self.database.commit_stats();
        let (new_batches, new_writes) = (batches - sample.batches, writes - sample.writes);
        *sample = Sample {
            at: Instant::now(),
            batches,
            writes,
            saturated: saturated(new_batches, new_writes),
        };
        sample.saturated
    }
}

/// The pause after a round that took `round`, given the writer's state.
fn pause(round: Duration, saturated: bool) -> Duration {
    if !saturated {
        return Duration::ZERO;
    }
    round.mul_f64((1.0 - SATURATED_SHARE) / SATURATED_SHARE).min(MAX_PAUSE)
}

/// The verdict on `writes` written in `batches` batches.
fn saturated(batches: u64, writes: u64) -> bool {
    batches > 0 && writes as f64 >= SATURATED_BATCH * batches as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_write_batches_have_room_and_queued_ones_are_saturated() {
        assert!(!saturated(0, 0), "no payments at all");
        assert!(
            !saturated(100, 100),
            "every batch held one write: the writer waited for work"
        );
        assert!(!saturated(100, 199));
        assert!(saturated(100, 200));
        assert!(saturated(10, 64), "batches of 6.4, as scenario 1 at saturation");
    }

    #[test]
    fn a_saturated_writer_keeps_each_round_to_its_share_of_the_time() {
        let round = Duration::from_millis(10);
        assert_eq!(pause(round, false), Duration::ZERO);
        let paused = pause(round, true);
        let share = round.as_secs_f64() / (round + paused).as_secs_f64();
        assert!((share - SATURATED_SHARE).abs() < 1e-9, "share {share}");
        assert_eq!(pause(Duration::from_secs(60), true), MAX_PAUSE, "a stalled round");
    }
}
