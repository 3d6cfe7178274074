//! Data the database refuses, produced below the edge (the edge refuses every control character,
//! so HTTP can no longer send it): on PostgreSQL a NUL byte is SQLSTATE 22021, which is the
//! request's fault, never an outage — `StoreError::RejectedInput`, a 400 `input_rejected`, counted
//! as `database_operations_total{outcome="rejected_input"}` — and one such write never poisons the
//! group-commit batch it rides in: the others commit, the bad one alone gets its error.

use std::sync::Arc;

use actix_web::ResponseError;
use chrono::Utc;
use futures::future::join_all;
use payrail::http::ApiError;
use payrail::metrics::MeteredStore;
use payrail_core::domain::{Payment, Transition};
use payrail_core::ports::{PaymentStore, StoreError};

use crate::helpers::{spawn_app, Backend};
use crate::store_conformance::new_payment;

/// A new payment whose description PostgreSQL cannot store.
fn with_nul_byte() -> Transition {
    let mut payment = new_payment("m", 700);
    payment.description = Some("x\u{0}y".into());
    Payment::create(payment, Utc::now())
}

fn is_rejected_nul(result: &Result<(), StoreError>) -> bool {
    matches!(result, Err(StoreError::RejectedInput { sqlstate, .. }) if sqlstate == "22021")
}

#[actix_web::test]
async fn a_nul_byte_below_the_edge_is_rejected_input_not_an_outage() {
    let Some(app) = spawn_app(Backend::Postgres).await else {
        return;
    };
    let metered = MeteredStore::new(app.database.store(), app.metrics.clone());
    let result = metered.commit(&with_nul_byte()).await;
    assert!(is_rejected_nul(&result), "{result:?}");
    let Err(error) = result else { unreachable!() };
    assert_eq!(ApiError::from(error).status_code().as_u16(), 400, "never a 503");
    let scrape = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        scrape
            .lines()
            .any(|l| l == r#"database_operations_total{operation="commit",outcome="rejected_input"} 1"#),
        "{scrape}"
    );
    // The database is up: the next write is fine.
    metered
        .commit(&Payment::create(new_payment("m", 1), Utc::now()))
        .await
        .unwrap();
}

#[actix_web::test]
async fn one_bad_write_never_poisons_a_full_group_commit_batch() {
    let Some(app) = spawn_app(Backend::Postgres).await else {
        return;
    };
    let store: Arc<dyn PaymentStore> = app.database.store();
    const BAD: usize = 31;
    // 64 is the writer's batch limit: the bad write rides in a full batch.
    let batch: Vec<Transition> = (0..64)
        .map(|i| {
            if i == BAD {
                with_nul_byte()
            } else {
                Payment::create(new_payment("m", 1_000 + i as i64), Utc::now())
            }
        })
        .collect();
    let (batches_before, _) = app.database.commit_stats();
    let results = join_all(batch.iter().map(|t| store.commit(t))).await;
    let (batches_after, _) = app.database.commit_stats();
    assert!(
        batches_after - batches_before < batch.len() as u64,
        "the commits were grouped"
    );
    for (i, (result, transition)) in results.iter().zip(&batch).enumerate() {
        let stored = store.load(&transition.payment.id).await.unwrap();
        if i == BAD {
            assert!(is_rejected_nul(result), "{result:?}");
            assert!(stored.is_none(), "the bad write wrote nothing");
        } else {
            assert!(result.is_ok(), "write {i}: {result:?}");
            assert_eq!(stored.expect("committed").amount, transition.payment.amount);
        }
    }
}
