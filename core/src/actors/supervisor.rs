//! `PaymentSupervisor`: finds or spawns the actor of a payment, admits or refuses work, restarts
//! actors that died, and logs every restart.
//!
//! It is a shared handle rather than a mailbox on purpose: routing every request through one
//! actor's mailbox would serialise all payments behind it. The registry is a `DashMap`, and
//! `entry().or_insert_with()` closes the race where two requests would spawn two actors for one
//! payment. No guard is held across an `.await`.
//!
//! Actix does not restart a panicked actor: every later `send` fails with `MailboxError::Closed`.
//! The supervisor treats that as a death: it evicts the dead address (only if it is still the one
//! registered), logs `actor restarted`, counts it, and retries once on a fresh actor that
//! rehydrates from the store — but only when the dead actor never started the operation; one that
//! died mid-operation leaves an unknown outcome, which is answered as a retryable 503 rather than
//! risked twice. Passivated actors remove themselves first, so racing them is a silent retry, not a
//! restart.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use async_trait::async_trait;
use dashmap::DashMap;

use crate::actors::payment_actor::{Execute, Kill, PaymentActor, Roster};
use crate::domain::PaymentId;
use crate::operation::{Dependencies, Executed, Executor, Keyed, Operation, Outcome, PaymentError};

/// A live payment actor and the count of messages waiting on it.
#[derive(Clone)]
pub struct ActorHandle {
    pub addr: Addr<PaymentActor>,
    queued: Arc<AtomicUsize>,
}

pub(crate) type Registry = DashMap<PaymentId, ActorHandle>;

impl Roster for Registry {
    fn leave(&self, id: &PaymentId, actor: &Addr<PaymentActor>) {
        self.remove_if(id, |_, handle| &handle.addr == actor);
    }
}

/// How much work the supervisor admits.
#[derive(Debug, Clone)]
pub struct SupervisorSettings {
    /// An actor idle this long is stopped (its state is in the store).
    pub idle_timeout: Duration,
    /// Operations that may wait on one payment's actor; more are refused as overloaded.
    pub queue_per_payment: usize,
    /// Operations that may be in flight across all payments; more are refused as overloaded.
    pub max_in_flight: usize,
}

impl Default for SupervisorSettings {
    fn default() -> Self {
        Self {
            idle_timeout: Duration::from_secs(300),
            queue_per_payment: 1024,
            max_in_flight: 10_000,
        }
    }
}

#[derive(Clone)]
pub struct PaymentSupervisor {
    inner: Arc<Inner>,
}

struct Inner {
    registry: Arc<Registry>,
    deps: Arc<Dependencies>,
    settings: SupervisorSettings,
    in_flight: AtomicUsize,
    restarts: AtomicU64,
}

/// Decrements a counter when the admitted work ends, however it ends.
struct Admission<'a>(&'a AtomicUsize);

impl<'a> Admission<'a> {
    fn try_new(counter: &'a AtomicUsize, limit: usize) -> Result<Self, PaymentError> {
        if counter.fetch_add(1, Ordering::AcqRel) >= limit {
            counter.fetch_sub(1, Ordering::AcqRel);
            return Err(PaymentError::Overloaded);
        }
        Ok(Self(counter))
    }
}

impl Drop for Admission<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl PaymentSupervisor {
    pub fn new(deps: Dependencies, settings: SupervisorSettings) -> Self {
        Self {
            inner: Arc::new(Inner {
                registry: Arc::new(DashMap::new()),
                deps: Arc::new(deps),
                settings,
                in_flight: AtomicUsize::new(0),
                restarts: AtomicU64::new(0),
            }),
        }
    }

    /// The shared dependencies (store, providers, clock).
    pub fn dependencies(&self) -> &Arc<Dependencies> {
        &self.inner.deps
    }

    /// Runs `operation` on payment `id` through its actor, spawning or restarting it as needed.
    pub async fn execute(&self, id: &PaymentId, operation: Operation) -> Result<Outcome, PaymentError> {
        self.run(id, operation, None).await.result
    }

    async fn run(&self, id: &PaymentId, operation: Operation, keyed: Option<Keyed>) -> Executed {
        let inner = &self.inner;
        let _admitted = match Admission::try_new(&inner.in_flight, inner.settings.max_in_flight) {
            Ok(admitted) => admitted,
            Err(error) => return Executed::refused(error),
        };
        for _attempt in 0..2 {
            let handle = self.actor_for(id);
            let queued = match Admission::try_new(&handle.queued, inner.settings.queue_per_payment) {
                Ok(queued) => queued,
                Err(error) => return Executed::refused(error),
            };
            let started = Arc::new(AtomicBool::new(false));
            let message = Execute {
                operation: operation.clone(),
                keyed: keyed.clone(),
                started: Arc::clone(&started),
                span: tracing::Span::current(),
            };
            let sent = handle.addr.send(message).await;
            drop(queued);
            match sent {
                Ok(executed) => return executed,
                Err(MailboxError::Closed) | Err(MailboxError::Timeout) => {
                    self.evict(id, &handle.addr, "mailbox closed");
                    if started.load(Ordering::Acquire) {
                        // It died mid-operation: the change may or may not be committed. Running it
                        // again could refund twice, so the caller gets a retryable error and the
                        // store keeps the truth.
                        return Executed::refused(PaymentError::ActorUnavailable);
                    }
                }
            }
        }
        Executed::refused(PaymentError::ActorUnavailable)
    }

    /// Stops a payment's actor as if it had crashed (see [`Kill`]); the next request restarts it.
    pub async fn kill(&self, id: &PaymentId) -> bool {
        let handle = self.inner.registry.get(id).map(|entry| entry.value().clone());
        match handle {
            Some(handle) => handle.addr.send(Kill).await.is_ok(),
            None => false,
        }
    }

    /// Actors currently alive.
    pub fn active_actors(&self) -> usize {
        self.inner.registry.len()
    }

    /// Actors found dead and replaced since start.
    pub fn restarts(&self) -> u64 {
        self.inner.restarts.load(Ordering::Relaxed)
    }

    /// Operations admitted and not yet answered.
    pub fn in_flight(&self) -> usize {
        self.inner.in_flight.load(Ordering::Relaxed)
    }

    fn actor_for(&self, id: &PaymentId) -> ActorHandle {
        let inner = &self.inner;
        inner
            .registry
            .entry(id.clone())
            .or_insert_with(|| {
                let queued = Arc::new(AtomicUsize::new(0));
                let actor = PaymentActor::new(
                    id.clone(),
                    Arc::clone(&inner.deps),
                    Arc::clone(&inner.registry) as Arc<dyn Roster>,
                    Arc::clone(&queued),
                    inner.settings.idle_timeout,
                );
                ActorHandle {
                    addr: actor.start(),
                    queued,
                }
            })
            .value()
            .clone()
    }

    fn evict(&self, id: &PaymentId, dead: &Addr<PaymentActor>, reason: &str) {
        let removed = self.inner.registry.remove_if(id, |_, handle| &handle.addr == dead);
        if removed.is_some() {
            let restart_count = self.inner.restarts.fetch_add(1, Ordering::Relaxed) + 1;
            tracing::warn!(payment_id = %id, reason, restart_count, "actor restarted");
            self.inner.deps.observer.actor_restarted();
            self.inner
                .deps
                .observer
                .actor_restart_logged(id.as_str(), reason, restart_count);
        }
    }
}

#[async_trait]
impl Executor for PaymentSupervisor {
    async fn execute(&self, id: &PaymentId, operation: Operation, keyed: Option<Keyed>) -> Executed {
        self.run(id, operation, keyed).await
    }
}
