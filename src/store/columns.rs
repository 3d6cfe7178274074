//! Each table's columns, once: a column's name, its SQL type and how to read its value off the
//! domain value it stores. Every statement that writes a row — the SQLite write path, the
//! PostgreSQL batch statement, the audit append, the contacts store — takes its column list and
//! its values from here, so adding a column is one line in this file (plus the migration and the
//! row type in `rows.rs` that reads it back).
//!
//! The rows the group-commit writer carries that are not domain values — a sealed contact, an
//! idempotency claim and a stored completion — are defined here too, beside their columns.
//!
//! A column hands out a [`Value`] (text or integer, possibly NULL); each backend binds values in
//! one place (`bind.rs`, and the PostgreSQL binder that turns a column into an array).

use std::borrow::Cow;

use payrail_core::audit::AuditEntry;
use payrail_core::domain::{Payment, PaymentEvent, Refund};

use crate::store::merchant_events::rows::{AttemptRecord, EndpointRow, Marker, NewDelivery};
use crate::store::rows::{metadata_json, micros, next_action_json};

/// One column's value, as bound to a statement.
pub(crate) enum Value<'a> {
    Text(Option<Cow<'a, str>>),
    Int(Option<i64>),
}

impl<'a> Value<'a> {
    pub(crate) fn text(value: &'a str) -> Self {
        Value::Text(Some(Cow::Borrowed(value)))
    }

    pub(crate) fn int(value: i64) -> Self {
        Value::Int(Some(value))
    }

    /// The same value, owning its text (a statement built now and run later).
    pub(crate) fn into_owned(self) -> Value<'static> {
        match self {
            Value::Text(text) => Value::Text(text.map(|t| Cow::Owned(t.into_owned()))),
            Value::Int(int) => Value::Int(int),
        }
    }
}

/// A whole column of a batch, as PostgreSQL receives it (one array per column).
pub(crate) enum Array {
    Text(Vec<Option<String>>),
    Int(Vec<Option<i64>>),
}

/// How a column's value is read off its row.
enum Get<T> {
    Str(for<'a> fn(&'a T) -> Option<&'a str>),
    String(fn(&T) -> Option<String>),
    Int(fn(&T) -> Option<i64>),
}

/// A column of a table whose rows are `T`s.
pub(crate) struct Column<T> {
    pub name: &'static str,
    get: Get<T>,
}

impl<T> Column<T> {
    const fn text(name: &'static str, get: for<'a> fn(&'a T) -> Option<&'a str>) -> Self {
        Column {
            name,
            get: Get::Str(get),
        }
    }

    const fn json(name: &'static str, get: fn(&T) -> Option<String>) -> Self {
        Column {
            name,
            get: Get::String(get),
        }
    }

    const fn int(name: &'static str, get: fn(&T) -> Option<i64>) -> Self {
        Column {
            name,
            get: Get::Int(get),
        }
    }

    pub(crate) fn value<'a>(&self, row: &'a T) -> Value<'a> {
        match &self.get {
            Get::Str(get) => Value::Text(get(row).map(Cow::Borrowed)),
            Get::String(get) => Value::Text(get(row).map(Cow::Owned)),
            Get::Int(get) => Value::Int(get(row)),
        }
    }

    /// This column of every row in `rows`, with its PostgreSQL array type.
    pub(crate) fn array(&self, rows: &[&T]) -> (Array, &'static str) {
        match &self.get {
            Get::Str(get) => (
                Array::Text(rows.iter().map(|r| get(r).map(str::to_owned)).collect()),
                "text[]",
            ),
            Get::String(get) => (Array::Text(rows.iter().map(|r| get(r)).collect()), "text[]"),
            Get::Int(get) => (Array::Int(rows.iter().map(|r| get(r)).collect()), "int8[]"),
        }
    }
}

/// `a, b, c`: the column names, for a column list.
pub(crate) fn names<T>(columns: &[Column<T>]) -> String {
    let names: Vec<&str> = columns.iter().map(|c| c.name).collect();
    names.join(", ")
}

/// The values of `row`, in column order.
pub(crate) fn values<'a, T>(columns: &[Column<T>], row: &'a T) -> Vec<Value<'a>> {
    columns.iter().map(|c| c.value(row)).collect()
}

/// `$first, $first+1, …`, one placeholder per column.
pub(crate) fn placeholders<T>(columns: &[Column<T>], first: usize) -> String {
    let placeholders: Vec<String> = (first..first + columns.len()).map(|n| format!("${n}")).collect();
    placeholders.join(", ")
}

/// `payments`: the columns fixed at creation first, then [`payment_changes`] — what a transition
/// may change afterwards.
pub(crate) static PAYMENTS: [Column<Payment>; 28] = [
    Column::text("id", |p| Some(p.id.as_str())),
    Column::text("merchant_id", |p| Some(p.merchant_id.as_str())),
    Column::int("amount", |p| Some(p.amount.minor_units())),
    Column::text("currency", |p| Some(p.currency.code())),
    Column::text("capture_method", |p| Some(p.capture_method.as_str())),
    Column::text("provider", |p| Some(p.provider.as_str())),
    Column::text("order_id", |p| p.order_id.as_deref()),
    Column::text("description", |p| p.description.as_deref()),
    Column::json("metadata", |p| Some(metadata_json(&p.metadata))),
    Column::text("card_brand", |p| p.card.as_ref().map(|c| c.brand.as_str())),
    Column::text("card_last4", |p| p.card.as_ref().map(|c| c.last4.as_str())),
    Column::int("card_exp_month", |p| p.card.as_ref().map(|c| i64::from(c.exp_month))),
    Column::int("card_exp_year", |p| p.card.as_ref().map(|c| i64::from(c.exp_year))),
    Column::text("card_fingerprint", |p| {
        p.card.as_ref().and_then(|c| c.fingerprint.as_deref())
    }),
    Column::text("return_url", |p| p.return_url.as_ref().map(|u| u.as_str())),
    Column::int("created_at", |p| Some(micros(p.created_at))),
    // What a transition changes (`payment_changes`) from here on.
    Column::text("status", |p| Some(p.status.as_str())),
    Column::int("captured_amount", |p| Some(p.captured_amount)),
    Column::int("refunded_amount", |p| Some(p.refunded_amount)),
    Column::text("provider_reference", |p| p.provider_reference.as_deref()),
    Column::text("failure_code", |p| p.failure_code.as_deref()),
    Column::text("failure_message", |p| p.failure_message.as_deref()),
    Column::text("pending_change_id", |p| {
        p.pending_change.as_ref().map(|c| c.id.as_str())
    }),
    Column::text("pending_change_kind", |p| {
        p.pending_change.as_ref().map(|c| c.kind.as_str())
    }),
    Column::int("pending_change_amount", |p| {
        p.pending_change
            .as_ref()
            .and_then(|c| c.amount)
            .map(|a| a.minor_units())
    }),
    Column::json("next_action", |p| p.next_action.as_ref().map(next_action_json)),
    Column::int("version", |p| Some(p.version)),
    Column::int("updated_at", |p| Some(micros(p.updated_at))),
];

/// Where [`PAYMENTS`]' changeable columns start.
const FIRST_CHANGE: usize = 16;

/// The payment columns a transition after creation may change (set by a version-checked UPDATE).
pub(crate) fn payment_changes() -> &'static [Column<Payment>] {
    &PAYMENTS[FIRST_CHANGE..]
}

pub(crate) static EVENTS: [Column<PaymentEvent>; 11] = [
    Column::text("id", |e| Some(e.id.as_str())),
    Column::text("payment_id", |e| Some(e.payment_id.as_str())),
    Column::text("merchant_id", |e| Some(e.merchant_id.as_str())),
    Column::int("sequence", |e| Some(e.sequence)),
    Column::text("kind", |e| Some(e.kind.as_str())),
    Column::text("from_status", |e| e.from_status.map(|s| s.as_str())),
    Column::text("to_status", |e| Some(e.to_status.as_str())),
    Column::int("amount", |e| e.amount),
    Column::text("refund_id", |e| e.refund_id.as_ref().map(|r| r.as_str())),
    Column::text("failure_code", |e| e.failure_code.as_deref()),
    Column::int("created_at", |e| Some(micros(e.created_at))),
];

pub(crate) static REFUNDS: [Column<Refund>; 10] = [
    Column::text("id", |r| Some(r.id.as_str())),
    Column::text("payment_id", |r| Some(r.payment_id.as_str())),
    Column::text("merchant_id", |r| Some(r.merchant_id.as_str())),
    Column::int("amount", |r| Some(r.amount.minor_units())),
    Column::text("status", |r| Some(r.status.as_str())),
    Column::text("reason", |r| r.reason.map(|x| x.as_str())),
    Column::text("provider_reference", |r| r.provider_reference.as_deref()),
    Column::int("awaiting_provider", |r| Some(i64::from(r.awaiting_provider))),
    Column::int("created_at", |r| Some(micros(r.created_at))),
    Column::int("updated_at", |r| Some(micros(r.updated_at))),
];

/// A refund is written again as it settles: its id keeps the row, the settlement moves on.
pub(crate) const REFUND_UPSERT: &str = "ON CONFLICT (id) DO UPDATE SET status = excluded.status, \
     provider_reference = excluded.provider_reference, awaiting_provider = excluded.awaiting_provider, \
     updated_at = excluded.updated_at";

/// A `payment_contacts` row: a payment's receipt email, sealed.
pub(crate) struct ContactRow {
    pub payment_id: String,
    pub merchant_id: String,
    pub ciphertext: String,
    pub key_id: String,
    pub created_at: i64,
}

pub(crate) static CONTACTS: [Column<ContactRow>; 5] = [
    Column::text("payment_id", |c| Some(&c.payment_id)),
    Column::text("merchant_id", |c| Some(&c.merchant_id)),
    Column::text("receipt_email_sealed", |c| Some(&c.ciphertext)),
    Column::text("key_id", |c| Some(&c.key_id)),
    Column::int("created_at", |c| Some(c.created_at)),
];

/// `idempotency_keys` as a claim inserts it (a completion later sets the response columns).
pub(crate) static CLAIMS: [Column<Claim>; 8] = [
    Column::text("merchant_id", |c| Some(&c.merchant)),
    Column::text("idempotency_key", |c| Some(&c.key)),
    Column::text("fingerprint", |c| Some(&c.fingerprint)),
    Column::text("payment_id", |c| c.payment_id.as_deref()),
    Column::int("payment_version", |c| c.payment_version),
    Column::text("lock_token", |c| Some(&c.lock_token)),
    Column::int("locked_at", |c| Some(c.now)),
    Column::int("created_at", |c| Some(c.now)),
];

/// `idempotency_keys` as a completion updates it: the row, by its key and lock token (the first
/// three), and the response stored on it.
pub(crate) static COMPLETIONS: [Column<Completion>; 6] = [
    Column::text("merchant_id", |c| Some(&c.merchant)),
    Column::text("idempotency_key", |c| Some(&c.key)),
    Column::text("lock_token", |c| Some(&c.lock_token)),
    Column::int("response_status", |c| Some(c.status)),
    Column::text("response_body", |c| Some(&c.body)),
    Column::int("completed_at", |c| Some(c.now)),
];

pub(crate) static AUDIT_LOG: [Column<AuditEntry>; 7] = [
    Column::int("seq", |e| Some(e.seq)),
    Column::text("kind", |e| Some(&e.kind)),
    Column::text("event_id", |e| e.event_id.as_deref()),
    Column::text("payload", |e| Some(&e.payload)),
    Column::int("recorded_at", |e| Some(e.recorded_at_micros)),
    Column::text("prev_hash", |e| Some(&e.prev_hash)),
    Column::text("hash", |e| Some(&e.hash)),
];

/// `webhook_endpoints`: the columns fixed at creation first, then [`endpoint_changes`] — what a
/// merchant or the dispatcher may change afterwards.
pub(crate) static ENDPOINTS: [Column<EndpointRow>; 15] = [
    Column::text("id", |e| Some(&e.id)),
    Column::text("merchant_id", |e| Some(&e.merchant_id)),
    Column::int("created_at", |e| Some(e.created_at)),
    // What an update changes (`endpoint_changes`) from here on.
    Column::text("url", |e| Some(&e.url)),
    Column::text("description", |e| e.description.as_deref()),
    Column::text("enabled_events", |e| Some(&e.enabled_events)),
    Column::text("status", |e| Some(&e.status)),
    Column::text("secret_sealed", |e| Some(&e.secret_sealed)),
    Column::text("secret_key_id", |e| Some(&e.secret_key_id)),
    Column::text("secret_prefix", |e| Some(&e.secret_prefix)),
    Column::text("previous_secret_sealed", |e| e.previous_secret_sealed.as_deref()),
    Column::text("previous_secret_key_id", |e| e.previous_secret_key_id.as_deref()),
    Column::int("previous_secret_expires_at", |e| e.previous_secret_expires_at),
    Column::int("failing_since", |e| e.failing_since),
    Column::int("updated_at", |e| Some(e.updated_at)),
];

/// The endpoint columns an update may change (by id and merchant, the first two).
pub(crate) fn endpoint_changes() -> &'static [Column<EndpointRow>] {
    &ENDPOINTS[3..]
}

/// `webhook_deliveries` as the fan-out inserts a delivery: pending, due now, not leased.
pub(crate) static DELIVERIES: [Column<NewDelivery>; 13] = [
    Column::text("id", |d| Some(&d.id)),
    Column::text("event_id", |d| Some(&d.event_id)),
    Column::text("endpoint_id", |d| Some(&d.endpoint_id)),
    Column::text("merchant_id", |d| Some(&d.merchant_id)),
    Column::text("payment_id", |d| Some(&d.payment_id)),
    Column::int("sequence", |d| Some(d.sequence)),
    Column::text("status", |_| Some("pending")),
    Column::int("attempts", |_| Some(0)),
    Column::int("failures", |_| Some(0)),
    Column::int("next_attempt_at", |d| Some(d.now)),
    Column::int("leased_until", |_| Some(0)),
    Column::int("created_at", |d| Some(d.now)),
    Column::int("updated_at", |d| Some(d.now)),
];

/// `merchant_events`: an event's fan-out marker, with its body when a delivery needs it.
pub(crate) static MARKERS: [Column<Marker>; 4] = [
    Column::text("event_id", |m| Some(&m.event_id)),
    Column::text("merchant_id", |m| Some(&m.merchant_id)),
    Column::text("payload", |m| m.payload.as_deref()),
    Column::int("fanned_out_at", |m| Some(m.now)),
];

pub(crate) static ATTEMPTS: [Column<AttemptRecord>; 10] = [
    Column::text("id", |a| Some(&a.attempt_id)),
    Column::text("delivery_id", |a| Some(&a.delivery_id)),
    Column::text("endpoint_id", |a| Some(&a.endpoint_id)),
    Column::text("event_id", |a| Some(&a.event_id)),
    Column::int("attempt", |a| Some(a.attempt)),
    Column::int("status_code", |a| a.status_code),
    Column::int("latency_ms", |a| Some(a.latency_ms)),
    Column::text("error", |a| a.error.as_deref()),
    Column::int("next_attempt_at", |a| a.next_attempt_at),
    Column::int("attempted_at", |a| Some(a.at)),
];

/// An idempotency key claimed: inserted unless the key exists.
pub(crate) struct Claim {
    pub merchant: String,
    pub key: String,
    pub fingerprint: String,
    pub payment_id: Option<String>,
    pub payment_version: Option<i64>,
    pub lock_token: String,
    pub now: i64,
}

/// A claimed key's response stored: only while the key is still held by `lock_token`.
pub(crate) struct Completion {
    pub merchant: String,
    pub key: String,
    pub lock_token: String,
    pub status: i64,
    pub body: String,
    pub now: i64,
}

impl Claim {
    /// The row it touches: a batch writes keys in this order, so two concurrent batches lock rows
    /// in the same order and cannot deadlock each other.
    pub(crate) fn row(&self) -> (&str, &str) {
        (&self.merchant, &self.key)
    }
}

impl Completion {
    pub(crate) fn row(&self) -> (&str, &str) {
        (&self.merchant, &self.key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_payment_changes_only_what_a_transition_may_change() {
        let changes = names(payment_changes());
        assert!(changes.starts_with("status, ") && changes.ends_with(", version, updated_at"));
        for fixed in ["id", "merchant_id", "amount", "currency", "created_at"] {
            assert!(
                !payment_changes().iter().any(|c| c.name == fixed),
                "{fixed} is fixed at creation"
            );
        }
    }
}
