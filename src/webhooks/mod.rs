//! Webhooks in (DESIGN §7): verify the provider's signature on the raw bytes, then parse, dedupe
//! by (provider, event id), and hand the update to the payment's actor.
//!
//! Verification happens before any parsing so an unsigned body is never interpreted. A refused
//! signature changes nothing; it is logged at warn as `webhook signature rejected`, and the HTTP
//! layer (`http/webhooks.rs`) records it in the audit log. A redelivered event is acknowledged and
//! changes nothing. An event for a payment payrail does not know is stored and acknowledged.

use actix_web::http::header::HeaderMap;
use payrail_core::actors::PaymentSupervisor;
use payrail_core::operation::{Operation, PaymentError};

use crate::config::Settings;
pub use crate::providers::webhook::{ParsedEvent, SignatureError};
use crate::providers::{flutterwave, paypal, paystack, stripe};
use crate::secret::Secret;
use crate::store::{Database, InboundEvent};

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// No such provider, or it has no webhook secret configured.
    #[error("webhooks from `{0}` are not configured")]
    NotConfigured(String),
    #[error("invalid webhook signature: {0}")]
    Signature(#[from] SignatureError),
    #[error("the webhook body is not a valid event")]
    Malformed,
    /// The provider's verification service could not be reached; the provider will redeliver.
    #[error("the webhook could not be verified right now")]
    VerifierUnavailable,
    #[error(transparent)]
    Store(#[from] payrail_core::ports::StoreError),
    #[error(transparent)]
    Payment(#[from] PaymentError),
}

/// What became of an accepted delivery: applied (or stored for later), or a redelivery of an
/// event already recorded. (Not to be confused with a payment's receipt email.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    Processed,
    Duplicate,
}

/// PayPal deliveries are checked by PayPal's API or offline against the signing certificate.
enum PaypalVerifier {
    Api(std::sync::Arc<paypal::Paypal>),
    Offline(paypal::offline::CertVerifier),
}

/// The webhook secrets, by provider.
pub struct Webhooks {
    stripe: Option<Secret>,
    paystack: Option<Secret>,
    flutterwave: Option<Secret>,
    /// How PayPal deliveries are verified, and the webhook id they must be for.
    paypal: Option<(PaypalVerifier, String)>,
    tolerance_secs: i64,
    database: Database,
    supervisor: PaymentSupervisor,
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Result<&'a str, SignatureError> {
    headers
        .get(name)
        .ok_or(SignatureError::Missing)?
        .to_str()
        .map_err(|_| SignatureError::Malformed)
}

impl Webhooks {
    /// `paypal` is the adapter payments use (its token cache serves the verify API too).
    pub fn new(
        settings: &Settings,
        paypal: Option<std::sync::Arc<paypal::Paypal>>,
        database: Database,
        supervisor: PaymentSupervisor,
    ) -> Self {
        let client = crate::providers::http::client(settings.providers.timeout());
        let paypal_settings = &settings.providers.paypal;
        let verifier = match paypal_settings.webhook_verification.as_str() {
            "offline" => Some(PaypalVerifier::Offline(paypal::offline::CertVerifier::new(
                client,
                paypal_settings.cert_hosts(),
            ))),
            _ => paypal.map(PaypalVerifier::Api),
        };
        let paypal = verifier.zip(paypal_settings.webhook_id.clone());
        let settings = &settings.providers;
        Self {
            paypal,
            stripe: settings.stripe.webhook_secret.clone(),
            // Paystack signs with the secret API key itself.
            paystack: settings.paystack.secret_key.clone(),
            flutterwave: settings.flutterwave.secret_hash.clone(),
            tolerance_secs: i64::try_from(settings.webhook_tolerance_secs).unwrap_or(i64::MAX),
            database,
            supervisor,
        }
    }

    /// Verifies the signature on the raw body, then parses the event.
    pub async fn verify(&self, provider: &str, headers: &HeaderMap, body: &[u8]) -> Result<ParsedEvent, WebhookError> {
        let now = chrono::Utc::now().timestamp();
        let not_configured = || WebhookError::NotConfigured(provider.to_owned());
        match provider {
            stripe::Stripe::NAME => {
                let secret = self.stripe.as_ref().ok_or_else(not_configured)?;
                let signature = header(headers, stripe::webhook::SIGNATURE_HEADER)?;
                stripe::webhook::verify(signature, body, secret.expose(), self.tolerance_secs, now)?;
                stripe::webhook::parse(body).map_err(|_| WebhookError::Malformed)
            }
            paystack::Paystack::NAME => {
                let secret = self.paystack.as_ref().ok_or_else(not_configured)?;
                paystack::webhook::verify(
                    header(headers, paystack::webhook::SIGNATURE_HEADER)?,
                    body,
                    secret.expose(),
                )?;
                paystack::webhook::parse(body).map_err(|_| WebhookError::Malformed)
            }
            flutterwave::Flutterwave::NAME => {
                let secret = self.flutterwave.as_ref().ok_or_else(not_configured)?;
                let optional = |name: &str| header(headers, name).ok();
                let (signature, hash) = (
                    optional(flutterwave::webhook::SIGNATURE_HEADER),
                    optional(flutterwave::webhook::HASH_HEADER),
                );
                flutterwave::webhook::verify(signature, hash, body, secret.expose())?;
                flutterwave::webhook::parse(body).map_err(|_| WebhookError::Malformed)
            }
            paypal::Paypal::NAME => {
                let (verifier, webhook_id) = self.paypal.as_ref().ok_or_else(not_configured)?;
                let verified = match verifier {
                    PaypalVerifier::Api(client) => paypal::webhook::verify(client, webhook_id, headers, body).await,
                    PaypalVerifier::Offline(certs) => certs.verify(webhook_id, headers, body).await,
                };
                match verified {
                    Ok(()) => paypal::webhook::parse(body).map_err(|_| WebhookError::Malformed),
                    Err(paypal::webhook::VerifyError::Signature(reason)) => Err(reason.into()),
                    Err(paypal::webhook::VerifyError::Unavailable) => Err(WebhookError::VerifierUnavailable),
                }
            }
            _ => Err(not_configured()),
        }
    }

    /// Verifies, dedupes and applies one delivery.
    pub async fn receive(&self, provider: &str, headers: &HeaderMap, body: &[u8]) -> Result<Delivery, WebhookError> {
        let event = match self.verify(provider, headers, body).await {
            Ok(event) => event,
            Err(WebhookError::Signature(reason)) => {
                tracing::warn!(provider, %reason, "webhook signature rejected");
                return Err(WebhookError::Signature(reason));
            }
            Err(other) => return Err(other),
        };
        // The API's text rule (`http::text::forbidden_char`) for the event's stored names:
        // PostgreSQL refuses a NUL, and a newline would forge the log lines below.
        if [&event.id, &event.kind]
            .iter()
            .any(|text| text.chars().any(|c| c.is_ascii_control()))
        {
            return Err(WebhookError::Malformed);
        }
        let payload = String::from_utf8_lossy(body);
        let fresh = self
            .database
            .record_webhook(&InboundEvent {
                provider,
                event_id: &event.id,
                event_type: &event.kind,
                payment_id: event.payment_id.as_ref().map(|id| id.as_str()),
                payload: &payload,
                received_at_micros: chrono::Utc::now().timestamp_micros(),
            })
            .await?;
        if !fresh {
            tracing::info!(provider, event_id = %event.id, "duplicate webhook ignored");
            return Ok(Delivery::Duplicate);
        }
        let (Some(payment_id), Some(update)) = (event.payment_id, event.update) else {
            tracing::info!(provider, event_id = %event.id, kind = %event.kind, "webhook stored; nothing to apply");
            return Ok(Delivery::Processed);
        };
        let operation = Operation::ProviderUpdate {
            provider: provider.to_owned(),
            update,
        };
        match self.supervisor.execute(&payment_id, operation).await {
            Ok(_) => Ok(Delivery::Processed),
            Err(PaymentError::NotFound) => {
                tracing::info!(provider, event_id = %event.id, "webhook for an unknown payment stored");
                Ok(Delivery::Processed)
            }
            Err(error) => {
                // Not applied: forget it so the provider's redelivery is applied instead.
                self.database.forget_webhook(provider, &event.id).await?;
                Err(error.into())
            }
        }
    }
}
