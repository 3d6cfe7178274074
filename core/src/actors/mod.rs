//! The actors: thin shells that serialise and supervise. One `PaymentActor` per live payment runs
//! the plain operation code in [`crate::operation`] one message at a time; the `PaymentSupervisor`
//! finds, spawns and restarts them. Provider calls need no actor (see [`crate::resilience`]).

mod payment_actor;
mod supervisor;

pub use payment_actor::{Execute, Kill, PaymentActor};
pub use supervisor::{ActorHandle, PaymentSupervisor, SupervisorSettings};
