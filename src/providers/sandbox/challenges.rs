//! The sandbox's 3-D Secure challenges: what a real issuer's challenge page would hold, in memory
//! (development only; a challenge lost to a restart is left to the reconciler, which cancels the
//! payment after `REQUIRES_ACTION_TTL_SECS`).
//!
//! `open` records a challenge when the sandbox answers `requires_action` and names its page
//! (`/sandbox/3ds/{payment_id}`, served by `http/sandbox_challenge.rs`). The page's forms carry a
//! token — HMAC-SHA256 under a per-process key over the payment id and a nonce — so only a page
//! payrail served can decide the challenge (CSRF), and deciding spends the nonce (single use).
//! `retrieve` then reads the decision, the way payrail asks a real provider on the customer's return.

use std::collections::HashMap;
use std::sync::Mutex;

use hmac::{Hmac, Mac};
use payrail_core::domain::{AuthorizationOutcome, PaymentId};
use rand::RngCore;
use sha2::Sha256;

/// Why a challenge could not be decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ChallengeError {
    #[error("no open challenge for this payment")]
    NotOpen,
    #[error("the form's token is not valid for this challenge")]
    BadToken,
}

struct Challenge {
    provider_reference: String,
    capture: bool,
    nonce: String,
    /// `Some(true)` authenticated, `Some(false)` failed; decided once.
    decision: Option<bool>,
}

pub struct Challenges {
    public_url: String,
    key: [u8; 32],
    open: Mutex<HashMap<PaymentId, Challenge>>,
}

impl Challenges {
    /// Challenges whose pages live under `public_url` (payrail's own address as clients reach it).
    pub fn new(public_url: &str) -> Self {
        let mut key = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut key);
        Self {
            public_url: public_url.trim_end_matches('/').to_owned(),
            key,
            open: Mutex::new(HashMap::new()),
        }
    }

    /// Records a challenge for `payment` and answers the URL of its page.
    pub fn open(&self, payment: &PaymentId, provider_reference: &str, capture: bool) -> String {
        let challenge = Challenge {
            provider_reference: provider_reference.to_owned(),
            capture,
            nonce: nonce(),
            decision: None,
        };
        self.lock().insert(payment.clone(), challenge);
        format!("{}/sandbox/3ds/{payment}", self.public_url)
    }

    /// The token the page's forms carry, while the challenge is undecided.
    pub fn token(&self, payment: &PaymentId) -> Option<String> {
        let open = self.lock();
        let challenge = open.get(payment).filter(|c| c.decision.is_none())?;
        Some(self.sign(payment, &challenge.nonce))
    }

    /// Decides the challenge with the token from its page; the token is spent either way.
    pub fn decide(&self, payment: &PaymentId, token: &str, authenticated: bool) -> Result<(), ChallengeError> {
        let mut open = self.lock();
        let challenge = open
            .get_mut(payment)
            .filter(|c| c.decision.is_none())
            .ok_or(ChallengeError::NotOpen)?;
        let mac = self.mac(payment, &challenge.nonce);
        let given = hex::decode(token).map_err(|_| ChallengeError::BadToken)?;
        // Constant-time comparison: the token is a MAC.
        mac.verify_slice(&given).map_err(|_| ChallengeError::BadToken)?;
        challenge.decision = Some(authenticated);
        challenge.nonce = nonce();
        Ok(())
    }

    /// What the "issuer" decided, as a provider answers a retrieve.
    pub fn outcome(&self, payment: &PaymentId) -> Option<AuthorizationOutcome> {
        let open = self.lock();
        let challenge = open.get(payment)?;
        let provider_reference = challenge.provider_reference.clone();
        Some(match challenge.decision {
            None => AuthorizationOutcome::RequiresAction {
                provider_reference,
                next_action: None,
            },
            Some(true) if challenge.capture => AuthorizationOutcome::Captured { provider_reference },
            Some(true) => AuthorizationOutcome::Authorized { provider_reference },
            Some(false) => AuthorizationOutcome::Declined {
                provider_reference: Some(provider_reference),
                code: "authentication_failed".into(),
                message: "The customer failed 3-D Secure authentication.".into(),
            },
        })
    }

    /// The payment was canceled: its challenge can no longer be decided.
    pub fn close(&self, payment: &PaymentId) {
        self.lock().remove(payment);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<PaymentId, Challenge>> {
        // A panic while holding this lock cannot leave a half-written entry: recover the map.
        self.open.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn mac(&self, payment: &PaymentId, nonce: &str) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(payment.as_str().as_bytes());
        mac.update(b":");
        mac.update(nonce.as_bytes());
        mac
    }

    fn sign(&self, payment: &PaymentId, nonce: &str) -> String {
        hex::encode(self.mac(payment, nonce).finalize().into_bytes())
    }
}

fn nonce() -> String {
    let mut bytes = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_challenge_is_decided_once_with_its_own_token() {
        let challenges = Challenges::new("http://127.0.0.1:1/");
        let payment = PaymentId::generate();
        let url = challenges.open(&payment, "sb_pi_1", true);
        assert_eq!(url, format!("http://127.0.0.1:1/sandbox/3ds/{payment}"));
        let token = challenges.token(&payment).unwrap();
        let other = PaymentId::generate();
        challenges.open(&other, "sb_pi_2", true);
        let other_token = challenges.token(&other).unwrap();
        assert_eq!(
            challenges.decide(&payment, &other_token, true),
            Err(ChallengeError::BadToken)
        );
        assert_eq!(challenges.decide(&payment, "zz", true), Err(ChallengeError::BadToken));
        assert!(matches!(
            challenges.outcome(&payment),
            Some(AuthorizationOutcome::RequiresAction { .. })
        ));
        challenges.decide(&payment, &token, true).unwrap();
        assert_eq!(challenges.decide(&payment, &token, false), Err(ChallengeError::NotOpen));
        assert!(challenges.token(&payment).is_none());
        assert!(matches!(
            challenges.outcome(&payment),
            Some(AuthorizationOutcome::Captured { .. })
        ));
        challenges.decide(&other, &other_token, false).unwrap();
        assert!(matches!(
            challenges.outcome(&other),
            Some(AuthorizationOutcome::Declined { .. })
        ));
    }
}
