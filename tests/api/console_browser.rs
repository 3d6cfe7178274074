//! The operator console in a real headless browser: payrail on SQLite with a seeded payment,
//! then `tests/browser/console.py` (Playwright's Python package driving Debian's Chromium) signs
//! in by keyboard, searches, opens the payment and reads its timeline, checks labels and that no
//! page logs an error, and saves screenshots under `target/console-screenshots/`.
//!
//! Skips loudly when Chromium, Python or Playwright is missing; `REQUIRE_BROWSER=1` (CI) makes
//! that a failure.

use std::process::Command;

use reqwest::StatusCode;
use serde_json::json;

use crate::console::OPERATOR_TOKEN;
use crate::helpers::{card, expect_json, spawn_app_with, Backend};

const SKIPPED: i32 = 77;

#[actix_web::test]
async fn an_operator_signs_in_searches_and_reads_a_payments_timeline_in_a_browser() {
    let app = spawn_app_with(Backend::Sqlite, &[("OPERATOR_TOKEN", OPERATOR_TOKEN)])
        .await
        .expect("sqlite");
    let order = "order-browser-42";
    let body = json!({ "amount": 12_500, "currency": "usd", "capture": false, "order_id": order,
                       "payment_method": card("4242424242424242") });
    let created = expect_json(app.post("/api/v1/payments", &body).await, StatusCode::CREATED).await;
    let id = created["id"].as_str().unwrap().to_owned();
    expect_json(app.capture(&id, json!({ "amount": 10_000 })).await, StatusCode::OK).await;
    expect_json(app.refund(&id, json!({ "amount": 2_500 })).await, StatusCode::CREATED).await;
    crate::sql::assert_every_event_audited_once(&app.database).await;

    let out = concat!(env!("CARGO_MANIFEST_DIR"), "/target/console-screenshots");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/browser/console.py");
    let args: Vec<String> = [
        script,
        "--base",
        &app.address,
        "--token",
        OPERATOR_TOKEN,
        "--payment",
        &id,
        "--order",
        order,
        "--out",
        out,
    ]
    .map(str::to_owned)
    .into();
    // The browser blocks this thread; the server runs on the test's other workers' threads.
    let output = actix_web::rt::task::spawn_blocking(move || Command::new("python3").args(args).output())
        .await
        .expect("join");
    let required = std::env::var("REQUIRE_BROWSER").as_deref() == Ok("1");
    let output = match output {
        Ok(output) => output,
        Err(error) if !required => {
            eprintln!("SKIPPED (browser): cannot run python3: {error}");
            return;
        }
        Err(error) => panic!("REQUIRE_BROWSER=1 but python3 cannot run: {error}"),
    };
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    if output.status.code() == Some(SKIPPED) {
        assert!(
            !required,
            "REQUIRE_BROWSER=1 but the browser test was skipped: {stderr}"
        );
        eprintln!("{stderr}");
        return;
    }
    assert!(output.status.success(), "browser test failed:\n{stdout}\n{stderr}");
    eprintln!("{stdout}");
}
