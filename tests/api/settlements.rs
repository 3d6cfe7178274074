//! Settlement batches (issue 17): a day's reports per provider × currency × merchant are built
//! from the events committed that day, match a hand-computed expectation, are the same on a
//! re-run, become revision 2 after a late event, are immutable once closed, and are served
//! merchant-scoped as JSON and as RFC 4180 CSV.

use chrono::Utc;
use payrail_core::domain::{PaymentId, RefundId, RefundStatus};
use payrail_core::operation::{Operation, ProviderUpdate};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::fakes::stripe_app;
use crate::helpers::{card, expect_error, expect_json, token_for, Backend, TestApp};
use crate::sql;

const OTHER_MERCHANT: &str = "merchant_other";

async fn pay(app: &TestApp, token: &str, amount: i64, number: &str, capture: bool, provider: &str) -> Value {
    let body = json!({ "amount": amount, "currency": "usd", "capture": capture, "provider": provider,
                       "payment_method": card(number) });
    expect_json(app.post_as(token, "/api/v1/payments", &body).await, StatusCode::CREATED).await
}

fn id(payment: &Value) -> String {
    payment["id"].as_str().expect("id").to_owned()
}

async fn settle_today(app: &TestApp) -> payrail::settlements::Settled {
    payrail::settlements::settle(&app.database, Utc::now().date_naive(), None, Utc::now())
        .await
        .expect("settle")
}

/// (provider, merchant, revision, captured, captured count, refunded, refunded count, net) per
/// report of today, as the API lists them for `token`.
async fn listed(app: &TestApp, token: &str) -> Vec<(String, String, i64, i64, i64, i64, i64, i64)> {
    let today = Utc::now().date_naive().format("%Y-%m-%d").to_string();
    let page = expect_json(
        app.get_as(token, &format!("/api/v1/settlements?date={today}")).await,
        StatusCode::OK,
    )
    .await;
    page["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|s| {
            assert_eq!(s["currency"], "usd", "{s}");
            assert_eq!(s["fees"], Value::Null, "no provider reports fees yet: {s}");
            assert_eq!(s["status"], "closed");
            let n = |k: &str| s[k].as_i64().unwrap_or_else(|| panic!("{k} in {s}"));
            (
                s["provider"].as_str().unwrap().to_owned(),
                s["merchant_id"].as_str().unwrap().to_owned(),
                n("revision"),
                n("captured_amount"),
                n("captured_count"),
                n("refunded_amount"),
                n("refunded_count"),
                n("net_amount"),
            )
        })
        .collect()
}

fn row(
    provider: &str,
    merchant: &str,
    revision: i64,
    figures: [i64; 5],
) -> (String, String, i64, i64, i64, i64, i64, i64) {
    let [captured, captured_n, refunded, refunded_n, net] = figures;
    (
        provider.into(),
        merchant.into(),
        revision,
        captured,
        captured_n,
        refunded,
        refunded_n,
        net,
    )
}

async fn a_days_settlement_matches_the_hand_computed_figures_and_revises_on_late_events(backend: Backend) {
    let Some((app, _stripe)) = stripe_app(backend, &[]).await else {
        return;
    };
    let me = app.token.clone();
    let other = token_for(OTHER_MERCHANT);
    // Sandbox: 100.00 captured at once, refunded 25.00 then 10.00.
    let p1 = id(&pay(&app, &me, 10_000, "4242424242424242", true, "sandbox").await);
    expect_json(app.refund(&p1, json!({ "amount": 2_500 })).await, StatusCode::CREATED).await;
    expect_json(app.refund(&p1, json!({ "amount": 1_000 })).await, StatusCode::CREATED).await;
    // Sandbox: 50.00 authorised, 30.00 captured.
    let p2 = id(&pay(&app, &me, 5_000, "4242424242424242", false, "sandbox").await);
    expect_json(app.capture(&p2, json!({ "amount": 3_000 })).await, StatusCode::OK).await;
    // A decline and a canceled authorisation move no money.
    let declined = pay(&app, &me, 9_900, "4000000000000002", true, "sandbox").await;
    assert_eq!(declined["status"], "failed");
    let p4 = id(&pay(&app, &me, 7_000, "4242424242424242", false, "sandbox").await);
    expect_json(app.cancel(&p4).await, StatusCode::OK).await;
    // Stripe: 10.00 captured, 2.50 refunded.
    let p5 = id(&pay(&app, &me, 1_000, "4242424242424242", true, "stripe").await);
    expect_json(app.refund(&p5, json!({ "amount": 250 })).await, StatusCode::CREATED).await;
    // Another merchant, sandbox: 40.00 captured.
    pay(&app, &other, 4_000, "4242424242424242", true, "sandbox").await;

    let first = settle_today(&app).await;
    assert!(first.batch_id.is_some(), "the first run writes a batch");
    let expected = vec![
        row("sandbox", "merchant_test", 1, [13_000, 2, 3_500, 2, 9_500]),
        row("stripe", "merchant_test", 1, [1_000, 1, 250, 1, 750]),
    ];
    assert_eq!(listed(&app, &me).await, expected);
    assert_eq!(
        listed(&app, &other).await,
        vec![row("sandbox", OTHER_MERCHANT, 1, [4_000, 1, 0, 0, 4_000])],
        "each merchant sees only its own reports"
    );

    let again = settle_today(&app).await;
    assert_eq!(again.batch_id, None, "nothing changed: no new batch");
    assert_eq!(listed(&app, &me).await, expected, "a re-run gives the same figures");

    // A late event: another refund of p2, committed after the day was settled.
    expect_json(app.refund(&p2, json!({ "amount": 500 })).await, StatusCode::CREATED).await;
    let late = settle_today(&app).await;
    assert!(late.batch_id.is_some());
    assert_eq!(
        listed(&app, &me).await,
        vec![
            row("sandbox", "merchant_test", 2, [13_000, 2, 4_000, 3, 9_000]),
            row("sandbox", "merchant_test", 1, [13_000, 2, 3_500, 2, 9_500]),
            row("stripe", "merchant_test", 1, [1_000, 1, 250, 1, 750]),
        ],
        "revision 2 beside revision 1; untouched reports keep revision 1"
    );
    assert_eq!(
        sql::count(&app.database, "SELECT COUNT(*) FROM settlements").await,
        4,
        "the other merchant's report was not rewritten"
    );
}

async fn a_settlement_is_served_as_json_and_csv_to_its_merchant_only(backend: Backend) {
    let Some((app, _stripe)) = stripe_app(backend, &[]).await else {
        return;
    };
    let payment = pay(&app, &app.token, 2_000, "4242424242424242", true, "stripe").await;
    let p = id(&payment);
    let refund = expect_json(app.refund(&p, json!({ "amount": 700 })).await, StatusCode::CREATED).await;
    settle_today(&app).await;
    let today = Utc::now().date_naive().format("%Y-%m-%d").to_string();
    let page = expect_json(
        app.get(&format!("/api/v1/settlements?date={today}&provider=stripe"))
            .await,
        StatusCode::OK,
    )
    .await;
    let settlement_id = page["data"][0]["id"].as_str().expect("a report").to_owned();

    let report = expect_json(
        app.get(&format!("/api/v1/settlements/{settlement_id}")).await,
        StatusCode::OK,
    )
    .await;
    let lines = report["lines"].as_array().expect("lines");
    assert_eq!(lines.len(), 2, "{report}");
    assert_eq!(lines[0]["type"], "capture");
    assert_eq!(lines[0]["payment_id"], p.as_str());
    assert_eq!(lines[0]["amount"], 2_000);
    assert_eq!(lines[0]["provider_reference"], payment["provider_reference"]);
    assert_eq!(lines[1]["type"], "refund");
    assert_eq!(lines[1]["refund_id"], refund["id"]);
    assert_eq!(lines[1]["amount"], 700);

    let csv = app.get(&format!("/api/v1/settlements/{settlement_id}.csv")).await;
    assert_eq!(csv.status(), StatusCode::OK);
    assert!(csv.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    let text = csv.text().await.unwrap();
    let records: Vec<&str> = text.split_terminator("\r\n").collect();
    assert_eq!(records.len(), 3, "a header and one line per payment/refund: {text:?}");
    assert!(
        text.ends_with("\r\n") && !text.replace("\r\n", "").contains('\n'),
        "CRLF line ends"
    );
    assert_eq!(
        records[0],
        "settlement_id,line,type,payment_id,refund_id,event_id,amount,currency,provider,provider_reference,occurred_at"
    );
    let capture: Vec<&str> = records[1].split(',').collect();
    assert_eq!(capture[..5], [settlement_id.as_str(), "1", "capture", p.as_str(), ""]);
    assert_eq!(capture[6..9], ["2000", "usd", "stripe"]);
    let refund_line: Vec<&str> = records[2].split(',').collect();
    assert_eq!(
        refund_line[2..5],
        ["refund", p.as_str(), refund["id"].as_str().unwrap()]
    );
    assert_eq!(refund_line[6], "700");

    let stranger = token_for(OTHER_MERCHANT);
    for path in [
        format!("/api/v1/settlements/{settlement_id}"),
        format!("/api/v1/settlements/{settlement_id}.csv"),
    ] {
        expect_error(
            app.get_as(&stranger, &path).await,
            StatusCode::NOT_FOUND,
            "resource_missing",
            None,
        )
        .await;
    }
    expect_error(
        app.get("/api/v1/settlements?date=2026-13-01").await,
        StatusCode::BAD_REQUEST,
        "invalid_date",
        Some("date"),
    )
    .await;
    let unauthenticated = app.client.get(app.url("/api/v1/settlements")).send().await.unwrap();
    assert_eq!(unauthenticated.status(), StatusCode::UNAUTHORIZED);
}

async fn a_closed_settlement_and_its_lines_cannot_be_changed(backend: Backend) {
    let Some((app, _stripe)) = stripe_app(backend, &[]).await else {
        return;
    };
    let p = id(&pay(&app, &app.token, 1_500, "4242424242424242", true, "sandbox").await);
    expect_json(app.refund(&p, json!({ "amount": 100 })).await, StatusCode::CREATED).await;
    settle_today(&app).await;
    for statement in [
        "UPDATE settlements SET net_amount = 0",
        "DELETE FROM settlements",
        "UPDATE settlement_lines SET amount = 1",
        "DELETE FROM settlement_lines",
    ] {
        assert!(
            sql::execute(&app.database, statement).await.is_err(),
            "{statement} must be refused"
        );
    }
    let id: String = match &app.database {
        payrail::store::Database::Sqlite(s) => {
            sqlx::query_scalar("SELECT id FROM settlements")
                .fetch_one(s.pool())
                .await
        }
        payrail::store::Database::Postgres(s) => {
            sqlx::query_scalar("SELECT id FROM settlements")
                .fetch_one(s.pool())
                .await
        }
    }
    .unwrap();
    let insert = format!(
        "INSERT INTO settlement_lines (settlement_id, line_no, event_id, kind, payment_id, amount, currency, occurred_at) \
         VALUES ('{id}', 99, 'ev_x', 'capture', 'pay_x', 1, 'usd', 0)"
    );
    assert!(
        sql::execute(&app.database, &insert).await.is_err(),
        "no line joins a closed report"
    );
    assert_eq!(
        sql::count(&app.database, "SELECT CAST(SUM(net_amount) AS BIGINT) FROM settlements").await,
        1_400
    );
    assert_eq!(
        sql::count(&app.database, "SELECT COUNT(*) FROM settlement_lines").await,
        2
    );
}

async fn payrail_settle_prints_the_days_reports_and_a_rerun_changes_nothing(backend: Backend) {
    let Some((app, _stripe)) = stripe_app(backend, &[]).await else {
        return;
    };
    let p = id(&pay(&app, &app.token, 3_000, "4242424242424242", true, "sandbox").await);
    expect_json(app.refund(&p, json!({ "amount": 1_200 })).await, StatusCode::CREATED).await;
    let today = Utc::now().date_naive().format("%Y-%m-%d").to_string();
    // tokio's process API, not std's: the app under test runs on this thread, and blocking it
    // while one of its SQLite write transactions is open would keep the CLI waiting for the lock.
    let settle = |date: String| {
        let url = app.db.url.clone();
        async move {
            tokio::process::Command::new(env!("CARGO_BIN_EXE_payrail"))
                .args(["settle", "--date", &date, "--provider", "sandbox"])
                .env("CONFIG_DIR", concat!(env!("CARGO_MANIFEST_DIR"), "/config"))
                .env("DATABASE_URL", url)
                .env("LOG_LEVEL", "error")
                .output()
                .await
                .expect("run payrail settle")
        }
    };
    let first = settle(today.clone()).await;
    let stdout = String::from_utf8_lossy(&first.stdout).into_owned();
    assert!(
        first.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(stdout.contains("batch stb_"), "{stdout}");
    assert!(
        stdout.contains(
            "sandbox usd merchant_test rev 1 (new): captured 3000 (1), refunded 1200 (1), fees not reported, net 1800"
        ),
        "{stdout}"
    );
    let again = String::from_utf8_lossy(&settle(today.clone()).await.stdout).into_owned();
    assert!(again.contains("batch (unchanged)"), "{again}");
    assert!(
        again.contains("sandbox usd merchant_test rev 1: captured 3000 (1)"),
        "{again}"
    );
    let bad = settle("2026-02-30".to_owned()).await;
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("invalid --date"));
}

async fn a_refund_that_fails_later_is_given_back_by_a_reversal_line(backend: Backend) {
    let Some((app, _stripe)) = stripe_app(backend, &[]).await else {
        return;
    };
    let p = id(&pay(&app, &app.token, 5_000, "4242424242424242", true, "sandbox").await);
    let refund = expect_json(app.refund(&p, json!({ "amount": 2_000 })).await, StatusCode::CREATED).await;
    settle_today(&app).await;
    // The provider reports the refund failed after all (as a webhook would).
    let update = Operation::ProviderUpdate {
        provider: "sandbox".into(),
        update: ProviderUpdate::Refund {
            refund_id: Some(RefundId::parse(refund["id"].as_str().unwrap()).unwrap()),
            provider_reference: None,
            status: RefundStatus::Failed,
        },
    };
    app.supervisor
        .execute(&PaymentId::parse(&p).unwrap(), update)
        .await
        .expect("refund failed");
    assert_eq!(app.payment(&p).await["refunded_amount"], 0);
    settle_today(&app).await;
    assert_eq!(
        listed(&app, &app.token).await,
        vec![
            row("sandbox", "merchant_test", 2, [5_000, 1, 0, 1, 5_000]),
            row("sandbox", "merchant_test", 1, [5_000, 1, 2_000, 1, 3_000]),
        ]
    );
    let page = expect_json(app.get("/api/v1/settlements?provider=sandbox").await, StatusCode::OK).await;
    let latest = page["data"][0]["id"].as_str().unwrap().to_owned();
    let report = expect_json(app.get(&format!("/api/v1/settlements/{latest}")).await, StatusCode::OK).await;
    let kinds: Vec<&str> = report["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["capture", "refund", "refund_reversal"]);
    assert_eq!(report["lines"][2]["refund_id"], refund["id"]);
    assert_eq!(report["lines"][2]["amount"], 2_000);
}

async fn one_node_at_a_time_holds_the_settlement_lease(backend: Backend) {
    let Some(app) = crate::helpers::spawn_app(backend).await else {
        return;
    };
    let db = &app.database;
    let lease = |holder: &'static str, now: i64| db.hold_lease("settlement_test", holder, now, now + 600);
    assert!(lease("node_a", 1_000).await.unwrap(), "a free lease is taken");
    assert!(
        !lease("node_b", 1_100).await.unwrap(),
        "another node waits while it is held"
    );
    assert!(lease("node_a", 1_200).await.unwrap(), "its holder renews it");
    assert!(!lease("node_b", 1_700).await.unwrap(), "renewed until 1_800");
    assert!(lease("node_b", 1_801).await.unwrap(), "an expired lease is taken over");
    assert!(!lease("node_a", 1_900).await.unwrap());
}

crate::provider_tests!(
    one_node_at_a_time_holds_the_settlement_lease,
    a_refund_that_fails_later_is_given_back_by_a_reversal_line,
    payrail_settle_prints_the_days_reports_and_a_rerun_changes_nothing,
    a_days_settlement_matches_the_hand_computed_figures_and_revises_on_late_events,
    a_settlement_is_served_as_json_and_csv_to_its_merchant_only,
    a_closed_settlement_and_its_lines_cannot_be_changed,
);
