//! The arguments of PostgreSQL's batch statement, numbered as they are pushed: each push binds a
//! value and hands back its placeholder (`$7::text[]`), which the caller writes into the SQL where
//! that value belongs. Numbering follows the order of pushes, so it cannot drift from the values.

use std::fmt;

use sqlx::postgres::{PgArguments, PgHasArrayType};
use sqlx::{Arguments, Encode, Postgres, Type};

use crate::store::columns::{Array, Column};

#[derive(Default)]
pub(super) struct Binder {
    arguments: PgArguments,
    count: usize,
    error: Option<sqlx::error::BoxDynError>,
}

impl Binder {
    /// Binds one array; its placeholder, cast to `sql_type`.
    pub(super) fn array<T>(&mut self, values: Vec<T>, sql_type: &'static str) -> Placeholder
    where
        T: PgHasArrayType + for<'q> Encode<'q, Postgres> + Type<Postgres> + Send + 'static,
    {
        if let Err(error) = self.arguments.add(values) {
            self.error.get_or_insert(error);
        }
        self.count += 1;
        Placeholder {
            number: self.count,
            sql_type,
        }
    }

    /// Binds each of `columns` over `rows` as an array; their placeholders, in column order
    /// (displayed comma-separated, ready for `UNNEST(…)`).
    pub(super) fn columns<T>(&mut self, columns: &[Column<T>], rows: &[&T]) -> Placeholders {
        let placeholders = (columns.iter())
            .map(|column| match column.array(rows) {
                (Array::Text(values), sql_type) => self.array(values, sql_type),
                (Array::Int(values), sql_type) => self.array(values, sql_type),
            })
            .collect();
        Placeholders(placeholders)
    }

    /// The bound arguments, or the first value that could not be encoded.
    pub(super) fn finish(self) -> Result<PgArguments, sqlx::Error> {
        match self.error {
            None => Ok(self.arguments),
            Some(error) => Err(sqlx::Error::Encode(error)),
        }
    }
}

/// Where a bound value goes in the SQL text: `$n::type`.
#[derive(Clone, Copy, Debug)]
pub(super) struct Placeholder {
    number: usize,
    sql_type: &'static str,
}

impl fmt::Display for Placeholder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "${}::{}", self.number, self.sql_type)
    }
}

/// Several placeholders, displayed as `$1::text[], $2::int8[], …`.
#[derive(Debug)]
pub(super) struct Placeholders(pub(super) Vec<Placeholder>);

impl fmt::Display for Placeholders {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, placeholder) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{placeholder}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::columns::REFUNDS;

    #[test]
    fn placeholders_are_numbered_in_the_order_values_are_bound() {
        let mut binder = Binder::default();
        assert_eq!(binder.array(vec![1_i64], "int8[]").to_string(), "$1::int8[]");
        let refunds = binder.columns(&REFUNDS, &[]).to_string();
        let placeholders: Vec<&str> = refunds.split(", ").collect();
        assert_eq!(placeholders.len(), REFUNDS.len());
        assert_eq!(placeholders[0], "$2::text[]");
        assert_eq!(placeholders[REFUNDS.len() - 1], "$11::int8[]");
        assert_eq!(
            binder.array(vec![Some("x".to_owned())], "text[]").to_string(),
            "$12::text[]"
        );
        assert!(binder.finish().is_ok());
    }
}
