//! Prometheus metrics (DESIGN §10): actix-web-prom's HTTP metrics plus payrail's own, all in one
//! registry per [`Application`](crate::startup::Application) — never the global one, so a test
//! process can run many applications side by side.
//!
//! This file holds the registry and the [`Metrics`] handle: every metric's name, help and labels
//! in one place, and the plain methods other features call (idempotent replays, webhooks, circuit
//! breakers), reached by handlers through `AppState::metrics`. Beside it, one file per way in:
//! `observer.rs` (the core reports through its `Observer` port), `metered_store.rs` (a
//! `PaymentStore` decorator counting store calls), `requests.rs` (actix-web-prom's request
//! metrics and `/metrics`), `jobs.rs` (the reconciler's backlog, the audit chain's verification).
//! Nothing here imports `http/`; the middleware that counts replayed responses by their header is
//! the HTTP layer's (`http/replays.rs`).

mod jobs;
mod metered_store;
mod observer;
mod requests;
mod restarts;
mod summary;

use std::sync::Arc;

use payrail_core::actors::PaymentSupervisor;
use prometheus::{
    Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, PullingGauge,
    Registry,
};

pub use metered_store::MeteredStore;
pub use restarts::{Restart, RestartLog};
pub use summary::ProviderSummary;

use crate::store::Database;

/// Latency buckets for payment operations: sub-millisecond commits up to slow providers.
const OPERATION_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// The handle to payrail's metrics. Cheap to clone; every clone records into the same registry.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

struct Inner {
    registry: Registry,
    payment_requests: IntCounterVec,
    payment_processing_time: HistogramVec,
    database_operations: IntCounterVec,
    provider_requests: IntCounterVec,
    provider_circuit_open: IntGaugeVec,
    actor_restarts: IntCounter,
    idempotency_replays: IntCounter,
    webhooks_received: IntCounterVec,
    /// The latest actor restarts, readable by the operator console.
    restart_log: RestartLog,
    webhook_deliveries: IntCounterVec,
    webhook_delivery_seconds: Histogram,
    webhook_deliveries_pending: IntGauge,
    webhook_endpoints_disabled: IntCounter,
    /// The reconciler's backlog and the audit chain's verification (`jobs.rs`).
    jobs: jobs::JobMetrics,
}

impl Metrics {
    /// A fresh registry with payrail's metrics registered (none of them global).
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let counter_vec = |name: &str, help: &str, labels: &[&str]| -> Result<IntCounterVec, prometheus::Error> {
            let metric = IntCounterVec::new(Opts::new(name, help), labels)?;
            registry.register(Box::new(metric.clone()))?;
            Ok(metric)
        };
        let counter = |name: &str, help: &str| -> Result<IntCounter, prometheus::Error> {
            let metric = IntCounter::new(name, help)?;
            registry.register(Box::new(metric.clone()))?;
            Ok(metric)
        };
        let payment_requests = counter_vec(
            "payment_requests_total",
            "Payment operations by operation, provider and outcome (ok, rejected, error)",
            &["operation", "provider", "outcome"],
        )?;
        let payment_processing_time = HistogramVec::new(
            HistogramOpts::new(
                "payment_processing_time_seconds",
                "Time to run a payment operation, provider call and commits included",
            )
            .buckets(OPERATION_BUCKETS.to_vec()),
            &["operation", "provider"],
        )?;
        registry.register(Box::new(payment_processing_time.clone()))?;
        let database_operations = counter_vec(
            "database_operations_total",
            "Store operations by operation and outcome (ok, conflict, rejected, rejected_input, error)",
            &["operation", "outcome"],
        )?;
        let provider_requests = counter_vec(
            "provider_requests_total",
            "Requests to payment providers by provider and outcome (ok, rejected, error)",
            &["provider", "outcome"],
        )?;
        let provider_circuit_open = IntGaugeVec::new(
            Opts::new("provider_circuit_open", "1 while a provider's circuit breaker is open"),
            &["provider"],
        )?;
        registry.register(Box::new(provider_circuit_open.clone()))?;
        let actor_restarts = counter(
            "payment_actor_restarts_total",
            "Payment actors found dead and restarted from the store",
        )?;
        let idempotency_replays = counter(
            "idempotency_replays_total",
            "Requests answered from a stored idempotent response",
        )?;
        let webhooks_received = counter_vec(
            "webhooks_received_total",
            "Provider webhooks received by provider and outcome",
            &["provider", "outcome"],
        )?;
        let webhook_deliveries = counter_vec(
            "webhook_deliveries_total",
            "Attempts to deliver merchant events by outcome (delivered, retry, failed, gone)",
            &["outcome"],
        )?;
        let webhook_delivery_seconds = Histogram::with_opts(
            HistogramOpts::new(
                "webhook_delivery_seconds",
                "Time from sending a merchant event to the endpoint's answer (or the failure)",
            )
            .buckets(OPERATION_BUCKETS.to_vec()),
        )?;
        registry.register(Box::new(webhook_delivery_seconds.clone()))?;
        let webhook_deliveries_pending = IntGauge::new(
            "webhook_deliveries_pending",
            "Merchant event deliveries not yet delivered or failed",
        )?;
        registry.register(Box::new(webhook_deliveries_pending.clone()))?;
        let webhook_endpoints_disabled = counter(
            "webhook_endpoints_disabled_total",
            "Webhook endpoints disabled by payrail (410 Gone, or failing for the whole retry period)",
        )?;
        let jobs = jobs::JobMetrics::register(&registry)?;
        Ok(Self {
            inner: Arc::new(Inner {
                registry,
                payment_requests,
                payment_processing_time,
                database_operations,
                provider_requests,
                provider_circuit_open,
                actor_restarts,
                idempotency_replays,
                webhooks_received,
                restart_log: RestartLog::default(),
                webhook_deliveries,
                webhook_delivery_seconds,
                webhook_deliveries_pending,
                webhook_endpoints_disabled,
                jobs,
            }),
        })
    }

    /// The registry, for anything else that wants to register a metric.
    pub fn registry(&self) -> &Registry {
        &self.inner.registry
    }

    /// Exposes `payment_actors_active`, read from the supervisor at each scrape.
    pub fn watch_supervisor(&self, supervisor: &PaymentSupervisor) -> Result<(), prometheus::Error> {
        let supervisor = supervisor.clone();
        let gauge = PullingGauge::new(
            "payment_actors_active",
            "Payment actors alive (not passivated)",
            Box::new(move || supervisor.active_actors() as f64),
        )?;
        self.inner.registry.register(Box::new(gauge))
    }

    /// Exposes `database_commit_batch_size_mean`: writes per group-commit transaction so far.
    pub fn watch_database(&self, database: &Database) -> Result<(), prometheus::Error> {
        let database = database.clone();
        let gauge = PullingGauge::new(
            "database_commit_batch_size_mean",
            "Mean number of writes (payment transitions, idempotency claims and completions) per database transaction (group commit)",
            Box::new(move || {
                let (batches, writes) = database.commit_stats();
                if batches == 0 {
                    0.0
                } else {
                    writes as f64 / batches as f64
                }
            }),
        )?;
        self.inner.registry.register(Box::new(gauge))
    }

    /// A stored idempotent response was replayed (issue 3's idempotency layer calls this).
    pub fn idempotency_replayed(&self) {
        self.inner.idempotency_replays.inc();
    }

    /// A provider webhook arrived; `outcome` e.g. `processed`, `duplicate`, `invalid_signature`.
    pub fn webhook_received(&self, provider: &str, outcome: &str) {
        self.inner
            .webhooks_received
            .with_label_values(&[provider, outcome])
            .inc();
    }

    /// Sets `provider_circuit_open{provider}` (the circuit breaker calls this, or the
    /// `Observer::circuit_changed` hook).
    pub fn set_circuit_open(&self, provider: &str, open: bool) {
        self.inner
            .provider_circuit_open
            .with_label_values(&[provider])
            .set(i64::from(open));
    }

    /// Counts one store call.
    pub fn database_operation(&self, operation: &str, outcome: &str) {
        self.inner
            .database_operations
            .with_label_values(&[operation, outcome])
            .inc();
    }

    /// One merchant event delivery attempt ended with `outcome` after `seconds`.
    pub fn webhook_delivery_attempted(&self, outcome: &str, seconds: f64) {
        self.inner.webhook_deliveries.with_label_values(&[outcome]).inc();
        self.inner.webhook_delivery_seconds.observe(seconds);
    }

    pub fn set_webhook_deliveries_pending(&self, pending: i64) {
        self.inner.webhook_deliveries_pending.set(pending);
    }

    pub fn webhook_endpoint_disabled(&self) {
        self.inner.webhook_endpoints_disabled.inc();
    }
}
