//! Merchant events (issue 11), as a merchant sees them: endpoints, the events API, and signed
//! webhooks that a receiver verifies with the official `standardwebhooks` package. Each rule runs
//! on SQLite and on PostgreSQL.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{expect_error, expect_json, token_for, Backend, TestApp};
use crate::merchant_events_receiver::{
    assert_verified, register, spawn_fast, verify_with_python, Mode, Received, Receiver,
};

const CARD: &str = "4242424242424242";

/// The ids of a payment's events, oldest first, as `GET /payments/{id}/events` lists them.
async fn event_ids(app: &TestApp, payment: &str) -> Vec<String> {
    app.events(payment)
        .await
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect()
}

fn ids(received: &[Received]) -> Vec<String> {
    received.iter().map(|r| r.id.clone()).collect()
}

async fn every_event_of_a_payment_arrives_in_order_and_verifies(backend: Backend) {
    let Some(app) = spawn_fast(backend).await else { return };
    let receiver = Receiver::start(Mode::Ok);
    let (endpoint, secret) = register(&app, &receiver.url, &["*"]).await;
    assert!(secret.starts_with("whsec_"), "{secret}");

    let payment = app.create_payment(1_000, CARD, false).await;
    let id = payment["id"].as_str().unwrap();
    expect_json(app.capture(id, json!({})).await, StatusCode::OK).await;
    expect_json(app.refund(id, json!({ "amount": 300 })).await, StatusCode::CREATED).await;
    expect_json(app.refund(id, json!({})).await, StatusCode::CREATED).await;
    let expected = event_ids(&app, id).await;
    assert!(
        expected.len() >= 4,
        "create, capture, partial refund, refund: {expected:?}"
    );

    let delivered = receiver
        .wait_for(Duration::from_secs(20), "every event", |d| d.len() >= expected.len())
        .await;
    assert_eq!(ids(&delivered), expected, "delivered once each, in sequence order");
    assert_verified(&secret, &delivered).await;

    let types: Vec<String> = delivered
        .iter()
        .map(|r| r.event()["type"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(types.first().map(String::as_str), Some("payment.created"));
    assert!(types.contains(&"payment.captured".to_owned()), "{types:?}");
    // Every change is an intent, then its settlement (issue 14): the last refund is reserved
    // (`payment.refunded`, counted at once), then settled by the provider's answer (`refund.updated`).
    let last = delivered.last().unwrap().event();
    assert_eq!(last["type"], "refund.updated");
    assert_eq!(last["data"]["object"]["payment_id"], id);
    assert_eq!(last["data"]["object"]["status"], "succeeded");
    assert_eq!(last["data"]["object"]["amount"], 700);
    let reserved = delivered[delivered.len() - 2].event();
    assert_eq!(reserved["type"], "payment.refunded");
    assert_eq!(reserved["data"]["object"]["id"], id);
    assert_eq!(reserved["data"]["object"]["status"], "refunded");
    assert_eq!(reserved["data"]["object"]["refunded_amount"], 1_000);
    // The last payment event's object is the payment as the payments API shows it now, but for
    // `updated_at` (the event's own: the settlement moved the payment on since).
    let without_updated_at = |mut object: serde_json::Value| {
        object.as_object_mut().unwrap().remove("updated_at");
        object
    };
    assert_eq!(
        without_updated_at(reserved["data"]["object"].clone()),
        without_updated_at(app.payment(id).await)
    );

    // The events API shows the same events, newest first, with the bodies the webhooks carried.
    let listed = expect_json(
        app.get(&format!("/api/v1/events?payment_id={id}&limit=100")).await,
        StatusCode::OK,
    )
    .await;
    let listed_ids: Vec<String> = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect();
    let mut newest_first = expected.clone();
    newest_first.reverse();
    assert_eq!(listed_ids, newest_first);
    let one = expect_json(
        app.get(&format!("/api/v1/events/{}", expected[0])).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(one, delivered[0].event());
    let captured = expect_json(app.get("/api/v1/events?type=payment.captured").await, StatusCode::OK).await;
    assert_eq!(captured["data"].as_array().unwrap().len(), 1);

    // Each attempt is listed with its answer.
    let attempts = expect_json(
        app.get(&format!("/api/v1/webhook_endpoints/{endpoint}/deliveries?limit=100"))
            .await,
        StatusCode::OK,
    )
    .await;
    let attempts = attempts["data"].as_array().unwrap();
    assert_eq!(attempts.len(), expected.len());
    assert!(
        attempts.iter().all(|a| a["status_code"] == 200 && a["attempt"] == 1),
        "{attempts:?}"
    );
}

async fn endpoints_show_the_secret_once_and_refuse_unknown_event_types(backend: Backend) {
    let Some(app) = spawn_fast(backend).await else { return };
    let receiver = Receiver::start(Mode::Ok);
    let refused = app
        .post(
            "/api/v1/webhook_endpoints",
            &json!({ "url": receiver.url, "enabled_events": ["payment.succeeded", "payment.exploded"] }),
        )
        .await;
    let body = expect_error(
        refused,
        StatusCode::BAD_REQUEST,
        "parameter_invalid",
        Some("enabled_events"),
    )
    .await;
    assert!(
        body["error"]["message"].as_str().unwrap().contains("payment.exploded"),
        "{body}"
    );

    let (endpoint, secret) = register(&app, &receiver.url, &["payment.captured"]).await;
    let read = expect_json(
        app.get(&format!("/api/v1/webhook_endpoints/{endpoint}")).await,
        StatusCode::OK,
    )
    .await;
    assert!(read.get("secret").is_none(), "{read}");
    assert!(secret.starts_with(read["secret_hint"].as_str().unwrap()));
    assert_eq!(read["enabled_events"], json!(["payment.captured"]));
    assert_eq!(read["status"], "enabled");
    let listed = expect_json(app.get("/api/v1/webhook_endpoints").await, StatusCode::OK).await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);
    assert!(!listed.to_string().contains(&secret));

    // Only the subscribed type arrives.
    let payment = app.create_payment(700, CARD, false).await;
    let id = payment["id"].as_str().unwrap();
    expect_json(app.capture(id, json!({})).await, StatusCode::OK).await;
    let other = app.create_payment(800, CARD, true).await;
    let delivered = receiver
        .wait_for(Duration::from_secs(10), "the captured event", |d| !d.is_empty())
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let delivered_all = receiver.delivered();
    assert_eq!(
        delivered_all.len(),
        1,
        "only payment.captured: {:?}",
        ids(&delivered_all)
    );
    assert_eq!(delivered[0].event()["type"], "payment.captured");
    assert_eq!(delivered[0].event()["data"]["object"]["id"], id);
    assert_ne!(delivered[0].event()["data"]["object"]["id"], other["id"]);

    // PATCH changes the filter; an unknown status is refused; DELETE removes it.
    let patched = expect_json(
        app.client
            .patch(app.url(&format!("/api/v1/webhook_endpoints/{endpoint}")))
            .bearer_auth(&app.token)
            .json(&json!({ "enabled_events": ["*"], "status": "disabled" }))
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(patched["status"], "disabled");
    assert_eq!(patched["enabled_events"], json!(["*"]));
    let bad = app
        .client
        .patch(app.url(&format!("/api/v1/webhook_endpoints/{endpoint}")))
        .bearer_auth(&app.token)
        .json(&json!({ "status": "paused" }))
        .send()
        .await
        .unwrap();
    expect_error(bad, StatusCode::BAD_REQUEST, "parameter_invalid", Some("status")).await;
    let deleted = app
        .client
        .delete(app.url(&format!("/api/v1/webhook_endpoints/{endpoint}")))
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap();
    expect_json(deleted, StatusCode::OK).await;
    let gone = app.get(&format!("/api/v1/webhook_endpoints/{endpoint}")).await;
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);
}

async fn rotated_secrets_sign_side_by_side_and_forgeries_fail(backend: Backend) {
    let Some(app) = spawn_fast(backend).await else { return };
    let receiver = Receiver::start(Mode::Ok);
    let (endpoint, old_secret) = register(&app, &receiver.url, &["payment.created"]).await;
    app.create_payment(500, CARD, true).await;
    let before = receiver
        .wait_for(Duration::from_secs(10), "a delivery", |d| !d.is_empty())
        .await;
    assert_eq!(before[0].signature.split(' ').count(), 1);

    let rotated = expect_json(
        app.post(
            &format!("/api/v1/webhook_endpoints/{endpoint}/rotate_secret"),
            &json!({}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let new_secret = rotated["secret"].as_str().unwrap().to_owned();
    assert!(new_secret.starts_with("whsec_") && new_secret != old_secret);
    app.create_payment(600, CARD, true).await;
    let after = receiver
        .wait_for(Duration::from_secs(10), "a delivery after rotation", |d| d.len() >= 2)
        .await;
    let rotated_delivery = &after[1..];
    assert_eq!(
        rotated_delivery[0].signature.split(' ').count(),
        2,
        "old and new secret sign"
    );
    assert_verified(&new_secret, rotated_delivery).await;
    assert_verified(&old_secret, rotated_delivery).await;
    assert_verified(&old_secret, &before).await;

    // Another secret, or a body changed in transit, does not verify.
    let (_, stranger) = register(&app, &receiver.url, &["refund.updated"]).await;
    if let Some(result) = verify_with_python(&stranger, &before).await {
        assert!(result.is_err(), "a delivery verified with another endpoint's secret");
    }
    let mut tampered = before[0].clone();
    tampered.body = tampered.body.replace("\"amount\":500", "\"amount\":5");
    if let Some(result) = verify_with_python(&old_secret, &[tampered]).await {
        assert!(result.is_err(), "a tampered body verified");
    }
}

async fn merchants_see_only_their_own_endpoints_and_events(backend: Backend) {
    let Some(app) = spawn_fast(backend).await else { return };
    let receiver = Receiver::start(Mode::Ok);
    let (endpoint, _) = register(&app, &receiver.url, &["*"]).await;
    let payment = app.create_payment(900, CARD, true).await;
    let delivered = receiver
        .wait_for(Duration::from_secs(10), "the first event", |d| !d.is_empty())
        .await;
    let event_id = delivered[0].id.clone();

    let other = token_for("merchant_other");
    let other_receiver = Receiver::start(Mode::Ok);
    let body = json!({ "url": other_receiver.url, "enabled_events": ["*"] });
    expect_json(
        app.post_as(&other, "/api/v1/webhook_endpoints", &body).await,
        StatusCode::CREATED,
    )
    .await;
    for path in [
        format!("/api/v1/webhook_endpoints/{endpoint}"),
        format!("/api/v1/webhook_endpoints/{endpoint}/deliveries"),
        format!("/api/v1/events/{event_id}"),
    ] {
        let response = app.get_as(&other, &path).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
    }
    let response = app
        .post_as(
            &other,
            &format!("/api/v1/webhook_endpoints/{endpoint}/rotate_secret"),
            &json!({}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let response = app
        .post_as(&other, &format!("/api/v1/events/{event_id}/redeliver"), &json!({}))
        .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let listed = expect_json(app.get_as(&other, "/api/v1/events").await, StatusCode::OK).await;
    assert_eq!(listed["data"], json!([]));
    let listed = expect_json(app.get_as(&other, "/api/v1/webhook_endpoints").await, StatusCode::OK).await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);
    assert_ne!(listed["data"][0]["id"], endpoint.as_str());

    // The other merchant's receiver hears nothing of this merchant's payments.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(other_receiver.requests().is_empty());
    assert_eq!(payment["status"], "succeeded");
}

async fn redeliver_sends_an_event_again_with_the_same_webhook_id(backend: Backend) {
    let Some(app) = spawn_fast(backend).await else { return };
    let receiver = Receiver::start(Mode::Ok);
    let (endpoint, secret) = register(&app, &receiver.url, &["payment.created"]).await;
    app.create_payment(400, CARD, true).await;
    let first = receiver
        .wait_for(Duration::from_secs(10), "the event", |d| !d.is_empty())
        .await;
    let event_id = first[0].id.clone();
    let queued = expect_json(
        app.post(
            &format!("/api/v1/events/{event_id}/redeliver"),
            &json!({ "endpoint_id": endpoint }),
        )
        .await,
        StatusCode::ACCEPTED,
    )
    .await;
    assert_eq!(queued["endpoint_ids"], json!([endpoint]));
    let again = receiver
        .wait_for(Duration::from_secs(10), "the redelivery", |d| d.len() >= 2)
        .await;
    assert_eq!(again[1].id, event_id);
    assert_eq!(again[1].body, again[0].body);
    assert_verified(&secret, &again).await;
    let unknown = app
        .post(
            "/api/v1/events/evt_00000000-0000-4000-8000-000000000000/redeliver",
            &json!({}),
        )
        .await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
}

async fn private_targets_are_refused_unless_allowed(backend: Backend) {
    let extra = [("WEBHOOK_ALLOW_PRIVATE_TARGETS", "false")];
    let Some(app) = crate::helpers::spawn_app_with(backend, &extra).await else {
        return;
    };
    for url in [
        "http://127.0.0.1:9/hooks",
        "http://localhost:9/hooks",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.7/hooks",
        "http://192.168.1.20/hooks",
        "http://[::1]:9/hooks",
        "http://[fd00:ec2::254]/",
        "http://0.0.0.0/",
        "file:///etc/passwd",
        "not a url",
    ] {
        let response = app
            .post(
                "/api/v1/webhook_endpoints",
                &json!({ "url": url, "enabled_events": ["*"] }),
            )
            .await;
        expect_error(response, StatusCode::BAD_REQUEST, "parameter_invalid", Some("url")).await;
    }
}

macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[actix_web::test]
                async fn $name() {
                    super::$name(crate::helpers::Backend::Sqlite).await;
                }
            )*
        }
        mod postgres {
            $(
                #[actix_web::test]
                async fn $name() {
                    super::$name(crate::helpers::Backend::Postgres).await;
                }
            )*
        }
    };
}
pub(crate) use both_backends;

both_backends!(
    every_event_of_a_payment_arrives_in_order_and_verifies,
    endpoints_show_the_secret_once_and_refuse_unknown_event_types,
    rotated_secrets_sign_side_by_side_and_forgeries_fail,
    merchants_see_only_their_own_endpoints_and_events,
    redeliver_sends_an_event_again_with_the_same_webhook_id,
    private_targets_are_refused_unless_allowed,
);
