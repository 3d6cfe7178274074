//! Provider adapters behind the core's `Provider` port, and the directory of `ProviderClient`
//! actors that payments are routed to. Today: the built-in sandbox.

mod sandbox;

use std::sync::Arc;
use std::time::Duration;

use actix::Actor;
use payrail_actors::actors::{ProviderClient, ProviderPolicy};
use payrail_actors::operation::ProviderDirectory;
use payrail_actors::ports::Provider;

pub use sandbox::Sandbox;

use crate::config::Settings;

/// The provider new payments use when the request names none.
pub const DEFAULT_PROVIDER: &str = Sandbox::NAME;

/// Starts one `ProviderClient` actor per configured provider.
pub fn start_clients(settings: &Settings) -> ProviderDirectory {
    let policy = ProviderPolicy {
        timeout: Duration::from_secs(settings.providers.timeout_secs),
        max_concurrency: settings.providers.max_concurrency,
    };
    let providers: Vec<Arc<dyn Provider>> = vec![Arc::new(Sandbox::new(Duration::from_millis(
        settings.sandbox.latency_ms,
    )))];
    providers
        .into_iter()
        .map(|provider| {
            let name = provider.name().to_owned();
            (name, ProviderClient::new(provider, policy.clone()).start())
        })
        .collect()
}
