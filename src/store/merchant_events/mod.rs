//! Merchant events' tables (issue 11, migration 0005): webhook endpoints, the fan-out of committed
//! payment events into deliveries, delivery leases and attempts. Service-side queries outside the
//! core's `PaymentStore` port; `crate::events` is their only caller.
//!
//! Written once over the store's shared layer like the rest of `store/`: column lists in
//! `columns.rs`, values bound by the [`Backend`](crate::store::backend::Backend) of either
//! database. By concern: `endpoints.rs` (the endpoints API), `outbox.rs` (the fan-out, its markers
//! and cursor, the events API's reads), `deliveries.rs` (leases and attempts), `retention.rs`
//! (the purge of rows past the retention period), `statements.rs` (statements built now and run
//! together later) and `rows.rs` (the rows these read and write).

mod deliveries;
mod endpoints;
mod outbox;
mod retention;
pub(crate) mod rows;
mod statements;

pub use deliveries::{
    delivery_counts, lease, list_attempts, mark_endpoint, payloads, pending_deliveries, record_attempts, release,
};
pub use endpoints::{
    delete_endpoint, endpoints_with_due_deliveries, find_endpoint, insert_endpoint, list_endpoints, reseal_secrets,
    rotate_endpoint_secret, update_endpoint, ResealedSecrets,
};
pub use outbox::{
    advance_cursor, cursor, events_to_fan_out, find_event, insert_deliveries, insert_markers, list_events, payments,
    redeliver,
};
pub use retention::{purge_attempts, purge_deliveries, purge_markers};
pub use rows::{AttemptRecord, AttemptRow, EndpointRow, LeasedDelivery, OutboxRow};
pub use statements::{execute_all, Statement};
