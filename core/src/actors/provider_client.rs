//! `ProviderClient`: one actor per configured provider, the only way the core calls a provider.
//!
//! Every call goes through one generic message, [`ProviderCall`], so the policies that surround a
//! provider call live in one handler instead of one per operation: a concurrency limit, a timeout
//! per attempt, retries when safe, and a circuit breaker. Calls run concurrently
//! (`ResponseFuture`, not `AtomicResponse`): the client holds no per-payment state, and serialising
//! here would make every payment wait for every other payment's provider round trip.
//!
//! Retries: only for errors where another attempt cannot move money twice — `Unavailable`
//! (certainly not executed) and `Failed` (a 5xx; the adapter resends the same idempotency key, so
//! the provider replays instead of acting again). Never after a timeout: a request that may still
//! be running at the provider is reconciled, not resent. Backoff is capped exponential with jitter.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix::prelude::*;
use tokio::sync::Semaphore;

use crate::actors::circuit::{CircuitBreaker, CircuitState};
use crate::observer::{NoopObserver, Observer};
use crate::ports::{Provider, ProviderError};

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;
type CallFn<R> = Box<dyn Fn(Arc<dyn Provider>) -> BoxFuture<Result<R, ProviderError>> + Send>;

/// A call to make on the provider. The closure may be invoked more than once (retries), so it
/// builds a fresh future from cloned request data each time.
pub struct ProviderCall<R> {
    call: CallFn<R>,
}

impl<R> ProviderCall<R> {
    pub fn new<F, Fut>(call: F) -> Self
    where
        F: Fn(Arc<dyn Provider>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<R, ProviderError>> + Send + 'static,
    {
        Self {
            call: Box::new(move |provider| Box::pin(call(provider))),
        }
    }
}

impl<R: Send + 'static> Message for ProviderCall<R> {
    type Result = Result<R, ProviderError>;
}

/// Asks whether the provider's circuit lets calls through (routing skips open circuits).
#[derive(Debug, Clone, Copy)]
pub struct CircuitStatus;

impl Message for CircuitStatus {
    type Result = CircuitState;
}

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

pub struct ProviderClient {
    name: String,
    provider: Arc<dyn Provider>,
    policy: Arc<ProviderPolicy>,
    slots: Arc<Semaphore>,
    breaker: Arc<Mutex<CircuitBreaker>>,
    observer: Arc<dyn Observer>,
}

impl ProviderClient {
    /// Reports the circuit opening and closing to `observer` (the `provider_circuit_open` gauge).
    pub fn observed_by(mut self, observer: Arc<dyn Observer>) -> Self {
        self.observer = observer;
        self
    }

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
}

impl Actor for ProviderClient {
    type Context = Context<Self>;
}

impl Handler<CircuitStatus> for ProviderClient {
    type Result = MessageResult<CircuitStatus>;

    fn handle(&mut self, _: CircuitStatus, _ctx: &mut Self::Context) -> Self::Result {
        let state = self
            .breaker
            .lock()
            .map(|b| b.state(Instant::now()))
            .unwrap_or(CircuitState::Closed);
        MessageResult(state)
    }
}

impl<R: Send + 'static> Handler<ProviderCall<R>> for ProviderClient {
    type Result = ResponseFuture<Result<R, ProviderError>>;

    fn handle(&mut self, msg: ProviderCall<R>, _ctx: &mut Self::Context) -> Self::Result {
        let provider = Arc::clone(&self.provider);
        let slots = Arc::clone(&self.slots);
        let policy = Arc::clone(&self.policy);
        let breaker = Arc::clone(&self.breaker);
        let name = self.name.clone();
        let observer = Arc::clone(&self.observer);
        Box::pin(async move {
            // Once an attempt may have reached the provider, a later "circuit open" must not be
            // reported as "certainly not executed": that would let routing charge elsewhere too.
            let mut uncertain = false;
            let mut attempt = 0;
            loop {
                attempt += 1;
                let admitted = breaker
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
                    let _slot = slots
                        .acquire()
                        .await
                        .map_err(|_| ProviderError::Unavailable("provider client is shutting down".into()))?;
                    // The timeout wraps the attempt: once the request may have been sent, running
                    // out of time means the outcome is unknown, which the caller must reconcile.
                    match tokio::time::timeout(policy.timeout, (msg.call)(Arc::clone(&provider))).await {
                        Ok(result) => result,
                        Err(_) => Err(ProviderError::Timeout),
                    }
                };
                let error = match result {
                    Ok(value) => {
                        close_circuit(&breaker, &observer, &name);
                        return Ok(value);
                    }
                    Err(error) => error,
                };
                if error.is_provider_fault() {
                    let opened = breaker
                        .lock()
                        .map(|mut b| b.on_failure(Instant::now()))
                        .unwrap_or(false);
                    if opened {
                        tracing::warn!(provider = %name, error = %error, "provider circuit opened");
                        observer.circuit_changed(&name, true);
                    }
                } else {
                    close_circuit(&breaker, &observer, &name);
                }
                uncertain |= matches!(error, ProviderError::Failed(_) | ProviderError::Timeout);
                if !error.is_retryable() || attempt >= policy.max_attempts {
                    return Err(match error {
                        ProviderError::Unavailable(reason) if uncertain => ProviderError::Failed(reason),
                        other => other,
                    });
                }
                let pause = policy.backoff(attempt);
                tracing::info!(provider = %name, attempt, error = %error, backoff_ms = pause.as_millis() as u64, "retrying provider call");
                tokio::time::sleep(pause).await;
            }
        })
    }
}

/// Records a call the provider answered; if that closes an open circuit, says so.
fn close_circuit(breaker: &Mutex<CircuitBreaker>, observer: &Arc<dyn Observer>, name: &str) {
    let closed = breaker.lock().map(|mut b| b.on_success()).unwrap_or(false);
    if closed {
        tracing::info!(provider = %name, "provider circuit closed");
        observer.circuit_changed(name, false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
