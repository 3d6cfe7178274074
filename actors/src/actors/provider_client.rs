//! `ProviderClient`: one actor per configured provider, the only way the core calls a provider.
//!
//! Every call goes through one generic message, [`ProviderCall`], so the policies that surround a
//! provider call — a concurrency limit, a per-call timeout, and later retries and a circuit breaker —
//! live in one handler instead of one per operation. Calls run concurrently (`ResponseFuture`, not
//! `AtomicResponse`): the client holds no per-payment state, and serialising here would make every
//! payment wait for every other payment's provider round trip.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use tokio::sync::Semaphore;

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

/// Limits that apply to every call to one provider.
#[derive(Debug, Clone)]
pub struct ProviderPolicy {
    /// Longest a call may take before its outcome is treated as unknown.
    pub timeout: Duration,
    /// Most calls in flight to this provider at once; further calls wait for a slot.
    pub max_concurrency: usize,
}

impl Default for ProviderPolicy {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(30),
            max_concurrency: 256,
        }
    }
}

pub struct ProviderClient {
    provider: Arc<dyn Provider>,
    policy: ProviderPolicy,
    slots: Arc<Semaphore>,
}

impl ProviderClient {
    pub fn new(provider: Arc<dyn Provider>, policy: ProviderPolicy) -> Self {
        let slots = Arc::new(Semaphore::new(policy.max_concurrency.max(1)));
        Self {
            provider,
            policy,
            slots,
        }
    }
}

impl Actor for ProviderClient {
    type Context = Context<Self>;
}

impl<R: Send + 'static> Handler<ProviderCall<R>> for ProviderClient {
    type Result = ResponseFuture<Result<R, ProviderError>>;

    fn handle(&mut self, msg: ProviderCall<R>, _ctx: &mut Self::Context) -> Self::Result {
        let provider = Arc::clone(&self.provider);
        let slots = Arc::clone(&self.slots);
        let timeout = self.policy.timeout;
        Box::pin(async move {
            let _slot = slots
                .acquire_owned()
                .await
                .map_err(|_| ProviderError::Unavailable("provider client is shutting down".into()))?;
            // The timeout wraps the call itself: once the request may have been sent, running out
            // of time means the outcome is unknown, which the caller must reconcile.
            match tokio::time::timeout(timeout, (msg.call)(provider)).await {
                Ok(result) => result,
                Err(_) => Err(ProviderError::Timeout),
            }
        })
    }
}
