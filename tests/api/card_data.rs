//! Card data never rests: after a run of payments (captured, authorised then captured and refunded,
//! voided, declined, refused at the edge, PANs pasted into free-text fields), neither the test PANs
//! nor the CVC appear in any response, in any database table (and, on SQLite, in the raw database
//! and WAL file bytes), or in anything the test binary logged. What is stored instead is brand,
//! last4, expiry and a keyed fingerprint that recognises the card again.

use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::{Column, Connection, Row};

use crate::helpers::{expect_error, expect_json, Backend, TestApp};

const PAN: &str = "4000056655665556";
const PAN_SPACED: &str = "4000 0566 5566 5556";
const OTHER_PAN: &str = "5200828282828210";
const DECLINED_PAN: &str = "4000000000000002";
const CVC: &str = "8317";

fn card(number: &str) -> Value {
    json!({ "type": "card", "card": { "number": number, "exp_month": 11, "exp_year": 2033, "cvc": CVC } })
}

fn body(amount: i64, number: &str, capture: bool) -> Value {
    json!({ "amount": amount, "currency": "usd", "capture": capture, "payment_method": card(number) })
}

/// The forms a leaked PAN or CVC could take in text.
fn leaks(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for pan in [PAN, PAN_SPACED, OTHER_PAN, DECLINED_PAN, "4000-0566-5566-5556"] {
        if text.contains(pan) {
            found.push(pan.to_owned());
        }
    }
    // The CVC as a whole value (quoted, or a bare JSON number), or any field named cvc.
    for cvc in [
        format!("\"{CVC}\""),
        format!(":{CVC},"),
        format!(":{CVC}}}"),
        "\"cvc\":".to_owned(),
        "cvc=".to_owned(),
    ] {
        if text.contains(&cvc) {
            found.push(cvc);
        }
    }
    found
}

async fn run_payments(app: &TestApp) -> Vec<String> {
    let mut texts = Vec::new();
    let send = |response: reqwest::Response| async move { response.text().await.unwrap() };
    let captured = app.post("/api/v1/payments", &body(2_500, PAN, true)).await;
    assert_eq!(captured.status(), StatusCode::CREATED);
    let captured: Value = serde_json::from_str(&send(captured).await).unwrap();
    texts.push(captured.to_string());

    let held = expect_json(
        app.post("/api/v1/payments", &body(9_000, PAN_SPACED, false)).await,
        StatusCode::CREATED,
    )
    .await;
    let id = held["id"].as_str().unwrap();
    texts.push(held.to_string());
    texts.push(send(app.capture(id, json!({ "amount": 7_000 })).await).await);
    texts.push(send(app.refund(id, json!({ "amount": 1_000 })).await).await);
    texts.push(send(app.get(&format!("/api/v1/payments/{id}/events")).await).await);

    let voided = expect_json(
        app.post("/api/v1/payments", &body(1_200, OTHER_PAN, false)).await,
        StatusCode::CREATED,
    )
    .await;
    texts.push(send(app.cancel(voided["id"].as_str().unwrap()).await).await);
    let declined = expect_json(
        app.post("/api/v1/payments", &body(700, DECLINED_PAN, true)).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(declined["status"], "failed");
    texts.push(declined.to_string());
    texts.push(send(app.get("/api/v1/payments?limit=100").await).await);

    // Fingerprints: same card (however it was typed) → same fingerprint; another card → another.
    let fingerprint = |p: &Value| p["card"]["fingerprint"].as_str().unwrap().to_owned();
    assert_eq!(fingerprint(&captured), fingerprint(&held));
    assert_ne!(fingerprint(&captured), fingerprint(&voided));
    assert_eq!(fingerprint(&captured).len(), 64);
    assert_eq!(captured["card"]["last4"], "5556");
    assert_eq!(captured["card"]["brand"], "visa");

    // Refused at the edge, including card numbers where they do not belong.
    let mut wrong_type = body(100, PAN, true);
    wrong_type["payment_method"]["card"]["number"] = json!(4000056655665556_i64);
    let mut bad_luhn = body(100, "4000056655665557", true);
    bad_luhn["payment_method"]["card"]["cvc"] = json!("12345");
    let mut pan_as_field = body(100, PAN, true);
    pan_as_field[PAN] = json!(CVC);
    for (request, code) in [
        (wrong_type, "parameter_invalid"),
        (bad_luhn, "invalid_card_number"),
        (pan_as_field, "parameter_unknown"),
    ] {
        let error = expect_error(
            app.post("/api/v1/payments", &request).await,
            StatusCode::BAD_REQUEST,
            code,
            None,
        )
        .await;
        texts.push(error.to_string());
    }
    for (field, value) in [
        ("metadata", json!({ "note": format!("card {PAN_SPACED}") })),
        ("metadata", json!({ PAN: "x" })),
        ("description", json!(format!("paid with {PAN}"))),
        ("order_id", json!(OTHER_PAN)),
    ] {
        let mut request = body(100, PAN, true);
        request[field] = value;
        let error = expect_error(
            app.post("/api/v1/payments", &request).await,
            StatusCode::BAD_REQUEST,
            "card_data_in_field",
            Some(field),
        )
        .await;
        texts.push(error.to_string());
    }
    texts
}

/// Every row of every table, as text.
pub async fn dump_tables(app: &TestApp, backend: Backend) -> String {
    let mut out = String::new();
    match backend {
        Backend::Sqlite => {
            let mut conn = sqlx::SqliteConnection::connect(&app.db.url).await.unwrap();
            let tables: Vec<String> = sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table'")
                .fetch_all(&mut conn)
                .await
                .unwrap();
            for table in tables {
                for row in sqlx::query(&format!("SELECT * FROM \"{table}\""))
                    .fetch_all(&mut conn)
                    .await
                    .unwrap()
                {
                    for (i, column) in row.columns().iter().enumerate() {
                        let value = row
                            .try_get::<Option<String>, _>(i)
                            .map(|v| v.map(|v| format!("\"{v}\"")))
                            .or_else(|_| row.try_get::<Option<i64>, _>(i).map(|v| v.map(|v| v.to_string())))
                            .unwrap_or_default()
                            .unwrap_or_default();
                        out.push_str(&format!("{table}.{}:{value},", column.name()));
                    }
                    out.push('\n');
                }
            }
        }
        Backend::Postgres => {
            let mut conn = sqlx::PgConnection::connect(&app.db.url).await.unwrap();
            let tables: Vec<String> =
                sqlx::query_scalar("SELECT tablename::text FROM pg_tables WHERE schemaname = 'public'")
                    .fetch_all(&mut conn)
                    .await
                    .unwrap();
            for table in tables {
                let rows: Vec<String> = sqlx::query_scalar(&format!("SELECT row_to_json(t)::text FROM \"{table}\" t"))
                    .fetch_all(&mut conn)
                    .await
                    .unwrap();
                out.push_str(&rows.join("\n"));
                out.push('\n');
            }
        }
    }
    out
}

async fn assert_no_card_data_anywhere(app: TestApp, backend: Backend) {
    for text in run_payments(&app).await {
        assert!(leaks(&text).is_empty(), "response leaks {:?}: {text}", leaks(&text));
    }
    let tables = dump_tables(&app, backend).await;
    assert!(tables.contains("5556"), "the dump sees the stored last4");
    assert!(leaks(&tables).is_empty(), "database leaks {:?}", leaks(&tables));
    if backend == Backend::Sqlite {
        let path = app.db.url.trim_start_matches("sqlite://");
        let dir = std::path::Path::new(path).parent().unwrap();
        let mut files = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let bytes = std::fs::read(entry.unwrap().path()).unwrap();
            files += 1;
            for pan in [PAN, OTHER_PAN, DECLINED_PAN, PAN_SPACED] {
                assert!(
                    !bytes.windows(pan.len()).any(|w| w == pan.as_bytes()),
                    "{pan} in a database file"
                );
            }
        }
        assert!(files >= 1);
    }
    let logs = crate::logs::captured();
    assert!(logs.contains("payment operation"), "logs were captured");
    let leaked: Vec<&str> = logs.lines().filter(|line| !leaks(line).is_empty()).collect();
    assert!(leaked.is_empty(), "logs leak card data: {leaked:?}");
}

async fn no_pan_or_cvc_is_stored_logged_or_echoed(app: TestApp) {
    let backend = if app.db.url.starts_with("sqlite") {
        Backend::Sqlite
    } else {
        Backend::Postgres
    };
    assert_no_card_data_anywhere(app, backend).await;
}

crate::backend_tests!(no_pan_or_cvc_is_stored_logged_or_echoed);
