//! Card details held in this process's memory while a Flutterwave card charge waits for the
//! customer's PIN or billing address.
//!
//! Flutterwave's v3 flow resends the *whole* card payload with the PIN (`authorization.mode:
//! "pin"`) or the address (`"avs_noauth"`), so the card is needed again after the first call.
//! payrail keeps it here and nowhere else: never in the database, not even sealed. Storing a PAN
//! (encrypted or not) would bring the database, its backups and its key management into PCI DSS
//! scope, and the CVC may not be stored at all once authorisation has started; a few minutes of
//! memory is the smallest footprint that still lets the flow finish.
//!
//! The price is honest and bounded: a card is held for [`HOLD_FOR`] at most and dropped as soon
//! as the resend is answered; a restart, or a `/confirm` that reaches another payrail node, finds
//! nothing, and the payment fails cleanly (`card_details_unavailable`: nothing was charged, since
//! Flutterwave had not yet authorised anything) so the customer pays again. Behind a load balancer,
//! route a payment's `/confirm` to the node that created it (by payment id) to avoid that.
//! (The held copy is not zeroed when dropped: `CardDetails` keeps plain strings, as everywhere on
//! the way to a provider.)

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use payrail_core::domain::PaymentId;
use payrail_core::ports::AuthorizeRequest;

/// A customer typing a PIN or an address takes a minute or two; nothing longer is worth holding
/// a card number for.
pub const HOLD_FOR: Duration = Duration::from_secs(15 * 60);

#[derive(Default)]
pub struct HeldCards {
    cards: Mutex<HashMap<PaymentId, (AuthorizeRequest, Instant)>>,
}

impl HeldCards {
    /// Holds the charge request (with its card) until [`HOLD_FOR`] from now.
    pub fn hold(&self, request: &AuthorizeRequest) {
        let mut cards = self.lock();
        let now = Instant::now();
        cards.retain(|_, (_, until)| *until > now);
        cards.insert(request.payment_id.clone(), (request.clone(), now + HOLD_FOR));
    }

    /// The held request for a payment, if it is still held (kept until [`forget`](Self::forget),
    /// so a retried resend finds it too).
    pub fn get(&self, payment: &PaymentId) -> Option<AuthorizeRequest> {
        let now = Instant::now();
        self.lock()
            .get(payment)
            .filter(|(_, until)| *until > now)
            .map(|(request, _)| request.clone())
    }

    pub fn forget(&self, payment: &PaymentId) {
        self.lock().remove(payment);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<PaymentId, (AuthorizeRequest, Instant)>> {
        // A panic elsewhere while holding the lock leaves a map that is still consistent.
        self.cards.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
