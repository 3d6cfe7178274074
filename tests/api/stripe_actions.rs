//! Stripe's customer action (issue 13): a card that needs 3-D Secure leaves the PaymentIntent
//! `requires_action` with `next_action.redirect_to_url` (payrail created it with its own return
//! endpoint as `return_url`); the customer completes Stripe's challenge, Stripe sends them to
//! payrail, which re-retrieves the intent and sends them on to the merchant. A
//! `payment_intent.succeeded` webhook that arrives first settles it instead, once.

use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use serde_json::json;
use sha2::Sha256;

use crate::customer_actions::{browser, provider_page};
use crate::fakes::stripe::{event, WEBHOOK_SECRET};
use crate::fakes::stripe_app;
use crate::helpers::{card, expect_error, expect_json, Backend, TestApp};

const RETURN_URL: &str = "http://127.0.0.1:9/shop/done?cart=7";

/// A Stripe payment of 20.00 USD by `number` that returns to [`RETURN_URL`].
async fn challenged(app: &TestApp, number: &str, capture: bool) -> serde_json::Value {
    let body = json!({ "amount": 2000, "currency": "usd", "provider": "stripe", "capture": capture,
        "payment_method": card(number), "return_url": RETURN_URL });
    expect_json(app.post("/api/v1/payments", &body).await, StatusCode::CREATED).await
}

fn location(response: &reqwest::Response) -> String {
    response.headers()["location"].to_str().unwrap().to_owned()
}

async fn stripe_three_d_secure_redirects_and_completes_by_retrieving_the_intent(backend: Backend) {
    let Some((app, fake)) = stripe_app(backend, &[]).await else {
        return;
    };
    let created = challenged(&app, "4000002500003155", true).await;
    let id = created["id"].as_str().unwrap();
    assert_eq!(created["status"], "requires_action", "{created}");
    let intent_id = created["provider_reference"].as_str().unwrap();
    let intent = fake.intent(intent_id);
    let payrail_return = app.url(&format!("/api/v1/payments/{id}/return"));
    assert_eq!(
        intent["next_action"]["redirect_to_url"]["return_url"],
        payrail_return.as_str()
    );
    let stripe_page = created["next_action"]["redirect_to_url"]["url"].as_str().unwrap();
    assert_eq!(
        stripe_page,
        intent["next_action"]["redirect_to_url"]["url"].as_str().unwrap()
    );
    assert_eq!(created["next_action"]["redirect_to_url"]["return_url"], RETURN_URL);

    // The customer completes Stripe's challenge; Stripe sends them to payrail, payrail to the shop.
    let to_payrail = provider_page(stripe_page, "complete").await;
    assert_eq!(to_payrail.status(), StatusCode::SEE_OTHER);
    let back = location(&to_payrail);
    assert!(
        back.starts_with(&format!("{payrail_return}?payment_intent={intent_id}")),
        "{back}"
    );
    let to_shop = browser().get(&back).send().await.unwrap();
    assert_eq!(location(&to_shop), format!("{RETURN_URL}&payment_id={id}"));
    let payment = app.payment(id).await;
    assert_eq!(payment["status"], "succeeded", "{payment}");
    assert!(
        fake.requests()
            .iter()
            .any(|r| r.starts_with(&format!("GET /v1/payment_intents/{intent_id}"))),
        "completion re-retrieves the intent"
    );
    let again = browser().get(&back).send().await.unwrap();
    expect_error(again, StatusCode::CONFLICT, "invalid_state", None).await;
}

async fn stripe_failed_authentication_fails_the_payment(backend: Backend) {
    let Some((app, fake)) = stripe_app(backend, &[]).await else {
        return;
    };
    let created = challenged(&app, "4000002760003184", false).await;
    let id = created["id"].as_str().unwrap();
    let stripe_page = created["next_action"]["redirect_to_url"]["url"].as_str().unwrap();
    let to_payrail = provider_page(stripe_page, "fail").await;
    browser().get(location(&to_payrail)).send().await.unwrap();
    let payment = app.payment(id).await;
    assert_eq!(payment["status"], "failed", "{payment}");
    assert_eq!(payment["failure_code"], "payment_intent_authentication_failure");
    assert_eq!(
        fake.intent(created["provider_reference"].as_str().unwrap())["status"],
        "requires_payment_method"
    );
}

async fn stripe_webhook_settles_a_challenged_payment_before_the_customer_returns(backend: Backend) {
    let Some((app, fake)) = stripe_app(backend, &[]).await else {
        return;
    };
    let created = challenged(&app, "4000002500003155", true).await;
    let id = created["id"].as_str().unwrap();
    let stripe_page = created["next_action"]["redirect_to_url"]["url"].as_str().unwrap();
    let to_payrail = provider_page(stripe_page, "complete").await;
    let intent = fake.intent(created["provider_reference"].as_str().unwrap());
    let payload = event("evt_3ds_1", "payment_intent.succeeded", &intent);
    let timestamp = chrono::Utc::now().timestamp();
    let mut mac = Hmac::<Sha256>::new_from_slice(WEBHOOK_SECRET.as_bytes()).unwrap();
    mac.update(format!("{timestamp}.{payload}").as_bytes());
    let signature = format!("t={timestamp},v1={}", hex::encode(mac.finalize().into_bytes()));
    let delivered = app
        .client
        .post(app.url("/api/v1/webhooks/stripe"))
        .header("content-type", "application/json")
        .header("Stripe-Signature", signature)
        .body(payload)
        .send()
        .await
        .unwrap();
    assert_eq!(delivered.status(), StatusCode::OK);
    let payment = app.payment(id).await;
    assert_eq!(payment["status"], "succeeded", "{payment}");
    assert!(payment["next_action"].is_null());
    // The customer's return comes second: nothing left to complete.
    let late = browser().get(location(&to_payrail)).send().await.unwrap();
    expect_error(late, StatusCode::CONFLICT, "invalid_state", None).await;
    assert_eq!(
        app.events(id).await.len(),
        3,
        "created, requires_action, succeeded: once"
    );
}

crate::provider_tests!(
    stripe_three_d_secure_redirects_and_completes_by_retrieving_the_intent,
    stripe_failed_authentication_fails_the_payment,
    stripe_webhook_settles_a_challenged_payment_before_the_customer_returns,
);
