//! Test doubles for the core's ports, so operations and the idempotency service run in plain
//! `#[tokio::test]`s — no actix System, no database, no network: an in-memory store (payments and
//! idempotency claims), a scripted provider, a hand-driven clock, and trivial sealer and renderer.
//! Test-only, and a little over 400 lines on purpose: one double per port, kept together so every
//! test module builds its world the same way.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};

use crate::domain::{
    Amount, AuthorizationOutcome, CaptureMethod, Currency, EventId, IdempotencyKey, MerchantId, NewPayment, Payment,
    PaymentEvent, PaymentId, PaymentMethod, PaymentToken, Refund, RefundStatus, SealedContact, Transition,
};
use crate::observer::NoopObserver;
use crate::operation::{
    self, CreatePayment, Dependencies, Executed, Executor, Keyed, Operation, OperationKind, Outcome, PaymentError,
    ReplyRenderer, Routes,
};
use crate::ports::{
    AuthorizeRequest, CancelRequest, CaptureRequest, ChangeLookup, ClaimRequest, ClaimState, Clock, ContactSealer,
    IdempotencyStore, KeyedRecords, KeyedWrite, Page, PageRequest, PaymentFilter, PaymentStore, Provider,
    ProviderError, RefundOutcome, RefundRequest, StoreError, StoredClaim, StoredReply,
};
use crate::resilience::{ProviderPolicy, ResilientProvider};

#[derive(Default)]
struct Rows {
    payments: HashMap<PaymentId, Payment>,
    events: Vec<PaymentEvent>,
    refunds: HashMap<String, Refund>,
    contacts: HashMap<PaymentId, SealedContact>,
    claims: HashMap<(String, String), StoredClaim>,
}

/// Payments, events, refunds, contacts and idempotency claims in memory, with the real store's
/// rules: version checks, a claim written with its transition or not at all, replies only for the
/// token that holds the key.
#[derive(Default)]
pub struct MemoryStore(Mutex<Rows>);

fn row(merchant: &MerchantId, key: &IdempotencyKey) -> (String, String) {
    (merchant.as_str().to_owned(), key.as_str().to_owned())
}

impl MemoryStore {
    pub fn contact(&self, id: &PaymentId) -> Option<SealedContact> {
        self.0.lock().unwrap().contacts.get(id).cloned()
    }

    pub fn events(&self, id: &PaymentId) -> Vec<PaymentEvent> {
        let rows = self.0.lock().unwrap();
        rows.events.iter().filter(|e| &e.payment_id == id).cloned().collect()
    }
}

impl Rows {
    fn apply(&mut self, t: &Transition) -> Result<(), StoreError> {
        let current = self.payments.get(&t.payment.id).map(|p| p.version);
        if current != t.expected_version {
            return Err(StoreError::Conflict);
        }
        self.payments.insert(t.payment.id.clone(), t.payment.clone());
        self.events.push(t.event.clone());
        if let Some(refund) = &t.refund {
            self.refunds.insert(refund.id.as_str().to_owned(), refund.clone());
        }
        if let Some(contact) = &t.contact {
            self.contacts
                .entry(t.payment.id.clone())
                .or_insert_with(|| contact.clone());
        }
        Ok(())
    }

    fn insert_claim(&mut self, claim: &ClaimRequest, token: &str, now: DateTime<Utc>) -> Option<StoredClaim> {
        if let Some(existing) = self.claims.get(&row(&claim.merchant, &claim.key)) {
            return Some(existing.clone());
        }
        let stored = StoredClaim {
            fingerprint: claim.fingerprint.clone(),
            payment_id: claim.payment_id.clone(),
            payment_version: claim.payment_version,
            state: ClaimState::InProgress {
                lock_token: token.into(),
                locked_at: now,
            },
        };
        self.claims.insert(row(&claim.merchant, &claim.key), stored);
        None
    }

    fn complete(&mut self, merchant: &MerchantId, key: &IdempotencyKey, token: &str, reply: &StoredReply) -> bool {
        match self.claims.get_mut(&row(merchant, key)) {
            Some(claim) if matches!(&claim.state, ClaimState::InProgress { lock_token, .. } if lock_token == token) => {
                claim.state = ClaimState::Completed {
                    status: reply.status,
                    body: reply.body.clone(),
                };
                true
            }
            _ => false,
        }
    }
}

#[async_trait]
impl PaymentStore for MemoryStore {
    async fn commit(&self, transition: &Transition) -> Result<(), StoreError> {
        self.0.lock().unwrap().apply(transition)
    }

    async fn commit_keyed(&self, transition: &Transition, records: &KeyedRecords) -> Result<KeyedWrite, StoreError> {
        let mut rows = self.0.lock().unwrap();
        if let Some(claim) = &records.claim {
            if rows.claims.contains_key(&row(&claim.merchant, &claim.key)) {
                return Err(StoreError::Conflict);
            }
        }
        rows.apply(transition)?;
        if let Some(claim) = &records.claim {
            rows.insert_claim(claim, &records.lock_token, records.at);
        }
        let reply = records
            .reply
            .clone()
            .filter(|reply| rows.complete(&records.merchant, &records.key, &records.lock_token, reply));
        Ok(KeyedWrite {
            claimed: records.claim.is_some(),
            reply,
        })
    }

    async fn load(&self, id: &PaymentId) -> Result<Option<Payment>, StoreError> {
        Ok(self.0.lock().unwrap().payments.get(id).cloned())
    }

    async fn find(&self, merchant: &MerchantId, id: &PaymentId) -> Result<Option<Payment>, StoreError> {
        let payment = self.load(id).await?;
        Ok(payment.filter(|p| &p.merchant_id == merchant))
    }

    async fn list_payments(
        &self,
        _merchant: &MerchantId,
        _filter: &PaymentFilter,
        _page: &PageRequest<PaymentId>,
    ) -> Result<Page<Payment>, StoreError> {
        Ok(Page {
            data: Vec::new(),
            has_more: false,
        })
    }

    async fn list_events(
        &self,
        merchant: &MerchantId,
        payment: &PaymentId,
        _page: &PageRequest<EventId>,
    ) -> Result<Option<Page<PaymentEvent>>, StoreError> {
        if self.find(merchant, payment).await?.is_none() {
            return Ok(None);
        }
        Ok(Some(Page {
            data: self.events(payment),
            has_more: false,
        }))
    }

    async fn list_refunds(&self, payment: &PaymentId) -> Result<Vec<Refund>, StoreError> {
        let rows = self.0.lock().unwrap();
        Ok(rows
            .refunds
            .values()
            .filter(|r| &r.payment_id == payment)
            .cloned()
            .collect())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

#[async_trait]
impl IdempotencyStore for MemoryStore {
    async fn insert_claim(
        &self,
        claim: &ClaimRequest,
        lock_token: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<StoredClaim>, StoreError> {
        Ok(self.0.lock().unwrap().insert_claim(claim, lock_token, now))
    }

    async fn take_over(
        &self,
        merchant: &MerchantId,
        key: &IdempotencyKey,
        stale: &str,
        new: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut rows = self.0.lock().unwrap();
        match rows.claims.get_mut(&row(merchant, key)) {
            Some(claim) if matches!(&claim.state, ClaimState::InProgress { lock_token, .. } if lock_token == stale) => {
                claim.state = ClaimState::InProgress {
                    lock_token: new.into(),
                    locked_at: now,
                };
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn complete(
        &self,
        merchant: &MerchantId,
        key: &IdempotencyKey,
        token: &str,
        status: u16,
        body: &[u8],
        _now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let reply = StoredReply {
            status,
            body: body.to_vec(),
        };
        Ok(self.0.lock().unwrap().complete(merchant, key, token, &reply))
    }

    async fn release(&self, merchant: &MerchantId, key: &IdempotencyKey, token: &str) -> Result<(), StoreError> {
        let mut rows = self.0.lock().unwrap();
        let held = matches!(
            rows.claims.get(&row(merchant, key)),
            Some(StoredClaim { state: ClaimState::InProgress { lock_token, .. }, .. }) if lock_token == token
        );
        if held {
            rows.claims.remove(&row(merchant, key));
        }
        Ok(())
    }

    async fn reap(&self, _before: DateTime<Utc>) -> Result<u64, StoreError> {
        Ok(0)
    }
}

/// A provider that answers authorisations from a script (then: captured), refunds from another
/// (then: succeeded), refund lookups from a third (then: no lookup), and counts its calls.
pub struct ScriptedProvider {
    name: String,
    script: Mutex<VecDeque<Result<AuthorizationOutcome, ProviderError>>>,
    refunds: Mutex<VecDeque<Result<RefundOutcome, ProviderError>>>,
    refund_lookups: Mutex<VecDeque<ChangeLookup<RefundOutcome>>>,
    pub calls: AtomicUsize,
}

impl ScriptedProvider {
    pub fn new(name: &str, script: Vec<Result<AuthorizationOutcome, ProviderError>>) -> Arc<Self> {
        Self::with_refunds(name, script, vec![], vec![])
    }

    pub fn with_refunds(
        name: &str,
        script: Vec<Result<AuthorizationOutcome, ProviderError>>,
        refunds: Vec<Result<RefundOutcome, ProviderError>>,
        refund_lookups: Vec<ChangeLookup<RefundOutcome>>,
    ) -> Arc<Self> {
        Arc::new(Self {
            name: name.into(),
            script: Mutex::new(script.into()),
            refunds: Mutex::new(refunds.into()),
            refund_lookups: Mutex::new(refund_lookups.into()),
            calls: AtomicUsize::new(0),
        })
    }

    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl Provider for ScriptedProvider {
    fn name(&self) -> &str {
        &self.name
    }

    async fn authorize(&self, request: AuthorizeRequest) -> Result<AuthorizationOutcome, ProviderError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let scripted = self.script.lock().unwrap().pop_front();
        scripted.unwrap_or_else(|| {
            let provider_reference = format!("ref_{}", request.payment_id);
            Ok(match request.capture {
                true => AuthorizationOutcome::Captured { provider_reference },
                false => AuthorizationOutcome::Authorized { provider_reference },
            })
        })
    }

    async fn capture(&self, _request: CaptureRequest) -> Result<(), ProviderError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    async fn cancel(&self, _request: CancelRequest) -> Result<(), ProviderError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    async fn refund(&self, _request: RefundRequest) -> Result<RefundOutcome, ProviderError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let scripted = self.refunds.lock().unwrap().pop_front();
        scripted.unwrap_or(Ok(RefundOutcome {
            provider_reference: None,
            status: RefundStatus::Succeeded,
        }))
    }

    async fn find_refund(
        &self,
        _request: RefundRequest,
        _recorded: Vec<String>,
    ) -> Result<ChangeLookup<RefundOutcome>, ProviderError> {
        let scripted = self.refund_lookups.lock().unwrap().pop_front();
        Ok(scripted.unwrap_or(ChangeLookup::NotSupported))
    }
}

/// A clock the test moves by hand.
pub struct ManualClock(pub Mutex<DateTime<Utc>>);

impl ManualClock {
    pub fn new() -> Arc<Self> {
        Arc::new(Self(Mutex::new(Utc.timestamp_opt(1_700_000_000, 0).unwrap())))
    }

    pub fn advance(&self, seconds: i64) {
        *self.0.lock().unwrap() += chrono::Duration::seconds(seconds);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

/// "Seals" by prefixing, so a test can see what was sealed and for which payment.
pub struct PlainSealer;

impl ContactSealer for PlainSealer {
    fn seal(&self, payment: &PaymentId, email: &str) -> SealedContact {
        SealedContact {
            key_id: "test".into(),
            ciphertext: format!("{payment}:{email}"),
        }
    }
}

/// Renders "kind:payment id:status" (or the error), enough to compare stored and replayed answers.
pub struct TextReplies;

impl ReplyRenderer for TextReplies {
    fn success(&self, kind: OperationKind, outcome: &Outcome) -> Option<StoredReply> {
        let body = format!("{}:{}:{}", kind.as_str(), outcome.payment.id, outcome.payment.status);
        Some(StoredReply {
            status: 200,
            body: body.into_bytes(),
        })
    }

    fn refusal(&self, error: &PaymentError) -> StoredReply {
        StoredReply {
            status: 409,
            body: error.to_string().into_bytes(),
        }
    }
}

/// Runs operations straight through [`operation::execute`], without actors.
pub struct Direct(pub Arc<Dependencies>);

#[async_trait]
impl Executor for Direct {
    async fn execute(&self, id: &PaymentId, operation: Operation, keyed: Option<Keyed>) -> Executed {
        operation::execute(&self.0, id, None, operation, keyed).await.0
    }
}

/// Dependencies over `store` and `providers` (each with `policy`), routing to them in order.
pub fn dependencies(
    store: Arc<MemoryStore>,
    providers: &[Arc<ScriptedProvider>],
    policy: ProviderPolicy,
    clock: Arc<dyn Clock>,
) -> Dependencies {
    let names: Vec<String> = providers.iter().map(|p| p.name().to_owned()).collect();
    let route = crate::operation::Route {
        providers: names.clone(),
        ..Default::default()
    };
    Dependencies {
        store,
        providers: providers
            .iter()
            .map(|p| {
                let provider: Arc<dyn Provider> = p.clone();
                (p.name().to_owned(), ResilientProvider::new(provider, policy.clone()))
            })
            .collect(),
        routes: Routes::new(vec![route], names.clone(), &names[0]),
        sealer: Arc::new(PlainSealer),
        replies: Arc::new(TextReplies),
        clock,
        observer: Arc::new(NoopObserver),
        requires_action_ttl: chrono::Duration::hours(24),
    }
}

pub fn merchant() -> MerchantId {
    MerchantId::parse("merchant_1").unwrap()
}

/// A routed card-token payment of `amount` USD cents, captured now or later.
pub fn new_payment(amount: i64, capture: CaptureMethod) -> CreatePayment {
    CreatePayment {
        payment: NewPayment {
            id: PaymentId::generate(),
            merchant_id: merchant(),
            amount: Amount::new(amount).unwrap(),
            currency: Currency::parse("USD").unwrap(),
            capture_method: capture,
            provider: "unused".into(),
            order_id: None,
            description: None,
            metadata: Default::default(),
            card: None,
            return_url: None,
        },
        method: PaymentMethod::Token(PaymentToken::parse("pm_card_visa").unwrap()),
        routed: true,
        receipt_email: None,
        provider_return_url: None,
    }
}
