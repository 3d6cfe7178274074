//! Reconciliation against the providers' own records (issue 17) — not to be confused with
//! `reconcile.rs`, the *payment* reconciler that settles payments stuck awaiting their provider.
//! Here payrail's committed events of a UTC day (the same event-derived figures settlements use)
//! are compared with the provider's listing of that day, and every mismatch is recorded.
//!
//! - `ledger.rs`: the provider-listing port ([`ledger::ProviderLedger`]) and its normalised
//!   records; each provider implements it in `providers/<p>/ledger.rs` (the sandbox over its own
//!   ledger table).
//! - `report.rs`: the pure matching — both sides in, mismatches per merchant out.
//! - `run.rs`: one run for a date and provider (`payrail reconcile-report`): read, match, write
//!   the reports (`store/reconciliations.rs`) and an audit entry per mismatch.
//!
//! The merchant API is `http/reconciliations.rs`; the operator console shows every report.

pub mod ledger;
pub mod report;
pub mod run;

pub use run::{reconcile_day, Reconciled, ReconciliationError};
