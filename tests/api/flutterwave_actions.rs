//! Flutterwave's customer actions (issue 13) on direct card charges, sealed with the account's
//! encryption key: `meta.authorization.mode` `pin` (then `otp`), `otp`, `redirect` (3-D Secure)
//! and `avs_noauth` become the payment's `next_action`, answered with `POST /confirm` or the
//! customer's return, exactly once. Declines fail the payment; the card, PIN and OTP are never
//! stored or logged; a card no longer held in memory (another node) fails the payment cleanly.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::customer_actions::browser;
use crate::fakes::flutterwave::cards::{
    AVS_CARD, ENCRYPTION_KEY, INSUFFICIENT_CARD, OTP, OTP_CARD, PIN, PIN_CARD, REDIRECT_CARD,
};
use crate::fakes::flutterwave::{FakeFlutterwave, SECRET_HASH};
use crate::flutterwave::flutterwave_app;
use crate::helpers::{card, expect_error, expect_json, Backend, TestApp, TestDatabase};

const RETURN_URL: &str = "http://127.0.0.1:9/shop/done";

async fn card_app(backend: Backend) -> Option<(TestApp, FakeFlutterwave)> {
    flutterwave_app(backend, &[("FLUTTERWAVE_ENCRYPTION_KEY", ENCRYPTION_KEY)]).await
}

fn card_charge(amount: i64, currency: &str, number: &str) -> Value {
    json!({ "amount": amount, "currency": currency, "provider": "flutterwave",
        "payment_method": card(number), "return_url": RETURN_URL })
}

async fn create(app: &TestApp, number: &str) -> Value {
    let body = card_charge(750_000, "ngn", number);
    expect_json(app.post("/api/v1/payments", &body).await, StatusCode::CREATED).await
}

async fn confirm(app: &TestApp, id: &str, body: Value) -> reqwest::Response {
    app.post(&format!("/api/v1/payments/{id}/confirm"), &body).await
}

fn charges(fake: &FakeFlutterwave) -> usize {
    fake.recorded()
        .iter()
        .filter(|r| r.path == "/v3/charges" && r.query == "type=card")
        .count()
}

async fn flutterwave_pin_then_otp_settles_a_card_charge(backend: Backend) {
    let Some((app, fake)) = card_app(backend).await else {
        return;
    };
    let created = create(&app, PIN_CARD).await;
    let id = created["id"].as_str().unwrap();
    assert_eq!(created["status"], "requires_action", "{created}");
    assert_eq!(created["next_action"]["type"], "pin", "{created}");
    let sent = fake.recorded();
    let body: Value = serde_json::from_str(&sent[0].body).unwrap();
    assert_eq!(body.as_object().unwrap().len(), 1, "only the sealed payload: {body}");
    assert!(!sent[0].body.contains(PIN_CARD), "the card travels sealed");

    let wrong_kind = confirm(&app, id, json!({ "otp": OTP })).await;
    expect_error(wrong_kind, StatusCode::BAD_REQUEST, "invalid_action_input", Some("pin")).await;
    let after_pin = expect_json(confirm(&app, id, json!({ "pin": PIN })).await, StatusCode::OK).await;
    assert_eq!(after_pin["status"], "requires_action", "{after_pin}");
    assert_eq!(after_pin["next_action"]["type"], "otp");
    assert_eq!(
        after_pin["next_action"]["otp"]["display_text"],
        "Kindly enter the OTP sent to *******0328"
    );
    assert_eq!(charges(&fake), 2, "the charge was resent with the PIN");

    let paid = expect_json(confirm(&app, id, json!({ "otp": OTP })).await, StatusCode::OK).await;
    assert_eq!(paid["status"], "succeeded", "{paid}");
    assert_eq!(paid["captured_amount"], 750_000);
    assert!(paid["next_action"].is_null());
    assert_eq!(fake.transaction(id)["amount"], json!(7500), "major units");
    assert_eq!(fake.net_minor(id), 750_000);

    let again = confirm(&app, id, json!({ "otp": OTP })).await;
    expect_error(again, StatusCode::CONFLICT, "invalid_state", None).await;
    let validations = fake
        .recorded()
        .iter()
        .filter(|r| r.path == "/v3/validate-charge")
        .count();
    assert_eq!(validations, 1, "a second confirm reaches nobody");
    let kinds: Vec<Value> = app.events(id).await.into_iter().map(|e| e["type"].clone()).collect();
    assert_eq!(
        kinds,
        [
            "payment.created",
            "payment.requires_action",
            "payment.requires_action",
            "payment.succeeded"
        ]
        .map(Value::from)
    );
    // Refunds go to the settled transaction.
    let refund = expect_json(app.refund(id, json!({ "amount": 250_000 })).await, StatusCode::CREATED).await;
    assert_eq!(refund["status"], "succeeded", "{refund}");
    assert_eq!(fake.net_minor(id), 500_000);
}

async fn flutterwave_otp_only_and_declines(backend: Backend) {
    let Some((app, fake)) = card_app(backend).await else {
        return;
    };
    let created = create(&app, OTP_CARD).await;
    let id = created["id"].as_str().unwrap();
    assert_eq!(created["next_action"]["type"], "otp", "{created}");
    assert!(created["provider_reference"].as_str().unwrap().starts_with("FLW-"));
    let paid = expect_json(confirm(&app, id, json!({ "otp": OTP })).await, StatusCode::OK).await;
    assert_eq!(paid["status"], "succeeded", "{paid}");

    let wrong = create(&app, OTP_CARD).await;
    let failed = expect_json(
        confirm(&app, wrong["id"].as_str().unwrap(), json!({ "otp": "99999" })).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(failed["status"], "failed", "{failed}");
    assert_eq!(failed["failure_message"], "Invalid OTP");

    let pin = create(&app, PIN_CARD).await;
    let failed = expect_json(
        confirm(&app, pin["id"].as_str().unwrap(), json!({ "pin": "0000" })).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(failed["status"], "failed", "{failed}");
    assert_eq!(failed["failure_message"], "Incorrect PIN");

    let poor = create(&app, INSUFFICIENT_CARD).await;
    assert_eq!(poor["status"], "failed", "{poor}");
    assert_eq!(poor["failure_code"], "insufficient_funds");
    assert_eq!(fake.net_minor(poor["id"].as_str().unwrap()), 0);
}

async fn flutterwave_three_d_secure_redirect_completes_on_return(backend: Backend) {
    let Some((app, fake)) = card_app(backend).await else {
        return;
    };
    let created = create(&app, REDIRECT_CARD).await;
    let id = created["id"].as_str().unwrap();
    assert_eq!(created["status"], "requires_action", "{created}");
    let page = created["next_action"]["redirect_to_url"]["url"].as_str().unwrap();
    assert!(page.starts_with(&fake.base_url), "Flutterwave's own page: {page}");
    assert_eq!(created["next_action"]["redirect_to_url"]["return_url"], RETURN_URL);

    // The customer passes 3-D Secure; Flutterwave sends them to payrail, payrail to the shop.
    let to_payrail = browser().get(page).send().await.unwrap();
    assert_eq!(to_payrail.status(), StatusCode::FOUND);
    let back = to_payrail.headers()["location"].to_str().unwrap().to_owned();
    let payrail_return = app.url(&format!("/api/v1/payments/{id}/return"));
    assert!(
        back.starts_with(&format!("{payrail_return}?status=successful&tx_ref={id}")),
        "{back}"
    );
    let to_shop = browser().get(&back).send().await.unwrap();
    assert_eq!(to_shop.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        to_shop.headers()["location"].to_str().unwrap(),
        format!("{RETURN_URL}?payment_id={id}")
    );
    let payment = app.payment(id).await;
    assert_eq!(payment["status"], "succeeded", "{payment}");
    assert!(
        fake.recorded()
            .iter()
            .any(|r| r.path == "/v3/transactions/verify_by_reference" && r.query == format!("tx_ref={id}")),
        "the return is verified by tx_ref"
    );
    let again = browser().get(&back).send().await.unwrap();
    expect_error(again, StatusCode::CONFLICT, "invalid_state", None).await;
    let confirm_now = confirm(&app, id, json!({ "otp": OTP })).await;
    expect_error(confirm_now, StatusCode::CONFLICT, "invalid_state", None).await;
}

async fn flutterwave_redirect_is_settled_by_webhook_or_reconciler_once(backend: Backend) {
    let Some((app, fake)) = card_app(backend).await else {
        return;
    };
    // Webhook first: the return that follows finds nothing to complete.
    let first = create(&app, REDIRECT_CARD).await;
    let first_id = first["id"].as_str().unwrap();
    let page = first["next_action"]["redirect_to_url"]["url"].as_str().unwrap();
    let to_payrail = browser().get(page).send().await.unwrap();
    let event = json!({ "event": "charge.completed", "event.type": "CARD_TRANSACTION",
        "data": fake.transaction(first_id) });
    let delivered = app
        .client
        .post(app.url("/api/v1/payments/webhook?gateway=flutterwave"))
        .header("verif-hash", SECRET_HASH)
        .body(event.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(delivered.status(), StatusCode::OK);
    assert_eq!(app.payment(first_id).await["status"], "succeeded");
    let late = browser()
        .get(to_payrail.headers()["location"].to_str().unwrap())
        .send()
        .await
        .unwrap();
    expect_error(late, StatusCode::CONFLICT, "invalid_state", None).await;
    assert_eq!(
        app.events(first_id).await.len(),
        3,
        "created, requires_action, succeeded"
    );

    // Nobody returns and no webhook comes: the reconciler verifies by tx_ref.
    let second = create(&app, REDIRECT_CARD).await;
    let second_id = second["id"].as_str().unwrap();
    let page = second["next_action"]["redirect_to_url"]["url"].as_str().unwrap();
    browser().get(page).send().await.unwrap();
    payrail::reconcile::run_once(&app.database, &app.supervisor, std::time::Duration::ZERO).await;
    assert_eq!(app.payment(second_id).await["status"], "succeeded");
    payrail::reconcile::run_once(&app.database, &app.supervisor, std::time::Duration::ZERO).await;
    assert_eq!(app.events(second_id).await.len(), 3, "settled once");
}

async fn flutterwave_address_check_is_resubmitted_through_confirm(backend: Backend) {
    let Some((app, fake)) = card_app(backend).await else {
        return;
    };
    let created = create(&app, AVS_CARD).await;
    let id = created["id"].as_str().unwrap();
    assert_eq!(
        created["next_action"],
        json!({ "type": "address", "address": { "display_text": "Enter the card's billing address",
            "fields": ["address", "city", "state", "country", "zipcode"] } })
    );
    let partial = confirm(&app, id, json!({ "address": { "city": "Lagos" } })).await;
    assert_eq!(partial.status(), StatusCode::BAD_REQUEST);
    let bad_country = json!({ "address": { "address": "1 Marina", "city": "Lagos", "state": "Lagos",
        "country": "Nigeria", "zipcode": "101241" } });
    let refused = confirm(&app, id, bad_country).await;
    expect_error(
        refused,
        StatusCode::BAD_REQUEST,
        "invalid_action_input",
        Some("address"),
    )
    .await;
    assert_eq!(charges(&fake), 1, "nothing resent for a refused address");

    let address = json!({ "address": { "address": "1 Marina", "city": "Lagos", "state": "Lagos",
        "country": "ng", "zipcode": "101241" } });
    let paid = expect_json(confirm(&app, id, address).await, StatusCode::OK).await;
    assert_eq!(paid["status"], "succeeded", "{paid}");
    assert_eq!(charges(&fake), 2);
    assert_eq!(fake.net_minor(id), 750_000);
}

/// The card for the PIN resend lives in one process's memory only: a `/confirm` that reaches
/// another node (or this one after a restart) fails the payment cleanly, nothing charged.
async fn a_card_not_held_by_this_node_fails_cleanly(backend: Backend) {
    let Some((a, fake)) = card_app(backend).await else {
        return;
    };
    let b = TestApp::start(TestDatabase::shared(&a.db.url), a.settings.clone()).await;
    let created = create(&a, PIN_CARD).await;
    let id = created["id"].as_str().unwrap();
    let failed = expect_json(confirm(&b, id, json!({ "pin": PIN })).await, StatusCode::OK).await;
    assert_eq!(failed["status"], "failed", "{failed}");
    assert_eq!(failed["failure_code"], "card_details_unavailable");
    assert_eq!(charges(&fake), 1, "the card was not resent");
    assert_eq!(fake.net_minor(id), 0);
}

/// No raw-card charge without the encryption key: refused before anything is sent.
async fn raw_cards_need_the_encryption_key(backend: Backend) {
    let Some((app, fake)) = flutterwave_app(backend, &[]).await else {
        return;
    };
    let refused = create(&app, PIN_CARD).await;
    assert_eq!(refused["status"], "failed");
    assert_eq!(refused["failure_code"], "operation_not_supported");
    assert!(
        refused["failure_message"]
            .as_str()
            .unwrap()
            .contains("FLUTTERWAVE_ENCRYPTION_KEY"),
        "{refused}"
    );
    assert_eq!(charges(&fake), 0);
}

/// Zero- and three-decimal currencies on the direct card path: major units with the currency's
/// decimals inside the sealed payload.
async fn flutterwave_card_charges_keep_each_currency_decimals(backend: Backend) {
    let Some((app, fake)) = card_app(backend).await else {
        return;
    };
    for (currency, amount, major) in [("jpy", 1_500, json!(1500)), ("kwd", 12_345, json!(12.345))] {
        let body = card_charge(amount, currency, "4242424242424242");
        let paid = expect_json(app.post("/api/v1/payments", &body).await, StatusCode::CREATED).await;
        assert_eq!(paid["status"], "succeeded", "{paid}");
        let id = paid["id"].as_str().unwrap();
        assert_eq!(fake.transaction(id)["amount"], major, "{currency}");
        assert_eq!(fake.net_minor(id), amount);
    }
}

/// Nothing the customer typed — card number, CVC, PIN, OTP, address — rests in any table or log.
async fn no_card_pin_or_otp_is_stored_or_logged(backend: Backend) {
    let Some((app, _fake)) = card_app(backend).await else {
        return;
    };
    let created = create(&app, PIN_CARD).await;
    let id = created["id"].as_str().unwrap();
    confirm(&app, id, json!({ "pin": PIN })).await;
    let paid = expect_json(confirm(&app, id, json!({ "otp": OTP })).await, StatusCode::OK).await;
    assert_eq!(paid["status"], "succeeded");
    let avs = create(&app, AVS_CARD).await;
    let address = json!({ "address": { "address": "77 Unlikely Lane", "city": "Lagos", "state": "Lagos",
        "country": "NG", "zipcode": "101241" } });
    confirm(&app, avs["id"].as_str().unwrap(), address).await;

    let typed = [
        PIN_CARD,
        AVS_CARD,
        "77 Unlikely Lane",
        "\"3310\"",
        "\"pin\":\"",
        "\"otp\":\"",
        "\"cvv\":",
        "\"cvc\":",
    ];
    let leaks = |text: &str, extra: &[&str]| -> Vec<String> {
        typed
            .iter()
            .chain(extra)
            .filter(|needle| text.contains(*needle))
            .map(|needle| needle.to_string())
            .collect()
    };
    let tables = crate::card_data::dump_tables(&app, backend).await;
    assert!(tables.contains("2950"), "the dump sees the stored last4");
    // In this test's own database even the OTP and the CVC are unmistakable.
    let found = leaks(&tables, &["\"12345\"", "\"123\""]);
    assert!(found.is_empty(), "database leaks {found:?}");
    let logs = crate::logs::captured();
    assert!(logs.contains(id), "logs were captured");
    let leaked: Vec<&str> = logs.lines().filter(|line| !leaks(line, &[]).is_empty()).collect();
    assert!(leaked.is_empty(), "logs leak what the customer typed: {leaked:?}");
}

/// Abandoned at the PIN or the OTP: canceled after `REQUIRES_ACTION_TTL_SECS`, nothing charged,
/// the held card dropped.
async fn an_abandoned_card_charge_expires(backend: Backend) {
    let settings = [
        ("FLUTTERWAVE_ENCRYPTION_KEY", ENCRYPTION_KEY),
        ("REQUIRES_ACTION_TTL_SECS", "1"),
    ];
    let Some((app, fake)) = flutterwave_app(backend, &settings).await else {
        return;
    };
    let at_pin = create(&app, PIN_CARD).await;
    let at_otp = create(&app, OTP_CARD).await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let report = payrail::reconcile::run_once(&app.database, &app.supervisor, std::time::Duration::ZERO).await;
    assert_eq!(report.errors, 0, "{report:?}");
    for created in [at_pin, at_otp] {
        let id = created["id"].as_str().unwrap();
        let payment = app.payment(id).await;
        assert_eq!(payment["status"], "canceled", "{payment}");
        assert_eq!(payment["failure_code"], "action_expired");
        assert_eq!(fake.net_minor(id), 0);
        let late = confirm(&app, id, json!({ "otp": OTP })).await;
        expect_error(late, StatusCode::CONFLICT, "invalid_state", None).await;
    }
}

crate::provider_tests!(
    an_abandoned_card_charge_expires,
    flutterwave_pin_then_otp_settles_a_card_charge,
    flutterwave_otp_only_and_declines,
    flutterwave_three_d_secure_redirect_completes_on_return,
    flutterwave_redirect_is_settled_by_webhook_or_reconciler_once,
    flutterwave_address_check_is_resubmitted_through_confirm,
    a_card_not_held_by_this_node_fails_cleanly,
    raw_cards_need_the_encryption_key,
    flutterwave_card_charges_keep_each_currency_decimals,
    no_card_pin_or_otp_is_stored_or_logged,
);
