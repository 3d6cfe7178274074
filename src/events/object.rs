//! An event's JSON body: `{id, type, created_at, data: {object}}`, where `object` is the payment
//! as `GET /api/v1/payments/{id}` shows it (without the receipt email, which is never sent out),
//! or the refund for `refund.updated`.
//!
//! "The payment at that version": the body is rendered when the event is fanned out, from the
//! payment as stored then — exactly that version when nothing changed it meanwhile (the dispatcher
//! runs every poll interval). If the payment moved on first, the status and `updated_at` are the
//! event's own and the amounts and references are the later version's. Events never fanned out
//! (merchants without endpoints) are rendered the same way when read.

use chrono::{DateTime, SecondsFormat, Utc};
use payrail_core::domain::{Payment, PaymentId, Refund};
use payrail_core::ports::PaymentStore;
use serde_json::{json, Value};

use crate::events::EventsError;
use crate::store::merchant_events::OutboxRow;

fn timestamp(micros: i64) -> String {
    let at = DateTime::<Utc>::from_timestamp_micros(micros).unwrap_or_default();
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn payment_json(p: &Payment, event: &OutboxRow) -> Value {
    let exact = p.version == event.sequence;
    let status = if exact {
        p.status.as_str()
    } else {
        event.to_status.as_str()
    };
    let updated_at = if exact {
        timestamp(p.updated_at.timestamp_micros())
    } else {
        timestamp(event.created_at)
    };
    json!({
        "id": p.id.as_str(),
        "amount": p.amount.minor_units(),
        "currency": p.currency.code(),
        "status": status,
        "captured_amount": p.captured_amount,
        "refunded_amount": p.refunded_amount,
        "provider": p.provider,
        "provider_reference": p.provider_reference,
        "order_id": p.order_id,
        "description": p.description,
        "metadata": p.metadata,
        "card": p.card.as_ref().map(|c| json!({
            "brand": c.brand,
            "last4": c.last4,
            "exp_month": c.exp_month,
            "exp_year": c.exp_year,
            "fingerprint": c.fingerprint,
        })),
        "failure_code": p.failure_code,
        "failure_message": p.failure_message,
        "created_at": timestamp(p.created_at.timestamp_micros()),
        "updated_at": updated_at,
    })
}

fn refund_json(r: &Refund) -> Value {
    json!({
        "id": r.id.as_str(),
        "payment_id": r.payment_id.as_str(),
        "amount": r.amount.minor_units(),
        "status": r.status.as_str(),
        "reason": r.reason.map(|reason| reason.as_str()),
        "created_at": timestamp(r.created_at.timestamp_micros()),
    })
}

/// The event's body, from its payment (as stored when rendered) and, for `refund.updated`, the
/// refund it names.
pub fn render(event: &OutboxRow, payment: &Payment, refund: Option<&Refund>) -> String {
    let object = match refund {
        Some(refund) => refund_json(refund),
        None => payment_json(payment, event),
    };
    let body = json!({
        "id": event.id,
        "type": event.kind,
        "created_at": timestamp(event.created_at),
        "data": { "object": object },
    });
    body.to_string()
}

/// Loads what the event's body needs and renders it.
pub async fn load_and_render(store: &dyn PaymentStore, event: &OutboxRow) -> Result<String, EventsError> {
    let payment = load_payment(store, &event.payment_id).await?;
    let refund = load_refund(store, event).await?;
    Ok(render(event, &payment, refund.as_ref()))
}

pub async fn load_payment(store: &dyn PaymentStore, id: &str) -> Result<Payment, EventsError> {
    let payment_id = PaymentId::parse(id).map_err(|_| EventsError::Corrupt(format!("an event names payment {id}")))?;
    store
        .load(&payment_id)
        .await?
        .ok_or_else(|| EventsError::Corrupt(format!("payment {id} of an event is missing")))
}

/// The refund a `refund.updated` event names; `None` for every other event.
pub async fn load_refund(store: &dyn PaymentStore, event: &OutboxRow) -> Result<Option<Refund>, EventsError> {
    let (Some(refund_id), "refund.updated") = (&event.refund_id, event.kind.as_str()) else {
        return Ok(None);
    };
    let payment_id = PaymentId::parse(&event.payment_id)
        .map_err(|_| EventsError::Corrupt(format!("event {} names payment {}", event.id, event.payment_id)))?;
    Ok(store
        .list_refunds(&payment_id)
        .await?
        .into_iter()
        .find(|r| r.id.as_str() == refund_id))
}
