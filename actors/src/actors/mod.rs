//! The actors: thin shells that serialise, route and supervise. The logic they run is plain code
//! in [`crate::domain`] and [`crate::operation`].

mod payment_actor;
mod provider_client;
mod supervisor;

pub use payment_actor::{Execute, Kill, PaymentActor};
pub use provider_client::{ProviderCall, ProviderClient, ProviderPolicy};
pub use supervisor::{ActorHandle, PaymentSupervisor, SupervisorSettings};
