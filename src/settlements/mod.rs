//! Settlement batches (issue 17): per UTC day, one report per provider × currency × merchant of
//! the money captured and refunded, built from the day's committed payment events so that a re-run
//! gives the same figures, stored immutable once closed, and revised (never edited) when late
//! events change a day's figures.
//!
//! - `report.rs`: the pure part — events in, grouped figures, lines and a digest out.
//! - `job.rs`: one run for a date (`payrail settle`, the API's data), and the daily job that one
//!   node at a time runs under a lease.
//! - `csv.rs`: a report's lines as RFC 4180 CSV.
//!
//! Storage is `store/settlements.rs`; the merchant API is `http/settlements.rs`.

pub mod csv;
pub mod job;
pub mod report;

pub use job::{settle, spawn_daily, Settled};
