//! A statement over a `VALUES` list of many rows, on SQLite: `head (?, ?, …), (?, ?, …) tail`.
//! The write path (`batch.rs`) sends a batch's rows of one table in one such statement instead of
//! one statement per row: on SQLite every statement is a round trip to sqlx's worker thread (two
//! thread wake-ups), so a batch is a handful of round trips instead of three per write.
//!
//! The text depends on the number of rows; sqlx keeps each prepared text in the connection's
//! statement cache (parsing was under 0.5 % of the writer's time in `perf`). A statement takes at
//! most `SQLITE_MAX_VARIABLE_NUMBER` values (32766 in the SQLite sqlx bundles, 3.46); more rows
//! than that allows are split into several statements, in order.

use sqlx::sqlite::SqliteRow;
use sqlx::{FromRow, Sqlite, SqliteConnection};

use crate::store::bind::arguments;
use crate::store::columns::Value;

/// Bound values one SQLite statement may take (`SQLITE_MAX_VARIABLE_NUMBER` of the bundled build).
const MAX_VALUES: usize = 32766;

/// `head`, a `VALUES` list of rows `width` values wide, then `tail`.
pub(super) struct MultiRow {
    head: String,
    width: usize,
    tail: String,
}

impl MultiRow {
    pub(super) fn new(head: String, width: usize, tail: &str) -> Self {
        MultiRow {
            head,
            width,
            tail: tail.to_owned(),
        }
    }

    /// Runs the statement over `rows` (each `width` values); the rows its `RETURNING` clause gave.
    /// No rows, no statement.
    pub(super) async fn fetch<R>(
        &self,
        conn: &mut SqliteConnection,
        rows: Vec<Vec<Value<'_>>>,
    ) -> Result<Vec<R>, sqlx::Error>
    where
        R: for<'r> FromRow<'r, SqliteRow> + Send + Unpin,
    {
        let mut returned = Vec::new();
        for (sql, values) in self.chunks(rows) {
            let chunk = sqlx::query_as_with(&sql, arguments::<Sqlite>(values)?);
            returned.extend(chunk.fetch_all(&mut *conn).await?);
        }
        Ok(returned)
    }

    /// Runs the statement over `rows`, for a statement that returns nothing.
    pub(super) async fn execute(
        &self,
        conn: &mut SqliteConnection,
        rows: Vec<Vec<Value<'_>>>,
    ) -> Result<(), sqlx::Error> {
        for (sql, values) in self.chunks(rows) {
            sqlx::query_with(&sql, arguments::<Sqlite>(values)?)
                .execute(&mut *conn)
                .await?;
        }
        Ok(())
    }

    /// The statements `rows` need: as many rows in each as its values allow.
    fn chunks<'v>(&self, rows: Vec<Vec<Value<'v>>>) -> Vec<(String, Vec<Value<'v>>)> {
        let per_statement = (MAX_VALUES / self.width).max(1);
        let mut rows = rows.into_iter().peekable();
        let mut chunks = Vec::new();
        while rows.peek().is_some() {
            let chunk: Vec<Vec<Value<'v>>> = rows.by_ref().take(per_statement).collect();
            chunks.push((self.sql(chunk.len()), chunk.into_iter().flatten().collect()));
        }
        chunks
    }

    /// Values per row.
    #[cfg(test)]
    pub(super) fn width(&self) -> usize {
        self.width
    }

    /// The statement's text for `rows` rows.
    pub(super) fn sql(&self, rows: usize) -> String {
        let row = format!("({})", vec!["?"; self.width].join(", "));
        format!("{} {} {}", self.head, vec![row; rows].join(", "), self.tail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_beyond_the_value_limit_go_to_further_statements() {
        let wide = MultiRow::new("INSERT INTO t (a, b, c) VALUES".into(), 3, "RETURNING a");
        let rows: Vec<Vec<Value>> = (0..11_000)
            .map(|i| vec![Value::int(i), Value::int(i), Value::int(i)])
            .collect();
        let chunks = wide.chunks(rows);
        let sizes: Vec<usize> = chunks.iter().map(|(_, values)| values.len() / 3).collect();
        assert_eq!(sizes, [10_922, 78]);
        assert!(chunks.iter().all(|(_, values)| values.len() <= MAX_VALUES));
        assert_eq!(
            wide.sql(2),
            "INSERT INTO t (a, b, c) VALUES (?, ?, ?), (?, ?, ?) RETURNING a"
        );
    }
}
