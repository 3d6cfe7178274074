//! [`Payments`]: the core's front door for a merchant's requests. A handler parses, calls
//! `create`, `capture`, `cancel` or `refund` with the request's idempotency key (if any), and
//! renders the [`Answer`]. Each runs through the [`Idempotency`] service, which runs the
//! operation through the payment's actor.

use std::sync::Arc;

use crate::domain::{Amount, MerchantId, PaymentId, RefundReason};
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
        self.change(&merchant.clone(), id, Operation::Capture { merchant, amount }, key)
            .await
    }

    pub async fn cancel(
        &self,
        merchant: MerchantId,
        id: PaymentId,
        key: Option<RequestKey>,
    ) -> Result<Answer, PaymentError> {
        self.change(&merchant.clone(), id, Operation::Cancel { merchant }, key)
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
        let refund = Operation::Refund {
            merchant: merchant.clone(),
            amount,
            reason,
        };
        self.change(&merchant, id, refund, key).await
    }

    async fn change(
        &self,
        merchant: &MerchantId,
        id: PaymentId,
        change: Operation,
        key: Option<RequestKey>,
    ) -> Result<Answer, PaymentError> {
        let mut version = None;
        if key.is_some() {
            // Record the version the change starts from, so a retry after a crash can tell whether
            // it was committed. An unknown payment is a 404 before anything is claimed.
            let payment = self.store.find(merchant, &id).await?.ok_or(PaymentError::NotFound)?;
            version = Some(payment.version);
        }
        self.idempotency.run(id, version, change, key).await
    }
}
