//! Prometheus metrics (DESIGN §10): actix-web-prom's HTTP metrics plus payrail's own, all in one
//! registry per [`Application`](crate::startup::Application) — never the global one, so a test
//! process can run many applications side by side.
//!
//! The core reports through its [`Observer`] port; [`Metrics`] implements it. The store is counted
//! by [`MeteredStore`], a decorator around any `PaymentStore`. The hooks other features call
//! (idempotent replays, webhooks, circuit breakers) are plain methods on the [`Metrics`] handle,
//! which every handler reaches through `AppState::metrics`.

use std::sync::Arc;
use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::web;
use actix_web_prom::{PrometheusMetrics, PrometheusMetricsBuilder};
use async_trait::async_trait;
use payrail_core::actors::PaymentSupervisor;
use payrail_core::domain::{EventId, MerchantId, Payment, PaymentEvent, PaymentId, Refund, Transition};
use payrail_core::idempotency::KeyedRecords;
use payrail_core::observer::{CallOutcome, Observer};
use payrail_core::ports::{Page, PageRequest, PaymentFilter, PaymentStore, StoreError};
use prometheus::{HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGaugeVec, Opts, PullingGauge, Registry};

use crate::http::idempotency::REPLAYED_HEADER;
use crate::http::AppState;
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
}

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

    fn circuit_changed(&self, provider: &str, open: bool) {
        self.set_circuit_open(provider, open);
    }
}

/// Middleware: counts responses served from a stored idempotent response (they carry
/// `Idempotent-Replayed: true`) into `idempotency_replays_total`.
pub async fn count_replays(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let metrics = req.app_data::<web::Data<AppState>>().map(|state| state.metrics.clone());
    let response = next.call(req).await?;
    let replayed = response
        .headers()
        .get(REPLAYED_HEADER)
        .is_some_and(|value| value.as_bytes() == b"true");
    if let (true, Some(metrics)) = (replayed, metrics) {
        metrics.idempotency_replayed();
    }
    Ok(response)
}

/// A `PaymentStore` that counts every call into `database_operations_total`.
pub struct MeteredStore {
    store: Arc<dyn PaymentStore>,
    metrics: Metrics,
}

impl MeteredStore {
    pub fn new(store: Arc<dyn PaymentStore>, metrics: Metrics) -> Self {
        Self { store, metrics }
    }

    fn count<T>(&self, operation: &str, result: Result<T, StoreError>) -> Result<T, StoreError> {
        let outcome = match &result {
            Ok(_) => "ok",
            Err(StoreError::Conflict) => "conflict",
            Err(StoreError::UnknownCursor) => "rejected",
            Err(StoreError::RejectedInput { .. }) => "rejected_input",
            Err(_) => "error",
        };
        self.metrics.database_operation(operation, outcome);
        result
    }
}

#[async_trait]
impl PaymentStore for MeteredStore {
    async fn commit(&self, transition: &Transition) -> Result<(), StoreError> {
        self.count("commit", self.store.commit(transition).await)
    }

    async fn commit_keyed(&self, transition: &Transition, records: &KeyedRecords) -> Result<bool, StoreError> {
        self.count("commit", self.store.commit_keyed(transition, records).await)
    }

    async fn load(&self, id: &PaymentId) -> Result<Option<Payment>, StoreError> {
        self.count("load", self.store.load(id).await)
    }

    async fn find(&self, merchant: &MerchantId, id: &PaymentId) -> Result<Option<Payment>, StoreError> {
        self.count("find", self.store.find(merchant, id).await)
    }

    async fn list_payments(
        &self,
        merchant: &MerchantId,
        filter: &PaymentFilter,
        page: &PageRequest<PaymentId>,
    ) -> Result<Page<Payment>, StoreError> {
        self.count("list_payments", self.store.list_payments(merchant, filter, page).await)
    }

    async fn list_events(
        &self,
        merchant: &MerchantId,
        payment: &PaymentId,
        page: &PageRequest<EventId>,
    ) -> Result<Option<Page<PaymentEvent>>, StoreError> {
        self.count("list_events", self.store.list_events(merchant, payment, page).await)
    }

    async fn list_refunds(&self, payment: &PaymentId) -> Result<Vec<Refund>, StoreError> {
        self.count("list_refunds", self.store.list_refunds(payment).await)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.count("ping", self.store.ping().await)
    }
}
