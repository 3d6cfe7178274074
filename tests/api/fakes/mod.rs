//! Fake payment providers: real HTTP servers on 127.0.0.1 that speak each provider's documented
//! wire format (encodings, amount units, status codes, error bodies, idempotency), seeded from
//! /work/shared/PROVIDERS.md, and can be told to fail, decline or stall.

pub mod flutterwave;
pub mod paypal;
pub mod paypal_checks;
pub mod paypal_reporting;
pub mod paystack;
pub mod recorded;
pub mod stripe;
pub mod stripe_balance;

use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use actix_web::dev::ServerHandle;

/// A running fake server; stopped when dropped.
pub struct FakeServer {
    pub base_url: String,
    handle: ServerHandle,
}

impl FakeServer {
    /// Serves `app` (an actix-web service config) on a random loopback port.
    pub fn start<F>(configure: F) -> Self
    where
        F: Fn(&mut actix_web::web::ServiceConfig) + Clone + Send + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind fake");
        let port = listener.local_addr().expect("addr").port();
        let server = actix_web::HttpServer::new(move || actix_web::App::new().configure(configure.clone()))
            .workers(1)
            .listen(listener)
            .expect("listen")
            .run();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        Self {
            base_url: format!("http://127.0.0.1:{port}"),
            handle,
        }
    }
}

impl FakeServer {
    /// The shape every fake has: one handler for every path (it routes on method and path itself),
    /// with the fake's shared `state` as `web::Data`.
    pub fn with_state<S, F, Args>(state: &Arc<Mutex<S>>, handler: F) -> Arc<Self>
    where
        S: Send + 'static,
        F: actix_web::Handler<Args> + Clone + Send + 'static,
        Args: actix_web::FromRequest + 'static,
        F::Output: actix_web::Responder + 'static,
    {
        let shared = Arc::clone(state);
        Arc::new(Self::start(move |cfg| {
            cfg.app_data(actix_web::web::Data::from(Arc::clone(&shared)))
                .default_service(actix_web::web::to(handler.clone()));
        }))
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        let handle = self.handle.clone();
        actix_web::rt::spawn(async move { handle.stop(false).await });
    }
}

/// A payrail configured with Stripe against a fresh fake, plus `extra` settings.
pub async fn stripe_app(
    backend: crate::helpers::Backend,
    extra: &[(&str, &str)],
) -> Option<(crate::helpers::TestApp, stripe::FakeStripe)> {
    let fake = stripe::FakeStripe::start();
    let mut env = vec![
        ("STRIPE_SECRET_KEY", stripe::SECRET_KEY),
        ("STRIPE_WEBHOOK_SECRET", stripe::WEBHOOK_SECRET),
        ("STRIPE_API_BASE", fake.base_url.as_str()),
        ("PROVIDER_BACKOFF_MS", "10"),
    ];
    env.extend_from_slice(extra);
    let app = crate::helpers::spawn_app_with(backend, &env).await?;
    Some((app, fake))
}

/// Like `backend_tests!`, for tests that configure their own app: each listed
/// `async fn(Backend)` runs once on SQLite and once on PostgreSQL (skipped when not configured).
#[macro_export]
macro_rules! provider_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[actix_web::test]
                async fn $name() {
                    super::$name($crate::helpers::Backend::Sqlite).await;
                }
            )*
        }
        mod postgres {
            $(
                #[actix_web::test]
                async fn $name() {
                    super::$name($crate::helpers::Backend::Postgres).await;
                }
            )*
        }
    };
}
