//! Reconciliation against the providers' own records (issue 17): a day with captures, partial
//! refunds, failures and payments on two providers (the sandbox's own ledger, and Stripe's balance
//! transactions from the fake, fetched page by page) is compared with payrail's committed events;
//! the report finds each seeded mismatch and nothing else, audits each, and is served
//! merchant-scoped (another merchant's report is a 404); `payrail reconcile-report` runs the same.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::Utc;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::fakes::stripe::FakeStripe;
use crate::fakes::stripe_app;
use crate::helpers::{card, expect_error, expect_json, token_for, Backend, TestApp};
use crate::sql;

const OTHER_MERCHANT: &str = "merchant_other";

async fn pay(app: &TestApp, token: &str, amount: i64, number: &str, capture: bool, provider: &str) -> Value {
    let body = json!({ "amount": amount, "currency": "usd", "capture": capture, "provider": provider,
                       "payment_method": card(number) });
    expect_json(app.post_as(token, "/api/v1/payments", &body).await, StatusCode::CREATED).await
}

fn reference(payment: &Value) -> String {
    payment["provider_reference"]
        .as_str()
        .expect("provider_reference")
        .to_owned()
}

fn id(payment: &Value) -> String {
    payment["id"].as_str().expect("id").to_owned()
}

fn today() -> String {
    Utc::now().date_naive().format("%Y-%m-%d").to_string()
}

async fn reconcile(app: &TestApp, provider: &str) -> payrail::reconciliation::Reconciled {
    let book = Arc::new(app.database.clone());
    let ledger = payrail::providers::ledger(&app.settings, provider, book).expect("a listing");
    payrail::reconciliation::reconcile_day(&app.database, ledger.as_ref(), Utc::now().date_naive(), Utc::now())
        .await
        .expect("reconcile")
}

/// (mismatch, record type, reference) of every mismatch of `token`'s report of `provider` today,
/// read through the API.
async fn served_mismatches(app: &TestApp, token: &str, provider: &str) -> BTreeSet<(String, String, String)> {
    let page = expect_json(
        app.get_as(
            token,
            &format!("/api/v1/reconciliations?date={}&provider={provider}", today()),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let reports = page["data"].as_array().expect("data");
    assert_eq!(reports.len(), 1, "one report per run for the merchant: {page}");
    let id = reports[0]["id"].as_str().unwrap();
    let report = expect_json(
        app.get_as(token, &format!("/api/v1/reconciliations/{id}")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(report["mismatch_count"], report["mismatches"].as_array().unwrap().len());
    triples(&report["mismatches"])
}

fn triples(mismatches: &Value) -> BTreeSet<(String, String, String)> {
    mismatches
        .as_array()
        .expect("mismatches")
        .iter()
        .map(|m| {
            let s = |k: &str| m[k].as_str().unwrap_or_else(|| panic!("{k} in {m}")).to_owned();
            (s("mismatch"), s("record_type"), s("provider_reference"))
        })
        .collect()
}

fn expected(rows: &[(&str, &str, &str)]) -> BTreeSet<(String, String, String)> {
    rows.iter()
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
        .collect()
}

/// The unattributed report of the latest run of `provider` (operators only), as stored.
async fn unattributed(app: &TestApp, provider: &str) -> BTreeSet<(String, String, String)> {
    let filter = payrail::store::reconciliations::ReconciliationFilter {
        provider: Some(provider),
        limit: 100,
        ..Default::default()
    };
    let reports = app.database.reconciliations(&filter).await.unwrap();
    let report = reports
        .iter()
        .find(|r| r.merchant_id.is_none())
        .expect("an unattributed report");
    let (_, items) = app.database.reconciliation(&report.id, None).await.unwrap().unwrap();
    items
        .into_iter()
        .map(|i| (i.mismatch, i.record_type, i.provider_reference))
        .collect()
}

/// The refund id Stripe gave payrail's refund `refund_id`.
fn stripe_refund(fake: &FakeStripe, refund_id: &str) -> String {
    fake.refunds()
        .into_iter()
        .find(|r| r["metadata"]["payrail_refund_id"] == json!(refund_id))
        .and_then(|r| r["id"].as_str().map(str::to_owned))
        .expect("the refund at Stripe")
}

async fn a_day_on_two_providers_reconciles_to_exactly_the_seeded_mismatches(backend: Backend) {
    let Some((app, stripe)) = stripe_app(backend, &[("PROVIDER_LISTING_PAGE_SIZE", "2")]).await else {
        return;
    };
    let me = app.token.clone();
    let other = token_for(OTHER_MERCHANT);
    // Sandbox. Agreeing: a capture with two partial refunds, a decline, another merchant's capture.
    let s1 = pay(&app, &me, 10_000, "4242424242424242", true, "sandbox").await;
    expect_json(
        app.refund(&id(&s1), json!({ "amount": 2_500 })).await,
        StatusCode::CREATED,
    )
    .await;
    expect_json(
        app.refund(&id(&s1), json!({ "amount": 1_000 })).await,
        StatusCode::CREATED,
    )
    .await;
    let declined = pay(&app, &me, 9_900, "4000000000000002", true, "sandbox").await;
    assert_eq!(declined["status"], "failed");
    pay(&app, &other, 4_000, "4242424242424242", true, "sandbox").await;
    // Seeded: an amount that differs (a partial capture the sandbox booked short) …
    let s2 = pay(&app, &me, 5_000, "4242424242424242", false, "sandbox").await;
    expect_json(app.capture(&id(&s2), json!({ "amount": 3_000 })).await, StatusCode::OK).await;
    // … a status difference, a capture only payrail has, and a charge only the sandbox has.
    let s3 = pay(&app, &me, 700, "4242424242424242", true, "sandbox").await;
    let s4 = pay(&app, &me, 1_200, "4242424242424242", true, "sandbox").await;
    let (s2_ref, s3_ref, s4_ref) = (reference(&s2), reference(&s3), reference(&s4));
    for statement in [
        format!("UPDATE sandbox_ledger SET amount = 2900 WHERE reference = '{s2_ref}'"),
        format!("UPDATE sandbox_ledger SET status = 'failed' WHERE reference = '{s3_ref}'"),
        format!("DELETE FROM sandbox_ledger WHERE reference = '{s4_ref}'"),
        format!(
            "INSERT INTO sandbox_ledger (record_type, reference, payment_id, amount, currency, status, created_at) \
             VALUES ('payment', 'sb_pi_ghost', '', 4200, 'usd', 'succeeded', {})",
            Utc::now().timestamp_micros()
        ),
    ] {
        assert_eq!(sql::execute(&app.database, &statement).await.unwrap(), 1, "{statement}");
    }

    // Stripe. Agreeing: a capture and a partial refund; a decline (not in Stripe's balance).
    let t1 = pay(&app, &me, 1_000, "4242424242424242", true, "stripe").await;
    expect_json(
        app.refund(&id(&t1), json!({ "amount": 250 })).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(
        pay(&app, &me, 800, "4000000000000002", true, "stripe").await["status"],
        "failed"
    );
    // Seeded: Stripe's amount differs, a refund Stripe has no record of, a charge payrail never made.
    let t2 = pay(&app, &me, 2_000, "4242424242424242", true, "stripe").await;
    stripe.edit_balance_transaction(&reference(&t2), |t| {
        t["amount"] = json!(1_900);
        t["_source"]["amount"] = json!(1_900);
    });
    let t3 = pay(&app, &me, 1_500, "4242424242424242", true, "stripe").await;
    let t3_refund = expect_json(
        app.refund(&id(&t3), json!({ "amount": 500 })).await,
        StatusCode::CREATED,
    )
    .await;
    let t3_refund_ref = stripe_refund(&stripe, t3_refund["id"].as_str().unwrap());
    stripe.remove_balance_transaction(&t3_refund_ref);
    stripe.add_foreign_charge("pi_not_payrails", 800);

    let sandbox_run = reconcile(&app, "sandbox").await;
    let stripe_run = reconcile(&app, "stripe").await;
    assert!(
        stripe.balance_listings() >= 3,
        "five balance transactions, two a page: {:?}",
        stripe.requests()
    );

    assert_eq!(
        served_mismatches(&app, &me, "sandbox").await,
        expected(&[
            ("amount_differs", "payment", &s2_ref),
            ("status_differs", "payment", &s3_ref),
            ("missing_at_provider", "payment", &s4_ref),
        ])
    );
    assert_eq!(
        unattributed(&app, "sandbox").await,
        expected(&[("missing_at_payrail", "payment", "sb_pi_ghost")])
    );
    assert_eq!(
        served_mismatches(&app, &other, "sandbox").await,
        BTreeSet::new(),
        "the other merchant's day agrees"
    );
    assert_eq!(
        served_mismatches(&app, &me, "stripe").await,
        expected(&[
            ("amount_differs", "payment", &reference(&t2)),
            ("missing_at_provider", "refund", &t3_refund_ref),
        ])
    );
    assert_eq!(
        unattributed(&app, "stripe").await,
        expected(&[("missing_at_payrail", "payment", "pi_not_payrails")])
    );

    // The figures on both sides of a mismatch, and the counts.
    let mine = sandbox_run
        .reports
        .iter()
        .find(|(_, r)| r.merchant_id.as_deref() == Some("merchant_test"))
        .map(|(id, _)| id.clone())
        .unwrap();
    let report = expect_json(
        app.get(&format!("/api/v1/reconciliations/{mine}")).await,
        StatusCode::OK,
    )
    .await;
    // payrail: s1 capture + 2 refunds, the decline, s2, s3, s4 = 7; the sandbox lacks s4.
    assert_eq!(
        (
            &report["payrail_count"],
            &report["provider_count"],
            &report["matched_count"]
        ),
        (&json!(7), &json!(6), &json!(4)),
        "{report}"
    );
    assert_eq!(report["status"], "mismatched");
    let amount = report["mismatches"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["mismatch"] == "amount_differs")
        .unwrap();
    assert_eq!(
        amount["payrail"],
        json!({ "amount": 3_000, "currency": "usd", "status": "succeeded" })
    );
    assert_eq!(
        amount["provider"],
        json!({ "amount": 2_900, "currency": "usd", "status": "succeeded" })
    );
    assert_eq!(amount["payment_id"], s2["id"]);

    // Each mismatch is an audit entry, and the chain still verifies.
    let mismatches: usize = [&sandbox_run, &stripe_run]
        .iter()
        .flat_map(|run| run.reports.iter())
        .map(|(_, r)| r.mismatches.len())
        .sum();
    assert_eq!(mismatches, 7, "four on the sandbox, three on Stripe");
    assert_eq!(
        sql::count(
            &app.database,
            "SELECT COUNT(*) FROM audit_log WHERE kind = 'reconciliation_mismatch'"
        )
        .await,
        7
    );
    let verdict = payrail::store::verify_chain(app.database.audit_store().as_ref())
        .await
        .unwrap();
    assert!(verdict.is_ok(), "{verdict:?}");
    assert!(
        sql::execute(&app.database, "UPDATE reconciliation_items SET provider_amount = 3000")
            .await
            .is_err(),
        "a report is immutable"
    );
}

async fn reconcile_report_runs_from_the_cli_and_is_served_to_its_merchant_only(backend: Backend) {
    let operator = crate::console::OPERATOR_TOKEN;
    let Some(app) = crate::helpers::spawn_app_with(backend, &[("OPERATOR_TOKEN", operator)]).await else {
        return;
    };
    let p = pay(&app, &app.token, 3_000, "4242424242424242", true, "sandbox").await;
    expect_json(
        app.refund(&id(&p), json!({ "amount": 1_200 })).await,
        StatusCode::CREATED,
    )
    .await;
    let p_ref = reference(&p);
    sql::execute(
        &app.database,
        &format!("UPDATE sandbox_ledger SET currency = 'eur' WHERE reference = '{p_ref}'"),
    )
    .await
    .unwrap();
    // tokio's process API: the app under test runs on this thread (see settlements.rs).
    let run = |date: String, provider: &'static str| {
        let url = app.db.url.clone();
        async move {
            tokio::process::Command::new(env!("CARGO_BIN_EXE_payrail"))
                .args(["reconcile-report", "--date", &date, "--provider", provider])
                .env("CONFIG_DIR", concat!(env!("CARGO_MANIFEST_DIR"), "/config"))
                .env("DATABASE_URL", url)
                .env("LOG_LEVEL", "error")
                .output()
                .await
                .expect("run payrail reconcile-report")
        }
    };
    let output = run(today(), "sandbox").await;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("1 mismatch(es)"), "{stdout}");
    assert!(
        stdout.contains("merchant_test: payrail 2, provider 2, matched 1, mismatched 1"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "currency_differs payment {p_ref}: payrail 3000 usd succeeded, provider 3000 eur succeeded"
        )),
        "{stdout}"
    );
    let mismatches = served_mismatches(&app, &app.token, "sandbox").await;
    assert_eq!(mismatches, expected(&[("currency_differs", "payment", &p_ref)]));

    let page = expect_json(app.get("/api/v1/reconciliations").await, StatusCode::OK).await;
    let report_id = page["data"][0]["id"].as_str().unwrap().to_owned();
    assert!(report_id.starts_with("rec_"));
    let stranger = token_for(OTHER_MERCHANT);
    expect_error(
        app.get_as(&stranger, &format!("/api/v1/reconciliations/{report_id}"))
            .await,
        StatusCode::NOT_FOUND,
        "resource_missing",
        None,
    )
    .await;
    let theirs = expect_json(app.get_as(&stranger, "/api/v1/reconciliations").await, StatusCode::OK).await;
    assert_eq!(theirs["data"], json!([]));
    expect_error(
        app.get("/api/v1/reconciliations?date=2026-02-30").await,
        StatusCode::BAD_REQUEST,
        "invalid_date",
        Some("date"),
    )
    .await;

    // The console lists the report and shows the mismatch with both sides' figures, escaped.
    let console = |path: String| app.client.get(app.url(&path)).bearer_auth(operator).send();
    let listing = console(format!("/console/reconciliations?date={}", today()))
        .await
        .unwrap();
    assert_eq!(listing.status(), StatusCode::OK);
    let listing = listing.text().await.unwrap();
    assert!(
        listing.contains(&format!("href=\"/console/reconciliations/{report_id}\"")),
        "{listing}"
    );
    let shown = console(format!("/console/reconciliations/{report_id}")).await.unwrap();
    assert_eq!(shown.status(), StatusCode::OK);
    let shown = shown.text().await.unwrap();
    for expected in [
        "<td>currency_differs</td>".to_owned(),
        format!("<td>{p_ref}</td>"),
        "<td>30.00 USD succeeded</td>".to_owned(),
        "<td>30.00 EUR succeeded</td>".to_owned(),
    ] {
        assert!(shown.contains(&expected), "{expected} in {shown}");
    }
    let merchant_in_console = app
        .client
        .get(app.url(&format!("/console/reconciliations/{report_id}")))
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap();
    assert_ne!(
        merchant_in_console.status(),
        StatusCode::OK,
        "a merchant token never opens the console"
    );

    let unknown = run(today(), "stripe").await;
    assert!(!unknown.status.success(), "Stripe is not configured here");
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("invalid --provider"));
    let bad = run("2026-13-01".into(), "sandbox").await;
    assert!(String::from_utf8_lossy(&bad.stderr).contains("invalid --date"));
}

crate::provider_tests!(
    a_day_on_two_providers_reconciles_to_exactly_the_seeded_mismatches,
    reconcile_report_runs_from_the_cli_and_is_served_to_its_merchant_only,
);
