//! The ports the core needs from the outside world: where payments are stored
//! ([`PaymentStore`]) and idempotency claims kept ([`IdempotencyStore`]), who moves the money
//! ([`Provider`]), who seals a receipt email ([`ContactSealer`]), and what time it is ([`Clock`]).
//!
//! The service implements them (sqlx stores, HTTP provider adapters); the core only sees these
//! traits, which keeps actix-web, sqlx and reqwest out of this crate.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::domain::{
    ActionInput, ActionValue, Amount, AuthorizationOutcome, Currency, EventId, MerchantId, Payment, PaymentEvent,
    PaymentId, PaymentMethod, Refund, RefundId, RefundReason, RefundStatus, SealedContact, Transition,
};

mod idempotency;
mod lease;

pub use idempotency::{ClaimRequest, ClaimState, IdempotencyStore, KeyedRecords, KeyedWrite, StoredClaim, StoredReply};
pub use lease::{JobLease, SoleNode};

/// Why the store could not do what was asked.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The row changed since it was read (version check failed) or the id already exists.
    #[error("the payment was changed concurrently")]
    Conflict,
    /// A pagination cursor names nothing this merchant can see.
    #[error("unknown pagination cursor")]
    UnknownCursor,
    /// The database could not be reached or failed; the change was not committed.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// The database refused the request's data (a `22xxx` data exception, say): a gap in the
    /// edge's checks, not an outage. Nothing was written.
    #[error("the database refused the request's data (SQLSTATE {sqlstate}): {message}")]
    RejectedInput { sqlstate: String, message: String },
    /// A row could not be read back into domain types.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

/// One page of a list, newest first for payments and oldest first for events.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub data: Vec<T>,
    pub has_more: bool,
}

/// A list request: at most `limit` items after the cursor.
#[derive(Debug, Clone)]
pub struct PageRequest<C> {
    pub limit: u32,
    pub starting_after: Option<C>,
}

/// Filter for listing a merchant's payments.
#[derive(Debug, Clone)]
pub struct PaymentFilter {
    pub order_id: Option<String>,
}

/// Durable storage of payments, their events and refunds (DESIGN §4).
#[async_trait]
pub trait PaymentStore: Send + Sync + 'static {
    /// Persists a transition atomically: the payment row (inserted, or updated only if its version
    /// is still `expected_version`), the event row, and the refund row if any. `Conflict` when the
    /// version moved on; nothing is written then.
    async fn commit(&self, transition: &Transition) -> Result<(), StoreError>;

    /// Commits `transition` with a keyed request's records, in the same transaction: the claim,
    /// if any, goes in with it or neither does (`Conflict` when the key is taken); the reply, if
    /// any, is stored for the lock token only if the transition applied. Answers with what it
    /// wrote. A store that cannot hold idempotency records refuses claims and stores no reply.
    async fn commit_keyed(&self, transition: &Transition, records: &KeyedRecords) -> Result<KeyedWrite, StoreError> {
        if records.claim.is_some() {
            return Err(StoreError::Unavailable(
                "this store cannot commit idempotency claims".into(),
            ));
        }
        self.commit(transition).await.map(|()| KeyedWrite::default())
    }

    /// Loads a payment by id regardless of merchant (used to rehydrate its actor).
    async fn load(&self, id: &PaymentId) -> Result<Option<Payment>, StoreError>;

    /// A merchant's payment; another merchant's id is `None`.
    async fn find(&self, merchant: &MerchantId, id: &PaymentId) -> Result<Option<Payment>, StoreError>;

    async fn list_payments(
        &self,
        merchant: &MerchantId,
        filter: &PaymentFilter,
        page: &PageRequest<PaymentId>,
    ) -> Result<Page<Payment>, StoreError>;

    /// A merchant's payment's events, oldest first; `None` if the payment is not theirs.
    async fn list_events(
        &self,
        merchant: &MerchantId,
        payment: &PaymentId,
        page: &PageRequest<EventId>,
    ) -> Result<Option<Page<PaymentEvent>>, StoreError>;

    async fn list_refunds(&self, payment: &PaymentId) -> Result<Vec<Refund>, StoreError>;

    /// Cheap round trip for readiness checks.
    async fn ping(&self) -> Result<(), StoreError>;
}

/// Why a provider call did not give an answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    /// The request certainly did not execute (connection refused, circuit open, 5xx before
    /// processing): safe to retry or to route elsewhere.
    #[error("provider unavailable: {0}")]
    Unavailable(String),
    /// The provider answered and refused the request (not a card decline: e.g. already captured).
    #[error("provider rejected the request: {code}: {message}")]
    Rejected { code: String, message: String },
    /// Sent, but no answer in time: the outcome is unknown and must be reconciled, never guessed.
    #[error("provider timed out; outcome unknown")]
    Timeout,
    /// The provider failed while handling the request (a 5xx other than 503): it may have acted.
    /// Retrying with the same idempotency key is safe, routing elsewhere is not; if retries run
    /// out, the outcome is unknown, as for a timeout.
    #[error("provider failed while processing: {0}")]
    Failed(String),
}

impl ProviderError {
    /// Worth another attempt with the same idempotency key.
    pub fn is_retryable(&self) -> bool {
        matches!(self, ProviderError::Unavailable(_) | ProviderError::Failed(_))
    }

    /// Counts against the provider's circuit breaker (a refusal is a healthy provider's answer).
    pub fn is_provider_fault(&self) -> bool {
        !matches!(self, ProviderError::Rejected { .. })
    }
}

/// What the provider is asked to authorise.
#[derive(Debug, Clone)]
pub struct AuthorizeRequest {
    pub payment_id: PaymentId,
    pub amount: Amount,
    pub currency: Currency,
    /// Capture in the same step (automatic capture).
    pub capture: bool,
    pub method: PaymentMethod,
    pub description: Option<String>,
    /// payrail's return endpoint for this payment: where the provider sends the customer back
    /// after a customer action (3-D Secure, a wallet's approval).
    pub return_url: Option<String>,
    /// payrail's own idempotency key for this call, stable across retries.
    pub idempotency_key: String,
}

#[derive(Debug, Clone)]
pub struct CaptureRequest {
    pub payment_id: PaymentId,
    pub provider_reference: Option<String>,
    pub amount: Amount,
    pub currency: Currency,
    pub idempotency_key: String,
}

#[derive(Debug, Clone)]
pub struct CancelRequest {
    pub payment_id: PaymentId,
    pub provider_reference: Option<String>,
    pub idempotency_key: String,
}

#[derive(Debug, Clone)]
pub struct RefundRequest {
    pub payment_id: PaymentId,
    pub refund_id: RefundId,
    pub provider_reference: Option<String>,
    pub amount: Amount,
    pub currency: Currency,
    pub reason: Option<RefundReason>,
    pub idempotency_key: String,
}

/// Ask the provider what became of a payment, by payrail's payment id (which every adapter sends
/// as its reference or metadata) and the provider's own reference when payrail has one.
#[derive(Debug, Clone)]
pub struct RetrieveRequest {
    pub payment_id: PaymentId,
    pub provider_reference: Option<String>,
    pub amount: Amount,
    pub currency: Currency,
}

/// What the customer gave for a `Collect` next action, for the provider to check.
#[derive(Debug, Clone)]
pub struct SubmitActionRequest {
    pub payment_id: PaymentId,
    pub provider_reference: Option<String>,
    /// What the payment is for, so the provider's answer can be checked against it.
    pub amount: Amount,
    pub currency: Currency,
    pub input: ActionInput,
    pub value: ActionValue,
}

/// The provider's answer to a refund request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundOutcome {
    pub provider_reference: Option<String>,
    pub status: RefundStatus,
}

/// What a provider's own records say about a change payrail may have sent (a capture, a void, a
/// refund), found by payrail's reference without sending anything. The reconciler settles an
/// intent left open by a crash from it, on providers without idempotency keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeLookup<T> {
    /// The provider made the change; this is its answer.
    Made(T),
    /// The provider's records show the change cannot have been made (a capture of a hold that was
    /// voided): the intent is released, or the refund failed.
    Refused,
    /// The provider's records prove it never saw the call: it is safe to send it now.
    NeverSeen,
    /// The provider cannot tell yet: the intent stays open and is asked about again later.
    Undecided,
    /// This provider has no lookup; the call is repeated under the same idempotency key, which
    /// the provider answers with what it did the first time.
    NotSupported,
}

/// A payment provider (DESIGN §6). Implementations map payrail's requests to one provider's wire
/// format; retries, timeouts, the circuit breaker and concurrency limits live in
/// [`crate::resilience::ResilientProvider`] around them.
#[async_trait]
pub trait Provider: Send + Sync + 'static {
    /// The name payments record and requests choose by, e.g. `sandbox`, `stripe`.
    fn name(&self) -> &str;
    async fn authorize(&self, request: AuthorizeRequest) -> Result<AuthorizationOutcome, ProviderError>;
    async fn capture(&self, request: CaptureRequest) -> Result<(), ProviderError>;
    async fn cancel(&self, request: CancelRequest) -> Result<(), ProviderError>;
    async fn refund(&self, request: RefundRequest) -> Result<RefundOutcome, ProviderError>;
    /// Whether the provider takes payments in `currency`. Checked where a payment's provider is
    /// chosen, so a currency the provider refuses is answered before anything is sent.
    fn supports_currency(&self, _currency: Currency) -> bool {
        true
    }
    /// The provider's current view of an authorisation, for reconciliation. `Unknown` when the
    /// provider has no record of it (yet) or cannot say.
    async fn retrieve(&self, _request: RetrieveRequest) -> Result<AuthorizationOutcome, ProviderError> {
        Ok(AuthorizationOutcome::Unknown {
            provider_reference: None,
        })
    }
    /// The customer finished (or abandoned) a customer action: finish the payment at the provider
    /// where it needs a further call (PayPal authorizes or captures an approved order) and answer
    /// its outcome. Most providers decide on their own: asking is enough.
    async fn complete_action(&self, request: RetrieveRequest) -> Result<AuthorizationOutcome, ProviderError> {
        self.retrieve(request).await
    }
    /// Looks up a capture payrail may have sent (see [`ChangeLookup`]).
    async fn find_capture(&self, _request: CaptureRequest) -> Result<ChangeLookup<()>, ProviderError> {
        Ok(ChangeLookup::NotSupported)
    }
    /// Looks up a void payrail may have sent.
    async fn find_cancel(&self, _request: CancelRequest) -> Result<ChangeLookup<()>, ProviderError> {
        Ok(ChangeLookup::NotSupported)
    }
    /// Looks up a refund payrail may have sent; `recorded` are the provider references of the
    /// payment's refunds payrail already holds (so one of them is never taken for this one).
    async fn find_refund(
        &self,
        _request: RefundRequest,
        _recorded: Vec<String>,
    ) -> Result<ChangeLookup<RefundOutcome>, ProviderError> {
        Ok(ChangeLookup::NotSupported)
    }
    /// Submits what the customer gave (an OTP, a PIN…) and answers the provider's new outcome,
    /// which may be a further step. Only providers that ask for such values implement it.
    async fn submit_action(&self, _request: SubmitActionRequest) -> Result<AuthorizationOutcome, ProviderError> {
        Err(ProviderError::Rejected {
            code: "action_not_supported".into(),
            message: format!("{} does not take customer input", self.name()),
        })
    }
}

/// Seals a payment's receipt email for storage (the service's AES-256-GCM cipher; the core never
/// sees the key). The payment id is bound in, so a sealed email cannot be moved to another payment.
pub trait ContactSealer: Send + Sync + 'static {
    fn seal(&self, payment: &PaymentId, email: &str) -> SealedContact;
}

/// The time, injectable so logic that depends on it can be tested.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
}

/// The wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}
