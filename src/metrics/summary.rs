//! Per-provider figures for the operator console, read from the same registry `/metrics` serves
//! (so the page and Prometheus never disagree): requests and errors (`provider_requests_total`),
//! whether the circuit is open (`provider_circuit_open`), and mean operation latency
//! (`payment_processing_time_seconds`, summed over operations).

use std::collections::BTreeMap;

use super::Metrics;

/// One provider's numbers since the process started.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ProviderSummary {
    pub provider: String,
    pub circuit_open: bool,
    pub requests: u64,
    pub errors: u64,
    /// Errors / requests, `None` before the first request.
    pub error_rate: Option<f64>,
    pub operations: u64,
    /// Mean seconds per payment operation, `None` before the first.
    pub mean_latency_secs: Option<f64>,
}

fn label<'a>(metric: &'a prometheus::proto::Metric, name: &str) -> &'a str {
    metric
        .get_label()
        .iter()
        .find(|l| l.get_name() == name)
        .map_or("", |l| l.get_value())
}

impl Metrics {
    /// A summary per provider in `providers` (and any other the metrics name), sorted by name.
    pub fn provider_summaries(&self, providers: &[String]) -> Vec<ProviderSummary> {
        let mut by_name: BTreeMap<String, ProviderSummary> = providers
            .iter()
            .map(|p| (p.clone(), ProviderSummary::default()))
            .collect();
        let mut latency_sum: BTreeMap<String, f64> = BTreeMap::new();
        for family in self.registry().gather() {
            for metric in family.get_metric() {
                let provider = label(metric, "provider").to_owned();
                if provider.is_empty() {
                    continue;
                }
                match family.get_name() {
                    "provider_requests_total" => {
                        let entry = by_name.entry(provider).or_default();
                        let count = metric.get_counter().get_value() as u64;
                        entry.requests += count;
                        if label(metric, "outcome") == "error" {
                            entry.errors += count;
                        }
                    }
                    "provider_circuit_open" => {
                        by_name.entry(provider).or_default().circuit_open = metric.get_gauge().get_value() > 0.0;
                    }
                    "payment_processing_time_seconds" => {
                        let histogram = metric.get_histogram();
                        by_name.entry(provider.clone()).or_default().operations += histogram.get_sample_count();
                        *latency_sum.entry(provider).or_default() += histogram.get_sample_sum();
                    }
                    _ => {}
                }
            }
        }
        by_name
            .into_iter()
            .map(|(provider, mut summary)| {
                summary.error_rate = (summary.requests > 0).then(|| summary.errors as f64 / summary.requests as f64);
                summary.mean_latency_secs = (summary.operations > 0)
                    .then(|| latency_sum.get(&provider).copied().unwrap_or(0.0) / summary.operations as f64);
                summary.provider = provider;
                summary
            })
            .collect()
    }

    /// Actor restarts at or after `since`, newest first (the supervisor's restart log, in memory).
    pub fn restarts_since(&self, since: chrono::DateTime<chrono::Utc>) -> Vec<super::Restart> {
        self.inner.restart_log.since(since)
    }
}
