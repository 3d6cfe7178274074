//! Idempotency keys (DESIGN §5, Stripe semantics): a merchant's retry of a mutating request with the
//! same `Idempotency-Key` executes at most once and gets the first answer back.
//!
//! - [`Idempotency`] (`service.rs`): the service — claim → execute → complete or release, crash
//!   resume (`resume.rs`) — answering by value ([`Answer`]). Its reaper deletes expired keys.
//! - [`Claims`] (`claim.rs`): the plain claim logic (replay, in progress, key reused, takeover).
//! - The key ([`IdempotencyKey`]) is a domain value; the store port ([`IdempotencyStore`]) and the
//!   records a keyed request commits with its payment ([`KeyedRecords`]) live in `crate::ports`,
//!   re-exported here. How the records ride with an operation's commits: `crate::operation`'s
//!   `keyed.rs`.

mod claim;
mod resume;
mod service;
#[cfg(test)]
mod tests;

pub use claim::{new_lock_token, ClaimOutcome, Claims, IdempotencySettings, Lease, Resumed};
pub use service::{Answer, Idempotency, RequestKey};

pub use crate::domain::IdempotencyKey;
pub use crate::ports::{
    ClaimRequest, ClaimState, IdempotencyStore, KeyedRecords, KeyedWrite, StoredClaim, StoredReply,
};
