//! What the store's group-commit writer (`group_commit.rs`) carries: payments' transitions and
//! idempotency claims and completions (their rows are in `columns.rs`) share the queue, so a
//! request's claim, its payment's transitions and its stored response ride in whatever batch is
//! next instead of paying for transactions of their own. A batch is committed by
//! `backend::commit_batch`.
//!
//! Each backend has one write path (`Backend::write`): PostgreSQL one statement per batch
//! (`postgres/batch.rs`), SQLite its statements in one transaction (`sqlite/batch.rs`). Either
//! answers each write with whether it applied (`false`: a stale version, an existing payment or
//! key, a lock token that moved on; nothing of it was written). If the database refuses a
//! statement (a constraint), that part is rolled back and each of its writes is retried alone, so
//! only the offender fails; if the database is unreachable, every write of the part gets that
//! error.
//!
//! Both write paths write many rows per statement, which is only the same as writing one write
//! after another when no two writes touch the same row: [`runs`] splits a batch where a payment or
//! an idempotency key repeats (never in practice: an actor waits for each commit).

use std::collections::HashSet;

use payrail_core::domain::Transition;
use payrail_core::idempotency::KeyedRecords;

use crate::store::columns::{Claim, Completion, ContactRow};

/// One write queued on the store's writer.
// Writes only pass through the queue on their way to the database; boxing the transition would
// cost an allocation per commit to save a few hundred bytes of queue per idempotency write.
#[allow(clippy::large_enum_variant)]
pub(crate) enum StoreWrite {
    /// A payment's transition, with a keyed request's records: `claim` is written with it or
    /// neither is; `completion` is stored only if the transition applied. `contact` (a new
    /// payment's sealed receipt email) is written with the transition.
    Transition {
        transition: Transition,
        contact: Option<ContactRow>,
        claim: Option<Claim>,
        completion: Option<Completion>,
    },
    /// A claim on its own.
    Claim(Claim),
    /// A completion on its own.
    Complete(Completion),
}

impl StoreWrite {
    pub(crate) fn transition(transition: Transition) -> Self {
        StoreWrite::Transition {
            contact: contact_row(&transition),
            transition,
            claim: None,
            completion: None,
        }
    }

    /// A transition with a keyed request's records (`KeyedRecords`).
    pub(crate) fn keyed(transition: Transition, records: &KeyedRecords) -> Self {
        let merchant = records.merchant.as_str().to_owned();
        let key = records.key.as_str().to_owned();
        let now = records.at.timestamp_micros();
        let claim = records.claim.as_ref().map(|claim| Claim {
            merchant: merchant.clone(),
            key: key.clone(),
            fingerprint: claim.fingerprint.clone(),
            payment_id: claim.payment_id.as_ref().map(|id| id.as_str().to_owned()),
            payment_version: claim.payment_version,
            lock_token: records.lock_token.clone(),
            now,
        });
        let completion = records.reply.as_ref().map(|reply| Completion {
            merchant,
            key,
            lock_token: records.lock_token.clone(),
            status: i64::from(reply.status),
            // payrail's responses are JSON, hence UTF-8; anything else would be stored lossily.
            body: String::from_utf8_lossy(&reply.body).into_owned(),
            now,
        });
        StoreWrite::Transition {
            contact: contact_row(&transition),
            transition,
            claim,
            completion,
        }
    }

    /// The payment this write moves, if any.
    pub(crate) fn payment(&self) -> Option<&str> {
        match self {
            StoreWrite::Transition { transition, .. } => Some(transition.payment.id.as_str()),
            StoreWrite::Claim(_) | StoreWrite::Complete(_) => None,
        }
    }

    /// The idempotency keys (merchant, key) this write touches.
    pub(crate) fn keys(&self) -> Vec<(&str, &str)> {
        match self {
            StoreWrite::Transition { claim, completion, .. } => claim
                .iter()
                .map(Claim::row)
                .chain(completion.iter().map(Completion::row))
                .collect(),
            StoreWrite::Claim(claim) => vec![claim.row()],
            StoreWrite::Complete(completion) => vec![completion.row()],
        }
    }
}

/// Splits `batch` into consecutive runs in which no payment and no idempotency key is written twice,
/// so that a run's writes do not depend on one another and can be written together, in any order;
/// a write for which `alone` holds gets a run of its own.
pub(crate) fn runs(batch: &[StoreWrite], alone: impl Fn(&StoreWrite) -> bool) -> Vec<&[StoreWrite]> {
    let mut runs = Vec::new();
    let (mut start, mut after_alone) = (0, false);
    let mut payments = HashSet::new();
    let mut keys = HashSet::new();
    for (i, write) in batch.iter().enumerate() {
        let fits = !after_alone
            && !alone(write)
            && !write.payment().is_some_and(|p| payments.contains(p))
            && write.keys().iter().all(|k| !keys.contains(k));
        if i > start && !fits {
            runs.push(&batch[start..i]);
            start = i;
            payments.clear();
            keys.clear();
        }
        after_alone = alone(write);
        payments.extend(write.payment());
        keys.extend(write.keys());
    }
    if start < batch.len() {
        runs.push(&batch[start..]);
    }
    runs
}

fn contact_row(transition: &Transition) -> Option<ContactRow> {
    let payment = &transition.payment;
    transition.contact.as_ref().map(|contact| ContactRow {
        payment_id: payment.id.as_str().to_owned(),
        merchant_id: payment.merchant_id.as_str().to_owned(),
        ciphertext: contact.ciphertext.clone(),
        key_id: contact.key_id.clone(),
        created_at: payment.created_at.timestamp_micros(),
    })
}

/// What a write did: `row` — the transition applied (or the claim was inserted, the completion
/// stored); `reply` — a transition's attached completion was stored too.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Applied {
    pub row: bool,
    pub reply: bool,
}

impl Applied {
    pub(crate) fn row(row: bool) -> Self {
        Applied { row, reply: false }
    }
}

/// Payments for the backends' batch tests (`postgres/batch.rs`, `sqlite/tests.rs`).
#[cfg(test)]
pub(crate) mod fixtures {
    use chrono::Utc;
    use payrail_core::domain::{
        Amount, CaptureMethod, Currency, MerchantId, NewPayment, Payment, PaymentId, Transition,
    };

    /// A new payment of 10.00, auto capture, on the sandbox.
    pub fn created() -> Transition {
        let new = NewPayment {
            id: PaymentId::generate(),
            merchant_id: MerchantId::parse("m").unwrap(),
            amount: Amount::new(1_000).unwrap(),
            currency: Currency::parse("usd").unwrap(),
            capture_method: CaptureMethod::Automatic,
            provider: "sandbox".into(),
            order_id: None,
            description: None,
            metadata: Default::default(),
            card: None,
            return_url: None,
        };
        Payment::create(new, Utc::now())
    }
}
