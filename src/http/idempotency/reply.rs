//! [`JsonReplies`]: the core's `ReplyRenderer` port — a merchant's answer exactly as the handlers
//! send it, rendered once so it can be committed with the payment and replayed byte for byte.

use actix_web::body::MessageBody;
use actix_web::ResponseError;
use payrail_core::idempotency::StoredReply;
use payrail_core::operation::{OperationKind, Outcome, PaymentError, ReplyRenderer};
use serde::Serialize;

use crate::http::wire::{PaymentView, RefundView};
use crate::http::ApiError;

/// Create and refund answer 201 with the payment or the refund; capture and cancel 200 with the
/// payment; refusals as the API's JSON error.
#[derive(Debug, Default, Clone, Copy)]
pub struct JsonReplies;

impl ReplyRenderer for JsonReplies {
    fn success(&self, kind: OperationKind, outcome: &Outcome) -> Option<StoredReply> {
        let payment = || PaymentView::from(outcome.payment.clone());
        match kind {
            OperationKind::Create => json(201, &payment()),
            OperationKind::Capture | OperationKind::Cancel | OperationKind::ConfirmAction => json(200, &payment()),
            OperationKind::Refund => json(201, &RefundView::from(outcome.refund.clone()?)),
            OperationKind::Reconcile | OperationKind::CompleteAction | OperationKind::ProviderUpdate => None,
        }
    }

    fn refusal(&self, error: &PaymentError) -> StoredReply {
        let response = ApiError::from(error.clone()).error_response();
        let status = response.status().as_u16();
        // `error_response` builds its body from bytes in one piece, so this cannot miss.
        let body = response
            .into_body()
            .try_into_bytes()
            .map(|bytes| bytes.to_vec())
            .unwrap_or_default();
        StoredReply { status, body }
    }
}

fn json(status: u16, view: &impl Serialize) -> Option<StoredReply> {
    let body = serde_json::to_vec(view).ok()?;
    Some(StoredReply { status, body })
}
