//! An event's JSON body: `{id, type, created_at, data: {object}}`, where `object` is the payment
//! as `GET /api/v1/payments/{id}` shows it (without the receipt email, which is never sent out),
//! or the refund for `refund.updated`.
//!
//! "The payment at that version": the body is rendered when the event is fanned out, from the
//! payment as stored then — exactly that version when nothing changed it meanwhile (the dispatcher
//! runs every poll interval). If the payment moved on first, the status and `updated_at` are the
//! event's own and the amounts and references are the later version's. Events never fanned out
//! (merchants without endpoints) are rendered the same way when read.

use chrono::{DateTime, Utc};
use payrail_core::domain::{Payment, PaymentId, Refund};
use payrail_core::ports::PaymentStore;
use serde_json::{json, Value};

use crate::events::EventsError;
use crate::store::merchant_events::OutboxRow;
use crate::views::{timestamp, PaymentView, RefundView};

fn timestamp_micros(micros: i64) -> String {
    timestamp(DateTime::<Utc>::from_timestamp_micros(micros).unwrap_or_default())
}

/// The payment as `GET /api/v1/payments/{id}` shows it (`views.rs`), with the event's own status
/// and time when the payment has moved on since.
fn payment_json(p: &Payment, event: &OutboxRow) -> Value {
    let exact = p.version == event.sequence;
    let mut object = serde_json::to_value(PaymentView::from(p.clone())).unwrap_or(Value::Null);
    if let (false, Value::Object(fields)) = (exact, &mut object) {
        fields.insert("status".into(), Value::from(event.to_status.as_str()));
        fields.insert("updated_at".into(), Value::from(timestamp_micros(event.created_at)));
    }
    if let Value::Object(fields) = &mut object {
        // Never sent out: the receipt email is shown only to the merchant's own reads.
        fields.remove("receipt_email");
    }
    object
}

fn refund_json(r: &Refund) -> Value {
    serde_json::to_value(RefundView::from(r.clone())).unwrap_or(Value::Null)
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
        "created_at": timestamp_micros(event.created_at),
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
