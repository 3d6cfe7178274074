//! One endpoint, several writers: the merchant's PATCH and secret rotation, the dispatcher
//! disabling a failing endpoint, `payrail rotate-key` re-sealing its secret. Each write changes
//! only its own columns, so none puts back what another changed after it read the endpoint.
//! Driven through the store's own functions with a read taken before the other write, which is
//! the interleaving a race produces. Each rule runs on SQLite and on PostgreSQL.

use payrail::store::merchant_events::{self as db, EndpointRow};
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{expect_json, Backend, TestApp, MERCHANT};
use crate::merchant_events::both_backends;
use crate::merchant_events_receiver::spawn_fast;

/// An endpoint registered through the API, as the store reads it.
async fn registered(app: &TestApp) -> EndpointRow {
    let created = expect_json(
        app.post(
            "/api/v1/webhook_endpoints",
            &json!({ "url": "http://127.0.0.1:9/hook", "enabled_events": ["*"] }),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let id = created["id"].as_str().unwrap();
    db::find_endpoint(&app.database, MERCHANT, id).await.unwrap().unwrap()
}

async fn a_patch_read_before_the_dispatcher_disabled_the_endpoint_does_not_enable_it(backend: Backend) {
    let Some(app) = spawn_fast(backend).await else { return };
    let read = registered(&app).await;
    let id = read.id.as_str();
    assert_eq!(read.status, "enabled");

    // The dispatcher: a 410, the endpoint disabled.
    assert_eq!(db::mark_endpoint(&app.database, id, Some(1), true).await.unwrap(), 1);
    // The merchant's PATCH of the description, from what it read before that.
    let mut patched = read.clone();
    patched.description = Some("billing".into());
    assert!(db::update_endpoint(&app.database, &patched, &["description"])
        .await
        .unwrap());

    let stored = db::find_endpoint(&app.database, MERCHANT, id).await.unwrap().unwrap();
    assert_eq!(stored.description.as_deref(), Some("billing"));
    assert_eq!(stored.status, "disabled", "the PATCH put back the status it had read");
    assert_eq!(stored.failing_since, Some(1));
    let shown = expect_json(
        app.get(&format!("/api/v1/webhook_endpoints/{id}")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(shown["status"], "disabled");
}

async fn a_rotation_over_a_secret_that_changed_meanwhile_writes_nothing(backend: Backend) {
    let Some(app) = spawn_fast(backend).await else { return };
    let read = registered(&app).await;
    let id = read.id.as_str();

    // A PATCH read before the rotation does not write the secret back.
    let rotated = expect_json(
        app.post(&format!("/api/v1/webhook_endpoints/{id}/rotate_secret"), &json!({}))
            .await,
        StatusCode::OK,
    )
    .await;
    let after_rotation = db::find_endpoint(&app.database, MERCHANT, id).await.unwrap().unwrap();
    assert_ne!(after_rotation.secret_sealed, read.secret_sealed);
    let mut patched = read.clone();
    patched.url = "http://127.0.0.1:9/other".into();
    assert!(db::update_endpoint(&app.database, &patched, &["url"]).await.unwrap());
    let stored = db::find_endpoint(&app.database, MERCHANT, id).await.unwrap().unwrap();
    assert_eq!(stored.url, "http://127.0.0.1:9/other");
    assert_eq!(
        stored.secret_sealed, after_rotation.secret_sealed,
        "the PATCH put back the old secret"
    );
    assert_eq!(stored.secret_prefix, after_rotation.secret_prefix);
    assert_eq!(
        stored.previous_secret_sealed.as_deref(),
        Some(read.secret_sealed.as_str())
    );

    // A second rotation computed from the first read (before the API's rotation) is refused: it
    // would have dropped the secret the merchant was just given.
    let mut stale = read.clone();
    stale.previous_secret_sealed = Some(read.secret_sealed.clone());
    stale.secret_sealed = "not a real ciphertext".into();
    assert!(!db::rotate_endpoint_secret(&app.database, &stale, &read.secret_sealed)
        .await
        .unwrap());
    let untouched = db::find_endpoint(&app.database, MERCHANT, id).await.unwrap().unwrap();
    assert_eq!(untouched.secret_sealed, after_rotation.secret_sealed);
    assert!(rotated["secret"].as_str().unwrap().starts_with("whsec_"));
}

both_backends!(
    a_patch_read_before_the_dispatcher_disabled_the_endpoint_does_not_enable_it,
    a_rotation_over_a_secret_that_changed_meanwhile_writes_nothing,
);
