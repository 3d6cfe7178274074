//! [`ResilientProvider`]: a provider adapter (`Arc<dyn Provider>`) wrapped in the policies every
//! call to it needs, as plain code — a concurrency limit, a timeout per attempt, retries when safe,
//! and a circuit breaker (`circuit.rs`). No actor: operations and their tests call it directly,
//! with or without an actix System. Calls run concurrently; it holds no per-payment state.
//!
//! Retries: only for errors where another attempt cannot move money twice — `Unavailable`
//! (certainly not executed) and `Failed` (a 5xx; the adapter resends the same idempotency key, so
//! the provider replays instead of acting again). Never after a timeout: a request that may still
//! be running at the provider is reconciled, not resent. Backoff is capped exponential with jitter.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

use crate::domain::{AuthorizationOutcome, Currency};
use crate::observer::{CallOutcome, NoopObserver, Observer};
use crate::ports::{
    AuthorizeRequest, CancelRequest, CaptureRequest, ChangeLookup, Provider, ProviderError, RefundOutcome,
    RefundRequest, RetrieveRequest, SubmitActionRequest,
};

mod circuit;

pub use circuit::{CircuitBreaker, CircuitState};

/// The providers payments can use, by name.
pub type ProviderDirectory = HashMap<String, ResilientProvider>;

/// Limits that apply to every call to one provider.
#[derive(Debug, Clone)]
pub struct ProviderPolicy {
    /// Longest one attempt may take before its outcome is treated as unknown.
    pub timeout: Duration,
    /// Most calls in flight to this provider at once; further calls wait for a slot.
    pub max_concurrency: usize,
    /// Attempts per call, the first included (1 = no retries).
    pub max_attempts: u32,
    /// Backoff before the second attempt; doubles per attempt up to `max_backoff`.
    pub base_backoff: Duration,
    pub max_backoff: Duration,
    /// Consecutive faults that open the circuit, and how long it stays open before a probe.
    pub breaker_threshold: u32,
    pub breaker_cooldown: Duration,
}

impl Default for ProviderPolicy {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(30),
            max_concurrency: 256,
            max_attempts: 3,
            base_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(2),
            breaker_threshold: 5,
            breaker_cooldown: Duration::from_secs(30),
        }
    }
}

impl ProviderPolicy {
    /// Capped exponential backoff with jitter in [half, full] of the step, so a burst of clients
    /// that failed together do not retry together.
    fn backoff(&self, attempt: u32) -> Duration {
        let step = self
            .base_backoff
            .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1)))
            .min(self.max_backoff);
        let half = step / 2;
        half + half.mul_f64(jitter())
    }
}

/// A number in [0, 1) without a dependency on a random number crate: std's per-instance hasher
/// keys are random, which is all jitter needs.
fn jitter() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(0);
    (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64
}

/// One provider behind its policies. Cheap to clone: clones share the limits and the breaker.
#[derive(Clone)]
pub struct ResilientProvider {
    name: String,
    provider: Arc<dyn Provider>,
    policy: Arc<ProviderPolicy>,
    slots: Arc<Semaphore>,
    breaker: Arc<Mutex<CircuitBreaker>>,
    observer: Arc<dyn Observer>,
}

impl ResilientProvider {
    pub fn new(provider: Arc<dyn Provider>, policy: ProviderPolicy) -> Self {
        let slots = Arc::new(Semaphore::new(policy.max_concurrency.max(1)));
        let breaker = CircuitBreaker::new(policy.breaker_threshold, policy.breaker_cooldown);
        Self {
            name: provider.name().to_owned(),
            provider,
            policy: Arc::new(policy),
            slots,
            breaker: Arc::new(Mutex::new(breaker)),
            observer: Arc::new(NoopObserver),
        }
    }

    /// Reports calls and the circuit opening and closing to `observer` (`provider_requests_total`,
    /// the `provider_circuit_open` gauge).
    pub fn observed_by(mut self, observer: Arc<dyn Observer>) -> Self {
        self.observer = observer;
        self
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether the provider takes payments in `currency` (asked before a payment is created).
    pub fn supports_currency(&self, currency: Currency) -> bool {
        self.provider.supports_currency(currency)
    }

    /// Whether the circuit lets calls through now: the create operation's routing skips providers
    /// whose circuit is open.
    pub fn circuit(&self) -> CircuitState {
        self.breaker
            .lock()
            .map(|b| b.state(Instant::now()))
            .unwrap_or(CircuitState::Closed)
    }

    pub async fn authorize(&self, request: AuthorizeRequest) -> Result<AuthorizationOutcome, ProviderError> {
        self.call(move |p| {
            let request = request.clone();
            async move { p.authorize(request).await }
        })
        .await
    }

    pub async fn capture(&self, request: CaptureRequest) -> Result<(), ProviderError> {
        self.call(move |p| {
            let request = request.clone();
            async move { p.capture(request).await }
        })
        .await
    }

    pub async fn cancel(&self, request: CancelRequest) -> Result<(), ProviderError> {
        self.call(move |p| {
            let request = request.clone();
            async move { p.cancel(request).await }
        })
        .await
    }

    pub async fn refund(&self, request: RefundRequest) -> Result<RefundOutcome, ProviderError> {
        self.call(move |p| {
            let request = request.clone();
            async move { p.refund(request).await }
        })
        .await
    }

    pub async fn retrieve(&self, request: RetrieveRequest) -> Result<AuthorizationOutcome, ProviderError> {
        self.call(move |p| {
            let request = request.clone();
            async move { p.retrieve(request).await }
        })
        .await
    }

    pub async fn complete_action(&self, request: RetrieveRequest) -> Result<AuthorizationOutcome, ProviderError> {
        self.call(move |p| {
            let request = request.clone();
            async move { p.complete_action(request).await }
        })
        .await
    }

    pub async fn find_capture(&self, request: CaptureRequest) -> Result<ChangeLookup<()>, ProviderError> {
        self.call(move |p| {
            let request = request.clone();
            async move { p.find_capture(request).await }
        })
        .await
    }

    pub async fn find_cancel(&self, request: CancelRequest) -> Result<ChangeLookup<()>, ProviderError> {
        self.call(move |p| {
            let request = request.clone();
            async move { p.find_cancel(request).await }
        })
        .await
    }

    pub async fn find_refund(
        &self,
        request: RefundRequest,
        recorded: Vec<String>,
    ) -> Result<ChangeLookup<RefundOutcome>, ProviderError> {
        self.call(move |p| {
            let (request, recorded) = (request.clone(), recorded.clone());
            async move { p.find_refund(request, recorded).await }
        })
        .await
    }

    pub async fn submit_action(&self, request: SubmitActionRequest) -> Result<AuthorizationOutcome, ProviderError> {
        self.call(move |p| {
            let request = request.clone();
            async move { p.submit_action(request).await }
        })
        .await
    }

    /// Makes `attempt` under the policies and reports the result to the observer. `attempt` may
    /// run more than once (retries), so it builds a fresh future from cloned request data each time.
    async fn call<R, F, Fut>(&self, attempt: F) -> Result<R, ProviderError>
    where
        F: Fn(Arc<dyn Provider>) -> Fut,
        Fut: Future<Output = Result<R, ProviderError>>,
    {
        let result = self.with_policies(attempt).await;
        let outcome = match &result {
            Ok(_) => CallOutcome::Ok,
            Err(ProviderError::Rejected { .. }) => CallOutcome::Rejected,
            Err(_) => CallOutcome::Error,
        };
        self.observer.provider_request(&self.name, outcome);
        result
    }

    async fn with_policies<R, F, Fut>(&self, attempt_once: F) -> Result<R, ProviderError>
    where
        F: Fn(Arc<dyn Provider>) -> Fut,
        Fut: Future<Output = Result<R, ProviderError>>,
    {
        // Once an attempt may have reached the provider, a later "circuit open" must not be
        // reported as "certainly not executed": that would let routing charge elsewhere too.
        let mut uncertain = false;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let admitted = self
                .breaker
                .lock()
                .map(|mut b| b.try_acquire(Instant::now()))
                .unwrap_or(true);
            if !admitted {
                let reason = "circuit open".to_owned();
                return Err(if uncertain {
                    ProviderError::Failed(reason)
                } else {
                    ProviderError::Unavailable(reason)
                });
            }
            let result = {
                let _slot = self
                    .slots
                    .acquire()
                    .await
                    .map_err(|_| ProviderError::Unavailable("provider client is shutting down".into()))?;
                // The timeout wraps the attempt: once the request may have been sent, running
                // out of time means the outcome is unknown, which the caller must reconcile.
                match tokio::time::timeout(self.policy.timeout, attempt_once(Arc::clone(&self.provider))).await {
                    Ok(result) => result,
                    Err(_) => Err(ProviderError::Timeout),
                }
            };
            let error = match result {
                Ok(value) => {
                    self.close_circuit();
                    return Ok(value);
                }
                Err(error) => error,
            };
            if error.is_provider_fault() {
                let opened = self
                    .breaker
                    .lock()
                    .map(|mut b| b.on_failure(Instant::now()))
                    .unwrap_or(false);
                if opened {
                    tracing::warn!(provider = %self.name, error = %error, "provider circuit opened");
                    self.observer.circuit_changed(&self.name, true);
                }
            } else {
                self.close_circuit();
            }
            uncertain |= matches!(error, ProviderError::Failed(_) | ProviderError::Timeout);
            if !error.is_retryable() || attempt >= self.policy.max_attempts {
                return Err(match error {
                    ProviderError::Unavailable(reason) if uncertain => ProviderError::Failed(reason),
                    other => other,
                });
            }
            let pause = self.policy.backoff(attempt);
            tracing::info!(provider = %self.name, attempt, error = %error, backoff_ms = pause.as_millis() as u64, "retrying provider call");
            tokio::time::sleep(pause).await;
        }
    }

    /// Records a call the provider answered; if that closes an open circuit, says so.
    fn close_circuit(&self) {
        let closed = self.breaker.lock().map(|mut b| b.on_success()).unwrap_or(false);
        if closed {
            tracing::info!(provider = %self.name, "provider circuit closed");
            self.observer.circuit_changed(&self.name, false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Amount, Currency, PaymentId, PaymentMethod, PaymentToken};
    use crate::testing::ScriptedProvider;

    fn authorize_request() -> AuthorizeRequest {
        AuthorizeRequest {
            payment_id: PaymentId::generate(),
            amount: Amount::new(100).unwrap(),
            currency: Currency::parse("USD").unwrap(),
            capture: true,
            method: PaymentMethod::Token(PaymentToken::parse("pm_card_visa").unwrap()),
            description: None,
            return_url: None,
            idempotency_key: "k".into(),
        }
    }

    #[tokio::test]
    async fn retries_what_certainly_did_not_run_then_fails_fast_on_an_open_circuit() {
        let down = || Err(ProviderError::Unavailable("503".into()));
        let scripted = ScriptedProvider::new("flaky", vec![down(), down(), down()]);
        let policy = ProviderPolicy {
            max_attempts: 2,
            base_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(1),
            breaker_threshold: 2,
            breaker_cooldown: Duration::from_secs(600),
            ..ProviderPolicy::default()
        };
        let provider = ResilientProvider::new(scripted.clone(), policy);
        let first = provider.authorize(authorize_request()).await;
        assert!(matches!(first, Err(ProviderError::Unavailable(_))));
        assert_eq!(scripted.calls(), 2, "one retry");
        assert_eq!(provider.circuit(), CircuitState::Open);
        let second = provider.authorize(authorize_request()).await;
        assert_eq!(second, Err(ProviderError::Unavailable("circuit open".into())));
        assert_eq!(scripted.calls(), 2, "an open circuit calls nobody");
    }

    #[test]
    fn backoff_grows_is_capped_and_jittered() {
        let policy = ProviderPolicy {
            base_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(400),
            ..ProviderPolicy::default()
        };
        let first = policy.backoff(1);
        assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100));
        let third = policy.backoff(3);
        assert!(third >= Duration::from_millis(200) && third <= Duration::from_millis(400));
        assert!(policy.backoff(30) <= Duration::from_millis(400));
    }
}
