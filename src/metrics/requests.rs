//! HTTP request metrics: actix-web-prom's middleware over payrail's registry, which also serves
//! `GET /metrics` (before routing, so it needs no token). The labels are actix-web-prom's own
//! (`endpoint` is the matched route pattern, unknown paths fold into `UNKNOWN`).

use actix_web_prom::{PrometheusMetrics, PrometheusMetricsBuilder};

use super::Metrics;

impl Metrics {
    /// The actix-web middleware: HTTP request metrics, and `GET /metrics` (served before routing,
    /// so it needs no token).
    pub fn http_middleware(&self) -> Result<PrometheusMetrics, String> {
        PrometheusMetricsBuilder::new("payrail")
            .registry(self.inner.registry.clone())
            .endpoint("/metrics")
            .mask_unmatched_patterns("UNKNOWN")
            .build()
            .map_err(|e| e.to_string())
    }
}
