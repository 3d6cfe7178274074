//! SQLite's write path: a group-commit batch as one transaction of plain statements, one write
//! after another, in the order they were queued. SQLite has one writer anyway and its statements
//! are in-process calls, so there is nothing to gain from multi-row statements; what the batch
//! shares is the transaction, hence the one fsync.
//!
//! A transition's payment row is written first, guarded by its version (or, for a new payment, by
//! `ON CONFLICT DO NOTHING`); its event, refund and sealed contact follow only if the row moved, so
//! a stale transition writes nothing and its batch-mates are unaffected. A transition with a claim
//! writes the claim first, and deletes it again if the transition did not apply: claim, then
//! transition, or neither. A statement the database refuses fails the whole transaction, whose
//! writes are then retried one by one (`backend::commit_batch`).

use std::sync::LazyLock;

use payrail_core::domain::Transition;
use sqlx::{Sqlite, SqliteConnection, SqlitePool};

use crate::store::bind::arguments;
use crate::store::columns::{
    names, payment_changes, placeholders, values, ContactRow, Value, CLAIMS, COMPLETIONS, CONTACTS, EVENTS, PAYMENTS,
    REFUNDS, REFUND_UPSERT,
};
use crate::store::columns::{Claim, Completion};
use crate::store::contacts::INSERT_CONTACT_SQL;
use crate::store::writes::{Applied, StoreWrite};

/// A new payment; an existing id inserts nothing (0 rows): a conflict, not an error.
static INSERT_PAYMENT_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "INSERT INTO payments ({}) VALUES ({}) ON CONFLICT DO NOTHING",
        names(&PAYMENTS),
        placeholders(&PAYMENTS, 1)
    )
});

/// Everything that can change after creation, guarded by the version read before the change.
static UPDATE_PAYMENT_SQL: LazyLock<String> = LazyLock::new(|| {
    let set: Vec<String> = (payment_changes().iter().enumerate())
        .map(|(i, column)| format!("{} = ${}", column.name, i + 3))
        .collect();
    format!("UPDATE payments SET {} WHERE id = $1 AND version = $2", set.join(", "))
});

static INSERT_EVENT_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "INSERT INTO payment_events ({}) VALUES ({})",
        names(&EVENTS),
        placeholders(&EVENTS, 1)
    )
});

static UPSERT_REFUND_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "INSERT INTO refunds ({}) VALUES ({}) {REFUND_UPSERT}",
        names(&REFUNDS),
        placeholders(&REFUNDS, 1)
    )
});

static INSERT_CLAIM_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "INSERT INTO idempotency_keys ({}) VALUES ({}) ON CONFLICT (merchant_id, idempotency_key) DO NOTHING",
        names(&CLAIMS),
        placeholders(&CLAIMS, 1)
    )
});

const UNCLAIM_SQL: &str = "DELETE FROM idempotency_keys \
     WHERE merchant_id = $1 AND idempotency_key = $2 AND lock_token = $3 AND response_status IS NULL";

/// Stores a response while the key is still held by the lock token (the first three columns).
static COMPLETE_SQL: LazyLock<String> = LazyLock::new(|| {
    let (key, response) = COMPLETIONS.split_at(3);
    let set: Vec<String> = (response.iter().enumerate())
        .map(|(i, column)| format!("{} = ${}", column.name, i + 4))
        .collect();
    let key: Vec<String> = (key.iter().enumerate())
        .map(|(i, column)| format!("{} = ${}", column.name, i + 1))
        .collect();
    format!(
        "UPDATE idempotency_keys SET {} WHERE {} AND response_status IS NULL",
        set.join(", "),
        key.join(" AND ")
    )
});

/// Writes `batch` in one transaction; per write, what it did.
pub(super) async fn write(pool: &SqlitePool, batch: &[StoreWrite]) -> Result<Vec<Applied>, sqlx::Error> {
    // IMMEDIATE: the write lock is taken first, so no statement of the batch can meet
    // `SQLITE_BUSY_SNAPSHOT` halfway through.
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    let mut applied = Vec::with_capacity(batch.len());
    for write in batch {
        applied.push(write_one(&mut tx, write).await?);
    }
    tx.commit().await?;
    Ok(applied)
}

async fn write_one(conn: &mut SqliteConnection, write: &StoreWrite) -> Result<Applied, sqlx::Error> {
    match write {
        StoreWrite::Transition {
            transition,
            contact,
            claim,
            completion,
        } => {
            let row = match claim {
                None => apply(conn, transition, contact.as_ref()).await?,
                // Claim, then transition, or neither: a claim whose payment did not move is
                // deleted again in the same transaction (cheaper than a savepoint: two statements
                // fewer per keyed write, and the common case needs neither).
                Some(claim) => {
                    let moved = insert_claim(conn, claim).await? && {
                        let moved = apply(conn, transition, contact.as_ref()).await?;
                        if !moved {
                            unclaim(conn, claim).await?;
                        }
                        moved
                    };
                    moved
                }
            };
            let reply = match completion {
                Some(completion) if row => complete(conn, completion).await?,
                _ => false,
            };
            Ok(Applied { row, reply })
        }
        StoreWrite::Claim(claim) => Ok(Applied::row(insert_claim(conn, claim).await?)),
        StoreWrite::Complete(completion) => Ok(Applied::row(complete(conn, completion).await?)),
    }
}

/// Writes one transition: the payment row, then — only if it moved — its event, refund and
/// contact. `Ok(false)` when the row is not at the expected version (or the payment exists).
async fn apply(conn: &mut SqliteConnection, t: &Transition, contact: Option<&ContactRow>) -> Result<bool, sqlx::Error> {
    let p = &t.payment;
    let moved = match t.expected_version {
        None => run(conn, &INSERT_PAYMENT_SQL, values(&PAYMENTS, p)).await?,
        Some(expected) => {
            let mut guarded = vec![Value::text(p.id.as_str()), Value::int(expected)];
            guarded.extend(values(payment_changes(), p));
            run(conn, &UPDATE_PAYMENT_SQL, guarded).await?
        }
    };
    if moved != 1 {
        // Another writer moved the row on (or created it first).
        return Ok(false);
    }
    run(conn, &INSERT_EVENT_SQL, values(&EVENTS, &t.event)).await?;
    if let Some(refund) = &t.refund {
        run(conn, &UPSERT_REFUND_SQL, values(&REFUNDS, refund)).await?;
    }
    if let Some(contact) = contact {
        run(conn, &INSERT_CONTACT_SQL, values(&CONTACTS, contact)).await?;
    }
    Ok(true)
}

async fn insert_claim(conn: &mut SqliteConnection, claim: &Claim) -> Result<bool, sqlx::Error> {
    Ok(run(conn, &INSERT_CLAIM_SQL, values(&CLAIMS, claim)).await? == 1)
}

/// Deletes a claim this transaction has just inserted (by its key and lock token).
async fn unclaim(conn: &mut SqliteConnection, claim: &Claim) -> Result<(), sqlx::Error> {
    let key = vec![
        Value::text(&claim.merchant),
        Value::text(&claim.key),
        Value::text(&claim.lock_token),
    ];
    run(conn, UNCLAIM_SQL, key).await.map(drop)
}

async fn complete(conn: &mut SqliteConnection, completion: &Completion) -> Result<bool, sqlx::Error> {
    Ok(run(conn, &COMPLETE_SQL, values(&COMPLETIONS, completion)).await? == 1)
}

/// Runs one statement; the number of rows it changed.
async fn run(conn: &mut SqliteConnection, sql: &str, values: Vec<Value<'_>>) -> Result<u64, sqlx::Error> {
    let done = sqlx::query_with(sql, arguments::<Sqlite>(values)?)
        .execute(conn)
        .await?;
    Ok(done.rows_affected())
}
