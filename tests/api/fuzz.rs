//! End-to-end fuzzing over HTTP: random bytes, mutated JSON bodies, query strings and path segments
//! sent to the real server never produce a 5xx, and every error is our JSON error body. The
//! parsing-level properties live in `src/http/proptests.rs`; this checks the whole pipeline
//! (middleware, extractors, actors, store). Seeded, so a failure reproduces.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::{Method, Response};
use serde_json::{json, Value};

use crate::helpers::{card, TestApp};

const ROUNDS: usize = 150;

fn random_json(rng: &mut StdRng, depth: u32) -> Value {
    match rng.gen_range(0..if depth > 2 { 7 } else { 9 }) {
        0 => Value::Null,
        1 => json!(rng.gen::<bool>()),
        2 => json!(rng.gen::<i64>()),
        3 => json!(rng.gen_range(-5_i64..5)),
        4 => json!(rng.gen::<f64>() * 1e12),
        5 => json!((0..rng.gen_range(0..40)).map(|_| rng.gen::<char>()).collect::<String>()),
        6 => json!((0..rng.gen_range(0..25))
            .map(|_| char::from(b'0' + rng.gen_range(0..10)))
            .collect::<String>()),
        7 => Value::Array((0..rng.gen_range(0..4)).map(|_| random_json(rng, depth + 1)).collect()),
        _ => {
            let keys = ["amount", "currency", "card", "number", "metadata", "x", "type", "cvc"];
            Value::Object(
                (0..rng.gen_range(0..4))
                    .map(|_| {
                        (
                            keys[rng.gen_range(0..keys.len())].to_owned(),
                            random_json(rng, depth + 1),
                        )
                    })
                    .collect(),
            )
        }
    }
}

fn mutated_create(rng: &mut StdRng) -> Value {
    let mut body =
        json!({ "amount": 1000, "currency": "usd", "capture": false, "payment_method": card("4242424242424242") });
    for _ in 0..rng.gen_range(1..3) {
        let value = random_json(rng, 0);
        let (parent, key) = [
            ("", "amount"),
            ("", "currency"),
            ("", "metadata"),
            ("", "receipt_email"),
            ("", "payment_method"),
            ("/payment_method/card", "number"),
            ("/payment_method/card", "exp_year"),
            ("/payment_method/card", "cvc"),
        ][rng.gen_range(0..8)];
        // An earlier mutation may have replaced the parent with a non-object; then skip.
        if let Some(object) = body.pointer_mut(parent).and_then(Value::as_object_mut) {
            object.insert(key.to_owned(), value);
        }
    }
    body
}

fn random_text(rng: &mut StdRng, max: usize) -> String {
    let alphabet = b"abcXYZ019_-./%?&=#~ \\\"'{}[]";
    (0..rng.gen_range(0..max))
        .map(|_| char::from(alphabet[rng.gen_range(0..alphabet.len())]))
        .collect()
}

async fn assert_not_a_server_error(response: Response, what: &str) {
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    assert!(status.as_u16() < 500, "{what} gave {status}: {text}");
    if status.is_client_error() {
        let body: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("{what}: not JSON: {text}"));
        assert!(body["error"]["code"].is_string(), "{what}: {text}");
    }
}

async fn random_requests_never_get_a_server_error(app: TestApp) {
    let mut rng = StdRng::seed_from_u64(0x05ec_011d);
    let held = app.create_payment(50_000, "4242424242424242", false).await;
    let id = held["id"].as_str().unwrap().to_owned();
    for round in 0..ROUNDS {
        let (method, path, body): (Method, String, Vec<u8>) = match rng.gen_range(0..6) {
            0 => (Method::POST, "/api/v1/payments".into(), {
                let len = rng.gen_range(0..300);
                (0..len).map(|_| rng.gen()).collect()
            }),
            1 | 2 => (
                Method::POST,
                "/api/v1/payments".into(),
                serde_json::to_vec(&mutated_create(&mut rng)).unwrap(),
            ),
            3 => {
                let action = ["capture", "refund", "cancel"][rng.gen_range(0..3)];
                let body = json!({ "amount": random_json(&mut rng, 1) });
                let body = if action == "cancel" { json!({}) } else { body };
                (
                    Method::POST,
                    format!("/payments/{id}/{action}"),
                    serde_json::to_vec(&body).unwrap(),
                )
            }
            4 => (
                Method::GET,
                format!(
                    "/api/v1/payments?limit={}&starting_after={}&order_id={}",
                    urlencode(&random_text(&mut rng, 12)),
                    urlencode(&random_text(&mut rng, 40)),
                    urlencode(&random_text(&mut rng, 20))
                ),
                Vec::new(),
            ),
            _ => (
                Method::GET,
                format!("/api/v1/payments/{}/events", urlencode(&random_text(&mut rng, 50))),
                Vec::new(),
            ),
        };
        let response = app
            .client
            .request(method.clone(), app.url(&path))
            .bearer_auth(&app.token)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("request");
        assert_not_a_server_error(response, &format!("round {round}: {method} {path}")).await;
    }
    // The held payment is still coherent after whatever the fuzzer did to it.
    let after = app.payment(&id).await;
    let captured = after["captured_amount"].as_i64().unwrap();
    assert!(captured <= 50_000 && after["refunded_amount"].as_i64().unwrap() <= captured);
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

crate::backend_tests!(random_requests_never_get_a_server_error);
