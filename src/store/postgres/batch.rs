//! PostgreSQL's write path: a group-commit batch as one statement. Every write of the batch —
//! idempotency claims and completions, new payments, version-checked updates, their events,
//! refunds and sealed contacts — goes to the server as column arrays in a single data-modifying
//! `WITH` query. One statement is one round trip and, outside an explicit transaction, one atomic
//! transaction with one WAL flush: the database does per batch what a naive service does per row.
//!
//! The SQL text never changes with the batch size (`UNNEST` of arrays, not `VALUES` lists), so it
//! is prepared once per connection and its plan is reused (`statement.rs` writes it, once per
//! process, from the placeholders the [`Binder`] handed out as the arrays were bound).
//!
//! Each write still has its own outcome: a claim whose key exists inserts nothing (`ON CONFLICT DO
//! NOTHING`), a completion whose lock token moved on and an update whose version moved on touch no
//! row, and a payment's event, refund and contact are written only if its row moved. The
//! `RETURNING` rows name what moved; everything else is answered `false` without disturbing its
//! batch-mates. Rows are sent in key order, so two concurrent batches lock shared rows in the same
//! order.
//!
//! A keyed request's claim rides with its payment's row (`INSERT`/`UPDATE … WHERE` the claim was
//! inserted, so no payment moves without its claim) and its response with its payment's last
//! transition (stored only if that payment moved): see `payrail_core::operation` (`keyed.rs`).
//! The claim cannot in turn depend on the payment row in one statement: a claim riding with a new
//! payment whose id already existed would stay behind, holding its key until the lock timeout, so
//! claims ride only with fresh, random ids (a resumed create claims first). A claim riding with an
//! update (rare) is written alone in a transaction, rolled back unless its payment moved.
//!
//! The statement cannot write the same row twice, so a batch holding one payment or one key twice
//! (never produced by actors, which wait for each commit) is written as consecutive statements
//! ([`parts`]), in order.

use std::collections::HashSet;

use sqlx::{Acquire, PgConnection, PgPool};

use super::binder::Binder;
use super::statement::{Arrays, Rows};
use crate::store::writes::{runs, Applied, StoreWrite};

/// Splits `batch` into consecutive runs one statement can write: no payment and no key twice in a
/// run (`writes::runs`), and a claim riding with an update alone in its own.
pub(super) fn parts(batch: &[StoreWrite]) -> Vec<&[StoreWrite]> {
    runs(batch, claims_with_update)
}

fn claims_with_update(write: &StoreWrite) -> bool {
    matches!(write, StoreWrite::Transition { transition, claim: Some(_), .. } if transition.expected_version.is_some())
}

/// Writes one part (from [`parts`]); per write, what it did.
pub(super) async fn write(pool: &PgPool, part: &[StoreWrite]) -> Result<Vec<Applied>, sqlx::Error> {
    let mut conn = pool.acquire().await?;
    if !part.iter().any(claims_with_update) {
        return statement(&mut conn, part).await;
    }
    // A claim with an update: the claim must not stay behind if the payment did not move.
    let mut tx = conn.begin().await?;
    let applied = statement(&mut tx, part).await?;
    if applied.iter().all(|a| a.row) {
        tx.commit().await?;
        Ok(applied)
    } else {
        tx.rollback().await?;
        Ok(vec![Applied::default(); part.len()])
    }
}

async fn statement(conn: &mut PgConnection, part: &[StoreWrite]) -> Result<Vec<Applied>, sqlx::Error> {
    let rows = Rows::of(part);
    let mut binder = Binder::default();
    let arrays = Arrays::bind(&mut binder, &rows);
    let sql = arrays.sql();
    let returned: Vec<(String, String, String)> =
        sqlx::query_as_with(sql, binder.finish()?).fetch_all(&mut *conn).await?;
    Ok(outcomes(part, returned))
}

/// Each write's outcome, from the `RETURNING` rows naming what moved.
fn outcomes(part: &[StoreWrite], returned: Vec<(String, String, String)>) -> Vec<Applied> {
    let mut moved = HashSet::new();
    let mut claimed = HashSet::new();
    let mut completed = HashSet::new();
    for (what, a, b) in returned {
        match what.as_str() {
            "payment" => moved.insert(a),
            "claim" => claimed.insert((a, b)),
            _ => completed.insert((a, b)),
        };
    }
    let has = |set: &HashSet<(String, String)>, (merchant, key): (&str, &str)| {
        set.contains(&(merchant.to_owned(), key.to_owned()))
    };
    (part.iter())
        .map(|write| match write {
            StoreWrite::Transition {
                transition, completion, ..
            } => Applied {
                row: moved.contains(transition.payment.id.as_str()),
                reply: completion.as_ref().is_some_and(|c| has(&completed, c.row())),
            },
            StoreWrite::Claim(claim) => Applied::row(has(&claimed, claim.row())),
            StoreWrite::Complete(completion) => Applied::row(has(&completed, completion.row())),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use payrail_core::domain::Transition;

    use super::*;
    use crate::store::columns::Claim;
    use crate::store::writes::fixtures::created as create;

    /// A later transition of the same payment (only the version check matters here).
    fn update(of: &Transition) -> Transition {
        let mut next = of.clone();
        next.expected_version = Some(1);
        next
    }

    fn claim(key: &str) -> Claim {
        Claim {
            merchant: "m".into(),
            key: key.into(),
            fingerprint: "f".into(),
            payment_id: None,
            payment_version: None,
            lock_token: "t".into(),
            now: 0,
        }
    }

    fn sizes(batch: &[StoreWrite]) -> Vec<usize> {
        parts(batch).iter().map(|part| part.len()).collect()
    }

    #[test]
    fn a_batch_is_split_only_where_a_row_repeats() {
        let (a, b) = (create(), create());
        let batch = [
            StoreWrite::transition(a.clone()),
            StoreWrite::transition(b),
            StoreWrite::transition(update(&a)),
            StoreWrite::Claim(claim("k1")),
            StoreWrite::Claim(claim("k1")),
        ];
        assert_eq!(sizes(&batch), [2, 2, 1]);
        let distinct = [
            StoreWrite::transition(create()),
            StoreWrite::Claim(claim("k1")),
            StoreWrite::Claim(claim("k2")),
        ];
        assert_eq!(sizes(&distinct), [3]);
    }

    #[test]
    fn the_statement_text_is_the_same_whatever_the_batch_holds() {
        let empty = Arrays::bind(&mut Binder::default(), &Rows::default()).write_sql();
        let created = create();
        let batch = [
            StoreWrite::transition(created.clone()),
            StoreWrite::transition(update(&create())),
            StoreWrite::Claim(claim("k1")),
        ];
        let full = Arrays::bind(&mut Binder::default(), &Rows::of(&batch)).write_sql();
        assert_eq!(empty, full);
        assert!(full.contains("UNNEST($1::text[], $2::text[]"));
    }

    #[test]
    fn a_claim_riding_with_an_update_is_written_alone() {
        let updated = update(&create());
        let keyed = StoreWrite::Transition {
            transition: updated,
            contact: None,
            claim: Some(claim("k1")),
            completion: None,
        };
        let batch = [
            StoreWrite::transition(create()),
            keyed,
            StoreWrite::transition(create()),
        ];
        assert_eq!(sizes(&batch), [1, 1, 1]);
    }
}
