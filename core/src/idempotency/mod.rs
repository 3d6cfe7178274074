//! Idempotency keys (DESIGN §5, Stripe semantics): a merchant's retry of a mutating request with the
//! same `Idempotency-Key` executes at most once and gets the first answer back.
//!
//! - [`IdempotencyKey`]: the header value, parsed (1–255 printable ASCII characters).
//! - [`IdempotencyStore`]: the port; a claim is a unique row, so it holds across processes and nodes.
//! - [`Idempotency`]: the plain logic of claiming (replay, in progress, key reused, takeover).
//! - [`IdempotencyActor`]: the shell that owns the logic and the background reaper.
//! - [`KeyedCommit`]: a request's claim and response, committed with its payment's transitions.

mod actor;
mod claim;
#[cfg(test)]
mod claim_tests;
mod key;
mod keyed;
mod store;

pub use actor::{Claim, Complete, IdempotencyActor, Release};
pub use claim::{ClaimOutcome, Idempotency, IdempotencySettings, Lease, Resumed};
pub use key::IdempotencyKey;
pub use keyed::{KeyedCommit, KeyedRecords, RenderReply, StoredReply};
pub use store::{ClaimRequest, ClaimState, IdempotencyStore, StoredClaim};
