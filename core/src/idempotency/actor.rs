//! `IdempotencyActor`: one per process, owning the claim logic and the reaper that deletes keys
//! after their TTL.
//!
//! Its handlers return `ResponseFuture`s on purpose: claims for different keys must not queue
//! behind one another, and they need no in-memory serialisation because the store's unique row
//! decides every race (also across nodes).

use actix::prelude::*;

use crate::domain::MerchantId;
use crate::idempotency::{ClaimOutcome, ClaimRequest, Idempotency, IdempotencyKey};
use crate::ports::StoreError;

/// Claim a key for a request (or learn that it is finished, running, or reused).
#[derive(Debug)]
pub struct Claim(pub ClaimRequest);

impl Message for Claim {
    type Result = Result<ClaimOutcome, StoreError>;
}

/// Store the response of the request holding `token`.
#[derive(Debug)]
pub struct Complete {
    pub merchant: MerchantId,
    pub key: IdempotencyKey,
    pub token: String,
    pub status: u16,
    pub body: Vec<u8>,
}

impl Message for Complete {
    type Result = Result<(), StoreError>;
}

/// Give the key up: the request changed nothing and may be retried with the same key.
#[derive(Debug)]
pub struct Release {
    pub merchant: MerchantId,
    pub key: IdempotencyKey,
    pub token: String,
}

impl Message for Release {
    type Result = Result<(), StoreError>;
}

pub struct IdempotencyActor {
    logic: Idempotency,
}

impl IdempotencyActor {
    pub fn new(logic: Idempotency) -> Self {
        Self { logic }
    }
}

impl Actor for IdempotencyActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        let every = self.logic.settings().reap_interval;
        ctx.run_interval(every, |actor, _ctx| {
            let logic = actor.logic.clone();
            actix::spawn(async move {
                match logic.reap().await {
                    Ok(0) => {}
                    Ok(reaped) => tracing::info!(reaped, "expired idempotency keys deleted"),
                    Err(error) => tracing::warn!(%error, "idempotency reaper failed; will retry"),
                }
            });
        });
    }
}

impl Handler<Claim> for IdempotencyActor {
    type Result = ResponseFuture<Result<ClaimOutcome, StoreError>>;

    fn handle(&mut self, Claim(request): Claim, _ctx: &mut Self::Context) -> Self::Result {
        let logic = self.logic.clone();
        Box::pin(async move { logic.claim(&request).await })
    }
}

impl Handler<Complete> for IdempotencyActor {
    type Result = ResponseFuture<Result<(), StoreError>>;

    fn handle(&mut self, m: Complete, _ctx: &mut Self::Context) -> Self::Result {
        let logic = self.logic.clone();
        Box::pin(async move { logic.complete(&m.merchant, &m.key, &m.token, m.status, &m.body).await })
    }
}

impl Handler<Release> for IdempotencyActor {
    type Result = ResponseFuture<Result<(), StoreError>>;

    fn handle(&mut self, m: Release, _ctx: &mut Self::Context) -> Self::Result {
        let logic = self.logic.clone();
        Box::pin(async move { logic.release(&m.merchant, &m.key, &m.token).await })
    }
}
