//! SQLite's write path against a real, migrated database file, one batch at a time through
//! `backend::commit_batch` (the integration tests in `tests/api/group_commit.rs` cannot choose
//! which writes share a batch): every write keeps its own outcome, whatever its batch-mates do,
//! and the multi-row statements look rows up by key.

use chrono::Utc;
use payrail_core::domain::{
    Amount, AuthorizationOutcome, Command, Payment, PaymentId, RefundId, RefundStatus, SealedContact, Transition,
};
use payrail_core::ports::StoreError;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use sqlx::SqlitePool;

use super::batch::statements;
use crate::store::backend::commit_batch;
use crate::store::columns::{Claim, Completion, Value};
use crate::store::writes::fixtures::created as create;
use crate::store::writes::{Applied, StoreWrite};
use crate::store::SQLITE_MIGRATIONS;

async fn database(dir: &tempfile::TempDir) -> SqlitePool {
    let options = SqliteConnectOptions::new()
        .filename(dir.path().join("batch.db"))
        .create_if_missing(true)
        .foreign_keys(true);
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .unwrap();
    SQLITE_MIGRATIONS.run(&pool).await.unwrap();
    pool
}

fn captured(created: &Transition) -> Transition {
    let outcome = AuthorizationOutcome::Captured {
        provider_reference: "ref".into(),
    };
    (created.payment)
        .apply(Command::RecordAuthorization(outcome), Utc::now())
        .unwrap()
}

fn refund(payment: &Payment, amount: i64) -> Transition {
    let command = Command::Refund {
        id: RefundId::generate(),
        amount: Amount::new(amount).unwrap(),
        reason: None,
        status: RefundStatus::Succeeded,
        provider_reference: None,
    };
    payment.apply(command, Utc::now()).unwrap()
}

fn claim(key: &str, token: &str) -> Claim {
    Claim {
        merchant: "m".into(),
        key: key.into(),
        fingerprint: format!("fp-{key}"),
        payment_id: None,
        payment_version: None,
        lock_token: token.into(),
        now: 0,
    }
}

fn completion(key: &str, token: &str) -> Completion {
    Completion {
        merchant: "m".into(),
        key: key.into(),
        lock_token: token.into(),
        status: 201,
        body: format!("{{\"key\":\"{key}\"}}"),
        now: 0,
    }
}

fn keyed(transition: Transition, claim: Option<Claim>, completion: Option<Completion>) -> StoreWrite {
    let mut write = StoreWrite::transition(transition);
    if let StoreWrite::Transition {
        claim: c,
        completion: d,
        ..
    } = &mut write
    {
        (*c, *d) = (claim, completion);
    }
    write
}

/// Commits `writes` as one batch; each write's outcome (`Err`: the database refused it).
async fn commit(pool: &SqlitePool, writes: Vec<StoreWrite>) -> Vec<Result<Applied, StoreError>> {
    commit_batch(pool, writes).await
}

/// Commits `writes` as one batch; whether each applied.
async fn rows(pool: &SqlitePool, writes: Vec<StoreWrite>) -> Vec<bool> {
    (commit(pool, writes).await.into_iter())
        .map(|r| r.unwrap().row)
        .collect()
}

async fn count(pool: &SqlitePool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

/// A captured payment, committed.
async fn seeded(pool: &SqlitePool) -> Payment {
    let created = create();
    let capture = captured(&created);
    let written = commit(pool, vec![StoreWrite::transition(created)]).await;
    assert_eq!(written[0].as_ref().ok(), Some(&Applied::row(true)));
    let written = commit(pool, vec![StoreWrite::transition(capture.clone())]).await;
    assert_eq!(written[0].as_ref().ok(), Some(&Applied::row(true)));
    capture.payment
}

#[tokio::test]
async fn every_write_of_a_batch_keeps_its_own_outcome_beside_conflicting_ones() {
    let dir = tempfile::tempdir().unwrap();
    let pool = database(&dir).await;
    let (a, b, e) = (seeded(&pool).await, seeded(&pool).await, seeded(&pool).await);
    let stale = refund(&e, 200);
    let existing = create();
    let seed = vec![
        StoreWrite::transition(refund(&e, 100)),
        StoreWrite::transition(existing.clone()),
        StoreWrite::Claim(claim("taken", "t-taken")),
        StoreWrite::Claim(claim("held", "t-held")),
        StoreWrite::Claim(claim("moved", "t-moved")),
        StoreWrite::Claim(claim("replied", "t-replied")),
    ];
    assert!(commit(&pool, seed)
        .await
        .iter()
        .all(|r| r.as_ref().is_ok_and(|a| a.row)));

    let mut fresh = create();
    fresh.contact = Some(SealedContact {
        key_id: "k1".into(),
        ciphertext: "sealed".into(),
    });
    let unclaimed = create();
    let batch = vec![
        StoreWrite::transition(refund(&a, 400)),
        StoreWrite::transition(stale.clone()),    // e moved on: stale
        StoreWrite::transition(existing.clone()), // this id exists already
        keyed(
            fresh.clone(),
            Some(claim("fresh", "t-fresh")),
            Some(completion("fresh", "t-fresh")),
        ),
        keyed(refund(&e, 300), Some(claim("stranded", "t-stranded")), None), // stale: its claim goes
        keyed(unclaimed.clone(), Some(claim("taken", "t-other")), None),     // key taken: no payment
        keyed(refund(&e, 50), None, Some(completion("replied", "t-replied"))), // stale: no response
        StoreWrite::Claim(claim("new", "t-new")),
        StoreWrite::Claim(claim("held", "t-other")), // taken
        StoreWrite::Complete(completion("held", "t-held")),
        StoreWrite::Complete(completion("moved", "stale")), // the lock token moved on
        StoreWrite::transition(refund(&b, 250)),
    ];
    let outcomes: Vec<Applied> = commit(&pool, batch).await.into_iter().map(Result::unwrap).collect();
    let (yes, no) = (Applied::row(true), Applied::row(false));
    let replied = Applied { row: true, reply: true };
    assert_eq!(outcomes, [yes, no, no, replied, no, no, no, yes, no, yes, no, yes]);

    let refunded = |id: &PaymentId| format!("SELECT refunded_amount FROM payments WHERE id = '{}'", id.as_str());
    assert_eq!(count(&pool, &refunded(&a.id)).await, 400);
    assert_eq!(count(&pool, &refunded(&b.id)).await, 250);
    assert_eq!(
        count(&pool, &refunded(&e.id)).await,
        100,
        "the stale refunds wrote nothing"
    );
    let events = |id: &PaymentId| {
        format!(
            "SELECT COUNT(*) FROM payment_events WHERE payment_id = '{}'",
            id.as_str()
        )
    };
    assert_eq!(count(&pool, &events(&e.id)).await, 3, "created, captured, one refund");
    assert_eq!(count(&pool, &events(&existing.payment.id)).await, 1);
    assert_eq!(count(&pool, &events(&fresh.payment.id)).await, 1);
    assert_eq!(count(&pool, "SELECT COUNT(*) FROM refunds").await, 3);
    let stored = format!(
        "SELECT COUNT(*) FROM payment_contacts WHERE payment_id = '{}'",
        fresh.payment.id.as_str()
    );
    assert_eq!(count(&pool, &stored).await, 1);
    let unwritten = format!(
        "SELECT COUNT(*) FROM payments WHERE id = '{}'",
        unclaimed.payment.id.as_str()
    );
    assert_eq!(count(&pool, &unwritten).await, 0, "no payment without its claim");

    let key = |key: &str, condition: &str| {
        format!("SELECT COUNT(*) FROM idempotency_keys WHERE idempotency_key = '{key}' AND {condition}")
    };
    assert_eq!(count(&pool, &key("fresh", "response_status = 201")).await, 1);
    assert_eq!(count(&pool, &key("stranded", "1 = 1")).await, 0, "no claim left behind");
    assert_eq!(count(&pool, &key("taken", "lock_token = 't-taken'")).await, 1);
    assert_eq!(count(&pool, &key("new", "lock_token = 't-new'")).await, 1);
    assert_eq!(
        count(&pool, &key("held", "lock_token = 't-held' AND response_status = 201")).await,
        1
    );
    assert_eq!(count(&pool, &key("moved", "response_status IS NULL")).await, 1);
    assert_eq!(count(&pool, &key("replied", "response_status IS NULL")).await, 1);
}

#[tokio::test]
async fn writes_to_the_same_payment_or_key_in_one_batch_apply_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let pool = database(&dir).await;
    let a = seeded(&pool).await;
    let first = refund(&a, 100);
    let second = refund(&first.payment, 200); // decided after the first
    let loser = refund(&a, 700); // decided on the same version as the first
    let payments = vec![
        StoreWrite::transition(first),
        StoreWrite::transition(loser),
        StoreWrite::transition(second),
    ];
    assert_eq!(rows(&pool, payments).await, [true, false, true]);
    let keys = vec![
        StoreWrite::Claim(claim("k", "t-1")),
        StoreWrite::Claim(claim("k", "t-2")),
        StoreWrite::Complete(completion("k", "t-1")),
        StoreWrite::Complete(completion("k", "t-1")),
    ];
    assert_eq!(rows(&pool, keys).await, [true, false, true, false]);
    let refunded = format!("SELECT refunded_amount FROM payments WHERE id = '{}'", a.id.as_str());
    assert_eq!(count(&pool, &refunded).await, 300);
}

#[tokio::test]
async fn a_write_the_database_refuses_fails_alone_and_its_batch_mates_commit() {
    let dir = tempfile::tempdir().unwrap();
    let pool = database(&dir).await;
    let (d, f) = (seeded(&pool).await, seeded(&pool).await);
    let mut forged = refund(&d, 1_000);
    forged.payment.refunded_amount = 1_001; // breaks the money CHECK
    let fresh = create();
    let batch = vec![
        StoreWrite::transition(refund(&f, 250)),
        StoreWrite::transition(forged),
        StoreWrite::transition(fresh.clone()),
        StoreWrite::Claim(claim("k", "t")),
    ];
    let outcomes = commit(&pool, batch).await;
    assert_eq!(outcomes[0].as_ref().ok(), Some(&Applied::row(true)), "{outcomes:?}");
    assert!(matches!(outcomes[1], Err(StoreError::Conflict)), "{outcomes:?}");
    assert_eq!(outcomes[2].as_ref().ok(), Some(&Applied::row(true)), "{outcomes:?}");
    assert_eq!(outcomes[3].as_ref().ok(), Some(&Applied::row(true)), "{outcomes:?}");
    let refunded = |id: &PaymentId| format!("SELECT refunded_amount FROM payments WHERE id = '{}'", id.as_str());
    assert_eq!(count(&pool, &refunded(&d.id)).await, 0);
    assert_eq!(count(&pool, &refunded(&f.id)).await, 250);
}

/// The tables a batch writes: none may be scanned.
const WRITTEN: [&str; 5] = [
    "payments",
    "payment_events",
    "refunds",
    "payment_contacts",
    "idempotency_keys",
];

#[tokio::test]
async fn the_batch_statements_look_rows_up_by_key() {
    let dir = tempfile::tempdir().unwrap();
    let pool = database(&dir).await;
    for (sql, width) in statements(3) {
        let explain = format!("EXPLAIN QUERY PLAN {sql}");
        let nulls = (0..width * 3).map(|_| Value::Int(None)).collect();
        let arguments = crate::store::bind::arguments::<sqlx::Sqlite>(nulls).unwrap();
        let plan: Vec<(i64, i64, i64, String)> =
            sqlx::query_as_with(&explain, arguments).fetch_all(&pool).await.unwrap();
        for (.., detail) in &plan {
            let scanned = detail.strip_prefix("SCAN ").and_then(|s| s.split(' ').next());
            assert!(!scanned.is_some_and(|s| WRITTEN.contains(&s)), "{sql}: {detail}");
        }
    }
}
