//! The payments domain: money, identifiers, cards, statuses, events and the state machine. Plain
//! values and pure functions; no I/O, no actors.

mod card;
mod error;
mod event;
mod idempotency_key;
mod ids;
mod intent;
mod method;
mod money;
mod next_action;
mod payment;
mod status;

pub use card::{CardBrand, CardDetails, CardNumber, CardSummary, Cvc};
pub use error::DomainError;
pub use event::{EventKind, PaymentEvent};
pub use idempotency_key::IdempotencyKey;
pub use ids::{EventId, IntentId, MerchantId, PaymentId, RefundId};
pub use intent::{refund_provider_key, ChangeKind, PendingChange};
pub use method::{PaymentMethod, PaymentToken};
pub use money::{Amount, Currency};
pub use next_action::{ActionInput, ActionValue, BillingAddress, InvalidReturnUrl, NextAction, ReturnUrl};
pub use payment::{AuthorizationOutcome, Command, NewPayment, Payment, Refund, SealedContact, Transition};
pub use status::{CaptureMethod, PaymentStatus, RefundReason, RefundStatus, UnknownStatus};
