//! The one mapping from a database error to a [`StoreError`]: every store function that talks to
//! the database returns its `sqlx::Error` through [`store_error`], so how a failure reaches the
//! core (a lost race, a broken invariant, input the database refused, an unavailable database) is
//! decided here only, by the error's SQLSTATE (`sqlstate.rs`).

use payrail_core::ports::StoreError;

/// Uniqueness and check violations are conflicts (nothing was written); data exceptions caused
/// by the request are `RejectedInput`; connection, pool and resource errors are unavailability.
pub(crate) fn store_error(error: sqlx::Error) -> StoreError {
    crate::store::sqlstate::classify(&error)
}
