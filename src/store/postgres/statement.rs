//! The text of PostgreSQL's batch statement (`batch.rs`), and where each of its arrays is bound.
//! [`Arrays::bind`] binds a batch's column arrays, taking each placeholder from the [`Binder`] as
//! it goes; [`Arrays::sql`] writes the text from those placeholders. The text is the same for
//! every batch — only the arrays' lengths vary — so it is written once per process, from the
//! first batch's placeholders, and PostgreSQL prepares it once per connection.

use std::sync::OnceLock;

use payrail_core::domain::{Payment, PaymentEvent, Refund, Transition};

use super::binder::{Binder, Placeholder, Placeholders};
use crate::store::columns::{
    names, payment_changes, CLAIMS, COMPLETIONS, CONTACTS, EVENTS, PAYMENTS, REFUNDS, REFUND_UPSERT,
};
use crate::store::columns::{Claim, Completion, ContactRow};
use crate::store::writes::StoreWrite;

static BATCH_SQL: OnceLock<String> = OnceLock::new();

/// A part's writes, sorted by the rows they lock.
#[derive(Default)]
pub(super) struct Rows<'b> {
    pub creates: Vec<(&'b Transition, Option<&'b Claim>)>,
    pub updates: Vec<(&'b Transition, Option<&'b Claim>)>,
    pub claims: Vec<&'b Claim>,
    /// Each with the payment whose transition it rides with, if any: stored only if it moved.
    pub completions: Vec<(&'b Completion, Option<&'b str>)>,
    pub contacts: Vec<&'b ContactRow>,
}

impl<'b> Rows<'b> {
    pub(super) fn of(part: &'b [StoreWrite]) -> Self {
        let mut rows = Rows::default();
        for write in part {
            match write {
                StoreWrite::Transition {
                    transition,
                    contact,
                    claim,
                    completion,
                } => {
                    let claim = claim.as_ref();
                    match transition.expected_version {
                        None => rows.creates.push((transition, claim)),
                        Some(_) => rows.updates.push((transition, claim)),
                    }
                    rows.claims.extend(claim);
                    let payment = transition.payment.id.as_str();
                    rows.completions.extend(completion.iter().map(|c| (c, Some(payment))));
                    rows.contacts.extend(contact);
                }
                StoreWrite::Claim(claim) => rows.claims.push(claim),
                StoreWrite::Complete(completion) => rows.completions.push((completion, None)),
            }
        }
        rows.creates.sort_by_key(|(t, _)| t.payment.id.as_str());
        rows.updates.sort_by_key(|(t, _)| t.payment.id.as_str());
        rows.claims.sort_by_key(|c| c.row());
        rows.completions.sort_by_key(|(c, _)| c.row());
        rows.contacts.sort_by_key(|c| c.payment_id.as_str());
        rows
    }

    pub(super) fn transitions(&self) -> impl Iterator<Item = &'b Transition> + '_ {
        self.creates.iter().chain(&self.updates).map(|(t, _)| *t)
    }
}

/// The claim each payment row rides with, as two arrays: merchants and keys (NULL: none).
fn claim_arrays(binder: &mut Binder, rows: &[(&Transition, Option<&Claim>)]) -> Placeholders {
    let (merchants, keys): (Vec<Option<String>>, Vec<Option<String>>) = (rows.iter())
        .map(|(_, claim)| match claim {
            Some(c) => (Some(c.merchant.clone()), Some(c.key.clone())),
            None => (None, None),
        })
        .unzip();
    Placeholders(vec![binder.array(merchants, "text[]"), binder.array(keys, "text[]")])
}

/// `alias.claim_key IS NULL OR` the claim it rides with was inserted by this statement.
fn claim_held(alias: &str) -> String {
    format!(
        "({alias}.claim_key IS NULL OR EXISTS (SELECT 1 FROM claimed \
         WHERE claimed.merchant_id = {alias}.claim_merchant AND claimed.idempotency_key = {alias}.claim_key))"
    )
}

/// Where each array of a batch is bound.
pub(super) struct Arrays {
    claims: Placeholders,
    creates: Placeholders,
    /// The claims the new payments ride with.
    create_claims: Placeholders,
    ids: Placeholder,
    expected: Placeholder,
    changes: Placeholders,
    /// The claims the updates ride with.
    update_claims: Placeholders,
    completions: Placeholders,
    after: Placeholder,
    events: Placeholders,
    refunds: Placeholders,
    contacts: Placeholders,
}

impl Arrays {
    /// Binds every array of the batch, in the order of the fields (Rust evaluates a struct
    /// expression's fields in the order written).
    pub(super) fn bind(binder: &mut Binder, rows: &Rows<'_>) -> Self {
        let created: Vec<&Payment> = rows.creates.iter().map(|(t, _)| &t.payment).collect();
        let updated: Vec<&Payment> = rows.updates.iter().map(|(t, _)| &t.payment).collect();
        let ids: Vec<String> = updated.iter().map(|p| p.id.as_str().to_owned()).collect();
        let expected: Vec<i64> = (rows.updates.iter())
            .map(|(t, _)| t.expected_version.unwrap_or(-1))
            .collect();
        let done: Vec<&Completion> = rows.completions.iter().map(|(c, _)| *c).collect();
        let after: Vec<Option<String>> = rows.completions.iter().map(|(_, p)| p.map(str::to_owned)).collect();
        let events: Vec<&PaymentEvent> = rows.transitions().map(|t| &t.event).collect();
        let refunds: Vec<&Refund> = rows.transitions().filter_map(|t| t.refund.as_ref()).collect();
        Arrays {
            claims: binder.columns(&CLAIMS, &rows.claims),
            creates: binder.columns(&PAYMENTS, &created),
            create_claims: claim_arrays(binder, &rows.creates),
            ids: binder.array(ids, "text[]"),
            expected: binder.array(expected, "int8[]"),
            changes: binder.columns(payment_changes(), &updated),
            update_claims: claim_arrays(binder, &rows.updates),
            completions: binder.columns(&COMPLETIONS, &done),
            after: binder.array(after, "text[]"),
            events: binder.columns(&EVENTS, &events),
            refunds: binder.columns(&REFUNDS, &refunds),
            contacts: binder.columns(&CONTACTS, &rows.contacts),
        }
    }

    /// The statement's text (the same for every batch).
    pub(super) fn sql(&self) -> &'static str {
        BATCH_SQL.get_or_init(|| self.write_sql())
    }

    pub(super) fn write_sql(&self) -> String {
        let Arrays {
            claims,
            creates,
            create_claims,
            ids,
            expected,
            changes,
            update_claims,
            completions,
            after,
            events,
            refunds,
            contacts,
        } = self;
        let new_payment: Vec<String> = PAYMENTS.iter().map(|c| format!("n.{}", c.name)).collect();
        let set: Vec<String> = (payment_changes().iter())
            .map(|c| format!("{0} = u.{0}", c.name))
            .collect();
        let (held_by, response) = COMPLETIONS.split_at(3);
        let held_by: Vec<String> = (held_by.iter())
            .map(|c| format!("idempotency_keys.{0} = d.{0}", c.name))
            .collect();
        let response: Vec<String> = response.iter().map(|c| format!("{0} = d.{0}", c.name)).collect();
        format!(
            "WITH claimed AS (\
               INSERT INTO idempotency_keys ({claim_columns}) \
               SELECT * FROM UNNEST({claims}) AS c({claim_columns}) \
               ON CONFLICT (merchant_id, idempotency_key) DO NOTHING \
               RETURNING merchant_id, idempotency_key), \
             created AS (\
               INSERT INTO payments ({payment_columns}) \
               SELECT {new_payment} FROM UNNEST({creates}, {create_claims}) \
                 AS n({payment_columns}, claim_merchant, claim_key) \
               WHERE {create_held} \
               ON CONFLICT DO NOTHING \
               RETURNING id), \
             updated AS (\
               UPDATE payments SET {set} \
               FROM UNNEST({ids}, {expected}, {changes}, {update_claims}) \
                 AS u(id, expected_version, {change_columns}, claim_merchant, claim_key) \
               WHERE payments.id = u.id AND payments.version = u.expected_version AND {update_held} \
               RETURNING payments.id), \
             moved AS (SELECT id FROM created UNION ALL SELECT id FROM updated), \
             completed AS (\
               UPDATE idempotency_keys SET {response} \
               FROM UNNEST({completions}, {after}) AS d({completion_columns}, after_payment) \
               WHERE {held_by} AND idempotency_keys.response_status IS NULL \
                 AND (d.after_payment IS NULL OR d.after_payment IN (SELECT id FROM moved)) \
               RETURNING idempotency_keys.merchant_id, idempotency_keys.idempotency_key), \
             events AS (\
               INSERT INTO payment_events ({event_columns}) \
               SELECT * FROM UNNEST({events}) AS e({event_columns}) \
               WHERE e.payment_id IN (SELECT id FROM moved)), \
             refunds AS (\
               INSERT INTO refunds ({refund_columns}) \
               SELECT * FROM UNNEST({refunds}) AS f({refund_columns}) \
               WHERE f.payment_id IN (SELECT id FROM moved) {REFUND_UPSERT}), \
             contacts AS (\
               INSERT INTO payment_contacts ({contact_columns}) \
               SELECT * FROM UNNEST({contacts}) AS x({contact_columns}) \
               WHERE x.payment_id IN (SELECT id FROM moved) \
               ON CONFLICT (payment_id) DO NOTHING) \
             SELECT 'payment' AS what, id AS a, '' AS b FROM moved \
             UNION ALL SELECT 'claim', merchant_id, idempotency_key FROM claimed \
             UNION ALL SELECT 'completion', merchant_id, idempotency_key FROM completed",
            claim_columns = names(&CLAIMS),
            payment_columns = names(&PAYMENTS),
            new_payment = new_payment.join(", "),
            create_held = claim_held("n"),
            set = set.join(", "),
            change_columns = names(payment_changes()),
            update_held = claim_held("u"),
            response = response.join(", "),
            completion_columns = names(&COMPLETIONS),
            held_by = held_by.join(" AND "),
            event_columns = names(&EVENTS),
            refund_columns = names(&REFUNDS),
            contact_columns = names(&CONTACTS),
        )
    }
}
