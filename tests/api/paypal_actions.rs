//! PayPal's customer action (issue 13): a card order that needs 3-D Secure comes back
//! `PAYER_ACTION_REQUIRED` with a `payer-action` link, which payrail passes on as
//! `next_action.redirect_to_url`. After the payer approves, PayPal sends them to payrail's return
//! endpoint, and payrail authorizes or captures the approved order per the payment's `capture` —
//! on the return, or in the reconciler if the payer never comes back.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::customer_actions::{browser, provider_page};
use crate::helpers::{card, expect_error, expect_json, Backend, TestApp};
use crate::paypal::paypal_app;

const RETURN_URL: &str = "https://shop.example/checkout/done";

async fn create(app: &TestApp, capture: bool) -> serde_json::Value {
    expect_json(
        app.post("/api/v1/payments", &challenged(capture)).await,
        StatusCode::CREATED,
    )
    .await
}

fn challenged(capture: bool) -> serde_json::Value {
    json!({ "amount": 4200, "currency": "usd", "provider": "paypal", "capture": capture,
        "payment_method": card("4000002500003155"), "return_url": RETURN_URL })
}

async fn paypal_approval_then_return_captures_the_order(backend: Backend) {
    let Some((app, fake)) = paypal_app(backend, &[]).await else {
        return;
    };
    let created = create(&app, true).await;
    let id = created["id"].as_str().unwrap();
    assert_eq!(created["status"], "requires_action", "{created}");
    let order_id = created["provider_reference"].as_str().unwrap();
    let approve = created["next_action"]["redirect_to_url"]["url"].as_str().unwrap();
    assert_eq!(approve, format!("{}/checkoutnow?token={order_id}", fake.base_url));
    let payrail_return = app.url(&format!("/api/v1/payments/{id}/return"));
    let sent = fake.order(order_id);
    assert_eq!(sent["status"], "PAYER_ACTION_REQUIRED");

    let to_payrail = provider_page(approve, "complete").await;
    let back = to_payrail.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        back.starts_with(&format!("{payrail_return}?token={order_id}")),
        "{back}"
    );
    let to_shop = browser().get(&back).send().await.unwrap();
    assert_eq!(to_shop.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        to_shop.headers()["location"],
        format!("{RETURN_URL}?payment_id={id}").as_str()
    );
    let payment = app.payment(id).await;
    assert_eq!(payment["status"], "succeeded", "{payment}");
    assert_eq!(payment["captured_amount"], 4200);
    let order = fake.order(order_id);
    assert_eq!(
        order["purchase_units"][0]["payments"]["captures"][0]["status"],
        "COMPLETED"
    );
    assert!(
        fake.requests()
            .iter()
            .any(|r| r.contains(&format!("/v2/checkout/orders/{order_id}/capture"))),
        "{:?}",
        fake.requests()
    );
    let again = browser().get(&back).send().await.unwrap();
    expect_error(again, StatusCode::CONFLICT, "invalid_state", None).await;
}

async fn paypal_approval_with_manual_capture_authorizes_then_captures(backend: Backend) {
    let Some((app, fake)) = paypal_app(backend, &[]).await else {
        return;
    };
    let created = create(&app, false).await;
    let id = created["id"].as_str().unwrap();
    let approve = created["next_action"]["redirect_to_url"]["url"].as_str().unwrap();
    let to_payrail = provider_page(approve, "complete").await;
    browser()
        .get(to_payrail.headers()["location"].to_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(app.payment(id).await["status"], "authorized");
    let order = fake.order(created["provider_reference"].as_str().unwrap());
    assert_eq!(
        order["purchase_units"][0]["payments"]["authorizations"][0]["status"],
        "CREATED"
    );
    let captured = expect_json(app.capture(id, json!({ "amount": 4000 })).await, StatusCode::OK).await;
    assert_eq!(captured["status"], "succeeded");
    assert_eq!(captured["captured_amount"], 4000);
}

async fn paypal_approved_order_is_completed_by_the_reconciler_if_the_payer_never_returns(backend: Backend) {
    let Some((app, fake)) = paypal_app(backend, &[]).await else {
        return;
    };
    let created = create(&app, true).await;
    let id = created["id"].as_str().unwrap();
    let approve = created["next_action"]["redirect_to_url"]["url"].as_str().unwrap();
    // Approved at PayPal, but the payer closes the window before the redirect.
    provider_page(approve, "complete").await;
    assert_eq!(app.payment(id).await["status"], "requires_action");
    let report = payrail::reconcile::run_once(&app.database, &app.supervisor, Duration::ZERO).await;
    assert_eq!((report.examined, report.settled), (1, 1), "{report:?}");
    assert_eq!(app.payment(id).await["status"], "succeeded");
    let captures = fake.requests().iter().filter(|r| r.contains("/capture")).count();
    assert_eq!(captures, 1, "captured once: {:?}", fake.requests());
}

async fn paypal_canceled_approval_leaves_the_payment_waiting(backend: Backend) {
    let Some((app, _fake)) = paypal_app(backend, &[]).await else {
        return;
    };
    let created = create(&app, true).await;
    let id = created["id"].as_str().unwrap();
    let approve = created["next_action"]["redirect_to_url"]["url"].as_str().unwrap();
    let canceled = provider_page(approve, "fail").await;
    let back = canceled.headers()["location"].to_str().unwrap().to_owned();
    let to_shop = browser().get(&back).send().await.unwrap();
    assert_eq!(to_shop.status(), StatusCode::SEE_OTHER);
    let payment = app.payment(id).await;
    assert_eq!(payment["status"], "requires_action", "{payment}");
    assert_eq!(
        payment["next_action"]["redirect_to_url"]["url"],
        created["next_action"]["redirect_to_url"]["url"]
    );
}

crate::provider_tests!(
    paypal_approval_then_return_captures_the_order,
    paypal_approval_with_manual_capture_authorizes_then_captures,
    paypal_approved_order_is_completed_by_the_reconciler_if_the_payer_never_returns,
    paypal_canceled_approval_leaves_the_payment_waiting,
);
