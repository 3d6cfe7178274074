//! A group-commit batch on PostgreSQL as one statement: every write of the batch — idempotency
//! claims and completions, new payments, version-checked updates, their events and refunds — goes
//! to the server as column arrays in a single data-modifying `WITH` query. One statement is one
//! round trip and, outside an explicit transaction, one atomic transaction with one WAL flush: the
//! database does per batch what a naive service does per row.
//!
//! The SQL text never changes with the batch size (`UNNEST` of arrays, not `VALUES` lists), so it
//! is prepared once per connection and its plan is reused.
//!
//! Each write still has its own outcome: a claim whose key exists inserts nothing (`ON CONFLICT DO
//! NOTHING`), a completion whose lock token moved on and an update whose version moved on touch no
//! row, and a payment's event and refund are written only if its row moved. The `RETURNING` rows
//! name what moved; everything else is answered `false` without disturbing its batch-mates. Rows
//! are sent in key order, so two concurrent batches lock shared rows in the same order.
//!
//! A keyed request's claim rides with its new payment (`INSERT … WHERE` the claim was inserted, so
//! no payment without its claim) and its response with its payment's last transition (stored only
//! if that payment moved): see `payrail_core::operation`'s `keyed.rs`. The claim cannot in turn
//! depend on the payment row in one statement; a claim whose payment id already existed would stay
//! behind, holding its key until the lock timeout. Claims ride only with fresh, random ids (a
//! resumed create claims first), and the transactional path uses a savepoint for both.
//!
//! The statement cannot write the same row twice, so a batch holding one payment or one key twice
//! (never produced by actors, which wait for each commit) is left to the transactional path.

use std::collections::HashSet;

use payrail_core::domain::Transition;
use sqlx::PgConnection;

use crate::store::idempotency::IdempotencyWrite;
use crate::store::rows::{metadata_json, micros, EVENT_COLUMNS, PAYMENT_COLUMNS, REFUND_COLUMNS};
use crate::store::writes::{Applied, StoreWrite};

static BATCH_SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let new_payment_columns: Vec<String> = PAYMENT_COLUMNS.split(", ").map(|c| format!("n.{c}")).collect();
    let new_payment_columns = new_payment_columns.join(", ");
    format!(
        "WITH claimed AS (\
           INSERT INTO idempotency_keys (merchant_id, idempotency_key, fingerprint, payment_id, payment_version, \
             lock_token, locked_at, created_at) \
           SELECT c.m, c.k, c.f, c.p, c.v, c.t, c.a, c.a \
           FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::int8[], $6::text[], $7::int8[]) \
             AS c(m, k, f, p, v, t, a) \
           ON CONFLICT (merchant_id, idempotency_key) DO NOTHING \
           RETURNING merchant_id, idempotency_key), \
         created AS (\
           INSERT INTO payments ({PAYMENT_COLUMNS}) \
           SELECT {new_payment_columns} FROM UNNEST($14::text[], $15::text[], $16::int8[], $17::text[], $18::text[], \
             $19::text[], $20::int8[], $21::int8[], $22::text[], $23::text[], $24::text[], $25::text[], $26::text[], \
             $27::text[], $28::text[], $29::int8[], $30::int8[], $31::text[], $32::text[], $33::int8[], $34::int8[], \
             $35::int8[], $36::text[], $67::text[], $68::text[]) AS n({PAYMENT_COLUMNS}, claim_merchant, claim_key) \
           WHERE n.claim_key IS NULL OR EXISTS (SELECT 1 FROM claimed \
             WHERE claimed.merchant_id = n.claim_merchant AND claimed.idempotency_key = n.claim_key) \
           ON CONFLICT DO NOTHING \
           RETURNING id), \
         updated AS (\
           UPDATE payments SET status = u.s, captured_amount = u.c, refunded_amount = u.r, provider_reference = u.p, \
             failure_code = u.fc, failure_message = u.fm, version = u.v, updated_at = u.a \
           FROM UNNEST($37::text[], $38::int8[], $39::text[], $40::int8[], $41::int8[], $42::text[], $43::text[], \
             $44::text[], $45::int8[], $46::int8[]) AS u(id, e, s, c, r, p, fc, fm, v, a) \
           WHERE payments.id = u.id AND payments.version = u.e \
           RETURNING payments.id), \
         moved AS (SELECT id FROM created UNION ALL SELECT id FROM updated), \
         completed AS (\
           UPDATE idempotency_keys SET response_status = d.s, response_body = d.b, completed_at = d.a \
           FROM UNNEST($8::text[], $9::text[], $10::text[], $11::int8[], $12::text[], $13::int8[], $69::text[]) \
             AS d(m, k, t, s, b, a, after) \
           WHERE idempotency_keys.merchant_id = d.m AND idempotency_keys.idempotency_key = d.k \
             AND idempotency_keys.lock_token = d.t AND idempotency_keys.response_status IS NULL \
             AND (d.after IS NULL OR d.after IN (SELECT id FROM moved)) \
           RETURNING idempotency_keys.merchant_id, idempotency_keys.idempotency_key), \
         events AS (\
           INSERT INTO payment_events ({EVENT_COLUMNS}) \
           SELECT * FROM UNNEST($47::text[], $48::text[], $49::text[], $50::int8[], $51::text[], $52::text[], \
             $53::text[], $54::int8[], $55::text[], $56::text[], $57::int8[]) AS e(id, payment_id) \
           WHERE e.payment_id IN (SELECT id FROM moved)), \
         refunds AS (\
           INSERT INTO refunds ({REFUND_COLUMNS}) \
           SELECT * FROM UNNEST($58::text[], $59::text[], $60::text[], $61::int8[], $62::text[], $63::text[], \
             $64::text[], $65::int8[], $66::int8[]) AS f(id, payment_id) \
           WHERE f.payment_id IN (SELECT id FROM moved) \
           ON CONFLICT (id) DO UPDATE SET status = excluded.status, \
             provider_reference = excluded.provider_reference, updated_at = excluded.updated_at) \
         SELECT 'payment' AS what, id AS a, '' AS b FROM moved \
         UNION ALL SELECT 'claim', merchant_id, idempotency_key FROM claimed \
         UNION ALL SELECT 'completion', merchant_id, idempotency_key FROM completed"
    )
});

/// Whether the batch can be written by [`write`]: no payment and no idempotency key twice, claims
/// only with new payments, and no sealed receipt email (those take the transactional path, which
/// writes the contact row with its payment).
pub(crate) fn fits_one_statement(batch: &[StoreWrite]) -> bool {
    let mut payments = HashSet::new();
    let mut keys = HashSet::new();
    batch.iter().all(|write| match write {
        StoreWrite::Transition {
            transition,
            claim,
            completion,
        } => {
            transition.contact.is_none()
                && payments.insert(transition.payment.id.as_str())
                && (claim.is_none() || transition.expected_version.is_none())
                && claim.iter().chain(completion).all(|w| keys.insert(w.row()))
        }
        StoreWrite::Idempotency(w) => keys.insert(w.row()),
    })
}

/// Writes `batch` (which [`fits_one_statement`]) as one statement; per write, what it did.
pub(crate) async fn write(conn: &mut PgConnection, batch: &[StoreWrite]) -> Result<Vec<Applied>, sqlx::Error> {
    let mut transitions: Vec<(&Transition, Option<&IdempotencyWrite>)> = Vec::new();
    // Claims and completions, each with the payment whose transition it rides with, if any.
    let mut claims: Vec<&IdempotencyWrite> = Vec::new();
    let mut completions: Vec<(&IdempotencyWrite, Option<&str>)> = Vec::new();
    for write in batch {
        match write {
            StoreWrite::Transition {
                transition,
                claim,
                completion,
            } => {
                transitions.push((transition, claim.as_ref()));
                claims.extend(claim);
                completions.extend(completion.iter().map(|c| (c, Some(transition.payment.id.as_str()))));
            }
            StoreWrite::Idempotency(w @ IdempotencyWrite::Claim { .. }) => claims.push(w),
            StoreWrite::Idempotency(w @ IdempotencyWrite::Complete { .. }) => completions.push((w, None)),
        }
    }
    transitions.sort_by(|a, b| a.0.payment.id.as_str().cmp(b.0.payment.id.as_str()));
    claims.sort_by(|a, b| a.row().cmp(&b.row()));
    completions.sort_by(|a, b| a.0.row().cmp(&b.0.row()));
    let creates: Vec<_> = transitions
        .iter()
        .filter(|(t, _)| t.expected_version.is_none())
        .collect();
    let updates = transitions
        .iter()
        .filter(|(t, _)| t.expected_version.is_some())
        .map(|(t, _)| *t);

    let mut query = sqlx::query_as::<_, (String, String, String)>(&BATCH_SQL);
    query = bind_claims(query, &claims);
    query = bind_completions(query, completions.iter().map(|(c, _)| *c));
    query = bind_creates(query, creates.iter().map(|(t, _)| *t));
    query = bind_updates(query, updates);
    let only: Vec<&Transition> = transitions.iter().map(|(t, _)| *t).collect();
    query = bind_events_and_refunds(query, &only);
    // The claim each new payment is written with, and the payment each completion waits for.
    let (claim_merchant, claim_key): (Vec<Option<String>>, Vec<Option<String>>) = creates
        .iter()
        .map(|(_, claim)| match claim.map(|c| c.row()) {
            Some((merchant, key)) => (Some(merchant.to_owned()), Some(key.to_owned())),
            None => (None, None),
        })
        .unzip();
    let after: Vec<Option<String>> = completions.iter().map(|(_, p)| p.map(str::to_owned)).collect();
    let rows = query
        .bind(claim_merchant)
        .bind(claim_key)
        .bind(after)
        .fetch_all(&mut *conn)
        .await?;

    let mut moved_payments = HashSet::new();
    let mut claimed = HashSet::new();
    let mut completed = HashSet::new();
    for (what, a, b) in rows {
        match what.as_str() {
            "payment" => moved_payments.insert(a),
            "claim" => claimed.insert((a, b)),
            _ => completed.insert((a, b)),
        };
    }
    let has = |set: &HashSet<(String, String)>, w: &IdempotencyWrite| {
        let (merchant, key) = w.row();
        set.contains(&(merchant.to_owned(), key.to_owned()))
    };
    Ok(batch
        .iter()
        .map(|write| match write {
            StoreWrite::Transition {
                transition, completion, ..
            } => Applied {
                row: moved_payments.contains(transition.payment.id.as_str()),
                reply: completion.as_ref().is_some_and(|c| has(&completed, c)),
            },
            StoreWrite::Idempotency(w @ IdempotencyWrite::Claim { .. }) => Applied::row(has(&claimed, w)),
            StoreWrite::Idempotency(w @ IdempotencyWrite::Complete { .. }) => Applied::row(has(&completed, w)),
        })
        .collect())
}

type Query<'q> = sqlx::query::QueryAs<'q, sqlx::Postgres, (String, String, String), sqlx::postgres::PgArguments>;

fn bind_claims<'q>(query: Query<'q>, claims: &[&IdempotencyWrite]) -> Query<'q> {
    let (mut m, mut k, mut f, mut p, mut v, mut t, mut a) = (vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
    for claim in claims {
        if let IdempotencyWrite::Claim {
            merchant,
            key,
            fingerprint,
            payment_id,
            payment_version,
            lock_token,
            now,
        } = claim
        {
            m.push(merchant.clone());
            k.push(key.clone());
            f.push(fingerprint.clone());
            p.push(payment_id.clone());
            v.push(*payment_version);
            t.push(lock_token.clone());
            a.push(*now);
        }
    }
    query.bind(m).bind(k).bind(f).bind(p).bind(v).bind(t).bind(a)
}

fn bind_completions<'q, 'w>(query: Query<'q>, completions: impl Iterator<Item = &'w IdempotencyWrite>) -> Query<'q> {
    let (mut m, mut k, mut t, mut s, mut b, mut a) = (vec![], vec![], vec![], vec![], vec![], vec![]);
    for completion in completions {
        if let IdempotencyWrite::Complete {
            merchant,
            key,
            lock_token,
            status,
            body,
            now,
        } = completion
        {
            m.push(merchant.clone());
            k.push(key.clone());
            t.push(lock_token.clone());
            s.push(*status);
            b.push(body.clone());
            a.push(*now);
        }
    }
    query.bind(m).bind(k).bind(t).bind(s).bind(b).bind(a)
}

/// Column arrays for `INSERT INTO payments`, in `PAYMENT_COLUMNS` order.
#[derive(Default)]
struct PaymentColumns {
    id: Vec<String>,
    merchant_id: Vec<String>,
    amount: Vec<i64>,
    currency: Vec<String>,
    status: Vec<String>,
    capture_method: Vec<String>,
    captured_amount: Vec<i64>,
    refunded_amount: Vec<i64>,
    provider: Vec<String>,
    provider_reference: Vec<Option<String>>,
    order_id: Vec<Option<String>>,
    description: Vec<Option<String>>,
    metadata: Vec<String>,
    card_brand: Vec<Option<String>>,
    card_last4: Vec<Option<String>>,
    card_exp_month: Vec<Option<i64>>,
    card_exp_year: Vec<Option<i64>>,
    failure_code: Vec<Option<String>>,
    failure_message: Vec<Option<String>>,
    version: Vec<i64>,
    created_at: Vec<i64>,
    updated_at: Vec<i64>,
    card_fingerprint: Vec<Option<String>>,
}

fn bind_creates<'q, 't>(query: Query<'q>, creates: impl Iterator<Item = &'t Transition>) -> Query<'q> {
    let mut c = PaymentColumns::default();
    for t in creates {
        let p = &t.payment;
        let card = p.card.as_ref();
        c.id.push(p.id.as_str().to_owned());
        c.merchant_id.push(p.merchant_id.as_str().to_owned());
        c.amount.push(p.amount.minor_units());
        c.currency.push(p.currency.code().to_owned());
        c.status.push(p.status.as_str().to_owned());
        c.capture_method.push(p.capture_method.as_str().to_owned());
        c.captured_amount.push(p.captured_amount);
        c.refunded_amount.push(p.refunded_amount);
        c.provider.push(p.provider.clone());
        c.provider_reference.push(p.provider_reference.clone());
        c.order_id.push(p.order_id.clone());
        c.description.push(p.description.clone());
        c.metadata.push(metadata_json(&p.metadata));
        c.card_brand.push(card.map(|x| x.brand.clone()));
        c.card_last4.push(card.map(|x| x.last4.clone()));
        c.card_exp_month.push(card.map(|x| i64::from(x.exp_month)));
        c.card_exp_year.push(card.map(|x| i64::from(x.exp_year)));
        c.failure_code.push(p.failure_code.clone());
        c.failure_message.push(p.failure_message.clone());
        c.version.push(p.version);
        c.created_at.push(micros(p.created_at));
        c.updated_at.push(micros(p.updated_at));
        c.card_fingerprint.push(card.and_then(|x| x.fingerprint.clone()));
    }
    query
        .bind(c.id)
        .bind(c.merchant_id)
        .bind(c.amount)
        .bind(c.currency)
        .bind(c.status)
        .bind(c.capture_method)
        .bind(c.captured_amount)
        .bind(c.refunded_amount)
        .bind(c.provider)
        .bind(c.provider_reference)
        .bind(c.order_id)
        .bind(c.description)
        .bind(c.metadata)
        .bind(c.card_brand)
        .bind(c.card_last4)
        .bind(c.card_exp_month)
        .bind(c.card_exp_year)
        .bind(c.failure_code)
        .bind(c.failure_message)
        .bind(c.version)
        .bind(c.created_at)
        .bind(c.updated_at)
        .bind(c.card_fingerprint)
}

fn bind_updates<'q, 't>(query: Query<'q>, updates: impl Iterator<Item = &'t Transition>) -> Query<'q> {
    let (mut id, mut expected, mut status, mut captured, mut refunded) = (vec![], vec![], vec![], vec![], vec![]);
    let (mut reference, mut code, mut message, mut version, mut at) = (vec![], vec![], vec![], vec![], vec![]);
    for t in updates {
        let p = &t.payment;
        id.push(p.id.as_str().to_owned());
        expected.push(t.expected_version.unwrap_or(-1));
        status.push(p.status.as_str().to_owned());
        captured.push(p.captured_amount);
        refunded.push(p.refunded_amount);
        reference.push(p.provider_reference.clone());
        code.push(p.failure_code.clone());
        message.push(p.failure_message.clone());
        version.push(p.version);
        at.push(micros(p.updated_at));
    }
    query
        .bind(id)
        .bind(expected)
        .bind(status)
        .bind(captured)
        .bind(refunded)
        .bind(reference)
        .bind(code)
        .bind(message)
        .bind(version)
        .bind(at)
}

fn bind_events_and_refunds<'q>(query: Query<'q>, transitions: &[&Transition]) -> Query<'q> {
    let (mut id, mut payment, mut merchant, mut sequence, mut kind, mut from) =
        (vec![], vec![], vec![], vec![], vec![], vec![]);
    let (mut to, mut amount, mut refund, mut code, mut at) = (vec![], vec![], vec![], vec![], vec![]);
    for t in transitions {
        let e = &t.event;
        id.push(e.id.as_str().to_owned());
        payment.push(e.payment_id.as_str().to_owned());
        merchant.push(e.merchant_id.as_str().to_owned());
        sequence.push(e.sequence);
        kind.push(e.kind.as_str().to_owned());
        from.push(e.from_status.map(|s| s.as_str().to_owned()));
        to.push(e.to_status.as_str().to_owned());
        amount.push(e.amount);
        refund.push(e.refund_id.as_ref().map(|r| r.as_str().to_owned()));
        code.push(e.failure_code.clone());
        at.push(micros(e.created_at));
    }
    let query = query
        .bind(id)
        .bind(payment)
        .bind(merchant)
        .bind(sequence)
        .bind(kind)
        .bind(from)
        .bind(to)
        .bind(amount)
        .bind(refund)
        .bind(code)
        .bind(at);
    let (mut id, mut payment, mut merchant, mut amount, mut status) = (vec![], vec![], vec![], vec![], vec![]);
    let (mut reason, mut reference, mut created, mut updated) = (vec![], vec![], vec![], vec![]);
    for r in transitions.iter().filter_map(|t| t.refund.as_ref()) {
        id.push(r.id.as_str().to_owned());
        payment.push(r.payment_id.as_str().to_owned());
        merchant.push(r.merchant_id.as_str().to_owned());
        amount.push(r.amount.minor_units());
        status.push(r.status.as_str().to_owned());
        reason.push(r.reason.map(|x| x.as_str().to_owned()));
        reference.push(r.provider_reference.clone());
        created.push(micros(r.created_at));
        updated.push(micros(r.updated_at));
    }
    query
        .bind(id)
        .bind(payment)
        .bind(merchant)
        .bind(amount)
        .bind(status)
        .bind(reason)
        .bind(reference)
        .bind(created)
        .bind(updated)
}
