//! Customer actions end to end (issue 13): a payment that needs the customer answers
//! `requires_action` with Stripe's `next_action`, the customer authenticates (the sandbox's
//! challenge page here; Stripe, PayPal and Paystack in their own files), comes back through payrail's return
//! endpoint, and lands on the merchant's `return_url` with the payment settled exactly once —
//! whichever of the return, the reconciler or a second return comes first. The browser variant
//! of the sandbox flow is in `browser.rs`.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{card, expect_error, expect_json, spawn_app_with, Backend, TestApp};

const RETURN_URL: &str = "http://127.0.0.1:9/shop/done?cart=7";

/// A client that shows redirects instead of following them, as a test of where they point.
pub(crate) fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The customer answers a provider's hosted page (the fake Stripe's challenge, the fake PayPal's
/// approval) with `outcome` (`complete` or `fail`); the answer redirects onwards.
pub(crate) async fn provider_page(url: &str, outcome: &str) -> reqwest::Response {
    let answered = browser().post(url).form(&[("outcome", outcome)]).send().await.unwrap();
    assert_eq!(answered.status(), StatusCode::SEE_OTHER, "{url}");
    answered
}

pub(crate) async fn create_challenged(app: &TestApp, number: &str, capture: bool, return_url: &str) -> Value {
    let body = json!({ "amount": 1250, "currency": "eur", "capture": capture,
        "payment_method": card(number), "return_url": return_url });
    expect_json(app.post("/api/v1/payments", &body).await, StatusCode::CREATED).await
}

fn location(response: &reqwest::Response) -> String {
    response.headers()["location"].to_str().unwrap().to_owned()
}

/// The challenge page's token for its forms.
fn form_token(page: &str) -> String {
    let start = page.find(r#"name="token" value=""#).expect("token field") + r#"name="token" value=""#.len();
    page[start..start + page[start..].find('"').unwrap()].to_owned()
}

/// Opens the sandbox's challenge page, checks what it shows, and submits `outcome`: answers the
/// return endpoint's URL the form redirects to.
async fn answer_challenge(url: &str, outcome: &str) -> String {
    let page = browser().get(url).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let csp = page.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    let html = page.text().await.unwrap();
    assert!(html.contains("12.50 EUR") && html.contains("merchant_test"), "{html}");
    assert!(html.contains("Complete authentication") && html.contains("Fail authentication"));
    let token = form_token(&html);
    let decided = browser()
        .post(url)
        .form(&[("token", token.as_str()), ("outcome", outcome)])
        .send()
        .await
        .unwrap();
    assert_eq!(decided.status(), StatusCode::SEE_OTHER);
    location(&decided)
}

async fn sandbox_challenge_completed_returns_the_customer_to_the_merchant_succeeded(app: TestApp) {
    let created = create_challenged(&app, "4000002500003155", true, RETURN_URL).await;
    let id = created["id"].as_str().unwrap();
    assert_eq!(created["status"], "requires_action", "{created}");
    assert_eq!(created["return_url"], RETURN_URL);
    let action = &created["next_action"];
    assert_eq!(action["type"], "redirect_to_url");
    assert_eq!(action["redirect_to_url"]["return_url"], RETURN_URL);
    let url = action["redirect_to_url"]["url"].as_str().unwrap();
    assert_eq!(url, app.url(&format!("/sandbox/3ds/{id}")));
    // A read shows the same action.
    assert_eq!(app.payment(id).await["next_action"], *action);

    let back = answer_challenge(url, "complete").await;
    assert_eq!(back, app.url(&format!("/api/v1/payments/{id}/return")));
    let returned = browser().get(&back).send().await.unwrap();
    assert_eq!(returned.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&returned), format!("{RETURN_URL}&payment_id={id}"));

    let payment = app.payment(id).await;
    assert_eq!(payment["status"], "succeeded", "{payment}");
    assert_eq!(payment["captured_amount"], 1250);
    assert!(payment["next_action"].is_null(), "{payment}");

    // A second return, or a replayed form, changes nothing.
    let again = browser().get(&back).send().await.unwrap();
    expect_error(again, StatusCode::CONFLICT, "invalid_state", None).await;
    let page = browser().get(url).send().await.unwrap();
    expect_error(page, StatusCode::CONFLICT, "invalid_state", None).await;
    let kinds: Vec<Value> = app.events(id).await.into_iter().map(|e| e["type"].clone()).collect();
    assert_eq!(
        kinds,
        vec![
            json!("payment.created"),
            json!("payment.requires_action"),
            json!("payment.succeeded")
        ],
        "one completion, one event"
    );
}

async fn sandbox_challenge_failed_fails_the_payment(app: TestApp) {
    let created = create_challenged(&app, "4000002760003184", false, RETURN_URL).await;
    let id = created["id"].as_str().unwrap();
    let back = answer_challenge(
        created["next_action"]["redirect_to_url"]["url"].as_str().unwrap(),
        "fail",
    )
    .await;
    let returned = browser().get(&back).send().await.unwrap();
    assert_eq!(returned.status(), StatusCode::SEE_OTHER);
    let payment = app.payment(id).await;
    assert_eq!(payment["status"], "failed", "{payment}");
    assert_eq!(payment["failure_code"], "authentication_failed");
}

async fn manual_capture_challenge_completes_as_authorized(app: TestApp) {
    let created = create_challenged(&app, "4000002500003155", false, RETURN_URL).await;
    let id = created["id"].as_str().unwrap();
    let back = answer_challenge(
        created["next_action"]["redirect_to_url"]["url"].as_str().unwrap(),
        "complete",
    )
    .await;
    browser().get(&back).send().await.unwrap();
    assert_eq!(app.payment(id).await["status"], "authorized");
    let captured = expect_json(app.capture(id, json!({})).await, StatusCode::OK).await;
    assert_eq!(captured["status"], "succeeded");
}

async fn a_forged_or_missing_token_decides_nothing(app: TestApp) {
    let created = create_challenged(&app, "4000002500003155", true, RETURN_URL).await;
    let id = created["id"].as_str().unwrap();
    let url = created["next_action"]["redirect_to_url"]["url"].as_str().unwrap();
    let forged = browser()
        .post(url)
        .form(&[("token", "00".repeat(32).as_str()), ("outcome", "complete")])
        .send()
        .await
        .unwrap();
    expect_error(
        forged,
        StatusCode::BAD_REQUEST,
        "invalid_challenge_token",
        Some("token"),
    )
    .await;
    let missing = browser()
        .post(url)
        .form(&[("outcome", "complete")])
        .send()
        .await
        .unwrap();
    expect_error(missing, StatusCode::BAD_REQUEST, "invalid_challenge_form", None).await;
    // The customer has not authenticated: returning early leaves the payment waiting.
    let early = browser()
        .get(app.url(&format!("/api/v1/payments/{id}/return")))
        .send()
        .await
        .unwrap();
    assert_eq!(early.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.payment(id).await["status"], "requires_action");
    // The genuine page still works afterwards.
    let back = answer_challenge(url, "complete").await;
    browser().get(&back).send().await.unwrap();
    assert_eq!(app.payment(id).await["status"], "succeeded");
}

async fn return_on_a_payment_not_awaiting_the_customer_is_invalid_state(app: TestApp) {
    let plain = app.create_payment(500, "4242424242424242", true).await;
    let returned = browser()
        .get(app.url(&format!("/api/v1/payments/{}/return", plain["id"].as_str().unwrap())))
        .send()
        .await
        .unwrap();
    expect_error(returned, StatusCode::CONFLICT, "invalid_state", None).await;
    let unknown = browser()
        .get(app.url("/api/v1/payments/pay_00000000000000000000000000000000/return"))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
}

async fn return_url_must_be_https_or_loopback_http(app: TestApp) {
    for bad in [
        "http://shop.example/back",
        "javascript:alert(1)",
        "https://user:pw@shop.example/",
        "ftp://shop.example/",
        "shop.example/back",
    ] {
        let body =
            json!({ "amount": 100, "currency": "usd", "payment_method": card("4242424242424242"), "return_url": bad });
        let refused = app.post("/api/v1/payments", &body).await;
        expect_error(
            refused,
            StatusCode::BAD_REQUEST,
            "invalid_return_url",
            Some("return_url"),
        )
        .await;
    }
    let list = expect_json(app.get("/api/v1/payments").await, StatusCode::OK).await;
    assert_eq!(
        list["data"].as_array().unwrap().len(),
        0,
        "a refused create stores nothing"
    );
    let ok = create_challenged(&app, "4242424242424242", true, "https://shop.example/back").await;
    assert_eq!(ok["status"], "succeeded");
    assert_eq!(ok["return_url"], "https://shop.example/back");
    assert!(ok["next_action"].is_null());
}

async fn the_reconciler_completes_a_decided_challenge_first(app: TestApp) {
    let created = create_challenged(&app, "4000002500003155", true, RETURN_URL).await;
    let id = created["id"].as_str().unwrap();
    let back = answer_challenge(
        created["next_action"]["redirect_to_url"]["url"].as_str().unwrap(),
        "complete",
    )
    .await;
    // The customer's browser never comes back; the reconciler asks the provider.
    let report = payrail::reconcile::run_once(&app.database, &app.supervisor, Duration::ZERO).await;
    assert_eq!((report.examined, report.settled), (1, 1), "{report:?}");
    assert_eq!(app.payment(id).await["status"], "succeeded");
    let late = browser().get(&back).send().await.unwrap();
    expect_error(late, StatusCode::CONFLICT, "invalid_state", None).await;
    assert_eq!(app.events(id).await.len(), 3);
}

async fn an_uncompleted_action_is_canceled_after_its_ttl(backend: Backend) {
    let Some(app) = spawn_app_with(backend, &[("REQUIRES_ACTION_TTL_SECS", "1")]).await else {
        return;
    };
    let created = create_challenged(&app, "4000002500003155", true, RETURN_URL).await;
    let id = created["id"].as_str().unwrap();
    let url = created["next_action"]["redirect_to_url"]["url"]
        .as_str()
        .unwrap()
        .to_owned();
    let report = payrail::reconcile::run_once(&app.database, &app.supervisor, Duration::ZERO).await;
    assert_eq!((report.examined, report.settled), (1, 0), "still within its TTL");
    assert_eq!(app.payment(id).await["status"], "requires_action");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    payrail::reconcile::run_once(&app.database, &app.supervisor, Duration::ZERO).await;
    let payment = app.payment(id).await;
    assert_eq!(payment["status"], "canceled", "{payment}");
    assert_eq!(payment["failure_code"], "action_expired");
    assert!(payment["next_action"].is_null());
    // The sandbox was told: its page can no longer be completed.
    let page = browser().get(&url).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::CONFLICT);
}

crate::backend_tests!(
    sandbox_challenge_completed_returns_the_customer_to_the_merchant_succeeded,
    sandbox_challenge_failed_fails_the_payment,
    manual_capture_challenge_completes_as_authorized,
    a_forged_or_missing_token_decides_nothing,
    return_on_a_payment_not_awaiting_the_customer_is_invalid_state,
    return_url_must_be_https_or_loopback_http,
    the_reconciler_completes_a_decided_challenge_first,
);

mod configured {
    use super::*;
    crate::provider_tests!(an_uncompleted_action_is_canceled_after_its_ttl,);
}
