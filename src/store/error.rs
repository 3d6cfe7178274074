//! The one mapping from a database error to a [`StoreError`]: every store function that talks to
//! the database returns its `sqlx::Error` through [`store_error`], so how a failure reaches the
//! core (a lost race, a broken invariant, an unavailable database) is decided here only.

use payrail_core::ports::StoreError;

/// Uniqueness and check violations mean the change lost a race or would break an invariant
/// (nothing was written); anything else means the database is unavailable.
pub(crate) fn store_error(error: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(db) = &error {
        if db.is_unique_violation() || db.is_check_violation() {
            return StoreError::Conflict;
        }
    }
    StoreError::Unavailable(error.to_string())
}
