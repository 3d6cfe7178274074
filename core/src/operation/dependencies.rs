//! [`Dependencies`]: what an operation needs from the outside world, shared by every payment's
//! actor — the store, the providers (each behind its resilience policies), the routing rules, the
//! contact sealer, the reply renderer, the clock and the observer.

use std::sync::Arc;

use crate::domain::{Payment, Transition};
use crate::observer::{CallOutcome, Observer};
use crate::ports::{Clock, ContactSealer, PaymentStore, ProviderError, StoreError};
use crate::resilience::{ProviderDirectory, ResilientProvider};

use super::{ReplyRenderer, Routes};

pub struct Dependencies {
    pub store: Arc<dyn PaymentStore>,
    pub providers: ProviderDirectory,
    /// How a new payment that names no provider picks one, and its fallbacks.
    pub routes: Routes,
    /// Seals a new payment's receipt email, committed with it.
    pub sealer: Arc<dyn ContactSealer>,
    /// Renders a keyed request's answer, committed with its last transition.
    pub replies: Arc<dyn ReplyRenderer>,
    pub clock: Arc<dyn Clock>,
    /// Told of every operation and provider call (metrics); `NoopObserver` when nobody counts.
    pub observer: Arc<dyn Observer>,
    /// How long a payment may wait in `requires_action` before the reconciler cancels it.
    pub requires_action_ttl: chrono::Duration,
}

impl Dependencies {
    /// The provider named `name`; a payment naming one that is not configured cannot reach it.
    pub(crate) fn provider(&self, name: &str) -> Result<&ResilientProvider, ProviderError> {
        self.providers.get(name).ok_or_else(|| {
            self.observer.provider_request(name, CallOutcome::Error);
            ProviderError::Unavailable(format!("provider `{name}` is not configured"))
        })
    }

    pub(crate) async fn commit(&self, transition: Transition) -> Result<Payment, StoreError> {
        self.store.commit(&transition).await?;
        Ok(transition.payment)
    }
}
