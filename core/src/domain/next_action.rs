//! What a payment in `requires_action` is waiting for the customer to do ([`NextAction`]), and
//! where the customer goes afterwards ([`ReturnUrl`]). Stored with the payment so a read shows the
//! same action the create answered with; cleared when the payment leaves `requires_action`.

use std::fmt;

/// The customer's step before the provider decides: a redirect (the provider, or the sandbox's
/// challenge page, authenticates the customer and sends them back to payrail's return endpoint),
/// or a value the merchant's page asks for and submits with `POST /payments/{id}/confirm`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NextAction {
    /// Send the customer to `url` (a 3-D Secure challenge, a wallet's approval page).
    RedirectToUrl { url: String },
    /// Ask the customer for `input`; `display_text` is the provider's prompt, when it gives one.
    Collect {
        input: ActionInput,
        display_text: Option<String>,
    },
}

impl NextAction {
    /// The wire name, as in Stripe's `next_action.type`.
    pub fn kind(&self) -> &'static str {
        match self {
            NextAction::RedirectToUrl { .. } => "redirect_to_url",
            NextAction::Collect { input, .. } => input.as_str(),
        }
    }
}

/// What a customer may be asked for (Paystack's `send_pin`/`send_otp`/`send_phone`/
/// `send_birthday`, Flutterwave's `pin`/`otp`/`avs_noauth` modes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ActionInput {
    Otp,
    Pin,
    Phone,
    Birthday,
    /// The card's billing address, for an address check (Flutterwave's `avs_noauth`).
    Address,
}

impl ActionInput {
    pub const ALL: [ActionInput; 5] = [
        ActionInput::Otp,
        ActionInput::Pin,
        ActionInput::Phone,
        ActionInput::Birthday,
        ActionInput::Address,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ActionInput::Otp => "otp",
            ActionInput::Pin => "pin",
            ActionInput::Phone => "phone",
            ActionInput::Birthday => "birthday",
            ActionInput::Address => "address",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|input| input.as_str() == name)
    }

    /// The parts the merchant's page must ask for when the input has several.
    pub fn fields(self) -> Option<&'static [&'static str]> {
        match self {
            ActionInput::Address => Some(&BillingAddress::FIELDS),
            _ => None,
        }
    }
}

/// What the customer typed (an OTP, a card PIN, a billing address…): it goes to the provider and
/// nowhere else, so it never prints.
#[derive(Clone, PartialEq, Eq)]
pub enum ActionValue {
    /// One value: an OTP, a PIN, a phone number, a birthday.
    Text(String),
    Address(BillingAddress),
}

impl ActionValue {
    pub fn new(value: String) -> Self {
        Self::Text(value)
    }

    /// The single value, if this is one.
    pub fn text(&self) -> Option<&str> {
        match self {
            ActionValue::Text(value) => Some(value),
            ActionValue::Address(_) => None,
        }
    }

    pub fn address(&self) -> Option<&BillingAddress> {
        match self {
            ActionValue::Address(address) => Some(address),
            ActionValue::Text(_) => None,
        }
    }
}

impl fmt::Debug for ActionValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ActionValue([redacted])")
    }
}

/// A card's billing address as the customer gave it for an address check; personal data, so it
/// never prints either.
#[derive(Clone, PartialEq, Eq)]
pub struct BillingAddress {
    pub address: String,
    pub city: String,
    pub state: String,
    /// ISO 3166-1 alpha-2, upper case.
    pub country: String,
    pub zipcode: String,
}

impl BillingAddress {
    pub const FIELDS: [&'static str; 5] = ["address", "city", "state", "country", "zipcode"];
}

impl fmt::Debug for BillingAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BillingAddress([redacted])")
    }
}

/// Where payrail sends the customer once a customer action is over: `https`, or `http` on a
/// loopback host when the caller allows it (development). No credentials, no fragment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReturnUrl(String);

/// Why a `return_url` was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("return_url {0}")]
pub struct InvalidReturnUrl(pub &'static str);

impl ReturnUrl {
    pub const MAX_LEN: usize = 2048;

    /// Parses `raw`; `allow_loopback_http` lets `http://127.0.0.1…`/`http://localhost…` through.
    pub fn parse(raw: &str, allow_loopback_http: bool) -> Result<Self, InvalidReturnUrl> {
        if raw.len() > Self::MAX_LEN {
            return Err(InvalidReturnUrl("must be at most 2048 characters"));
        }
        if raw.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(InvalidReturnUrl("must not contain spaces or control characters"));
        }
        let (scheme, rest) = raw
            .split_once("://")
            .ok_or(InvalidReturnUrl("must be an absolute https URL"))?;
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        if authority.is_empty() || authority.contains('@') {
            return Err(InvalidReturnUrl("must name a host and carry no credentials"));
        }
        if raw.contains('#') {
            return Err(InvalidReturnUrl("must not carry a fragment"));
        }
        let host = match authority.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or_default(),
            None => authority.split(':').next().unwrap_or_default(),
        };
        match scheme {
            "https" => Ok(Self(raw.to_owned())),
            "http" if allow_loopback_http && matches!(host, "127.0.0.1" | "localhost" | "::1") => {
                Ok(Self(raw.to_owned()))
            }
            "http" => Err(InvalidReturnUrl(
                "must use https (http only on loopback in development)",
            )),
            _ => Err(InvalidReturnUrl("must be an absolute https URL")),
        }
    }

    /// A value read back from storage, already validated when it was stored.
    pub fn trusted(raw: String) -> Self {
        Self(raw)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// This URL with `payment_id` added to its query.
    pub fn with_payment_id(&self, payment_id: &str) -> String {
        let separator = if self.0.contains('?') { '&' } else { '?' };
        format!("{}{separator}payment_id={payment_id}", self.0)
    }
}

impl fmt::Display for ReturnUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_is_accepted_and_http_only_on_loopback_when_allowed() {
        assert!(ReturnUrl::parse("https://shop.example/done?cart=1", false).is_ok());
        assert!(ReturnUrl::parse("http://127.0.0.1:9000/back", true).is_ok());
        assert!(ReturnUrl::parse("http://localhost/back", true).is_ok());
        assert!(ReturnUrl::parse("http://127.0.0.1:9000/back", false).is_err());
        assert!(ReturnUrl::parse("http://shop.example/back", true).is_err());
        assert!(ReturnUrl::parse("javascript:alert(1)", true).is_err());
        assert!(ReturnUrl::parse("https://user:pw@shop.example/", false).is_err());
        assert!(ReturnUrl::parse("https://shop.example/#frag", false).is_err());
        assert!(ReturnUrl::parse("https:///path", false).is_err());
        assert!(ReturnUrl::parse("http://127.0.0.1.evil.example/", true).is_err());
    }

    #[test]
    fn payment_id_joins_an_existing_query() {
        let url = ReturnUrl::parse("https://shop.example/done?cart=1", false).unwrap();
        assert_eq!(
            url.with_payment_id("pay_1"),
            "https://shop.example/done?cart=1&payment_id=pay_1"
        );
        let url = ReturnUrl::parse("https://shop.example/done", false).unwrap();
        assert_eq!(
            url.with_payment_id("pay_1"),
            "https://shop.example/done?payment_id=pay_1"
        );
    }
}
