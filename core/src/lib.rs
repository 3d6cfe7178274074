//! payrail's core: the payments domain, the state machine, the operations, the actors that
//! serialise them, idempotency, and the ports they need.
//!
//! # Layout (each layer imports only the ones below it)
//! - [`payments`]: the front door — `Payments::create/capture/cancel/refund`, answering by value.
//! - [`idempotency`]: the idempotency service (claim → execute → complete/release, crash resume).
//! - [`actors`]: `PaymentActor` (one per live payment, serialises its operations) and
//!   `PaymentSupervisor` (spawns, restarts, admits; runs operations for the layers above).
//! - [`operation`]: what is done to one payment (create, capture, cancel, refund, reconcile,
//!   provider updates) as plain async code; routing of new payments; the reply-renderer port.
//! - [`resilience`]: `ResilientProvider` — retries, backoff, circuit breaker, concurrency limit.
//! - [`audit`]: the hash-chained audit log — the chain, its store port and `AuditActor`.
//! - [`observer`]: the hook the service's metrics listen on (operations, provider calls).
//! - [`ports`]: the traits the service implements — `PaymentStore`, `IdempotencyStore`,
//!   `Provider`, `ContactSealer`, `Clock`.
//! - [`domain`]: money, ids, cards, statuses, events and the state machine (`Payment::apply`).
//!
//! This crate never depends on actix-web, sqlx or reqwest: dependencies point from the service to
//! the core, never back.

pub mod actors;
pub mod audit;
pub mod domain;
pub mod idempotency;
pub mod observer;
pub mod operation;
pub mod payments;
pub mod ports;
pub mod resilience;
#[cfg(test)]
mod testing;
