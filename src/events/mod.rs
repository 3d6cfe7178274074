//! Merchant events (issue 11): the committed `payment_events` rows — the outbox — exposed as
//! `evt_…` events through the events API and pushed to merchants' webhook endpoints, signed per
//! the Standard Webhooks specification.
//!
//! - `endpoints.rs`: endpoints per merchant, their filters and secrets (sealed at rest).
//! - `catalog.rs`: the events API's reads, redelivery and the attempts listing.
//! - `object.rs`: an event's JSON body (`data.object` = the payment or the refund).
//! - `dispatcher.rs`: the background loop — fan-out of new events into delivery rows behind a
//!   cursor, then leased, ordered, bounded delivery; `attempt.rs`: one signed POST and its outcome;
//!   `breaker.rs`: the circuit breaker per endpoint; `pacing.rs`: the dispatcher's share of the
//!   database while payments saturate it.
//! - `retention.rs`: the purge of rows past the retention period (never `payment_events`).
//! - `signing.rs`: secrets and signatures; `target.rs`: the SSRF guard (registration and connect).
//!
//! Delivery state lives in the database (`store/merchant_events.rs`), so a crash or a restart loses
//! nothing: a delivery row is written before its event is marked fanned out, and stays pending
//! until an attempt's outcome is committed.

mod attempt;
mod breaker;
pub mod catalog;
mod dispatcher;
pub mod endpoints;
mod object;
mod pacing;
pub mod retention;
pub mod signing;
pub mod target;

use std::sync::Arc;

use payrail_core::ports::{PaymentStore, StoreError};

pub use dispatcher::{Dispatcher, DispatcherHandle};
pub use endpoints::{Endpoint, EndpointChanges, EndpointStatus, EventFilter, NewEndpoint};

use crate::config::{Environment, MerchantEventSettings};
use crate::crypto::Cipher;
use crate::store::Database;
use target::TargetPolicy;

/// Why a merchant-events request failed.
#[derive(Debug, thiserror::Error)]
pub enum EventsError {
    #[error("{message}")]
    Invalid { param: &'static str, message: String },
    #[error("no such {0}")]
    NotFound(&'static str),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Corrupt(String),
}

impl EventsError {
    pub fn invalid(param: &'static str, message: impl Into<String>) -> Self {
        EventsError::Invalid {
            param,
            message: message.into(),
        }
    }
}

/// The front door of merchant events: what handlers and the dispatcher share.
pub struct MerchantEvents {
    pub(crate) database: Database,
    pub(crate) store: Arc<dyn PaymentStore>,
    pub(crate) cipher: Arc<Cipher>,
    pub(crate) settings: MerchantEventSettings,
    pub(crate) policy: TargetPolicy,
}

impl MerchantEvents {
    pub fn new(
        database: Database,
        store: Arc<dyn PaymentStore>,
        cipher: Arc<Cipher>,
        settings: MerchantEventSettings,
        environment: Environment,
    ) -> Self {
        let policy = TargetPolicy {
            require_https: environment == Environment::Production,
            allow_private: settings.private_targets_allowed(environment),
        };
        Self {
            database,
            store,
            cipher,
            settings,
            policy,
        }
    }
}
