//! A closed-loop load runner: `connections` workers each send one request at a time until the
//! deadline (optionally paced to a total rate), recording each request's latency and status.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What one worker saw.
#[derive(Default)]
struct WorkerLog {
    latencies_us: Vec<u32>,
    statuses: BTreeMap<u16, u64>,
    transport_errors: u64,
}

/// The run's result.
pub struct Report {
    pub elapsed: Duration,
    pub latencies_us: Vec<u32>,
    pub statuses: BTreeMap<u16, u64>,
    pub transport_errors: u64,
}

impl Report {
    /// Requests answered with a status in `ok`.
    pub fn count(&self, ok: &[u16]) -> u64 {
        ok.iter().map(|s| self.statuses.get(s).copied().unwrap_or(0)).sum()
    }

    /// Everything not in `expected`, plus transport errors.
    pub fn errors(&self, expected: &[u16]) -> u64 {
        let unexpected: u64 = self
            .statuses
            .iter()
            .filter(|(s, _)| !expected.contains(s))
            .map(|(_, n)| n)
            .sum();
        unexpected + self.transport_errors
    }

    pub fn percentile_ms(&self, p: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return 0.0;
        }
        let rank = ((p / 100.0) * (self.latencies_us.len() - 1) as f64).round() as usize;
        f64::from(self.latencies_us[rank.min(self.latencies_us.len() - 1)]) / 1000.0
    }

    /// One line: throughput of `ok` answers, latency percentiles, errors, peak RSS.
    pub fn print(&self, label: &str, ok: &[u16], expected: &[u16], peak_rss_kib: u64) {
        let secs = self.elapsed.as_secs_f64();
        println!(
            "{label}: {:.0} ok/s ({} ok in {:.1} s) p50 {:.2} ms p90 {:.2} ms p99 {:.2} ms max {:.2} ms \
             errors {} statuses {:?} peak_rss {:.1} MiB",
            self.count(ok) as f64 / secs,
            self.count(ok),
            secs,
            self.percentile_ms(50.0),
            self.percentile_ms(90.0),
            self.percentile_ms(99.0),
            self.percentile_ms(100.0),
            self.errors(expected),
            self.statuses,
            peak_rss_kib as f64 / 1024.0,
        );
    }
}

/// Runs `request(worker, sequence)` on `connections` workers for `duration`. With `rate` (total
/// requests per second), each worker waits for its next slot instead of sending back to back.
pub async fn run<F, Fut>(connections: usize, duration: Duration, rate: Option<f64>, request: F) -> Report
where
    F: Fn(usize, u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<u16, String>> + Send + 'static,
{
    let request = Arc::new(request);
    let started = Instant::now();
    let deadline = started + duration;
    let interval = rate.map(|r| Duration::from_secs_f64(connections as f64 / r));
    let workers: Vec<_> = (0..connections)
        .map(|worker| {
            let request = Arc::clone(&request);
            tokio::spawn(async move {
                let mut log = WorkerLog::default();
                // Stagger the workers' slots so a paced run is smooth, not bursts of `connections`.
                let mut next =
                    Instant::now() + interval.map_or(Duration::ZERO, |i| i.mul_f64(worker as f64 / connections as f64));
                let mut sequence = 0u64;
                while Instant::now() < deadline {
                    if let Some(interval) = interval {
                        tokio::time::sleep_until(next.into()).await;
                        next += interval;
                    }
                    let sent = Instant::now();
                    let answer = request(worker, sequence).await;
                    let latency = u32::try_from(sent.elapsed().as_micros()).unwrap_or(u32::MAX);
                    sequence += 1;
                    match answer {
                        Ok(status) => {
                            log.latencies_us.push(latency);
                            *log.statuses.entry(status).or_default() += 1;
                        }
                        Err(_) => log.transport_errors += 1,
                    }
                }
                log
            })
        })
        .collect();
    let mut report = Report {
        elapsed: Duration::ZERO,
        latencies_us: Vec::new(),
        statuses: BTreeMap::new(),
        transport_errors: 0,
    };
    for worker in workers {
        if let Ok(log) = worker.await {
            report.latencies_us.extend(log.latencies_us);
            for (status, n) in log.statuses {
                *report.statuses.entry(status).or_default() += n;
            }
            report.transport_errors += log.transport_errors;
        }
    }
    report.elapsed = started.elapsed();
    report.latencies_us.sort_unstable();
    report
}
