//! Reconciliation against Flutterwave's own records: its transaction and refund listings, read page
//! by page from the fake (two a page), in major units — agreeing charges, a preauthorization
//! captured in part, a partial refund and a decline, plus a seeded amount difference and a refund
//! Flutterwave has no record of, which are all the report finds.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::Utc;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::flutterwave::flutterwave_app;
use crate::helpers::{expect_json, Backend, TestApp};

async fn charge(app: &TestApp, amount: i64, token: &str, capture: bool) -> Value {
    let body = json!({ "amount": amount, "currency": "ngn", "capture": capture, "provider": "flutterwave",
                       "payment_method": { "type": "token", "token": token } });
    expect_json(app.post("/api/v1/payments", &body).await, StatusCode::CREATED).await
}

fn id(payment: &Value) -> String {
    payment["id"].as_str().expect("id").to_owned()
}

async fn flutterwaves_listings_reconcile_to_exactly_the_seeded_mismatches(backend: Backend) {
    let Some((app, flutterwave)) = flutterwave_app(backend, &[]).await else {
        return;
    };
    flutterwave.set_page_size(2);
    let p1 = charge(&app, 250_050, "flw-t1nf-ok", true).await;
    expect_json(app.refund(&id(&p1), json!({ "amount": 50 })).await, StatusCode::CREATED).await;
    let p2 = charge(&app, 10_000, "flw-t1nf-ok", false).await;
    expect_json(app.capture(&id(&p2), json!({ "amount": 6_000 })).await, StatusCode::OK).await;
    let declined = charge(&app, 1_000, "flw-t1nf-declined", true).await;
    assert_eq!(declined["status"], "failed");
    let p4 = charge(&app, 40_000, "flw-t1nf-ok", true).await;
    let lost = expect_json(
        app.refund(&id(&p4), json!({ "amount": 1_000 })).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(lost["status"], "succeeded");
    // Seeded: Flutterwave charged p1 a naira less, and has no record of p4's refund.
    flutterwave.edit_transaction(&id(&p1), |tx| tx["charged_amount"] = json!(2499.5));
    let refunds = flutterwave.refunds();
    let lost_at_flutterwave = refunds.last().expect("p4's refund");
    let lost_id = lost_at_flutterwave["id"].as_i64().unwrap();
    flutterwave.remove_refund(lost_id);

    let book = Arc::new(app.database.clone());
    let ledger = payrail::providers::ledger(&app.settings, "flutterwave", book).expect("flutterwave's listing");
    let run =
        payrail::reconciliation::reconcile_day(&app.database, ledger.as_ref(), Utc::now().date_naive(), Utc::now())
            .await
            .expect("reconcile");
    let listings: Vec<String> = flutterwave
        .recorded()
        .iter()
        .filter(|r| r.method == "GET" && (r.path == "/v3/transactions" || r.path == "/v3/refunds"))
        .map(|r| r.path.clone())
        .collect();
    assert_eq!(
        listings.iter().filter(|p| *p == "/v3/transactions").count(),
        2,
        "four charges, two a page: {listings:?}"
    );

    assert_eq!(run.reports.len(), 1, "{:?}", run.reports);
    let (report_id, report) = &run.reports[0];
    assert_eq!(
        (report.payrail_count, report.provider_count, report.matched_count),
        (6, 5, 4),
        "p1 and its refund, p2, the decline, p4 and its refund"
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
                m["record_type"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        found,
        BTreeSet::from([
            ("amount_differs".to_owned(), "payment".to_owned()),
            ("missing_at_provider".to_owned(), "refund".to_owned()),
        ]),
        "{served}"
    );
    let amount = served["mismatches"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["mismatch"] == "amount_differs")
        .unwrap();
    assert_eq!(amount["payment_id"], p1["id"]);
    assert_eq!(
        (&amount["payrail"]["amount"], &amount["provider"]["amount"]),
        (&json!(250_050), &json!(249_950))
    );
    let missing = served["mismatches"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["mismatch"] == "missing_at_provider")
        .unwrap();
    assert_eq!(missing["provider_reference"], lost_id.to_string());
}

crate::provider_tests!(flutterwaves_listings_reconcile_to_exactly_the_seeded_mismatches);
