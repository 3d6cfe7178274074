//! payrail's core: the payments domain, the state machine, the actors, and the ports they need.
//!
//! # Layout
//! - [`domain`]: money, ids, cards, statuses, events and the state machine (`Payment::apply`).
//! - [`ports`]: the traits the service implements — `PaymentStore`, `Provider`, `Clock`.
//! - [`operation`]: what a payment actor does with one request (decide, call provider, persist).
//! - [`actors`]: `PaymentActor`, `PaymentSupervisor`, `ProviderClient`.
//!
//! This crate never depends on actix-web, sqlx or reqwest: dependencies point from the service to
//! the core, never back.

pub mod actors;
pub mod domain;
pub mod operation;
pub mod ports;
