//! Retention of merchant events: rows older than the retention period are deleted by the purge
//! job in bounded batches, on one node at a time (the job lease), without touching a delivery
//! that is still pending (nor its attempts or its event's body) or the outbox, which the payments
//! API, the audit chain and settlements read. Rows are aged by backdating them through SQL.

use std::time::Duration;

use payrail::events::retention::{purge_once, Purged};
use payrail::store::{Database, DatabaseLeases};
use payrail_core::ports::JobLease;
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{expect_json, Backend, TestApp};
use crate::merchant_events::both_backends;
use crate::merchant_events_receiver::{register, spawn_fast, Mode, Receiver};

const DAY_MICROS: i64 = 86_400_000_000;

async fn execute(database: &Database, sql: &str) {
    match database {
        Database::Sqlite(s) => sqlx::query(sql).execute(s.pool()).await.map(|_| ()),
        Database::Postgres(s) => sqlx::query(sql).execute(s.pool()).await.map(|_| ()),
    }
    .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

async fn count(database: &Database, sql: &str) -> i64 {
    let (n,): (i64,) = match database {
        Database::Sqlite(s) => sqlx::query_as(sql).fetch_one(s.pool()).await,
        Database::Postgres(s) => sqlx::query_as(sql).fetch_one(s.pool()).await,
    }
    .unwrap_or_else(|e| panic!("{sql}: {e}"));
    n
}

/// `(attempts, deliveries, markers, outbox events)` of a payment.
async fn rows_of(app: &TestApp, payment: &str) -> (i64, i64, i64, i64) {
    let events = format!("SELECT id FROM payment_events WHERE payment_id = '{payment}'");
    (
        count(
            &app.database,
            &format!("SELECT COUNT(*) FROM webhook_delivery_attempts WHERE event_id IN ({events})"),
        )
        .await,
        count(
            &app.database,
            &format!("SELECT COUNT(*) FROM webhook_deliveries WHERE payment_id = '{payment}'"),
        )
        .await,
        count(
            &app.database,
            &format!("SELECT COUNT(*) FROM merchant_events WHERE event_id IN ({events})"),
        )
        .await,
        count(
            &app.database,
            &format!("SELECT COUNT(*) FROM payment_events WHERE payment_id = '{payment}'"),
        )
        .await,
    )
}

/// Ages every merchant-event row of `payment` by `days`.
async fn backdate(app: &TestApp, payment: &str, days: i64) {
    let by = days * DAY_MICROS;
    let events = format!("SELECT id FROM payment_events WHERE payment_id = '{payment}'");
    execute(
        &app.database,
        &format!(
            "UPDATE webhook_delivery_attempts SET attempted_at = attempted_at - {by} WHERE event_id IN ({events})"
        ),
    )
    .await;
    execute(&app.database, &format!("UPDATE webhook_deliveries SET updated_at = updated_at - {by}, created_at = created_at - {by} WHERE payment_id = '{payment}'")).await;
    execute(
        &app.database,
        &format!("UPDATE merchant_events SET fanned_out_at = fanned_out_at - {by} WHERE event_id IN ({events})"),
    )
    .await;
}

async fn old_rows_are_purged_but_pending_deliveries_and_the_outbox_stay(backend: Backend) {
    let Some(app) = spawn_fast(backend).await else { return };
    let receiver = Receiver::start(Mode::Ok);
    register(&app, &receiver.url, &["*"]).await;
    let mut payments = Vec::new();
    for amount in [1_000, 2_000, 3_000] {
        let payment = app.create_payment(amount, "4242424242424242", false).await;
        let id = payment["id"].as_str().unwrap().to_owned();
        expect_json(app.capture(&id, json!({})).await, StatusCode::OK).await;
        payments.push(id);
    }
    let expected: usize = {
        let mut n = 0;
        for p in &payments {
            n += app.events(p).await.len();
        }
        n
    };
    receiver
        .wait_for(Duration::from_secs(20), "every event delivered", |r| {
            r.len() >= expected
        })
        .await;
    // Outcomes are committed after the receiver answered: wait until nothing is pending.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while count(
        &app.database,
        "SELECT COUNT(*) FROM webhook_deliveries WHERE status = 'pending'",
    )
    .await
        > 0
    {
        assert!(std::time::Instant::now() < deadline, "deliveries stay pending");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let [expired, retried, recent] = [&payments[0], &payments[1], &payments[2]];
    let before: Vec<_> = {
        let mut all = Vec::new();
        for p in &payments {
            all.push(rows_of(&app, p).await);
        }
        all
    };
    for (attempts, deliveries, markers, outbox) in &before {
        assert!(*attempts >= *deliveries && *deliveries > 0 && markers == deliveries && outbox == deliveries);
    }
    backdate(&app, expired, 31).await;
    backdate(&app, retried, 31).await;
    // One delivery of `retried` is being retried (pending, due far in the future so the dispatcher
    // leaves it alone): it, its attempts and its event's body must survive.
    let retried_event: String = {
        let sql =
            format!("SELECT event_id FROM webhook_deliveries WHERE payment_id = '{retried}' ORDER BY sequence LIMIT 1");
        match &app.database {
            Database::Sqlite(s) => sqlx::query_as::<_, (String,)>(&sql).fetch_one(s.pool()).await,
            Database::Postgres(s) => sqlx::query_as::<_, (String,)>(&sql).fetch_one(s.pool()).await,
        }
        .unwrap()
        .0
    };
    let far = chrono::Utc::now().timestamp_micros() + 365 * DAY_MICROS;
    execute(&app.database, &format!("UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = {far} WHERE event_id = '{retried_event}'")).await;

    // Another node holds the job's lease (the app's own job took it at start-up; let it expire
    // first): this one purges nothing.
    execute(
        &app.database,
        "UPDATE job_leases SET expires_at = 0 WHERE job = 'merchant_event_retention'",
    )
    .await;
    let other = DatabaseLeases::new(app.database.clone(), Duration::from_secs(15));
    assert!(other.hold("merchant_event_retention").await);
    let mine = DatabaseLeases::new(app.database.clone(), Duration::from_secs(15));
    let now = chrono::Utc::now().timestamp_micros();
    let purged = purge_once(&app.database, &mine, 30, now).await.unwrap();
    assert_eq!(purged, Purged::default());
    assert_eq!(rows_of(&app, expired).await, before[0]);

    // An outcome the dispatcher was still committing when the rows were first backdated may have
    // freshened one of them: age both payments' rows again (still older than the retention).
    backdate(&app, expired, 31).await;
    backdate(&app, retried, 31).await;
    // Once the lease is free (here: held by the same node), the old rows go.
    let purged = purge_once(&app.database, &other, 30, now).await.unwrap();
    let (_, _, _, expired_outbox) = before[0];
    assert_eq!(
        rows_of(&app, expired).await,
        (0, 0, 0, expired_outbox),
        "the expired payment's rows"
    );
    let (attempts, deliveries, markers, outbox) = rows_of(&app, retried).await;
    assert_eq!(
        (deliveries, markers, outbox),
        (1, 1, before[1].3),
        "only the pending delivery and its body stay"
    );
    let kept_attempts = count(
        &app.database,
        &format!("SELECT COUNT(*) FROM webhook_delivery_attempts WHERE event_id = '{retried_event}'"),
    )
    .await;
    assert!(
        kept_attempts >= 1 && attempts == kept_attempts,
        "the pending delivery's attempts stay"
    );
    assert_eq!(rows_of(&app, recent).await, before[2], "recent rows stay");
    assert_eq!(purged.deliveries as i64, before[0].1 + before[1].1 - 1);
    assert_eq!(purged.events as i64, before[0].2 + before[1].2 - 1);
    // The outbox is intact: the payments API still lists every event.
    assert_eq!(app.events(expired).await.len() as i64, expired_outbox);
    // A second pass finds nothing more.
    assert_eq!(
        purge_once(&app.database, &other, 30, now).await.unwrap(),
        Purged::default()
    );
}

both_backends!(old_rows_are_purged_but_pending_deliveries_and_the_outbox_stay);
