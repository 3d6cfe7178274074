//! A merchant's change to an existing payment — capture, cancel, refund: checked against the state
//! machine, asked of the provider (with a key derived from the payment and the version the change
//! creates, so a retry cannot make the provider act twice), then committed with the request's reply.

use crate::domain::{Command, Payment, RefundId};
use crate::ports::{CancelRequest, CaptureRequest, RefundRequest};

use super::keyed::{commit_last, KeyedCommits};
use super::{Dependencies, Operation, Outcome, PaymentError};

pub(super) async fn change(
    deps: &Dependencies,
    payment: Payment,
    change: Operation,
    keyed: Option<&mut KeyedCommits>,
) -> Result<Outcome, PaymentError> {
    let kind = change.kind();
    // Keys derive from the payment and the version the change will create, so a retry of the
    // same change after a crash reuses the key and the provider does not act twice.
    let key = |op: &str| format!("{}:{op}:{}", payment.id, payment.version + 1);
    let command = match change {
        Operation::Capture { amount, .. } => {
            let amount = payment.plan_capture(amount)?;
            let request = CaptureRequest {
                payment_id: payment.id.clone(),
                provider_reference: payment.provider_reference.clone(),
                amount,
                currency: payment.currency,
                idempotency_key: key("capture"),
            };
            deps.provider(&payment.provider)?.capture(request).await?;
            Command::Capture { amount }
        }
        Operation::Cancel { .. } => {
            // Validate before asking the provider to void anything.
            payment.apply(Command::Cancel, deps.clock.now())?;
            let request = CancelRequest {
                payment_id: payment.id.clone(),
                provider_reference: payment.provider_reference.clone(),
                idempotency_key: key("cancel"),
            };
            deps.provider(&payment.provider)?.cancel(request).await?;
            Command::Cancel
        }
        Operation::Refund { amount, reason, .. } => {
            let amount = payment.plan_refund(amount)?;
            let refund_id = RefundId::generate();
            let request = RefundRequest {
                payment_id: payment.id.clone(),
                refund_id: refund_id.clone(),
                provider_reference: payment.provider_reference.clone(),
                amount,
                currency: payment.currency,
                reason,
                idempotency_key: key("refund"),
            };
            let outcome = deps.provider(&payment.provider)?.refund(request).await?;
            Command::Refund {
                id: refund_id,
                amount,
                reason,
                status: outcome.status,
                provider_reference: outcome.provider_reference,
            }
        }
        Operation::Create(_) | Operation::Reconcile | Operation::ProviderUpdate { .. } => {
            return Err(PaymentError::NotFound)
        }
    };
    let transition = payment.apply(command, deps.clock.now())?;
    Ok(commit_last(deps, kind, transition, keyed).await?)
}
