//! SQLite's write path: a group-commit batch as one transaction (`BEGIN IMMEDIATE` … `COMMIT`) of
//! a few multi-row statements (`multirow.rs`) — one per table and kind of write, whatever the
//! batch size — instead of three statements per write: every statement is a round trip to sqlx's
//! SQLite worker thread (bench/README.md, issue 12, has what that saved and what it did not).
//!
//! Each write keeps its own outcome, as if the batch's writes ran one after another. The batch is
//! written in runs in which no payment and no key repeats (`writes::runs`; in practice the whole
//! batch), so a run's writes cannot see each other, and within a run the statements go in the
//! order one write's would:
//!
//! 1. the claims, `ON CONFLICT DO NOTHING`: `RETURNING` names the keys this batch now holds;
//! 2. the payment rows of the transitions whose claim (if any) was inserted: new ones `ON
//!    CONFLICT DO NOTHING`, the others in one `UPDATE … FROM (VALUES …)` guarded by each row's
//!    expected version; `RETURNING` names the payments that moved;
//! 3. the claims whose payment did not move, deleted again: claim, then transition, or neither;
//! 4. the events, refunds and sealed contacts of the payments that moved, and nothing else's;
//! 5. the completions (a transition's only if its payment moved), each only while its key is held
//!    by its lock token; `RETURNING` names the stored ones.
//!
//! A stale version, an existing payment, a taken key or a moved lock token thus fails only its
//! write. A statement the database refuses (a constraint) fails the whole transaction, whose
//! writes are then retried one by one (`backend::commit_batch`), each a run of one.

use std::collections::HashSet;
use std::sync::LazyLock;

use payrail_core::domain::Transition;
use sqlx::{SqliteConnection, SqlitePool};

use super::multirow::MultiRow;
use crate::store::columns::{
    names, payment_changes, values, Value, CLAIMS, COMPLETIONS, CONTACTS, EVENTS, PAYMENTS, REFUNDS, REFUND_UPSERT,
};
use crate::store::columns::{Claim, Completion, ContactRow};
use crate::store::writes::{runs, Applied, StoreWrite};

/// An idempotency key, as `RETURNING` names it: (merchant, key).
type Key = (String, String);

static INSERT_CLAIMS: LazyLock<MultiRow> = LazyLock::new(|| {
    MultiRow::new(
        format!("INSERT INTO idempotency_keys ({}) VALUES", names(&CLAIMS)),
        CLAIMS.len(),
        "ON CONFLICT (merchant_id, idempotency_key) DO NOTHING RETURNING merchant_id, idempotency_key",
    )
});

/// New payments; an existing id inserts nothing and is not returned: a conflict, not an error.
static INSERT_PAYMENTS: LazyLock<MultiRow> = LazyLock::new(|| {
    MultiRow::new(
        format!("INSERT INTO payments ({}) VALUES", names(&PAYMENTS)),
        PAYMENTS.len(),
        "ON CONFLICT DO NOTHING RETURNING id",
    )
});

/// Everything that can change after creation, each row guarded by the version read before the
/// change; only the rows that moved are returned.
static UPDATE_PAYMENTS: LazyLock<MultiRow> = LazyLock::new(|| {
    let set: Vec<String> = (payment_changes().iter())
        .map(|column| format!("{0} = u.{0}", column.name))
        .collect();
    MultiRow::new(
        format!("WITH u (id, expected_version, {}) AS (VALUES", names(payment_changes())),
        2 + payment_changes().len(),
        &format!(
            ") UPDATE payments SET {} FROM u \
             WHERE payments.id = u.id AND payments.version = u.expected_version RETURNING payments.id",
            set.join(", ")
        ),
    )
});

/// Claims this transaction has just inserted, by their key and lock token. (SQLite 3.40 scanned
/// the table for a row value `IN` a `VALUES` list; the bundled 3.46 looks each key up, and
/// `tests.rs` checks every statement's plan.)
static UNCLAIM: LazyLock<MultiRow> = LazyLock::new(|| {
    MultiRow::new(
        "DELETE FROM idempotency_keys WHERE response_status IS NULL \
         AND (merchant_id, idempotency_key, lock_token) IN (VALUES"
            .into(),
        3,
        ")",
    )
});

static INSERT_EVENTS: LazyLock<MultiRow> = LazyLock::new(|| {
    MultiRow::new(
        format!("INSERT INTO payment_events ({}) VALUES", names(&EVENTS)),
        EVENTS.len(),
        "",
    )
});

static UPSERT_REFUNDS: LazyLock<MultiRow> = LazyLock::new(|| {
    MultiRow::new(
        format!("INSERT INTO refunds ({}) VALUES", names(&REFUNDS)),
        REFUNDS.len(),
        REFUND_UPSERT,
    )
});

/// A retry of the same create (idempotency crash recovery) finds its contact there and leaves it.
static INSERT_CONTACTS: LazyLock<MultiRow> = LazyLock::new(|| {
    MultiRow::new(
        format!("INSERT INTO payment_contacts ({}) VALUES", names(&CONTACTS)),
        CONTACTS.len(),
        "ON CONFLICT (payment_id) DO NOTHING",
    )
});

/// Stores responses, each while its key is still held by its lock token (the first three
/// columns); only the stored ones are returned.
static COMPLETE: LazyLock<MultiRow> = LazyLock::new(|| {
    let (key, response) = COMPLETIONS.split_at(3);
    let set: Vec<String> = response.iter().map(|c| format!("{0} = d.{0}", c.name)).collect();
    let held_by: Vec<String> = (key.iter())
        .map(|c| format!("idempotency_keys.{0} = d.{0}", c.name))
        .collect();
    MultiRow::new(
        format!("WITH d ({}) AS (VALUES", names(&COMPLETIONS)),
        COMPLETIONS.len(),
        &format!(
            ") UPDATE idempotency_keys SET {} FROM d WHERE {} AND idempotency_keys.response_status IS NULL \
             RETURNING idempotency_keys.merchant_id, idempotency_keys.idempotency_key",
            set.join(", "),
            held_by.join(" AND ")
        ),
    )
});

/// Writes `batch` in one transaction; per write, what it did.
pub(super) async fn write(pool: &SqlitePool, batch: &[StoreWrite]) -> Result<Vec<Applied>, sqlx::Error> {
    // IMMEDIATE: the write lock is taken first, so no statement of the batch can meet
    // `SQLITE_BUSY_SNAPSHOT` halfway through.
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    let mut applied = Vec::with_capacity(batch.len());
    for run in runs(batch, |_| false) {
        applied.extend(write_run(&mut tx, run).await?);
    }
    tx.commit().await?;
    Ok(applied)
}

/// A transition of a run, with the records it carries.
struct TransitionWrite<'b> {
    transition: &'b Transition,
    contact: Option<&'b ContactRow>,
    claim: Option<&'b Claim>,
    completion: Option<&'b Completion>,
}

/// Writes one run (no payment and no key twice); per write, what it did.
async fn write_run(conn: &mut SqliteConnection, run: &[StoreWrite]) -> Result<Vec<Applied>, sqlx::Error> {
    let transitions: Vec<TransitionWrite> = run.iter().filter_map(transition_write).collect();
    let claims = run.iter().flat_map(|write| match write {
        StoreWrite::Transition { claim, .. } => claim.as_ref(),
        StoreWrite::Claim(claim) => Some(claim),
        StoreWrite::Complete(_) => None,
    });
    // 1. Claims; 2. the payment rows of the transitions whose claim (if any) is now held.
    let claimed: HashSet<Key> = INSERT_CLAIMS
        .fetch(conn, claims.map(|c| values(&CLAIMS, c)).collect())
        .await?
        .into_iter()
        .collect();
    let holds = |claim: &Claim| claimed.contains(&key(claim.row()));

    let held: Vec<&TransitionWrite> = (transitions.iter()).filter(|t| t.claim.map_or(true, holds)).collect();
    let moved = write_payments(conn, held.iter().map(|t| t.transition)).await?;
    let has_moved = |t: &TransitionWrite| moved.contains(t.transition.payment.id.as_str());

    // 3. Claim, then transition, or neither.
    let stranded = (held.iter()).filter(|t| !has_moved(t)).filter_map(|t| t.claim);
    UNCLAIM.execute(conn, stranded.map(held_by).collect()).await?;

    // 4. What rides with a payment row that moved.
    let written: Vec<&TransitionWrite> = held.into_iter().filter(|t| has_moved(t)).collect();
    let events = written.iter().map(|t| values(&EVENTS, &t.transition.event));
    INSERT_EVENTS.execute(conn, events.collect()).await?;
    let refunds = written.iter().filter_map(|t| t.transition.refund.as_ref());
    UPSERT_REFUNDS
        .execute(conn, refunds.map(|r| values(&REFUNDS, r)).collect())
        .await?;
    let contacts = written.iter().filter_map(|t| t.contact);
    INSERT_CONTACTS
        .execute(conn, contacts.map(|c| values(&CONTACTS, c)).collect())
        .await?;

    // 5. Responses: a transition's only if its payment moved.
    let alone = run.iter().filter_map(|write| match write {
        StoreWrite::Complete(completion) => Some(completion),
        StoreWrite::Transition { .. } | StoreWrite::Claim(_) => None,
    });
    let completions = written.iter().filter_map(|t| t.completion).chain(alone);
    let rows = completions.map(|c| values(&COMPLETIONS, c)).collect();
    let completed: HashSet<Key> = COMPLETE.fetch(conn, rows).await?.into_iter().collect();
    let stored = |c: &Completion| completed.contains(&key(c.row()));

    Ok((run.iter())
        .map(|write| match write {
            StoreWrite::Transition {
                transition, completion, ..
            } => Applied {
                row: moved.contains(transition.payment.id.as_str()),
                reply: completion.as_ref().is_some_and(stored),
            },
            StoreWrite::Claim(claim) => Applied::row(holds(claim)),
            StoreWrite::Complete(completion) => Applied::row(stored(completion)),
        })
        .collect())
}

fn transition_write(write: &StoreWrite) -> Option<TransitionWrite<'_>> {
    match write {
        StoreWrite::Transition {
            transition,
            contact,
            claim,
            completion,
        } => Some(TransitionWrite {
            transition,
            contact: contact.as_ref(),
            claim: claim.as_ref(),
            completion: completion.as_ref(),
        }),
        StoreWrite::Claim(_) | StoreWrite::Complete(_) => None,
    }
}

/// A claim's key and lock token, as `UNCLAIM` finds it.
fn held_by(claim: &Claim) -> Vec<Value<'_>> {
    vec![
        Value::text(&claim.merchant),
        Value::text(&claim.key),
        Value::text(&claim.lock_token),
    ]
}

fn key((merchant, key): (&str, &str)) -> Key {
    (merchant.to_owned(), key.to_owned())
}

/// Writes the payment rows of `transitions`: the new ones, then the version-checked updates. The
/// ids of the payments that moved.
async fn write_payments<'b>(
    conn: &mut SqliteConnection,
    transitions: impl Iterator<Item = &'b Transition>,
) -> Result<HashSet<String>, sqlx::Error> {
    let (mut created, mut updated) = (Vec::new(), Vec::new());
    for t in transitions {
        match t.expected_version {
            None => created.push(values(&PAYMENTS, &t.payment)),
            Some(expected) => {
                let mut guarded = vec![Value::text(t.payment.id.as_str()), Value::int(expected)];
                guarded.extend(values(payment_changes(), &t.payment));
                updated.push(guarded);
            }
        }
    }
    let mut moved: Vec<(String,)> = INSERT_PAYMENTS.fetch(conn, created).await?;
    moved.extend(UPDATE_PAYMENTS.fetch::<(String,)>(conn, updated).await?);
    Ok(moved.into_iter().map(|(id,)| id).collect())
}

/// Every statement of the write path for `rows` rows, with its row width (tests: query plans).
#[cfg(test)]
pub(super) fn statements(rows: usize) -> Vec<(String, usize)> {
    let all = [
        &INSERT_CLAIMS,
        &INSERT_PAYMENTS,
        &UPDATE_PAYMENTS,
        &UNCLAIM,
        &INSERT_EVENTS,
        &UPSERT_REFUNDS,
        &INSERT_CONTACTS,
        &COMPLETE,
    ];
    all.iter().map(|s| (s.sql(rows), s.width())).collect()
}
