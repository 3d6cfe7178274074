//! Webhook endpoint secrets through a data-key rotation: sealed under the key of their day (the
//! current secret and the previous one a `rotate_secret` keeps for 24 h), re-sealed by `payrail
//! rotate-key`, and still signing with the same secrets once the old key is gone from the config.
//! Each rule runs on SQLite and on PostgreSQL.

use std::time::Duration;

use payrail::config::Settings;
use reqwest::StatusCode;
use serde_json::json;

use crate::card_data::dump_tables;
use crate::encryption::{run_rotate_key, NEW_KEY};
use crate::helpers::{expect_json, test_settings, Backend, TestApp};
use crate::merchant_events::both_backends;
use crate::merchant_events_receiver::{assert_verified, register, Mode, Received, Receiver, FAST_DELIVERY};

const CARD: &str = "4242424242424242";
const OLD_KEY: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90";

/// The settings of a node with `keys` (and fast delivery), for a restart on the same database.
fn with_keys(app: &TestApp, keys: &[(&str, &str)]) -> Settings {
    test_settings(&app.db.url, &[FAST_DELIVERY, keys].concat())
}

/// The deliveries from `from` on, split into those signed once (the endpoint whose secret was
/// never rotated) and twice (the rotated one: new and previous secret).
fn by_signatures(delivered: &[Received], from: usize) -> (Vec<Received>, Vec<Received>) {
    delivered[from..]
        .iter()
        .cloned()
        .partition(|r| r.signature.split(' ').count() == 1)
}

async fn rotate_key_reseals_endpoint_secrets_which_keep_signing(backend: Backend) {
    let old = [("ENCRYPTION_KEY", OLD_KEY), ("ENCRYPTION_KEY_ID", "k1")];
    let Some(mut app) = crate::helpers::spawn_app_with(backend, &[FAST_DELIVERY, &old[..]].concat()).await else {
        return;
    };
    let receiver = Receiver::start(Mode::Ok);
    let (_, plain_secret) = register(&app, &receiver.url, &["payment.created"]).await;
    let (rotated, first_secret) = register(&app, &receiver.url, &["payment.created"]).await;
    let new_secret = expect_json(
        app.post(
            &format!("/api/v1/webhook_endpoints/{rotated}/rotate_secret"),
            &json!({}),
        )
        .await,
        StatusCode::OK,
    )
    .await["secret"]
        .as_str()
        .unwrap()
        .to_owned();

    // Every node gets the new key, the old one kept to open; then the rotation runs.
    let previous = format!("k1:{OLD_KEY}");
    let both = [
        ("ENCRYPTION_KEY", NEW_KEY),
        ("ENCRYPTION_KEY_ID", "k2"),
        ("ENCRYPTION_PREVIOUS_KEYS", previous.as_str()),
    ];
    app.settings = with_keys(&app, &both);
    app = app.restart().await;
    let first = run_rotate_key(&app.db.url, ("k1", OLD_KEY)).await;
    assert!(
        first.contains(
            "re-encrypted 0 receipt email(s), 2 webhook endpoint secret(s) and 1 previous webhook endpoint \
             secret(s) under key id `k2`"
        ),
        "{first}"
    );
    let tables = dump_tables(&app, backend).await;
    assert!(
        !tables.contains("\"k1\""),
        "no secret is left under the old key: {tables}"
    );
    assert!(tables.contains("\"k2\""), "{tables}");
    let again = run_rotate_key(&app.db.url, ("k1", OLD_KEY)).await;
    assert!(
        again.contains("re-encrypted 0 receipt email(s), 0 webhook endpoint secret(s) and 0 previous"),
        "{again}"
    );

    // Deliveries are signed with the secrets the merchant was given, re-sealed or not.
    app.create_payment(700, CARD, true).await;
    let delivered = receiver
        .wait_for(Duration::from_secs(10), "a delivery to each endpoint", |d| d.len() >= 2)
        .await;
    let (plain, rotated_deliveries) = by_signatures(&delivered, 0);
    assert_eq!((plain.len(), rotated_deliveries.len()), (1, 1), "{delivered:?}");
    assert_verified(&plain_secret, &plain).await;
    assert_verified(&new_secret, &rotated_deliveries).await;
    assert_verified(&first_secret, &rotated_deliveries).await;

    // The old key retired: endpoints still read, sign and rotate.
    app.settings = with_keys(&app, &[("ENCRYPTION_KEY", NEW_KEY), ("ENCRYPTION_KEY_ID", "k2")]);
    app = app.restart().await;
    app.create_payment(800, CARD, true).await;
    let delivered = receiver
        .wait_for(Duration::from_secs(10), "deliveries without the old key", |d| {
            d.len() >= 4
        })
        .await;
    let (plain, rotated_deliveries) = by_signatures(&delivered, 2);
    assert_eq!((plain.len(), rotated_deliveries.len()), (1, 1), "{delivered:?}");
    assert_verified(&plain_secret, &plain).await;
    assert_verified(&new_secret, &rotated_deliveries).await;
    assert_verified(&first_secret, &rotated_deliveries).await;
    let read = expect_json(
        app.get(&format!("/api/v1/webhook_endpoints/{rotated}")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(read["secret_hint"], new_secret[..10]);
    expect_json(
        app.post(
            &format!("/api/v1/webhook_endpoints/{rotated}/rotate_secret"),
            &json!({}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
}

both_backends!(rotate_key_reseals_endpoint_secrets_which_keep_signing);
