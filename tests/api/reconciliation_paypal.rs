//! Reconciliation against PayPal's own records: Transaction Search from the fake (two transactions
//! a page), whose captures name payrail's payment in `custom_field` while payrail refers to the
//! order — agreeing captures (one of an authorisation, in part), a refund and a denied card, plus
//! a seeded amount difference and a capture payrail never made, which are all the report finds.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::Utc;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{card, expect_json, Backend, TestApp};
use crate::paypal::paypal_app;

async fn pay(app: &TestApp, amount: i64, number: &str, capture: bool) -> Value {
    let body = json!({ "amount": amount, "currency": "usd", "capture": capture, "provider": "paypal",
                       "payment_method": card(number) });
    expect_json(app.post("/api/v1/payments", &body).await, StatusCode::CREATED).await
}

fn id(payment: &Value) -> String {
    payment["id"].as_str().expect("id").to_owned()
}

async fn paypals_transaction_search_reconciles_to_exactly_the_seeded_mismatches(backend: Backend) {
    let Some((app, paypal)) = paypal_app(backend, &[("PROVIDER_LISTING_PAGE_SIZE", "2")]).await else {
        return;
    };
    let p1 = pay(&app, 2_000, "4242424242424242", true).await;
    expect_json(
        app.refund(&id(&p1), json!({ "amount": 500 })).await,
        StatusCode::CREATED,
    )
    .await;
    let p2 = pay(&app, 1_050, "4242424242424242", false).await;
    expect_json(app.capture(&id(&p2), json!({ "amount": 800 })).await, StatusCode::OK).await;
    let declined = pay(&app, 900, "4000000000000002", true).await;
    assert_eq!(declined["status"], "failed", "{declined}");
    let p4 = pay(&app, 3_000, "4242424242424242", true).await;
    paypal.edit_capture(&id(&p4), |capture| capture["amount"]["value"] = json!("29.00"));
    paypal.add_foreign_capture("FOREIGN1", "12.34");

    let book = Arc::new(app.database.clone());
    let ledger = payrail::providers::ledger(&app.settings, "paypal", book).expect("paypal's listing");
    let run =
        payrail::reconciliation::reconcile_day(&app.database, ledger.as_ref(), Utc::now().date_naive(), Utc::now())
            .await
            .expect("reconcile");
    let searches = paypal
        .requests()
        .iter()
        .filter(|r| r.contains("/v1/reporting/transactions"))
        .count();
    assert_eq!(searches, 3, "six transactions, two a page: {:?}", paypal.requests());

    let mismatches = |merchant: Option<&str>| -> BTreeSet<(String, String)> {
        run.reports
            .iter()
            .find(|(_, r)| r.merchant_id.as_deref() == merchant)
            .map(|(_, r)| {
                r.mismatches
                    .iter()
                    .map(|m| (m.kind.as_str().to_owned(), m.reference.clone()))
                    .collect()
            })
            .unwrap_or_default()
    };
    let order = |p: &Value| p["provider_reference"].as_str().unwrap().to_owned();
    assert_eq!(
        mismatches(Some("merchant_test")),
        BTreeSet::from([("amount_differs".to_owned(), order(&p4))])
    );
    assert_eq!(
        mismatches(None),
        BTreeSet::from([("missing_at_payrail".to_owned(), "FOREIGN1CAPTURE".to_owned())])
    );
    let (mine, report) = run
        .reports
        .iter()
        .find(|(_, r)| r.merchant_id.as_deref() == Some("merchant_test"))
        .unwrap();
    assert_eq!(
        (report.payrail_count, report.provider_count, report.matched_count),
        (5, 5, 4),
        "p1 and its refund, p2, the decline, p4"
    );
    let served = expect_json(
        app.get(&format!("/api/v1/reconciliations/{mine}")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(served["mismatches"][0]["payrail"]["amount"], 3_000);
    assert_eq!(served["mismatches"][0]["provider"]["amount"], 2_900);
}

crate::provider_tests!(paypals_transaction_search_reconciles_to_exactly_the_seeded_mismatches);
