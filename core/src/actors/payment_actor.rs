//! `PaymentActor`: one per live payment, the only writer of that payment in this process.
//!
//! Its state-changing handler returns an `AtomicResponse`, which keeps the actor from taking the
//! next message while the current one awaits the provider and the database. That is what
//! serialises concurrent captures and refunds of one payment; a `ResponseActFuture` would
//! interleave two read-decide-write sequences and lose an update. The logic itself lives in
//! [`crate::operation`]; this file is only the shell: cache, serialise, passivate.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;

use crate::domain::{Payment, PaymentId};
use crate::operation::{self, Dependencies, Executed, Keyed, Operation};

/// Run one operation on the payment, serialised with every other operation on it.
///
/// `started` is set the moment the actor begins the operation. If the actor then dies without
/// answering, the supervisor knows the outcome is unknown (the store holds the truth) and must not
/// run it again; if it was never started, retrying on a fresh actor is safe.
///
/// `span` is the caller's (the HTTP request's, with its request id): the operation runs inside it,
/// so its log lines carry the request they serve.
#[derive(Clone, Debug)]
pub struct Execute {
    pub operation: Operation,
    /// A keyed request's idempotency records, committed with the operation's transitions.
    pub keyed: Option<Keyed>,
    pub started: Arc<AtomicBool>,
    pub span: tracing::Span,
}

impl Message for Execute {
    type Result = Executed;
}

/// Stops the actor as if it had crashed, without touching its registry entry. Lets tests and
/// operators exercise the supervisor's eviction and rehydration path.
#[derive(Clone, Copy, Debug)]
pub struct Kill;

impl Message for Kill {
    type Result = ();
}

pub struct PaymentActor {
    id: PaymentId,
    /// Last committed state; `None` until loaded, and after any failure that may have left the
    /// store ahead of memory, so the next message reloads it.
    state: Option<Payment>,
    deps: Arc<Dependencies>,
    roster: Arc<dyn Roster>,
    /// Messages sent to this actor and not yet answered, counted by the supervisor.
    queued: Arc<AtomicUsize>,
    last_active: Instant,
    idle_timeout: Duration,
}

/// Whoever keeps the live actors by payment id (the supervisor's registry), as a passivating actor
/// sees it: a port, so this file need not know the supervisor that spawns it.
pub(crate) trait Roster: Send + Sync + 'static {
    /// `actor` leaves the roster, unless a newer actor of the same payment has replaced it.
    fn leave(&self, id: &PaymentId, actor: &Addr<PaymentActor>);
}

impl PaymentActor {
    pub(crate) fn new(
        id: PaymentId,
        deps: Arc<Dependencies>,
        roster: Arc<dyn Roster>,
        queued: Arc<AtomicUsize>,
        idle_timeout: Duration,
    ) -> Self {
        Self {
            id,
            state: None,
            deps,
            roster,
            queued,
            last_active: Instant::now(),
            idle_timeout,
        }
    }

    /// Passivation: an actor idle for `idle_timeout` with nothing queued leaves the registry and
    /// stops. Its state is already persisted, so a request that raced this sees the mailbox closed
    /// and is retried on a fresh actor that reloads it.
    fn passivate_if_idle(&mut self, ctx: &mut Context<Self>) {
        if self.last_active.elapsed() < self.idle_timeout || self.queued.load(Ordering::Acquire) > 0 {
            return;
        }
        let me = ctx.address();
        self.roster.leave(&self.id, &me);
        tracing::debug!(payment_id = %self.id, "payment actor passivated");
        ctx.stop();
    }
}

impl Actor for PaymentActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        let every = (self.idle_timeout / 2).clamp(Duration::from_millis(50), Duration::from_secs(30));
        ctx.run_interval(every, Self::passivate_if_idle);
    }
}

impl Handler<Execute> for PaymentActor {
    type Result = AtomicResponse<Self, Executed>;

    fn handle(
        &mut self,
        Execute {
            operation,
            keyed,
            started,
            span,
        }: Execute,
        _ctx: &mut Self::Context,
    ) -> Self::Result {
        use tracing::Instrument;
        started.store(true, Ordering::Release);
        let deps = Arc::clone(&self.deps);
        let id = self.id.clone();
        let cached = self.state.take();
        AtomicResponse::new(Box::pin(
            async move { operation::execute(&deps, &id, cached, operation, keyed).await }
                .instrument(span)
                .into_actor(self)
                .map(|(executed, state), actor, _ctx| {
                    actor.state = state;
                    actor.last_active = Instant::now();
                    executed
                }),
        ))
    }
}

impl Handler<Kill> for PaymentActor {
    type Result = ();

    fn handle(&mut self, _: Kill, ctx: &mut Self::Context) {
        tracing::debug!(payment_id = %self.id, "payment actor killed on request");
        ctx.stop();
    }
}
