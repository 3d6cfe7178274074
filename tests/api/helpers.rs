//! `spawn_app()`: the real server on a random port over a fresh database — a temp SQLite file, or a
//! new PostgreSQL database per test when `TEST_POSTGRES_URL` is set — plus typed helpers that speak
//! to it over HTTP like a merchant's backend would.
//!
//! Without `TEST_POSTGRES_URL` the Postgres variants skip loudly; with `REQUIRE_POSTGRES=1` (as CI
//! sets it) a missing or unreachable Postgres fails them instead.

use std::collections::HashMap;

use payrail::auth::Jwt;
use payrail::config::{Secret, Settings};
use payrail::startup::Application;
use payrail::store::Database;
use payrail_core::actors::PaymentSupervisor;
use payrail_core::domain::MerchantId;
use reqwest::{Response, StatusCode};
use serde_json::{json, Value};
use sqlx::Connection;

pub const JWT_SECRET: &str = "test-secret-for-payrail-integration-tests";
pub const MERCHANT: &str = "merchant_test";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Where a test's database lives; kept alive (temp dir) for the test's duration.
pub struct TestDatabase {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

impl TestDatabase {
    /// Another handle on an existing database, for a second node on it (nothing to clean up).
    pub fn shared(url: &str) -> Self {
        Self {
            url: url.to_owned(),
            _dir: None,
        }
    }

    /// A fresh, empty database, or `None` if Postgres is not configured (and not required).
    pub async fn create(backend: Backend) -> Option<Self> {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}", dir.path().join("payrail.db").display());
                Some(Self { url, _dir: Some(dir) })
            }
            Backend::Postgres => {
                let Some(base) = std::env::var("TEST_POSTGRES_URL").ok().filter(|u| !u.is_empty()) else {
                    if std::env::var("REQUIRE_POSTGRES").as_deref() == Ok("1") {
                        panic!("REQUIRE_POSTGRES=1 but TEST_POSTGRES_URL is not set");
                    }
                    eprintln!("SKIPPED (postgres): set TEST_POSTGRES_URL to run the PostgreSQL suite");
                    return None;
                };
                let name = format!("payrail_test_{}", uuid::Uuid::new_v4().simple());
                let mut admin = sqlx::PgConnection::connect(&base)
                    .await
                    .unwrap_or_else(|e| panic!("TEST_POSTGRES_URL is set but Postgres is unreachable: {e}"));
                sqlx::query(&format!("CREATE DATABASE \"{name}\""))
                    .execute(&mut admin)
                    .await
                    .expect("create database");
                let _ = admin.close().await;
                let (prefix, _) = base.rsplit_once('/').expect("TEST_POSTGRES_URL must name a database");
                Some(Self {
                    url: format!("{prefix}/{name}"),
                    _dir: None,
                })
            }
        }
    }
}

/// A running payrail and a client for it.
pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub token: String,
    pub database: Database,
    pub supervisor: PaymentSupervisor,
    pub db: TestDatabase,
    pub settings: Settings,
    pub metrics: payrail::metrics::Metrics,
    handle: actix_web::dev::ServerHandle,
}

/// Settings for a test server on `url`, with `extra` environment overrides.
pub fn test_settings(url: &str, extra: &[(&str, &str)]) -> Settings {
    let mut env: HashMap<String, String> = HashMap::new();
    env.insert(
        "CONFIG_DIR".into(),
        concat!(env!("CARGO_MANIFEST_DIR"), "/config").into(),
    );
    env.insert("DATABASE_URL".into(), url.into());
    env.insert("PORT".into(), "0".into());
    env.insert("HTTP_WORKERS".into(), "2".into());
    env.insert("JWT_SECRET".into(), JWT_SECRET.into());
    env.insert("DATABASE_MAX_CONNECTIONS".into(), "5".into());
    // The limiter runs in every test but only tests/api/rate_limit.rs makes it refuse.
    env.insert("RATE_LIMIT_PER_SECOND".into(), "100000".into());
    env.insert("RATE_LIMIT_BURST".into(), "100000".into());
    for (key, value) in extra {
        env.insert((*key).into(), (*value).into());
    }
    Settings::from_env(&env).expect("test settings")
}

pub async fn spawn_app(backend: Backend) -> Option<TestApp> {
    spawn_app_with(backend, &[]).await
}

pub async fn spawn_app_with(backend: Backend, extra: &[(&str, &str)]) -> Option<TestApp> {
    let db = TestDatabase::create(backend).await?;
    let settings = test_settings(&db.url, extra);
    Some(TestApp::start(db, settings).await)
}

pub fn token_for(merchant: &str) -> String {
    Jwt::hs256(&Secret::new(JWT_SECRET))
        .issue(&MerchantId::parse(merchant).unwrap(), 3600)
        .unwrap()
}

pub fn card(number: &str) -> Value {
    json!({ "type": "card", "card": { "number": number, "exp_month": 12, "exp_year": 2034, "cvc": "123" } })
}

impl TestApp {
    /// Starts payrail with `settings` (whose database URL may differ from `db.url`, e.g. a proxy).
    pub async fn start(db: TestDatabase, settings: Settings) -> Self {
        crate::logs::install();
        let app = Application::build(settings.clone()).await.expect("application starts");
        let address = format!("http://127.0.0.1:{}", app.port());
        let database = app.database().clone();
        let supervisor = app.supervisor().clone();
        let metrics = app.metrics().clone();
        let handle = app.handle();
        actix_web::rt::spawn(app.run_until_stopped());
        Self {
            address,
            client: reqwest::Client::new(),
            token: token_for(MERCHANT),
            database,
            supervisor,
            db,
            settings,
            metrics,
            handle,
        }
    }

    /// Stops the server gracefully and starts a new one on the same database.
    pub async fn restart(mut self) -> Self {
        self.handle.stop(true).await;
        self.database.close().await;
        let settings = self.settings.clone();
        let db = TestDatabase {
            url: self.db.url.clone(),
            _dir: self.db._dir.take(),
        };
        drop(self);
        Self::start(db, settings).await
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn post_as(&self, token: &str, path: &str, body: &Value) -> Response {
        self.client
            .post(self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .expect("request")
    }

    pub async fn post(&self, path: &str, body: &Value) -> Response {
        self.post_as(&self.token, path, body).await
    }

    pub async fn post_raw(&self, path: &str, body: &'static str) -> Response {
        self.client
            .post(self.url(path))
            .bearer_auth(&self.token)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("request")
    }

    pub async fn get_as(&self, token: &str, path: &str) -> Response {
        self.client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("request")
    }

    pub async fn get(&self, path: &str) -> Response {
        self.get_as(&self.token, path).await
    }

    /// Creates a payment of `amount` USD cents with `number`; `capture` false holds the funds.
    pub async fn create_payment(&self, amount: i64, number: &str, capture: bool) -> Value {
        let body = json!({ "amount": amount, "currency": "usd", "capture": capture, "payment_method": card(number) });
        expect_json(self.post("/api/v1/payments", &body).await, StatusCode::CREATED).await
    }

    pub async fn payment(&self, id: &str) -> Value {
        expect_json(self.get(&format!("/api/v1/payments/{id}")).await, StatusCode::OK).await
    }

    pub async fn events(&self, id: &str) -> Vec<Value> {
        let page = expect_json(
            self.get(&format!("/api/v1/payments/{id}/events?limit=100")).await,
            StatusCode::OK,
        )
        .await;
        page["data"].as_array().expect("data").clone()
    }

    pub async fn capture(&self, id: &str, body: Value) -> Response {
        self.post(&format!("/api/v1/payments/{id}/capture"), &body).await
    }

    pub async fn refund(&self, id: &str, body: Value) -> Response {
        self.post(&format!("/api/v1/payments/{id}/refund"), &body).await
    }

    pub async fn cancel(&self, id: &str) -> Response {
        self.post(&format!("/api/v1/payments/{id}/cancel"), &json!({})).await
    }
}

/// A finished test's server would otherwise live on in its worker threads, holding its pool's
/// connections: with many tests, PostgreSQL runs out of connections. Stop it and close the pool.
impl Drop for TestApp {
    fn drop(&mut self) {
        // `stop` sends the command at once; nobody needs to wait for it to complete.
        drop(self.handle.stop(false));
        let database = self.database.clone();
        // The test's runtime is going away; close on a runtime of our own.
        std::thread::spawn(move || {
            if let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() {
                runtime.block_on(database.close());
            }
        });
    }
}

/// Asserts the status and returns the JSON body, showing the body when the status is wrong.
pub async fn expect_json(response: Response, status: StatusCode) -> Value {
    let actual = response.status();
    let text = response.text().await.expect("body");
    assert_eq!(actual, status, "unexpected status; body: {text}");
    serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"))
}

/// Asserts an error response: status, machine-readable code, and (when given) the parameter.
pub async fn expect_error(response: Response, status: StatusCode, code: &str, param: Option<&str>) -> Value {
    let body = expect_json(response, status).await;
    assert_eq!(body["error"]["code"], code, "{body}");
    if let Some(param) = param {
        assert_eq!(body["error"]["param"], param, "{body}");
    }
    body
}

/// Runs each listed `async fn(TestApp)` once on SQLite and once on PostgreSQL.
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[actix_web::test]
                async fn $name() {
                    let app = $crate::helpers::spawn_app($crate::helpers::Backend::Sqlite).await.expect("sqlite");
                    super::$name(app).await;
                }
            )*
        }
        mod postgres {
            $(
                #[actix_web::test]
                async fn $name() {
                    if let Some(app) = $crate::helpers::spawn_app($crate::helpers::Backend::Postgres).await {
                        super::$name(app).await;
                    }
                }
            )*
        }
    };
}
