//! [`AppState`]: what every handler can reach, built once by `startup.rs` and shared by all
//! workers. It sits here, beside the services it gathers and below `http/`, so the HTTP layer and
//! anything else that reads it (middleware in `metrics/`, say) import it without a circle; it
//! imports nothing from `http/`.

use std::sync::Arc;

use payrail_core::actors::PaymentSupervisor;
use payrail_core::ports::PaymentStore;

use crate::crypto::CardFingerprinter;
use crate::events::MerchantEvents;
use crate::metrics::Metrics;
use crate::providers::Challenges;
use crate::store::{Contacts, Database};
use crate::webhooks::Webhooks;

/// What every handler can reach. Built once at start-up, shared by all workers.
pub struct AppState {
    pub supervisor: PaymentSupervisor,
    pub store: Arc<dyn PaymentStore>,
    pub provider_names: Vec<String>,
    pub default_provider: String,
    /// Webhook verification, dedupe and dispatch.
    pub webhooks: Arc<Webhooks>,
    /// Keyed card fingerprints (issue 5).
    pub card_fingerprints: CardFingerprinter,
    /// Sealed receipt emails (issue 5).
    pub contacts: Contacts,
    /// Counters other features bump (idempotent replays, webhooks, circuit breakers).
    pub metrics: Metrics,
    /// The database, for service-side reads outside the core's ports (settlements, the console).
    pub database: Database,
    /// payrail's address as browsers reach it (issue 13: the providers' return URL).
    pub public_url: String,
    /// Development allows `http` return URLs on loopback (issue 13).
    pub development: bool,
    /// The sandbox's 3-D Secure challenges, served as pages in development only (issue 13).
    pub sandbox_challenges: Option<Arc<Challenges>>,
    /// Webhook endpoints and the events API (issue 11).
    pub merchant_events: Arc<MerchantEvents>,
}
