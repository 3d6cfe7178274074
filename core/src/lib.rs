//! payrail's core: the payments domain, the state machine, the actors, and the ports they need.
//!
//! # Layout
//! - [`domain`]: money, ids, cards, statuses, events and the state machine (`Payment::apply`).
//! - [`ports`]: the traits the service implements — `PaymentStore`, `Provider`, `Clock`.
//! - [`operation`]: what a payment actor does with one request (decide, call provider, persist).
//! - [`settlement`]: reconciliation and provider webhooks settling what the provider decided.
//! - [`observer`]: the hook the service's metrics listen on (operations, provider calls).
//! - [`actors`]: `PaymentActor`, `PaymentSupervisor`, `ProviderClient`.
//! - [`idempotency`]: idempotency keys — the claim logic, its store port and `IdempotencyActor`.
//! - [`audit`]: the hash-chained audit log — the chain, its store port and `AuditActor`.
//!
//! This crate never depends on actix-web, sqlx or reqwest: dependencies point from the service to
//! the core, never back.

pub mod actors;
pub mod audit;
pub mod domain;
pub mod idempotency;
pub mod observer;
pub mod operation;
pub mod ports;
pub mod settlement;
