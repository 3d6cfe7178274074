//! What a database error says about whose fault it is, decided in one place for both backends.
//!
//! A refused statement is one of three things. The request lost a race or would break an invariant
//! (`23505` unique, `23514` check): a conflict, nothing was written. The request carried data the
//! database will not store (`22xxx` data exceptions such as `22021` "character not in repertoire"
//! for a NUL byte, `22001` too long, `22003` out of range; other integrity violations; `54xxx`
//! program limits such as an index row too large; SQLite's "too big" and "datatype mismatch"): the
//! edge should have refused it, so it is answered as the client's error and logged as ours — never
//! as an outage, which clients would retry and operators would page on. Everything else —
//! connection, pool and I/O failures, `08xxx` connection exceptions, `57Pxx` shutdowns, `53xxx`
//! out of resources, serialization failures, unknown codes — is the database being unavailable.
//!
//! PostgreSQL names errors by five-character SQLSTATE; SQLite by a numeric (extended) result code of
//! at most four digits, whose low byte is the primary code. The length tells them apart.

use payrail_core::ports::StoreError;
use sqlx::error::ErrorKind;

/// Maps a driver error onto the store's error (see the module docs).
pub(crate) fn classify(error: &sqlx::Error) -> StoreError {
    let sqlx::Error::Database(db) = error else {
        return StoreError::Unavailable(error.to_string());
    };
    if db.is_unique_violation() || db.is_check_violation() {
        return StoreError::Conflict;
    }
    let code = db.code().unwrap_or_default().into_owned();
    let integrity = matches!(db.kind(), ErrorKind::NotNullViolation | ErrorKind::ForeignKeyViolation);
    if integrity || caused_by_input(&code) {
        return StoreError::RejectedInput {
            sqlstate: code,
            message: db.message().to_owned(),
        };
    }
    StoreError::Unavailable(error.to_string())
}

/// Whether an error code means "this data cannot be stored" rather than "the database failed".
pub(crate) fn caused_by_input(code: &str) -> bool {
    if code.len() == 5 {
        // SQLSTATE: the first two characters are the class.
        return matches!(&code[..2], "22" | "23" | "54");
    }
    match code.parse::<u32>() {
        // SQLITE_TOOBIG, SQLITE_MISMATCH, and SQLITE_CONSTRAINT's not-null and foreign-key cases.
        Ok(sqlite) => matches!(sqlite & 0xff, 18 | 20) || matches!(sqlite, 787 | 1299),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::Connection;

    #[test]
    fn postgres_data_exceptions_and_limits_are_the_requests_fault() {
        for code in ["22021", "22P05", "22003", "22001", "23502", "23503", "54000"] {
            assert!(caused_by_input(code), "{code}");
        }
    }

    #[test]
    fn postgres_outages_are_not_the_requests_fault() {
        for code in [
            "08006", "08001", "57P01", "57P03", "57014", "53300", "53100", "40001", "XX000", "42P01",
        ] {
            assert!(!caused_by_input(code), "{code}");
        }
    }

    #[test]
    fn sqlite_result_codes_are_told_apart_from_sqlstates() {
        for code in ["18", "20", "787", "1299"] {
            assert!(caused_by_input(code), "{code}");
        }
        // BUSY, LOCKED, IOERR_WRITE, FULL, CANTOPEN, READONLY.
        for code in ["5", "6", "778", "13", "14", "8", "", "abc"] {
            assert!(!caused_by_input(code), "{code}");
        }
    }

    #[test]
    fn connection_and_pool_failures_are_unavailability() {
        for error in [
            sqlx::Error::PoolTimedOut,
            sqlx::Error::PoolClosed,
            sqlx::Error::WorkerCrashed,
        ] {
            assert!(matches!(classify(&error), StoreError::Unavailable(_)), "{error}");
        }
        let io = sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert!(matches!(classify(&io), StoreError::Unavailable(_)));
    }

    #[tokio::test]
    async fn real_sqlite_errors_are_classified_by_their_code() {
        let mut db = sqlx::SqliteConnection::connect("sqlite::memory:").await.unwrap();
        sqlx::query("CREATE TABLE t (id TEXT PRIMARY KEY, n INTEGER NOT NULL CHECK (n >= 0))")
            .execute(&mut db)
            .await
            .unwrap();
        sqlx::query("INSERT INTO t VALUES ('a', 1)")
            .execute(&mut db)
            .await
            .unwrap();
        let mut db_errors = Vec::new();
        for sql in [
            "INSERT INTO t VALUES ('a', 2)",
            "INSERT INTO t VALUES ('b', -1)",
            "INSERT INTO t VALUES ('c', NULL)",
            "SELECT zeroblob(2000000000)",
        ] {
            db_errors.push(sqlx::query(sql).execute(&mut db).await.unwrap_err());
        }
        let classified: Vec<StoreError> = db_errors.iter().map(classify).collect();
        assert!(matches!(classified[0], StoreError::Conflict), "{classified:?}");
        assert!(matches!(classified[1], StoreError::Conflict), "{classified:?}");
        assert!(
            matches!(&classified[2], StoreError::RejectedInput { sqlstate, .. } if sqlstate == "1299"),
            "{classified:?}"
        );
        assert!(
            matches!(&classified[3], StoreError::RejectedInput { sqlstate, .. } if sqlstate == "18"),
            "{classified:?}"
        );
    }
}
