//! Finishing a keyed request whose first attempt died mid-way (its idempotency claim was taken over
//! after the lock timeout). The payment's persisted state decides, never a guess:
//!
//! - create: the claim recorded the payment id the first attempt generated; the retry reuses it, and
//!   the core either authorises the still-`pending` payment or answers with the finished one.
//! - capture, cancel, refund: the claim recorded the payment's version when the first attempt
//!   started; an event of the same kind after that version means the change was committed, and the
//!   retry answers with it instead of changing the payment again.

use payrail_core::domain::{EventKind, MerchantId, PaymentId};
use payrail_core::operation::{Change, Outcome};
use payrail_core::ports::PageRequest;

use crate::http::{ApiError, AppState};

/// The outcome of `change` if it was already committed after `version`, else `None`.
pub async fn committed_change(
    state: &AppState,
    merchant: &MerchantId,
    id: &PaymentId,
    version: i64,
    change: &Change,
) -> Result<Option<Outcome>, ApiError> {
    let page = PageRequest {
        limit: 1000,
        starting_after: None,
    };
    let Some(events) = state.store.list_events(merchant, id, &page).await? else {
        return Ok(None);
    };
    let done = events.data.into_iter().find(|event| {
        event.sequence > version
            && match change {
                Change::Capture { .. } => event.kind == EventKind::Captured,
                Change::Cancel => event.kind == EventKind::Canceled,
                Change::Refund { amount, .. } => {
                    event.kind == EventKind::Refunded
                        && amount.map_or(true, |amount| event.amount == Some(amount.minor_units()))
                }
            }
    });
    let Some(event) = done else { return Ok(None) };
    let Some(payment) = state.store.find(merchant, id).await? else {
        return Ok(None);
    };
    let refund = match &event.refund_id {
        Some(refund_id) => state
            .store
            .list_refunds(id)
            .await?
            .into_iter()
            .find(|refund| &refund.id == refund_id),
        None => None,
    };
    tracing::info!(payment_id = %id, event = event.kind.as_str(), "idempotent retry found its change committed");
    Ok(Some(Outcome { payment, refund }))
}
