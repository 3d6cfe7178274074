//! Operator console sessions (`console_sessions`, migration 0009), shared by every node: opening
//! one (and dropping expired ones), finding a live one, closing one. Sessions are found by the
//! SHA-256 of their cookie's id, which is all the table holds of it; the console
//! (`http/console/session.rs`) hashes before it asks.

use payrail_core::ports::StoreError;

use crate::store::backend::Backend;
use crate::store::columns::Value;
use crate::store::error::store_error;
use crate::store::Database;

/// A live session: its operator and its CSRF token.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct ConsoleSession {
    pub operator: String,
    pub csrf: String,
}

impl Database {
    /// Opens a session until `expires_at_micros`; expired sessions go at the same time.
    pub async fn open_console_session(
        &self,
        id_hash: &str,
        session: &ConsoleSession,
        expires_at_micros: i64,
        now_micros: i64,
    ) -> Result<(), StoreError> {
        let statements = vec![
            (
                "DELETE FROM console_sessions WHERE expires_at <= $1".to_owned(),
                vec![Value::int(now_micros)],
            ),
            (
                "INSERT INTO console_sessions (id_hash, operator, csrf, expires_at) VALUES ($1, $2, $3, $4)".to_owned(),
                vec![
                    Value::text(id_hash),
                    Value::text(&session.operator),
                    Value::text(&session.csrf),
                    Value::int(expires_at_micros),
                ],
            ),
        ];
        match self {
            Database::Sqlite(store) => store.pool().execute_all(statements).await,
            Database::Postgres(store) => store.pool().execute_all(statements).await,
        }
        .map_err(store_error)
    }

    /// The session with this id hash, if it has not expired.
    pub async fn console_session(&self, id_hash: &str, now_micros: i64) -> Result<Option<ConsoleSession>, StoreError> {
        let sql = "SELECT operator, csrf FROM console_sessions WHERE id_hash = $1 AND expires_at > $2";
        let values = vec![Value::text(id_hash), Value::int(now_micros)];
        match self {
            Database::Sqlite(store) => store.pool().fetch_optional(sql, values).await,
            Database::Postgres(store) => store.pool().fetch_optional(sql, values).await,
        }
        .map_err(store_error)
    }

    /// Closes a session (signing out): no node opens it again.
    pub async fn close_console_session(&self, id_hash: &str) -> Result<(), StoreError> {
        let sql = "DELETE FROM console_sessions WHERE id_hash = $1";
        match self {
            Database::Sqlite(store) => store.pool().execute(sql, vec![Value::text(id_hash)]).await,
            Database::Postgres(store) => store.pool().execute(sql, vec![Value::text(id_hash)]).await,
        }
        .map(|_| ())
        .map_err(store_error)
    }
}
