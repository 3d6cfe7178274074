//! Reconciliation against Paystack's own records: its transaction and refund listings, read page
//! by page from the fake (two items a page), compared with payrail's committed events of the day —
//! agreeing captures, a partial refund and a decline, plus a seeded status and currency
//! difference, which are all the report finds.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::Utc;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{expect_json, Backend, TestApp};
use crate::paystack::paystack_app;

async fn charge(app: &TestApp, amount: i64, code: &str) -> Value {
    let body = json!({ "amount": amount, "currency": "ngn", "provider": "paystack",
                       "payment_method": { "type": "token", "token": code } });
    expect_json(app.post("/api/v1/payments", &body).await, StatusCode::CREATED).await
}

fn id(payment: &Value) -> String {
    payment["id"].as_str().expect("id").to_owned()
}

async fn paystacks_listings_reconcile_to_exactly_the_seeded_mismatches(backend: Backend) {
    let Some((app, paystack)) = paystack_app(backend, &[("PROVIDER_LISTING_PAGE_SIZE", "2")]).await else {
        return;
    };
    let p1 = charge(&app, 50_000, "AUTH_ok").await;
    expect_json(
        app.refund(&id(&p1), json!({ "amount": 10_000 })).await,
        StatusCode::CREATED,
    )
    .await;
    let declined = charge(&app, 7_000, "AUTH_declined").await;
    assert_eq!(declined["status"], "failed");
    let p3 = charge(&app, 20_000, "AUTH_ok").await;
    let p4 = charge(&app, 30_000, "AUTH_ok").await;
    expect_json(
        app.refund(&id(&p4), json!({ "amount": 5_000 })).await,
        StatusCode::CREATED,
    )
    .await;
    paystack.process_refunds();
    // Seeded: Paystack says p3 was abandoned, and p4 was charged in cedis.
    paystack.edit_transaction(&id(&p3), |tx| tx["status"] = json!("abandoned"));
    paystack.edit_transaction(&id(&p4), |tx| tx["currency"] = json!("GHS"));

    let book = Arc::new(app.database.clone());
    let ledger = payrail::providers::ledger(&app.settings, "paystack", book).expect("paystack's listing");
    let run =
        payrail::reconciliation::reconcile_day(&app.database, ledger.as_ref(), Utc::now().date_naive(), Utc::now())
            .await
            .expect("reconcile");
    let listings = paystack.listings();
    assert!(
        listings.iter().filter(|p| *p == "/transaction").count() >= 2,
        "four transactions, two a page: {listings:?}"
    );
    assert!(listings.iter().any(|p| p == "/refund"), "{listings:?}");

    assert_eq!(
        run.reports.len(),
        1,
        "one merchant, nothing unattributed: {:?}",
        run.reports
    );
    let (report_id, report) = &run.reports[0];
    assert_eq!(
        (report.payrail_count, report.provider_count, report.matched_count),
        (6, 6, 4)
    );
    let served = expect_json(
        app.get(&format!("/api/v1/reconciliations/{report_id}")).await,
        StatusCode::OK,
    )
    .await;
    let found: BTreeSet<(String, String)> = served["mismatches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["mismatch"].as_str().unwrap().to_owned(),
                m["provider_reference"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let reference = |p: &Value| p["provider_reference"].as_str().unwrap().to_owned();
    assert_eq!(
        found,
        BTreeSet::from([
            ("status_differs".to_owned(), reference(&p3)),
            ("currency_differs".to_owned(), reference(&p4)),
        ]),
        "{served}"
    );
    let status = served["mismatches"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["mismatch"] == "status_differs")
        .unwrap();
    assert_eq!(status["payrail"]["status"], "succeeded");
    assert_eq!(status["provider"]["status"], "failed");
    assert_eq!(status["payment_id"], p3["id"]);
}

crate::provider_tests!(paystacks_listings_reconcile_to_exactly_the_seeded_mismatches);
