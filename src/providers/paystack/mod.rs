//! The Paystack adapter: charges (a reusable `authorization_code` token via
//! `charge_authorization`, or card details via `/charge`), verification by reference, and partial
//! refunds, in kobo, behind the core's `Provider` port. Wire mappings live in [`transformers`],
//! webhook signatures in [`webhook`].
//!
//! Paystack has no idempotency header. The transaction `reference` is derived from payrail's
//! payment id (`pay-<uuid>`: Paystack allows only `-`, `.`, `=` and alphanumerics) and Paystack
//! refuses to reuse it, so a retried charge that already went through comes back as a duplicate
//! and is answered by verifying the reference. Refunds carry payrail's key in `merchant_note`;
//! before a new one is created, the refunds of the last days are listed (Paystack's documented
//! listing, page by page) and one with that note is answered instead. The reconciler settles a
//! refund intent left open by a crash with the same lookup (`find_refund`), sending the refund
//! only when the listing proves Paystack never saw it.
//! Paystack charges capture at once: a payment asking for manual capture is refused, as is a
//! currency outside Paystack's list, before anything is sent.

pub mod ledger;
pub mod transformers;
pub mod webhook;

use async_trait::async_trait;
use payrail_core::domain::{AuthorizationOutcome, Currency, PaymentMethod};
use payrail_core::ports::{
    AuthorizeRequest, CancelRequest, CaptureRequest, ChangeLookup, Provider, ProviderError, RefundOutcome,
    RefundRequest, RetrieveRequest, SubmitActionRequest,
};
use serde::de::DeserializeOwned;

use crate::config::Secret;
use crate::providers::http;
use transformers as wire;

/// How far back a retried refund looks for the refund its first attempt created. Retries of one
/// refund happen within minutes; a day's margin covers a process that died mid-refund.
const REFUND_LOOKBACK: chrono::Duration = chrono::Duration::days(2);
/// Refunds per listed page, and the most pages read before creating a new refund anyway.
const REFUND_PAGE_SIZE: u32 = 100;
const REFUND_MAX_PAGES: u32 = 20;

pub struct Paystack {
    client: reqwest::Client,
    base: String,
    secret_key: Secret,
}

impl Paystack {
    pub const NAME: &'static str = "paystack";

    pub fn new(client: reqwest::Client, api_base: &str, secret_key: Secret) -> Self {
        Self {
            client,
            base: api_base.trim_end_matches('/').to_owned(),
            secret_key,
        }
    }

    /// Sends a request and returns the envelope's `data` from a 2xx, or the mapped error.
    async fn send<T: DeserializeOwned>(&self, request: reqwest::RequestBuilder) -> Result<T, ProviderError> {
        let (status, body) = http::send_with_bearer(Self::NAME, request, self.secret_key.expose()).await?;
        if !status.is_success() {
            return Err(wire::error_from(status, &body));
        }
        let envelope: wire::Envelope<T> = serde_json::from_str(&body)
            .map_err(|e| ProviderError::Failed(format!("paystack: unexpected response: {e}")))?;
        match envelope.data {
            Some(data) if envelope.status => Ok(data),
            _ => Err(ProviderError::Rejected {
                code: "invalid_request".into(),
                message: envelope.message,
            }),
        }
    }

    async fn verify(&self, reference: &str) -> Result<AuthorizationOutcome, ProviderError> {
        let url = format!("{}/transaction/verify/{reference}", self.base);
        match self.send::<wire::Transaction>(self.client.get(url)).await {
            Ok(tx) => Ok(wire::transaction_outcome(&tx)),
            Err(ProviderError::Rejected { code, .. }) if code == "resource_missing" || code == "invalid_request" => {
                Ok(AuthorizationOutcome::Unknown {
                    provider_reference: None,
                })
            }
            Err(other) => Err(other),
        }
    }

    /// The refund an earlier attempt with this key created: recent refunds are listed page by
    /// page (`GET /refund?from=&perPage=&page=`) and matched on the merchant note. `NeverSeen`
    /// only when every page of the window was read; past [`REFUND_MAX_PAGES`] it is `Undecided`.
    async fn earlier_refund(&self, key: &str) -> Result<ChangeLookup<wire::RefundObject>, ProviderError> {
        let from = (chrono::Utc::now() - REFUND_LOOKBACK).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        for page in 1..=REFUND_MAX_PAGES {
            let query = [
                ("from", from.clone()),
                ("perPage", REFUND_PAGE_SIZE.to_string()),
                ("page", page.to_string()),
            ];
            let listed: Vec<wire::RefundObject> = self
                .send(self.client.get(format!("{}/refund", self.base)).query(&query))
                .await?;
            let full_page = listed.len() >= REFUND_PAGE_SIZE as usize;
            if let Some(found) = listed.into_iter().find(|r| r.merchant_note.as_deref() == Some(key)) {
                return Ok(ChangeLookup::Made(found));
            }
            if !full_page {
                return Ok(ChangeLookup::NeverSeen);
            }
        }
        Ok(ChangeLookup::Undecided)
    }
}

fn refund_outcome(refund: &wire::RefundObject) -> RefundOutcome {
    RefundOutcome {
        status: wire::refund_status(&refund.status),
        provider_reference: Some(refund.id.to_string()),
    }
}

fn unsupported(what: &str) -> ProviderError {
    ProviderError::Rejected {
        code: "operation_not_supported".into(),
        message: format!("Paystack charges capture at once; {what} is not supported"),
    }
}

#[async_trait]
impl Provider for Paystack {
    fn name(&self) -> &str {
        Self::NAME
    }

    fn supports_currency(&self, currency: Currency) -> bool {
        wire::supports(currency)
    }

    async fn authorize(&self, request: AuthorizeRequest) -> Result<AuthorizationOutcome, ProviderError> {
        if !wire::supports(request.currency) {
            return Err(wire::currency_not_supported(request.currency));
        }
        if !request.capture {
            return Err(unsupported("manual capture"));
        }
        let (path, body) = match &request.method {
            PaymentMethod::Token(code) => (
                "/transaction/charge_authorization",
                wire::charge_authorization_body(&request, code.expose()),
            ),
            PaymentMethod::Card(card) => ("/charge", wire::card_charge_body(&request, card)),
        };
        let sent = self.client.post(format!("{}{path}", self.base)).json(&body);
        match self.send::<wire::Transaction>(sent).await {
            Ok(tx) => Ok(wire::transaction_outcome(&tx)),
            // An earlier attempt with this reference reached Paystack: its outcome is the answer.
            Err(ProviderError::Rejected { code, .. }) if code == "duplicate_reference" => {
                self.verify(&wire::reference(&request.payment_id)).await
            }
            Err(other) => Err(other),
        }
    }

    async fn capture(&self, _request: CaptureRequest) -> Result<(), ProviderError> {
        Err(unsupported("a separate capture"))
    }

    async fn cancel(&self, _request: CancelRequest) -> Result<(), ProviderError> {
        Err(unsupported("voiding an authorisation"))
    }

    async fn refund(&self, request: RefundRequest) -> Result<RefundOutcome, ProviderError> {
        // A retry (a 5xx answered the first attempt) must not refund twice: look first. A window
        // too busy to read whole is taken as unseen, as a fresh refund's key cannot be in it.
        let refund = match self.earlier_refund(&request.idempotency_key).await? {
            ChangeLookup::Made(refund) => refund,
            _ => {
                let body = wire::refund_body(&request);
                self.send(self.client.post(format!("{}/refund", self.base)).json(&body))
                    .await?
            }
        };
        Ok(refund_outcome(&refund))
    }

    /// An open refund intent: found by its merchant note, or proven absent from the window.
    async fn find_refund(
        &self,
        request: RefundRequest,
        _recorded: Vec<String>,
    ) -> Result<ChangeLookup<RefundOutcome>, ProviderError> {
        Ok(match self.earlier_refund(&request.idempotency_key).await? {
            ChangeLookup::Made(refund) => ChangeLookup::Made(refund_outcome(&refund)),
            ChangeLookup::NeverSeen => ChangeLookup::NeverSeen,
            _ => ChangeLookup::Undecided,
        })
    }

    async fn retrieve(&self, request: RetrieveRequest) -> Result<AuthorizationOutcome, ProviderError> {
        self.verify(&wire::reference(&request.payment_id)).await
    }

    async fn submit_action(&self, request: SubmitActionRequest) -> Result<AuthorizationOutcome, ProviderError> {
        let (path, body) = wire::submit_body(&request);
        let sent = self.client.post(format!("{}{path}", self.base)).json(&body);
        let tx: wire::Transaction = self.send(sent).await?;
        Ok(wire::transaction_outcome(&tx))
    }
}
