//! A keyed request's idempotency records, committed in the same transaction as its payment's
//! transitions instead of in transactions of their own.
//!
//! A create's claim rides with the new payment's first (`pending`) transition: the key and the
//! payment are written together or not at all, so a request that loses the race for its key has
//! written nothing and never reached a provider. A change's claim cannot ride along — the provider
//! is called before its only transition — so the idempotency service takes it first. The reply
//! rides with the operation's last transition: rendered (by the [`ReplyRenderer`] port) from the
//! outcome about to be committed and stored with it, so the answer the client gets is the one a
//! replay returns, byte for byte, and is durable before the client hears it.

use crate::domain::{IdempotencyKey, MerchantId, Payment, Transition};
use crate::ports::{ClaimRequest, KeyedRecords, StoreError, StoredReply};

use super::{Dependencies, OperationKind, Outcome, PaymentError};

/// Renders a merchant's answer so it can be stored for replay: a port the HTTP layer implements
/// once (status and JSON body exactly as it sends them).
pub trait ReplyRenderer: Send + Sync + 'static {
    /// The answer to a successful `kind` request; `None` when the outcome has nothing to answer.
    fn success(&self, kind: OperationKind, outcome: &Outcome) -> Option<StoredReply>;

    /// The answer to a request the state machine refused for good ([`PaymentError::is_final`]).
    fn refusal(&self, error: &PaymentError) -> StoredReply;
}

/// What the idempotency service hands an operation: the key, the token that holds it, and the
/// claim to insert with a create's first transition (`None` when it is held already).
#[derive(Clone, Debug)]
pub struct Keyed {
    pub merchant: MerchantId,
    pub key: IdempotencyKey,
    pub lock_token: String,
    pub claim: Option<ClaimRequest>,
}

/// A [`Keyed`] request as its operation commits: whether it holds its claim yet, and the reply
/// stored with its last transition.
pub(super) struct KeyedCommits {
    keyed: Keyed,
    holds_claim: bool,
    reply: Option<StoredReply>,
}

impl KeyedCommits {
    pub(super) fn new(keyed: Keyed) -> Self {
        let holds_claim = keyed.claim.is_none();
        Self {
            keyed,
            holds_claim,
            reply: None,
        }
    }

    /// Whether the request holds its claim now, and the reply committed with its last transition.
    pub(super) fn into_written(self) -> (bool, Option<StoredReply>) {
        (self.holds_claim, self.reply)
    }

    fn records(&self, claim: Option<ClaimRequest>, reply: Option<StoredReply>, deps: &Dependencies) -> KeyedRecords {
        KeyedRecords {
            merchant: self.keyed.merchant.clone(),
            key: self.keyed.key.clone(),
            lock_token: self.keyed.lock_token.clone(),
            claim,
            reply,
            at: deps.clock.now(),
        }
    }
}

/// Commits a new payment's first transition, with the request's claim if it has yet to claim.
pub(super) async fn commit_first(
    deps: &Dependencies,
    transition: Transition,
    keyed: Option<&mut KeyedCommits>,
) -> Result<Payment, StoreError> {
    let Some(keyed) = keyed.filter(|k| !k.holds_claim) else {
        return deps.commit(transition).await;
    };
    let records = keyed.records(keyed.keyed.claim.clone(), None, deps);
    let written = deps.store.commit_keyed(&transition, &records).await?;
    keyed.holds_claim = written.claimed;
    Ok(transition.payment)
}

/// Commits an operation's last transition, with the answer the request will get.
pub(super) async fn commit_last(
    deps: &Dependencies,
    kind: OperationKind,
    transition: Transition,
    keyed: Option<&mut KeyedCommits>,
) -> Result<Outcome, StoreError> {
    let outcome = Outcome {
        payment: transition.payment.clone(),
        refund: transition.refund.clone(),
    };
    let reply = keyed
        .filter(|k| k.holds_claim)
        .and_then(|k| deps.replies.success(kind, &outcome).map(|reply| (k, reply)));
    match reply {
        Some((keyed, reply)) => {
            let records = keyed.records(None, Some(reply), deps);
            keyed.reply = deps.store.commit_keyed(&transition, &records).await?.reply;
        }
        None => deps.store.commit(&transition).await?,
    }
    Ok(outcome)
}
