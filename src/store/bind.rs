//! Binding [`Value`]s to a statement, written once for both backends: both take a text column as
//! `Option<Cow<str>>` and an integer one as `Option<i64>`, which is all the generic bounds say.

use std::borrow::Cow;

use sqlx::query_builder::Separated;
use sqlx::{Arguments, Database, Encode, Type};

use crate::store::columns::Value;

/// The arguments of a statement whose placeholders take `values`, in order.
pub(crate) fn arguments<'q, DB>(values: Vec<Value<'q>>) -> Result<DB::Arguments<'q>, sqlx::Error>
where
    DB: Database,
    Option<Cow<'q, str>>: Encode<'q, DB> + Type<DB>,
    Option<i64>: Encode<'q, DB> + Type<DB>,
{
    let mut arguments = DB::Arguments::default();
    for value in values {
        match value {
            Value::Text(text) => arguments.add(text),
            Value::Int(int) => arguments.add(int),
        }
        .map_err(sqlx::Error::Encode)?;
    }
    Ok(arguments)
}

/// One row of a multi-row `VALUES` list (`QueryBuilder::push_values`).
pub(crate) fn push_row<'q, DB>(row: &mut Separated<'_, 'q, DB, &'static str>, values: Vec<Value<'q>>)
where
    DB: Database,
    Option<Cow<'q, str>>: Encode<'q, DB> + Type<DB>,
    Option<i64>: Encode<'q, DB> + Type<DB>,
{
    for value in values {
        match value {
            Value::Text(text) => row.push_bind(text),
            Value::Int(int) => row.push_bind(int),
        };
    }
}
