//! payrail, the service: an actor-based payment processor's HTTP API, storage and providers around
//! the core in `payrail-core`.
//!
//! # Layout
//! - `main.rs`: the CLI (`serve`, `migrate`, `token`, `audit verify`), a thin shell over this library.
//! - [`startup`]: `Application::build` — pools, migrations, actors, the HTTP server.
//! - [`shutdown`]: graceful shutdown on SIGTERM/SIGINT — stop accepting, drain, flush, close.
//! - [`app`]: `AppState`, what every handler reaches; [`audit_trail`]: the audit log's front door;
//!   [`audit_verify`]: the chain's periodic verification, reported as metrics.
//! - [`config`]: layered, typed settings; [`telemetry`]: JSON logs; [`auth`]: JWT verification.
//! - [`secret`]: the `Secret` type every layer that holds a key uses.
//! - [`crypto`]: card fingerprints (HMAC-SHA256) and AES-256-GCM encryption at rest.
//! - [`metrics`]: Prometheus metrics in a registry per application, `/metrics`.
//! - [`http`]: routes, request parsing, wire format, error mapping; [`views`]: the JSON of a
//!   payment and a refund, shared by the API and merchant events.
//! - [`store`]: the `PaymentStore` (and the idempotency and audit stores) over sqlx, SQLite and
//!   PostgreSQL, with migrations.
//! - [`providers`]: provider adapters (sandbox, Stripe, …), routing, and the `ResilientProvider`s the core calls them through.
//! - [`webhooks`]: signed provider webhooks in: verify, dedupe, apply; [`reconcile`]: the reconciler.
//! - [`reconciliation`]: reports of a day's mismatches against a provider's own records
//!   (`payrail reconcile-report`); not [`reconcile`], which settles stuck payments.
//! - [`settlements`]: daily settlement reports from committed events (`payrail settle`, the hourly
//!   job); the operator console is `http/console/`.
//! - [`events`]: merchant events out: the events API and signed webhooks to merchants' endpoints.
//!
//! Imports point down: `http` → `app`, `webhooks`, `metrics`, `auth` → `providers`, `store`,
//! `crypto`, `config` → `secret` and the core. Nothing outside `http/` but `startup.rs` imports
//! `http`; `scripts/import-graph.py` lists import cycles and upward imports.

pub mod app;
pub mod audit_trail;
pub mod audit_verify;
pub mod auth;
pub mod config;
pub mod crypto;
pub mod events;
pub mod http;
pub mod metrics;
pub mod providers;
pub mod reconcile;
pub mod reconciliation;
pub mod secret;
pub mod settlements;
pub mod shutdown;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod views;
pub mod webhooks;
