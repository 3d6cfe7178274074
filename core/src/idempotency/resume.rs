//! Finishing a keyed request whose first attempt died mid-way (its claim was taken over after the
//! lock timeout). The payment's persisted state decides, never a guess:
//!
//! - create: the claim recorded the payment id the first attempt generated; the retry reuses it,
//!   and the create operation either authorises the still-`pending` payment or answers with the
//!   finished one.
//! - capture, cancel, refund: the claim recorded the payment's version when the first attempt
//!   started; an event of the same kind after that version means the change was committed, and
//!   the retry answers with it instead of changing the payment again ([`committed_change`]).

use crate::domain::{EventKind, PaymentId};
use crate::operation::{Operation, Outcome};
use crate::ports::{PageRequest, PaymentStore, StoreError};

/// The outcome of `change` on payment `id` if it was already committed after `version`.
pub(super) async fn committed_change(
    store: &dyn PaymentStore,
    id: &PaymentId,
    version: i64,
    change: &Operation,
) -> Result<Option<Outcome>, StoreError> {
    let Some(merchant) = change.merchant() else {
        return Ok(None);
    };
    let page = PageRequest {
        limit: 1000,
        starting_after: None,
    };
    let Some(events) = store.list_events(merchant, id, &page).await? else {
        return Ok(None);
    };
    let done = events.data.into_iter().find(|event| {
        event.sequence > version
            && match change {
                Operation::Capture { .. } => event.kind == EventKind::Captured,
                Operation::Cancel { .. } => event.kind == EventKind::Canceled,
                Operation::Refund { amount, .. } => {
                    event.kind == EventKind::Refunded
                        && amount.map_or(true, |amount| event.amount == Some(amount.minor_units()))
                }
                _ => false,
            }
    });
    let Some(event) = done else { return Ok(None) };
    let Some(payment) = store.find(merchant, id).await? else {
        return Ok(None);
    };
    let refund = match &event.refund_id {
        Some(refund_id) => store
            .list_refunds(id)
            .await?
            .into_iter()
            .find(|refund| &refund.id == refund_id),
        None => None,
    };
    tracing::info!(payment_id = %id, event = event.kind.as_str(), "idempotent retry found its change committed");
    Ok(Some(Outcome { payment, refund }))
}
