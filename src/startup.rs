//! `Application::build`: everything start-up owns, built once — the database pool and migrations,
//! the provider clients, the payment supervisor, the JWT keys — then the HTTP server bound to its
//! listener (port 0 in tests, which then read the real port back).
//!
//! Singletons are created here, outside `HttpServer::new`'s factory, because the factory runs once
//! per worker: state built inside it would be duplicated per worker.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::{Server, ServerHandle};
use actix_web::{web, App, HttpServer};
use payrail_core::actors::{PaymentSupervisor, SupervisorSettings};
use payrail_core::domain::MerchantId;
use payrail_core::idempotency::{Claims, Idempotency, IdempotencySettings};
use payrail_core::observer::Observer;
use payrail_core::operation::Dependencies;
use payrail_core::payments::Payments;
use payrail_core::ports::{JobLease, PaymentStore, SystemClock};

use crate::app::AppState;
use crate::audit_trail::AuditTrail;
use crate::auth::Jwt;
use crate::config::{Environment, Settings};
use crate::http;
use crate::http::idempotency::{fingerprint_key, IdempotencyEdge, JsonReplies};
use crate::metrics::{MeteredStore, Metrics};
use crate::providers;
use crate::store::{self, Database, OpenError};

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Database(#[from] OpenError),
    #[error("cannot listen on {address}: {source}")]
    Bind { address: String, source: std::io::Error },
    #[error("invalid configuration: {0}")]
    Config(String),
}

/// A development token printed at start-up so the quick start needs no extra step.
pub struct DevToken {
    pub merchant: MerchantId,
    pub token: String,
    /// The secret was generated for this run: the token dies with the process.
    pub ephemeral_secret: bool,
}

pub struct Application {
    port: u16,
    server: Server,
    supervisor: PaymentSupervisor,
    database: Database,
    metrics: Metrics,
    audit: AuditTrail,
    dev_token: Option<DevToken>,
    shutdown_timeout: Duration,
    dispatcher: crate::events::DispatcherHandle,
}

impl Application {
    pub async fn build(mut settings: Settings) -> Result<Self, StartupError> {
        // Bound first: the public address (the providers' return URL, the sandbox's challenge
        // pages) names the real port when it is 0.
        let address = format!("{}:{}", settings.http.host, settings.http.port);
        let listener = TcpListener::bind(&address).map_err(|source| StartupError::Bind {
            address: address.clone(),
            source,
        })?;
        let port = listener
            .local_addr()
            .map_err(|source| StartupError::Bind { address, source })?
            .port();
        settings.http.port = port;
        let public_url = settings.http.public_url();
        let challenges = Arc::new(providers::Challenges::new(&public_url));
        let database = store::open(&settings.database).await?;
        database.migrate().await?;
        let cipher = settings
            .security
            .cipher()
            .map_err(|e| StartupError::Config(format!("security.encryption_key: {e}")))?;
        let metrics = Metrics::new().map_err(|e| StartupError::Config(format!("metrics: {e}")))?;
        let store: Arc<dyn PaymentStore> = Arc::new(MeteredStore::new(database.store(), metrics.clone()));

        let (jwt, ephemeral_secret) = Jwt::from_settings(&settings).map_err(|e| StartupError::Config(e.to_string()))?;
        // Idempotency fingerprints are keyed by IDEMPOTENCY_SECRET, else derived from the HS256 secret;
        // with RS256 there is no shared secret, so the card fingerprint key stands in.
        let derivation_secret = jwt
            .shared_secret()
            .cloned()
            .unwrap_or_else(|| settings.security.card_fingerprint_key());
        // Jobs that run on one node at a time hold a lease in the shared database (issue 14).
        let leases: Arc<dyn JobLease> = Arc::new(crate::store::DatabaseLeases::new(
            database.clone(),
            Duration::from_secs(settings.database.lease_secs.max(1)),
        ));
        let (audit, idempotency) = start_audit_and_idempotency(&settings, &database, &derivation_secret, &leases);
        let dev_token = match settings.environment {
            Environment::Development if jwt.can_issue() => {
                let merchant = MerchantId::parse(&settings.auth.dev_merchant)
                    .map_err(|_| StartupError::Config("auth.dev_merchant is not a valid merchant id".into()))?;
                let token = jwt
                    .issue(&merchant, settings.auth.token_ttl_secs)
                    .map_err(|e| StartupError::Config(format!("cannot issue a development token: {e}")))?;
                Some(DevToken {
                    merchant,
                    token,
                    ephemeral_secret,
                })
            }
            _ => None,
        };

        // One PayPal adapter: payments and webhook verification share its OAuth token cache.
        let paypal = providers::paypal(&settings);
        let (supervisor, provider_names) = start_supervisor(
            &settings,
            paypal.clone(),
            providers::SandboxParts {
                challenges: Arc::clone(&challenges),
                book: Some(Arc::new(database.clone())),
            },
            Arc::clone(&store),
            Arc::new(metrics.clone()),
        )?;
        let payments = start_payments(&settings, &database, &supervisor, Arc::clone(&store), &leases);
        let webhooks = Arc::new(crate::webhooks::Webhooks::new(
            &settings,
            paypal,
            database.clone(),
            supervisor.clone(),
        ));
        // At start-up, then periodically: settle payments left awaiting their provider.
        crate::reconcile::spawn_periodic(
            database.clone(),
            supervisor.clone(),
            Arc::clone(&leases),
            Duration::from_secs(settings.providers.reconcile_interval_secs.max(1)),
            Duration::from_secs(settings.providers.reconcile_min_age_secs),
            metrics.clone(),
        );
        // The audit chain walked every AUDIT_VERIFY_INTERVAL_SECS, on one node at a time.
        crate::audit_verify::spawn_periodic(
            database.clone(),
            Arc::clone(&leases),
            Duration::from_secs(settings.audit.verify_interval_secs),
            metrics.clone(),
        );

        // Yesterday's settlement reports, hourly, on one node at a time (issue 17).
        crate::settlements::spawn_daily(database.clone(), Arc::clone(&leases));

        metrics
            .watch_supervisor(&supervisor)
            .and_then(|()| metrics.watch_database(&database))
            .map_err(|e| StartupError::Config(format!("metrics: {e}")))?;
        let prometheus = metrics.http_middleware().map_err(StartupError::Config)?;
        let cipher = Arc::new(cipher);
        let merchant_events = Arc::new(crate::events::MerchantEvents::new(
            database.clone(),
            Arc::clone(&store),
            Arc::clone(&cipher),
            settings.merchant_events.clone(),
            settings.environment,
        ));
        // Merchant-event rows past retention, purged on one node at a time.
        crate::events::retention::spawn_periodic(
            database.clone(),
            Arc::clone(&leases),
            settings.merchant_events.retention_days,
        );
        let dispatcher = crate::events::Dispatcher::new(Arc::clone(&merchant_events), metrics.clone()).spawn();
        let state = web::Data::new(AppState {
            supervisor: supervisor.clone(),
            store,
            provider_names,
            default_provider: providers::DEFAULT_PROVIDER.to_owned(),
            webhooks,
            card_fingerprints: crate::crypto::CardFingerprinter::new(settings.security.card_fingerprint_key()),
            contacts: store::Contacts::new(database.clone(), cipher),
            metrics: metrics.clone(),
            database: database.clone(),
            public_url,
            development: settings.environment == Environment::Development,
            sandbox_challenges: (settings.environment == Environment::Development).then_some(challenges),
            merchant_events,
        });
        let console = web::Data::new(http::console::Console::new(
            settings.auth.operator_token.clone(),
            settings.environment != Environment::Development,
            database.clone(),
        ));
        let jwt = web::Data::new(jwt);
        let audit_trail = audit.clone();
        let audit = web::Data::new(audit);
        let idempotency = web::Data::new(idempotency);
        let payments = web::Data::new(payments);
        let cors = web::Data::new(http::CorsPolicy::new(&settings.http.cors_origins));
        let proxies = http::TrustedProxies::parse(&settings.http.trusted_proxies)
            .map_err(|e| StartupError::Config(format!("http.trusted_proxies: {e}")))?;
        let proxies = web::Data::new(proxies);
        let rate_limiter = settings
            .rate_limit
            .enabled
            .then(|| web::Data::new(http::RateLimiter::new(&settings.rate_limit)));
        let max_body_bytes = settings.http.max_body_bytes;
        let mut server = HttpServer::new(move || {
            let mut app = App::new();
            if let Some(limiter) = &rate_limiter {
                app = app.app_data(limiter.clone());
            }
            app.app_data(state.clone())
                .app_data(jwt.clone())
                .app_data(console.clone())
                .app_data(audit.clone())
                .app_data(idempotency.clone())
                .app_data(payments.clone())
                .app_data(cors.clone())
                .app_data(proxies.clone())
                .app_data(web::PayloadConfig::new(max_body_bytes))
                .configure(http::routes)
                // The operator console: HTML for people, not part of the API's OpenAPI document.
                .configure(http::console::routes)
                .default_service(web::to(http::not_found))
                .wrap(actix_web::middleware::from_fn(http::rate_limit))
                .wrap(actix_web::middleware::from_fn(http::cors))
                .wrap(actix_web::middleware::from_fn(http::request_context))
                .wrap(actix_web::middleware::from_fn(http::count_replays))
                // Outermost: counts every request (429s included) and serves `/metrics` without auth.
                .wrap(prometheus.clone())
        })
        .shutdown_timeout(settings.http.shutdown_timeout_secs)
        // Signals are ours (`run_until_signalled`): actix would stop abruptly on SIGINT, and a
        // library that tests embed must not take over the process's Ctrl-C.
        .disable_signals();
        if settings.http.workers > 0 {
            server = server.workers(settings.http.workers);
        }
        let server = server
            .listen(listener)
            .map_err(|source| StartupError::Bind {
                address: format!("port {port}"),
                source,
            })?
            .run();
        Ok(Self {
            port,
            server,
            supervisor,
            database,
            metrics,
            audit: audit_trail,
            dev_token,
            shutdown_timeout: Duration::from_secs(settings.http.shutdown_timeout_secs),
            dispatcher,
        })
    }

    /// The port actually bound (useful with port 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    pub fn supervisor(&self) -> &PaymentSupervisor {
        &self.supervisor
    }

    pub fn database(&self) -> &Database {
        &self.database
    }

    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    pub fn dev_token(&self) -> Option<&DevToken> {
        self.dev_token.as_ref()
    }

    /// Serves until the server is stopped through its handle, then drains (see `shutdown`).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let Self {
            server,
            supervisor,
            database,
            audit,
            shutdown_timeout,
            dispatcher,
            ..
        } = self;
        let served = server.await;
        // Pending deliveries stay in the database; the next start (or another node) sends them.
        dispatcher.stop();
        crate::shutdown::drain(&supervisor, &audit, &database, shutdown_timeout).await;
        served
    }

    /// Serves until SIGTERM or SIGINT, then shuts down gracefully: the binary's way to run.
    pub async fn run_until_signalled(self) -> std::io::Result<()> {
        let handle = self.server.handle();
        let signals = actix_web::rt::spawn(async move {
            let signal = crate::shutdown::signal().await;
            tracing::info!(signal, "shutting down: no new connections, draining in-flight work");
            handle.stop(true).await;
        });
        let served = self.run_until_stopped().await;
        signals.abort();
        served
    }
}

/// Starts the `AuditActor` (a singleton, before the HTTP workers) and the HTTP edge of
/// idempotency (fingerprint key, conflict audit).
fn start_audit_and_idempotency(
    settings: &Settings,
    database: &Database,
    jwt_secret: &crate::secret::Secret,
    leases: &Arc<dyn JobLease>,
) -> (AuditTrail, IdempotencyEdge) {
    use actix::Actor;
    use payrail_core::audit::{AuditActor, AuditSettings};

    let audit_settings = AuditSettings {
        interval: Duration::from_millis(settings.audit.interval_ms),
        batch_size: settings.audit.batch_size,
        ..AuditSettings::default()
    };
    let appender = AuditActor::new(database.audit_store(), Arc::new(SystemClock), audit_settings);
    let audit = AuditTrail::new(appender.with_lease(Arc::clone(leases)).start());
    let key = fingerprint_key(settings.idempotency.secret.as_ref(), jwt_secret);
    let idempotency = IdempotencyEdge::new(audit.clone(), key);
    (audit, idempotency)
}

/// The core's front door for merchants' requests: the idempotency service (and its reaper) over
/// the payment supervisor.
fn start_payments(
    settings: &Settings,
    database: &Database,
    supervisor: &PaymentSupervisor,
    store: Arc<dyn PaymentStore>,
    leases: &Arc<dyn JobLease>,
) -> Payments {
    let config = &settings.idempotency;
    let claims = Claims::new(
        database.idempotency_store(),
        Arc::new(SystemClock),
        IdempotencySettings {
            lock_timeout: Duration::from_secs(config.lock_timeout_secs),
            ttl: Duration::from_secs(config.ttl_secs),
            reap_interval: Duration::from_secs(config.reap_interval_secs),
        },
    );
    let idempotency = Idempotency::new(
        claims,
        Arc::new(supervisor.clone()),
        Arc::clone(&store),
        Arc::new(JsonReplies),
    );
    idempotency.spawn_reaper(Arc::clone(leases));
    Payments::new(idempotency, store)
}

/// The provider clients and the payment supervisor over `store`; also what `payrail reconcile`
/// runs without the HTTP server. Returns the configured provider names, sorted.
pub fn start_supervisor(
    settings: &Settings,
    paypal: Option<Arc<providers::paypal::Paypal>>,
    sandbox: providers::SandboxParts,
    store: Arc<dyn PaymentStore>,
    observer: Arc<dyn Observer>,
) -> Result<(PaymentSupervisor, Vec<String>), StartupError> {
    let clients = providers::start_clients(settings, paypal, sandbox, Arc::clone(&observer));
    let mut provider_names: Vec<String> = clients.keys().cloned().collect();
    provider_names.sort();
    let sealer = settings
        .security
        .cipher()
        .map_err(|e| StartupError::Config(format!("security.encryption_key: {e}")))?;
    let supervisor = PaymentSupervisor::new(
        Dependencies {
            store,
            providers: clients,
            routes: providers::routes(settings, provider_names.clone()),
            sealer: Arc::new(sealer),
            replies: Arc::new(JsonReplies),
            clock: Arc::new(SystemClock),
            observer,
            requires_action_ttl: chrono::Duration::from_std(Duration::from_secs(
                settings.providers.requires_action_ttl_secs,
            ))
            .unwrap_or_else(|_| chrono::Duration::days(36_500)),
        },
        SupervisorSettings {
            idle_timeout: Duration::from_secs(settings.actors.idle_timeout_secs),
            queue_per_payment: settings.actors.queue_per_payment,
            max_in_flight: settings.actors.max_in_flight,
        },
    );
    Ok((supervisor, provider_names))
}
