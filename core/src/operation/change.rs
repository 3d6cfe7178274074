//! A merchant's change to an existing payment — capture, cancel, refund: checked against the state
//! machine, asked of the provider (with a key derived from the payment and the version the change
//! creates, so a retry cannot make the provider act twice), then committed.

use crate::actors::ProviderCall;
use crate::domain::{Command, Payment, RefundId};
use crate::idempotency::KeyedCommit;
use crate::ports::{CancelRequest, CaptureRequest, RefundRequest};

use super::{Change, Dependencies, Outcome, PaymentError};

pub(super) async fn change(
    deps: &Dependencies,
    payment: Payment,
    change: Change,
    keyed: Option<&KeyedCommit>,
) -> Result<Outcome, PaymentError> {
    // Keys derive from the payment and the version the change will create, so a retry of the
    // same change after a crash reuses the key and the provider does not act twice.
    let key = |op: &str| format!("{}:{op}:{}", payment.id, payment.version + 1);
    let command = match change {
        Change::Capture { amount } => {
            let amount = payment.plan_capture(amount)?;
            let request = CaptureRequest {
                payment_id: payment.id.clone(),
                provider_reference: payment.provider_reference.clone(),
                amount,
                currency: payment.currency,
                idempotency_key: key("capture"),
            };
            deps.call(
                &payment.provider,
                ProviderCall::new(move |provider| {
                    let request = request.clone();
                    async move { provider.capture(request).await }
                }),
            )
            .await?;
            Command::Capture { amount }
        }
        Change::Cancel => {
            // Validate before asking the provider to void anything.
            payment.apply(Command::Cancel, deps.clock.now())?;
            let request = CancelRequest {
                payment_id: payment.id.clone(),
                provider_reference: payment.provider_reference.clone(),
                idempotency_key: key("cancel"),
            };
            deps.call(
                &payment.provider,
                ProviderCall::new(move |provider| {
                    let request = request.clone();
                    async move { provider.cancel(request).await }
                }),
            )
            .await?;
            Command::Cancel
        }
        Change::Refund { amount, reason } => {
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
            let outcome = deps
                .call(
                    &payment.provider,
                    ProviderCall::new(move |provider| {
                        let request = request.clone();
                        async move { provider.refund(request).await }
                    }),
                )
                .await?;
            Command::Refund {
                id: refund_id,
                amount,
                reason,
                status: outcome.status,
                provider_reference: outcome.provider_reference,
            }
        }
    };
    let transition = payment.apply(command, deps.clock.now())?;
    Ok(deps.commit_last(transition, keyed).await?)
}
