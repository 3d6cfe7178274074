//! `/metrics`: Prometheus text format, no token needed, one registry per application. The test
//! checks each metric's name and type and that it moves when the thing it counts happens.

use std::collections::HashMap;

use payrail_core::domain::PaymentId;
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::TestApp;

/// A scrape: `# TYPE` lines by family, and sample values by full series text.
struct Scrape {
    types: HashMap<String, String>,
    samples: HashMap<String, f64>,
}

impl Scrape {
    async fn take(app: &TestApp) -> Self {
        // No bearer token: Prometheus does not carry one.
        let response = app.client.get(app.url("/metrics")).send().await.expect("scrape");
        assert_eq!(response.status(), StatusCode::OK);
        let text = response.text().await.expect("body");
        let mut types = HashMap::new();
        let mut samples = HashMap::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').expect("TYPE line");
                types.insert(name.to_owned(), kind.to_owned());
            } else if !line.starts_with('#') && !line.is_empty() {
                let (series, value) = line.rsplit_once(' ').expect("sample line");
                samples.insert(series.to_owned(), value.parse().expect("sample value"));
            }
        }
        Self { types, samples }
    }

    fn kind(&self, family: &str) -> &str {
        self.types.get(family).map_or("missing", String::as_str)
    }

    /// The sum of every series of `family` whose labels include all of `labels`.
    fn value(&self, family: &str, labels: &[&str]) -> f64 {
        self.samples
            .iter()
            .filter(|(series, _)| {
                let name = series.split('{').next().unwrap_or_default();
                name == family && labels.iter().all(|label| series.contains(label))
            })
            .map(|(_, value)| value)
            .sum()
    }
}

async fn metrics_are_exposed_typed_and_move(app: TestApp) {
    let before = Scrape::take(&app).await;
    assert_eq!(before.value("payment_actor_restarts_total", &[]), 0.0);

    let id = app.create_payment(1_000, "4242424242424242", true).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let refused = app.capture(&id, json!({})).await;
    assert_eq!(refused.status(), StatusCode::CONFLICT, "already captured");
    assert!(app.supervisor.kill(&PaymentId::parse(&id).unwrap()).await);
    assert_eq!(
        app.refund(&id, json!({ "amount": 100 })).await.status(),
        StatusCode::CREATED
    );
    app.metrics.set_circuit_open("sandbox", true);
    // The same refund retried with its key is answered from the stored response: a replay.
    for _ in 0..2 {
        let retried = app
            .client
            .post(app.url(&format!("/api/v1/payments/{id}/refund")))
            .bearer_auth(&app.token)
            .header("Idempotency-Key", "refund-once")
            .json(&json!({ "amount": 50 }))
            .send()
            .await
            .unwrap();
        assert_eq!(retried.status(), StatusCode::CREATED);
    }
    app.metrics.webhook_received("stripe", "processed");
    // A real delivery is counted by the webhook endpoint (Stripe is not configured here).
    let webhook = app
        .client
        .post(app.url("/api/v1/webhooks/stripe"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(webhook.status(), StatusCode::NOT_FOUND);

    let after = Scrape::take(&app).await;
    for (family, kind) in [
        ("payrail_http_requests_total", "counter"),
        ("payrail_http_requests_duration_seconds", "histogram"),
        ("payment_requests_total", "counter"),
        ("payment_processing_time_seconds", "histogram"),
        ("database_operations_total", "counter"),
        ("provider_requests_total", "counter"),
        ("provider_circuit_open", "gauge"),
        ("payment_actor_restarts_total", "counter"),
        ("payment_actors_active", "gauge"),
        ("idempotency_replays_total", "counter"),
        ("webhooks_received_total", "counter"),
    ] {
        assert_eq!(after.kind(family), kind, "type of {family}");
    }
    let ok = ["outcome=\"ok\"", "provider=\"sandbox\""];
    assert_eq!(
        after.value("payment_requests_total", &["operation=\"create\"", ok[0], ok[1]]),
        1.0
    );
    assert_eq!(
        after.value(
            "payment_requests_total",
            &["operation=\"capture\"", "outcome=\"rejected\""]
        ),
        1.0
    );
    assert_eq!(
        after.value("payment_requests_total", &["operation=\"refund\"", ok[0]]),
        2.0,
        "the replay did not run the refund again"
    );
    assert_eq!(
        after.value(
            "payment_processing_time_seconds_count",
            &["operation=\"create\"", ok[1]]
        ),
        1.0
    );
    // Create writes twice (pending, then the outcome), refund once.
    assert!(after.value("database_operations_total", &["operation=\"commit\"", ok[0]]) >= 3.0);
    assert_eq!(
        after.value("provider_requests_total", &ok),
        3.0,
        "authorize + two refunds"
    );
    assert_eq!(after.value("provider_circuit_open", &["provider=\"sandbox\""]), 1.0);
    assert_eq!(after.value("payment_actor_restarts_total", &[]), 1.0);
    assert_eq!(after.value("payment_actors_active", &[]), 1.0);
    assert_eq!(after.value("idempotency_replays_total", &[]), 1.0);
    assert_eq!(
        after.value(
            "webhooks_received_total",
            &["provider=\"stripe\"", "outcome=\"processed\""]
        ),
        1.0
    );
    assert_eq!(
        after.value(
            "webhooks_received_total",
            &["provider=\"unknown\"", "outcome=\"not_configured\""]
        ),
        1.0
    );
    let http = |s: &Scrape| s.value("payrail_http_requests_total", &["status=\"201\""]);
    assert_eq!(http(&after) - http(&before), 4.0, "create + three refunds answered 201");
}

crate::backend_tests!(metrics_are_exposed_typed_and_move);
