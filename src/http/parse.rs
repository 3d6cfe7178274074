//! Parse, don't validate: request bodies become domain values here, at the edge, or a 400 naming
//! the parameter. Past this file an invalid amount, currency, card or id cannot exist.

use chrono::Datelike;
use payrail_core::domain::{
    ActionInput, ActionValue, Amount, BillingAddress, CaptureMethod, CardDetails, CardNumber, Currency, Cvc,
    DomainError, EventId, MerchantId, NewPayment, PaymentId, PaymentMethod, PaymentToken, RefundReason, ReturnUrl,
};
use payrail_core::ports::PageRequest;

use crate::events::catalog::ATTEMPT_ID_PREFIX;
use crate::http::wire::{AddressBody, ConfirmBody, CreatePaymentBody};
use crate::http::ApiError;

/// Stripe's metadata limits: 50 keys, keys up to 40 characters, values up to 500.
const METADATA_MAX_KEYS: usize = 50;
const METADATA_KEY_MAX: usize = 40;
const METADATA_VALUE_MAX: usize = 500;
const ORDER_ID_MAX: usize = 255;
const DESCRIPTION_MAX: usize = 1000;

pub fn amount(minor_units: i64, param: &str) -> Result<Amount, ApiError> {
    Amount::new(minor_units).map_err(|e| ApiError::invalid("invalid_amount", e.to_string(), param))
}

pub fn optional_amount(minor_units: Option<i64>) -> Result<Option<Amount>, ApiError> {
    minor_units.map(|a| amount(a, "amount")).transpose()
}

pub fn refund_reason(reason: Option<String>) -> Result<Option<RefundReason>, ApiError> {
    reason
        .map(|r| {
            r.parse().map_err(|_| {
                ApiError::invalid(
                    "invalid_reason",
                    "reason must be one of duplicate, fraudulent, requested_by_customer",
                    "reason",
                )
            })
        })
        .transpose()
}

/// Whether `text` holds something that looks like a card number: 12-19 digits, optionally grouped
/// by single spaces or dashes, that pass Luhn. Free-text fields are stored, so a PAN pasted into
/// one would be stored too; such fields are refused instead.
pub fn contains_pan(text: &str) -> bool {
    let mut run = String::new();
    let check = |run: &mut String| {
        let found = (12..=19).contains(&run.len()) && CardNumber::parse(run).is_ok();
        run.clear();
        found
    };
    let bytes = text.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if b.is_ascii_digit() {
            run.push(char::from(b));
            continue;
        }
        let separator = matches!(b, b' ' | b'-') && !run.is_empty() && bytes.get(i + 1).is_some_and(u8::is_ascii_digit);
        if !separator && check(&mut run) {
            return true;
        }
    }
    check(&mut run)
}

fn no_card_data(text: &str, param: &str) -> Result<(), ApiError> {
    if contains_pan(text) {
        return Err(ApiError::invalid(
            "card_data_in_field",
            format!("`{param}` looks like it contains a card number; card data belongs in payment_method.card"),
            param,
        ));
    }
    Ok(())
}

fn bounded(value: Option<String>, max: usize, param: &str) -> Result<Option<String>, ApiError> {
    if let Some(text) = &value {
        no_card_data(text, param)?;
    }
    match value {
        Some(v) if v.chars().count() > max => Err(ApiError::invalid(
            "parameter_too_long",
            format!("`{param}` may be at most {max} characters"),
            param,
        )),
        other => Ok(other),
    }
}

/// An optional receipt email: at most 254 characters, one `@` with text on both sides, no spaces.
pub fn receipt_email(raw: Option<String>) -> Result<Option<String>, ApiError> {
    let Some(email) = raw else { return Ok(None) };
    let valid = email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && email
            .split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.') && !domain.contains('@'));
    if !valid {
        return Err(ApiError::invalid(
            "invalid_email",
            "receipt_email must be an email address of at most 254 characters",
            "receipt_email",
        ));
    }
    no_card_data(&email, "receipt_email")?;
    Ok(Some(email))
}

/// The whole edge of `POST /payments` for a raw body: the JSON scan and serde (`body.rs`), then
/// the domain's types. The handler reaches the same code through its extractor; this narrow entry
/// exists for the coverage-guided fuzz targets in `fuzz/`.
pub fn create_request(
    merchant: MerchantId,
    body: &[u8],
    providers: &[String],
    default_provider: &str,
) -> Result<(NewPayment, PaymentMethod), ApiError> {
    let body: CreatePaymentBody = crate::http::body::parse_json(body)?;
    new_payment(merchant, body, providers, default_provider)
}

/// An optional `return_url`: https, or http on loopback when `development`.
pub fn return_url(raw: Option<String>, development: bool) -> Result<Option<ReturnUrl>, ApiError> {
    raw.map(|url| {
        no_card_data(&url, "return_url")?;
        ReturnUrl::parse(&url, development)
            .map_err(|e| ApiError::invalid("invalid_return_url", e.to_string(), "return_url"))
    })
    .transpose()
}

/// A confirm body as the one input it gives and its value, checked for the shape providers take:
/// an OTP of 4-10 digits, a 4-digit PIN, a phone number of 7-20 digits (a leading `+` allowed),
/// a birthday as `YYYY-MM-DD`, a billing address of five non-empty parts (country as two letters).
pub fn action_input(body: ConfirmBody) -> Result<(ActionInput, ActionValue), ApiError> {
    let address = body.address.map(billing_address).transpose()?;
    let given: Vec<(ActionInput, ActionValue)> = [
        (ActionInput::Otp, body.otp.map(ActionValue::new)),
        (ActionInput::Pin, body.pin.map(ActionValue::new)),
        (ActionInput::Phone, body.phone.map(ActionValue::new)),
        (ActionInput::Birthday, body.birthday.map(ActionValue::new)),
        (ActionInput::Address, address.map(ActionValue::Address)),
    ]
    .into_iter()
    .filter_map(|(input, value)| value.map(|v| (input, v)))
    .collect();
    let [(input, value)] = <[_; 1]>::try_from(given).map_err(|_| {
        ApiError::invalid(
            "invalid_action_input",
            "give exactly one of otp, pin, phone, birthday, address",
            "otp",
        )
    })?;
    let digits = |text: &str, lengths: std::ops::RangeInclusive<usize>| {
        lengths.contains(&text.len()) && text.bytes().all(|b| b.is_ascii_digit())
    };
    let text = value.text().unwrap_or_default();
    let valid = match input {
        ActionInput::Otp => digits(text, 4..=10),
        ActionInput::Pin => digits(text, 4..=4),
        ActionInput::Phone => digits(text.strip_prefix('+').unwrap_or(text), 7..=20),
        ActionInput::Birthday => chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").is_ok(),
        ActionInput::Address => true,
    };
    if !valid {
        return Err(ApiError::invalid(
            "invalid_action_input",
            format!("`{}` is not in the expected format", input.as_str()),
            input.as_str(),
        ));
    }
    Ok((input, value))
}

/// Each part 1-100 characters (trimmed), the country an ISO 3166-1 alpha-2 code.
fn billing_address(body: AddressBody) -> Result<BillingAddress, ApiError> {
    let part = |value: String, name: &'static str| {
        let value = value.trim().to_owned();
        no_card_data(&value, "address")?;
        if (1..=100).contains(&value.chars().count()) {
            Ok(value)
        } else {
            Err(ApiError::invalid(
                "invalid_action_input",
                format!("`address.{name}` must be 1 to 100 characters"),
                "address",
            ))
        }
    };
    let country = part(body.country, "country")?.to_ascii_uppercase();
    if country.len() != 2 || !country.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Err(ApiError::invalid(
            "invalid_action_input",
            "`address.country` must be a two-letter country code",
            "address",
        ));
    }
    Ok(BillingAddress {
        address: part(body.address, "address")?,
        city: part(body.city, "city")?,
        state: part(body.state, "state")?,
        country,
        zipcode: part(body.zipcode, "zipcode")?,
    })
}

/// A create request as a new payment plus the card or token to authorise (kept only in memory).
pub fn new_payment(
    merchant: MerchantId,
    body: CreatePaymentBody,
    providers: &[String],
    default_provider: &str,
) -> Result<(NewPayment, PaymentMethod), ApiError> {
    let amount = amount(body.amount, "amount")?;
    let currency = Currency::parse(&body.currency).map_err(|_| {
        ApiError::invalid(
            "invalid_currency",
            "unknown or unsupported ISO 4217 currency",
            "currency",
        )
    })?;
    let provider = match body.provider {
        Some(name) if providers.contains(&name) => name,
        Some(_) => {
            return Err(ApiError::invalid(
                "invalid_provider",
                "no such provider is configured",
                "provider",
            ))
        }
        None => default_provider.to_owned(),
    };
    let metadata = body.metadata.unwrap_or_default();
    if metadata.len() > METADATA_MAX_KEYS {
        return Err(ApiError::invalid(
            "invalid_metadata",
            "metadata may have at most 50 keys",
            "metadata",
        ));
    }
    for (key, value) in &metadata {
        if key.is_empty() || key.chars().count() > METADATA_KEY_MAX || value.chars().count() > METADATA_VALUE_MAX {
            return Err(ApiError::invalid(
                "invalid_metadata",
                "metadata keys must be 1-40 characters and values at most 500",
                "metadata",
            ));
        }
        no_card_data(key, "metadata")?;
        no_card_data(value, "metadata")?;
    }
    let method = payment_method(body.payment_method)?;
    let new = NewPayment {
        id: PaymentId::generate(),
        merchant_id: merchant,
        amount,
        currency,
        capture_method: if body.capture.unwrap_or(true) {
            CaptureMethod::Automatic
        } else {
            CaptureMethod::Manual
        },
        provider,
        order_id: bounded(body.order_id, ORDER_ID_MAX, "order_id")?,
        description: bounded(body.description, DESCRIPTION_MAX, "description")?,
        metadata,
        card: method.card().map(CardDetails::summary),
        return_url: None,
    };
    Ok((new, method))
}

fn payment_method(method: crate::http::wire::PaymentMethodBody) -> Result<PaymentMethod, ApiError> {
    let missing = |param: &'static str| {
        ApiError::invalid(
            "parameter_missing",
            format!("missing required parameter `{param}`"),
            param,
        )
    };
    // One way to pay per request: a token beside a card (or a card beside a token) would be
    // ignored, and the client could not tell which one was charged.
    let only_for = |param: &'static str, kind: &str| {
        ApiError::invalid(
            "invalid_payment_method",
            format!("`{param}` is only allowed with payment_method.type {kind}"),
            param,
        )
    };
    match method.kind.as_str() {
        "card" if method.token.is_some() => Err(only_for("payment_method.token", "token")),
        "token" if method.card.is_some() => Err(only_for("payment_method.card", "card")),
        "card" => {
            let card = method.card.ok_or_else(|| missing("payment_method.card"))?;
            let card = card_details(card.number, card.exp_month, card.exp_year, card.cvc)?;
            Ok(PaymentMethod::Card(card))
        }
        "token" => {
            let token = method.token.ok_or_else(|| missing("payment_method.token"))?;
            let token = PaymentToken::parse(&token)
                .map_err(|e| ApiError::invalid("invalid_payment_method", e.to_string(), "payment_method.token"))?;
            Ok(PaymentMethod::Token(token))
        }
        _ => Err(ApiError::invalid(
            "invalid_payment_method",
            "payment_method.type must be card or token",
            "payment_method.type",
        )),
    }
}

fn card_details(number: String, exp_month: i64, exp_year: i64, cvc: String) -> Result<CardDetails, ApiError> {
    let card_error = |error: DomainError| {
        let (code, param) = match error {
            DomainError::InvalidCardNumber => ("invalid_card_number", "number"),
            DomainError::InvalidCvc => ("invalid_cvc", "cvc"),
            DomainError::InvalidExpiryMonth => ("invalid_expiry_month", "exp_month"),
            DomainError::InvalidExpiryYear => ("invalid_expiry_year", "exp_year"),
            _ => ("expired_card", "exp_year"),
        };
        ApiError::invalid(code, error.to_string(), format!("payment_method.card.{param}"))
    };
    let number = CardNumber::parse(&number).map_err(card_error)?;
    let cvc = Cvc::parse(&cvc).map_err(card_error)?;
    let today = chrono::Utc::now();
    CardDetails::new(number, exp_month, exp_year, cvc, (today.year(), today.month())).map_err(card_error)
}

/// `limit` (1–100, default 10) and a `starting_after` cursor parsed by `cursor`, for every list
/// (payments, a payment's events, merchant events, an endpoint's delivery attempts): the same
/// rules and the same 400s (`invalid_limit`, `invalid_cursor`) everywhere.
pub fn page<C>(
    limit: Option<&str>,
    starting_after: Option<&str>,
    cursor: impl Fn(&str) -> Result<C, DomainError>,
) -> Result<PageRequest<C>, ApiError> {
    let limit = match limit {
        None => 10,
        Some(raw) => raw
            .parse::<u32>()
            .ok()
            .filter(|l| (1..=100).contains(l))
            .ok_or_else(|| ApiError::invalid("invalid_limit", "limit must be an integer from 1 to 100", "limit"))?,
    };
    let starting_after = starting_after
        .filter(|raw| !raw.is_empty())
        .map(|raw| {
            cursor(raw).map_err(|_| {
                ApiError::invalid(
                    "invalid_cursor",
                    "starting_after does not name an item of this list",
                    "starting_after",
                )
            })
        })
        .transpose()?;
    Ok(PageRequest { limit, starting_after })
}

pub fn payment_id(raw: &str) -> Result<PaymentId, ApiError> {
    PaymentId::parse(raw).map_err(|_| ApiError::NotFound("payment"))
}

pub fn payment_cursor(raw: &str) -> Result<PaymentId, DomainError> {
    PaymentId::parse(raw)
}

pub fn event_cursor(raw: &str) -> Result<EventId, DomainError> {
    EventId::parse(raw)
}

/// A delivery attempt's id, `wha_<uuid>` (normalised as the dispatcher writes it).
pub fn attempt_cursor(raw: &str) -> Result<String, DomainError> {
    raw.strip_prefix(ATTEMPT_ID_PREFIX)
        .and_then(|uuid| uuid::Uuid::parse_str(uuid).ok())
        .map(|uuid| format!("{ATTEMPT_ID_PREFIX}{}", uuid.hyphenated()))
        .ok_or(DomainError::MalformedId)
}

#[cfg(test)]
mod tests {
    use super::contains_pan;

    #[test]
    fn card_numbers_are_found_in_free_text() {
        assert!(contains_pan("4242424242424242"));
        assert!(contains_pan("card 4242 4242 4242 4242 please"));
        assert!(contains_pan("x5555-5555-5555-4444y"));
        assert!(!contains_pan("4242424242424241"), "not Luhn-valid");
        assert!(!contains_pan("order 12345 on 2026-11-22"));
        assert!(!contains_pan("4242 4242"));
        assert!(!contains_pan(""));
    }
}
