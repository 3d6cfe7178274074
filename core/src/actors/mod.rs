//! The actors: thin shells that serialise, route and supervise. The logic they run is plain code
//! in [`crate::domain`] and [`crate::operation`].

mod circuit;
mod payment_actor;
mod provider_client;
mod supervisor;

pub use circuit::{CircuitBreaker, CircuitState};
pub use payment_actor::{Execute, Kill, PaymentActor};
pub use provider_client::{CircuitStatus, ProviderCall, ProviderClient, ProviderPolicy};
pub use supervisor::{ActorHandle, PaymentSupervisor, SupervisorSettings};
