//! `receipt_email` on payment views: opened from the sealed store (`store/contacts.rs`) for the
//! requesting merchant. Kept apart from the payments handlers so they change by one line each.

use payrail_core::domain::MerchantId;

use crate::http::wire::PaymentView;
use crate::http::{ApiError, AppState};

/// Fills `receipt_email` on each view that has one stored.
pub async fn attach_all(state: &AppState, merchant: &MerchantId, views: &mut [PaymentView]) -> Result<(), ApiError> {
    let ids: Vec<&str> = views.iter().map(|v| v.id.as_str()).collect();
    let mut emails = state.contacts.receipt_emails(merchant, &ids).await?;
    for view in views {
        view.receipt_email = emails.remove(&view.id);
    }
    Ok(())
}

pub async fn attach(state: &AppState, merchant: &MerchantId, view: &mut PaymentView) -> Result<(), ApiError> {
    attach_all(state, merchant, std::slice::from_mut(view)).await
}
