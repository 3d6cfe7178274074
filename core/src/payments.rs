//! [`Payments`]: the core's front door for a merchant's requests. A handler parses, calls
//! `create`, `capture`, `cancel`, `refund` or `confirm` with the request's idempotency key (if any), and
//! renders the [`Answer`]. Each runs through the [`Idempotency`] service, which runs the
//! operation through the payment's actor.

use std::sync::Arc;

use crate::domain::{ActionInput, ActionValue, Amount, MerchantId, PaymentId, RefundReason};
use crate::idempotency::{Answer, Idempotency, RequestKey};
use crate::operation::{CreatePayment, Operation, PaymentError};
use crate::ports::PaymentStore;

#[derive(Clone)]
pub struct Payments {
    idempotency: Idempotency,
    store: Arc<dyn PaymentStore>,
}

impl Payments {
    pub fn new(idempotency: Idempotency, store: Arc<dyn PaymentStore>) -> Self {
        Self { idempotency, store }
    }

    pub async fn create(&self, request: CreatePayment, key: Option<RequestKey>) -> Result<Answer, PaymentError> {
        let id = request.payment.id.clone();
        self.idempotency.run(id, None, Operation::Create(request), key).await
    }

    pub async fn capture(
        &self,
        merchant: MerchantId,
        id: PaymentId,
        amount: Option<Amount>,
        key: Option<RequestKey>,
    ) -> Result<Answer, PaymentError> {
        let version = self.version_before_change(&merchant, &id, &key).await?;
        let capture = Operation::Capture { merchant, amount };
        self.idempotency.run(id, version, capture, key).await
    }

    pub async fn cancel(
        &self,
        merchant: MerchantId,
        id: PaymentId,
        key: Option<RequestKey>,
    ) -> Result<Answer, PaymentError> {
        let version = self.version_before_change(&merchant, &id, &key).await?;
        self.idempotency
            .run(id, version, Operation::Cancel { merchant }, key)
            .await
    }

    pub async fn refund(
        &self,
        merchant: MerchantId,
        id: PaymentId,
        amount: Option<Amount>,
        reason: Option<RefundReason>,
        key: Option<RequestKey>,
    ) -> Result<Answer, PaymentError> {
        let version = self.version_before_change(&merchant, &id, &key).await?;
        let refund = Operation::Refund {
            merchant,
            amount,
            reason,
        };
        self.idempotency.run(id, version, refund, key).await
    }

    /// Submits what the merchant's customer gave for the payment's next action (an OTP, a PIN).
    pub async fn confirm(
        &self,
        merchant: MerchantId,
        id: PaymentId,
        input: ActionInput,
        value: ActionValue,
        key: Option<RequestKey>,
    ) -> Result<Answer, PaymentError> {
        let version = self.version_before_change(&merchant, &id, &key).await?;
        let confirm = Operation::ConfirmAction { merchant, input, value };
        self.idempotency.run(id, version, confirm, key).await
    }

    /// For a keyed change, the payment's version before it, recorded with the claim so a retry
    /// after a crash can tell whether the change was committed. An unknown payment is a 404
    /// before anything is claimed.
    async fn version_before_change(
        &self,
        merchant: &MerchantId,
        id: &PaymentId,
        key: &Option<RequestKey>,
    ) -> Result<Option<i64>, PaymentError> {
        if key.is_none() {
            return Ok(None);
        }
        let payment = self.store.find(merchant, id).await?.ok_or(PaymentError::NotFound)?;
        Ok(Some(payment.version))
    }
}
