//! The Flutterwave v3 adapter: card charges (direct, with the account's encryption key, or by
//! card token), their customer actions, verification by `tx_ref`, and partial refunds, in major
//! units, behind the core's `Provider` port. Wire mappings are in [`transformers`] and [`card`],
//! the payload encryption in [`cipher`], webhook checks in [`webhook`].
//!
//! Direct card charges (`/v3/charges?type=card`, PCI DSS and enablement by Flutterwave) send the
//! card inside `client`, a payload sealed with the account's encryption key
//! (`FLUTTERWAVE_ENCRYPTION_KEY`); without the key, raw card details are refused with a clear
//! error and only Flutterwave card tokens are charged. The answer's `meta.authorization.mode`
//! becomes the payment's `next_action`: `pin` and `avs_noauth` are resent with the PIN or the
//! billing address given to `/confirm` (the card for that resend is held in memory only, see
//! [`held`] for why), `otp` goes to `/v3/validate-charge`, and `redirect` (3-D Secure) sends the
//! customer to Flutterwave's page, after which the return, the webhook or the reconciler verifies
//! the charge by `tx_ref`. Raw card charges capture at once; manual capture needs a card token.
//!
//! v3 has no idempotency header: `tx_ref` (payrail's payment id) identifies the charge, and a
//! refund whose answer was lost is reported as an unknown outcome rather than resent, because a
//! resend could refund twice. The reconciler settles such a refund, and an open capture or void,
//! by looking it up ([`lookup`]) instead of repeating it.
//!
//! Manual capture uses Flutterwave's card preauthorization: the charge is sent with
//! `preauthorize: true`, its `flw_ref` becomes payrail's provider reference, and capture, void and
//! refund go to `/v3/charges/{flw_ref}/capture`, `/void` and `/refund`.

pub mod card;
pub mod cipher;
pub mod held;
pub mod ledger;
mod lookup;
pub mod transformers;
pub mod webhook;

use async_trait::async_trait;
use payrail_core::domain::{ActionInput, ActionValue, AuthorizationOutcome, CardDetails, PaymentMethod};
use payrail_core::ports::{
    AuthorizeRequest, CancelRequest, CaptureRequest, ChangeLookup, Provider, ProviderError, RefundOutcome,
    RefundRequest, RetrieveRequest, SubmitActionRequest,
};
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::config::Secret;
use crate::providers::http;
use card::{Authorization, ChargeAnswer};
use cipher::PayloadCipher;
use held::HeldCards;
use transformers as wire;

pub struct Flutterwave {
    client: reqwest::Client,
    base: String,
    secret_key: Secret,
    /// Present when the encryption key is configured: direct card charges are possible.
    cipher: Option<PayloadCipher>,
    held: HeldCards,
}

impl Flutterwave {
    pub const NAME: &'static str = "flutterwave";

    /// `encryption_key` was checked by configuration (24 bytes); one that is not is ignored, and
    /// raw cards are refused as without one.
    pub fn new(client: reqwest::Client, api_base: &str, secret_key: Secret, encryption_key: Option<&Secret>) -> Self {
        let cipher = encryption_key.and_then(|key| PayloadCipher::new(key.expose().as_bytes()).ok());
        Self {
            client,
            base: format!("{}/v3", api_base.trim_end_matches('/')),
            secret_key,
            cipher,
            held: HeldCards::default(),
        }
    }

    /// `POST /v3/charges?type=card` with the payload sealed into `client`. A charge asking for
    /// the PIN or the address keeps the card in memory for the resend; any other answer drops it.
    async fn charge_card(
        &self,
        request: &AuthorizeRequest,
        card: &CardDetails,
        authorization: Option<Authorization<'_>>,
    ) -> Result<AuthorizationOutcome, ProviderError> {
        let cipher = self.cipher.as_ref().ok_or_else(|| {
            unsupported("raw card details without FLUTTERWAVE_ENCRYPTION_KEY (configure the account's encryption key, or send a Flutterwave card token)")
        })?;
        if !request.capture {
            return Err(unsupported(
                "manual capture of a raw card charge (send a card token to preauthorize)",
            ));
        }
        let client = cipher.seal(card::payload(request, card, authorization).to_string().as_bytes());
        let sent = self
            .client
            .post(format!("{}/charges", self.base))
            .query(&[("type", "card")])
            .json(&json!({ "client": client }));
        let (status, body) = http::send_with_bearer(Self::NAME, sent, self.secret_key.expose()).await?;
        if !status.is_success() {
            return Err(wire::error_from(status, &body));
        }
        let answer: ChargeAnswer = serde_json::from_str(&body)
            .map_err(|e| ProviderError::Failed(format!("flutterwave: unexpected response: {e}")))?;
        if answer.status != "success" {
            return Err(ProviderError::Rejected {
                code: "invalid_request".into(),
                message: answer.message,
            });
        }
        if answer.needs_card_again() {
            self.held.hold(request);
        } else {
            self.held.forget(&request.payment_id);
        }
        let (currency, amount) = (request.currency, request.amount.minor_units());
        Ok(card::outcome(&answer, &request.payment_id, currency, amount))
    }

    /// `POST /v3/tokenized-charges`; a preauthorization when the payment is captured later.
    async fn charge_token(
        &self,
        request: &AuthorizeRequest,
        token: &str,
    ) -> Result<AuthorizationOutcome, ProviderError> {
        let body = wire::tokenized_charge_body(request, token);
        let sent = self.client.post(format!("{}/tokenized-charges", self.base)).json(&body);
        let tx: wire::Transaction = self.send(sent).await?;
        let (currency, amount) = (request.currency, request.amount.minor_units());
        Ok(if request.capture {
            wire::transaction_outcome(&tx, Some(currency), Some(amount))
        } else {
            wire::preauthorization_outcome(&tx, currency, amount)
        })
    }

    /// Resends the held card with what the customer gave; a card no longer held fails the
    /// payment cleanly (nothing was charged).
    async fn resend_card(
        &self,
        request: &SubmitActionRequest,
        authorization: Authorization<'_>,
    ) -> Result<AuthorizationOutcome, ProviderError> {
        let Some(held) = self.held.get(&request.payment_id) else {
            return Ok(card::card_unavailable());
        };
        let PaymentMethod::Card(card) = &held.method else {
            return Ok(card::card_unavailable());
        };
        self.charge_card(&held, card, Some(authorization)).await
    }

    async fn send<T: DeserializeOwned>(&self, request: reqwest::RequestBuilder) -> Result<T, ProviderError> {
        let (status, body) = http::send_with_bearer(Self::NAME, request, self.secret_key.expose()).await?;
        if !status.is_success() {
            return Err(wire::error_from(status, &body));
        }
        let envelope: wire::Envelope<T> = serde_json::from_str(&body)
            .map_err(|e| ProviderError::Failed(format!("flutterwave: unexpected response: {e}")))?;
        match envelope.data {
            Some(data) if envelope.status == "success" => Ok(data),
            _ => Err(ProviderError::Rejected {
                code: "invalid_request".into(),
                message: envelope.message,
            }),
        }
    }
}

/// The `flw_ref` of a preauthorized charge; a payment captured at once has none to act on.
fn preauthorization(reference: &Option<String>) -> Result<&str, ProviderError> {
    match reference.as_deref() {
        Some(flw_ref) if wire::is_preauthorization(flw_ref) => Ok(flw_ref),
        _ => Err(ProviderError::Rejected {
            code: "missing_provider_reference".into(),
            message: "the payment has no Flutterwave preauthorization".into(),
        }),
    }
}

fn unsupported(what: &str) -> ProviderError {
    ProviderError::Rejected {
        code: "operation_not_supported".into(),
        message: format!("Flutterwave: {what} is not supported"),
    }
}

#[async_trait]
impl Provider for Flutterwave {
    fn name(&self) -> &str {
        Self::NAME
    }

    async fn authorize(&self, request: AuthorizeRequest) -> Result<AuthorizationOutcome, ProviderError> {
        let answer = match &request.method {
            PaymentMethod::Token(token) => self.charge_token(&request, token.expose()).await,
            PaymentMethod::Card(card) => self.charge_card(&request, card, None).await,
        };
        match answer {
            // A retry after a 5xx whose first attempt went through: its outcome is the answer.
            Err(ProviderError::Rejected { message, .. }) if message.to_ascii_lowercase().contains("duplicate") => {
                let retrieve = RetrieveRequest {
                    payment_id: request.payment_id.clone(),
                    provider_reference: None,
                    amount: request.amount,
                    currency: request.currency,
                };
                self.retrieve(retrieve).await
            }
            other => other,
        }
    }

    async fn capture(&self, request: CaptureRequest) -> Result<(), ProviderError> {
        let flw_ref = preauthorization(&request.provider_reference)?;
        let url = format!("{}/charges/{flw_ref}/capture", self.base);
        let tx: wire::Transaction = self
            .send(self.client.post(url).json(&wire::capture_body(&request)))
            .await?;
        wire::charge_action_result(&tx, &["successful"])
    }

    async fn cancel(&self, request: CancelRequest) -> Result<(), ProviderError> {
        // A card charge still waiting for its PIN or address has nothing at Flutterwave to void.
        if request.provider_reference.as_deref() == Some(request.payment_id.as_str()) {
            self.held.forget(&request.payment_id);
            return Err(unsupported("voiding a card charge that was never authorised"));
        }
        let flw_ref = preauthorization(&request.provider_reference)?;
        let url = format!("{}/charges/{flw_ref}/void", self.base);
        match self.send::<wire::Transaction>(self.client.post(url)).await {
            Ok(tx) => wire::charge_action_result(&tx, &["voided"]),
            // Not a preauthorization: a direct charge awaiting its OTP or 3-D Secure, which
            // lapses at Flutterwave on its own.
            Err(ProviderError::Rejected { code, .. }) if code == "resource_missing" => {
                Err(unsupported("voiding a charge that is not a preauthorization"))
            }
            Err(other) => Err(other),
        }
    }

    async fn refund(&self, request: RefundRequest) -> Result<RefundOutcome, ProviderError> {
        let reference = request
            .provider_reference
            .as_deref()
            .ok_or_else(|| ProviderError::Rejected {
                code: "missing_provider_reference".into(),
                message: "the payment has no Flutterwave transaction".into(),
            })?;
        let (url, body) = if wire::is_preauthorization(reference) {
            (
                format!("{}/charges/{reference}/refund", self.base),
                wire::preauthorization_refund_body(&request),
            )
        } else {
            (
                format!("{}/transactions/{reference}/refund", self.base),
                wire::refund_body(&request),
            )
        };
        let refund: wire::RefundObject = match self.send(self.client.post(url).json(&body)).await {
            Ok(refund) => refund,
            // No idempotency key: a resend after a lost answer could refund twice.
            Err(ProviderError::Failed(_)) => return Err(ProviderError::Timeout),
            Err(other) => return Err(other),
        };
        Ok(RefundOutcome {
            status: wire::refund_status(&refund.status),
            provider_reference: Some(refund.id.to_string()),
        })
    }

    async fn retrieve(&self, request: RetrieveRequest) -> Result<AuthorizationOutcome, ProviderError> {
        let url = format!("{}/transactions/verify_by_reference", self.base);
        let sent = self.client.get(url).query(&[("tx_ref", request.payment_id.as_str())]);
        match self.send::<wire::Transaction>(sent).await {
            Ok(tx) => Ok(wire::transaction_outcome(
                &tx,
                Some(request.currency),
                Some(request.amount.minor_units()),
            )),
            Err(ProviderError::Rejected { .. }) => Ok(AuthorizationOutcome::Unknown {
                provider_reference: None,
            }),
            Err(other) => Err(other),
        }
    }

    async fn find_capture(&self, request: CaptureRequest) -> Result<ChangeLookup<()>, ProviderError> {
        self.lookup_capture(&request).await
    }

    async fn find_cancel(&self, request: CancelRequest) -> Result<ChangeLookup<()>, ProviderError> {
        self.lookup_cancel(&request).await
    }

    async fn find_refund(
        &self,
        request: RefundRequest,
        recorded: Vec<String>,
    ) -> Result<ChangeLookup<RefundOutcome>, ProviderError> {
        self.lookup_refund(&request, &recorded).await
    }

    async fn submit_action(&self, request: SubmitActionRequest) -> Result<AuthorizationOutcome, ProviderError> {
        match (request.input, &request.value) {
            (ActionInput::Pin, ActionValue::Text(pin)) => self.resend_card(&request, Authorization::Pin(pin)).await,
            (ActionInput::Address, ActionValue::Address(address)) => {
                self.resend_card(&request, Authorization::Address(address)).await
            }
            (ActionInput::Otp, ActionValue::Text(otp)) => {
                let flw_ref = request.provider_reference.as_deref().unwrap_or_default();
                let sent = self
                    .client
                    .post(format!("{}/validate-charge", self.base))
                    .json(&card::validate_body(otp, flw_ref));
                let tx: wire::Transaction = self.send(sent).await?;
                let (currency, amount) = (request.currency, request.amount.minor_units());
                Ok(wire::transaction_outcome(&tx, Some(currency), Some(amount)))
            }
            _ => Err(ProviderError::Rejected {
                code: "action_not_supported".into(),
                message: format!("flutterwave does not ask for {}", request.input.as_str()),
            }),
        }
    }
}
