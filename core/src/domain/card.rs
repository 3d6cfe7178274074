//! Card data. The full number and CVC exist only inside [`CardDetails`], in memory, on the way to a
//! provider; nothing here can print, serialise or store them. What payrail keeps is a
//! [`CardSummary`]: brand, last four digits, expiry and a keyed fingerprint.

use std::fmt;

use crate::domain::DomainError;

/// A Luhn-valid primary account number of 12 to 19 digits. `Debug` and `Display` show only the
/// last four digits, and the type deliberately has no `Serialize`.
#[derive(Clone, PartialEq, Eq)]
pub struct CardNumber(String);

impl CardNumber {
    /// Accepts digits, ignoring spaces and dashes a checkout form may leave in.
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let digits: String = raw.chars().filter(|c| *c != ' ' && *c != '-').collect();
        let well_formed = (12..=19).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit());
        if !well_formed || !luhn_valid(&digits) {
            return Err(DomainError::InvalidCardNumber);
        }
        Ok(Self(digits))
    }

    /// The full number, for the provider call only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn last4(&self) -> &str {
        &self.0[self.0.len() - 4..]
    }

    pub fn brand(&self) -> CardBrand {
        CardBrand::detect(&self.0)
    }
}

impl fmt::Debug for CardNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CardNumber(****{})", self.last4())
    }
}

impl fmt::Display for CardNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "****{}", self.last4())
    }
}

fn luhn_valid(digits: &str) -> bool {
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 1 {
                let doubled = d * 2;
                if doubled > 9 {
                    doubled - 9
                } else {
                    doubled
                }
            } else {
                d
            }
        })
        .sum();
    sum % 10 == 0
}

/// Card network, detected from the number's leading digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CardBrand {
    Visa,
    Mastercard,
    Amex,
    Discover,
    Jcb,
    Diners,
    UnionPay,
    Verve,
    Unknown,
}

impl CardBrand {
    fn detect(digits: &str) -> Self {
        let prefix = |n: usize| digits.get(..n).and_then(|p| p.parse::<u32>().ok()).unwrap_or(0);
        match (prefix(1), prefix(2), prefix(3), prefix(4), prefix(6)) {
            (_, _, _, _, p6) if (506_099..=506_198).contains(&p6) || (650_002..=650_027).contains(&p6) => {
                CardBrand::Verve
            }
            (4, ..) => CardBrand::Visa,
            (_, 34 | 37, ..) => CardBrand::Amex,
            (_, 51..=55, ..) => CardBrand::Mastercard,
            (_, _, _, 2221..=2720, _) => CardBrand::Mastercard,
            (_, _, _, 6011, _) | (_, 65, ..) | (_, _, 644..=649, ..) => CardBrand::Discover,
            (_, _, _, 3528..=3589, _) => CardBrand::Jcb,
            (_, 36 | 38 | 39, ..) | (_, _, 300..=305, ..) => CardBrand::Diners,
            (_, 62, ..) => CardBrand::UnionPay,
            _ => CardBrand::Unknown,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            CardBrand::Visa => "visa",
            CardBrand::Mastercard => "mastercard",
            CardBrand::Amex => "amex",
            CardBrand::Discover => "discover",
            CardBrand::Jcb => "jcb",
            CardBrand::Diners => "diners",
            CardBrand::UnionPay => "unionpay",
            CardBrand::Verve => "verve",
            CardBrand::Unknown => "unknown",
        }
    }
}

/// The card verification code: 3 or 4 digits, never shown.
#[derive(Clone, PartialEq, Eq)]
pub struct Cvc(String);

impl Cvc {
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        if (3..=4).contains(&raw.len()) && raw.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(raw.to_owned()))
        } else {
            Err(DomainError::InvalidCvc)
        }
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Cvc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Cvc(***)")
    }
}

/// A card as the customer entered it, checked at the edge: Luhn-valid number, a real month, an
/// expiry that has not passed, a well-formed CVC.
#[derive(Clone, Debug)]
pub struct CardDetails {
    pub number: CardNumber,
    pub exp_month: u8,
    pub exp_year: u16,
    pub cvc: Cvc,
}

impl CardDetails {
    /// `today` is `(year, month)`, passed in so the check is a pure function.
    pub fn new(
        number: CardNumber,
        exp_month: i64,
        exp_year: i64,
        cvc: Cvc,
        today: (i32, u32),
    ) -> Result<Self, DomainError> {
        let exp_month = u8::try_from(exp_month)
            .ok()
            .filter(|m| (1..=12).contains(m))
            .ok_or(DomainError::InvalidExpiryMonth)?;
        let exp_year = u16::try_from(exp_year)
            .ok()
            .filter(|y| (2000..=2100).contains(y))
            .ok_or(DomainError::InvalidExpiryYear)?;
        let (year, month) = today;
        if (i32::from(exp_year), u32::from(exp_month)) < (year, month) {
            return Err(DomainError::ExpiredCard);
        }
        Ok(Self {
            number,
            exp_month,
            exp_year,
            cvc,
        })
    }

    pub fn summary(&self) -> CardSummary {
        CardSummary {
            brand: self.number.brand().as_str().to_owned(),
            last4: self.number.last4().to_owned(),
            exp_month: self.exp_month,
            exp_year: self.exp_year,
            fingerprint: None,
        }
    }
}

/// What payrail stores and shows of a card.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CardSummary {
    pub brand: String,
    pub last4: String,
    pub exp_month: u8,
    pub exp_year: u16,
    /// Keyed hash of the number (HMAC-SHA256, computed at the edge), to recognise a card again.
    pub fingerprint: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luhn_accepts_test_cards_and_rejects_typos() {
        for good in [
            "4242424242424242",
            "4000 0000 0000 0002",
            "5555-5555-5555-4444",
            "378282246310005",
        ] {
            assert!(CardNumber::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "4242424242424241",
            "1234",
            "",
            "abcdabcdabcdabcd",
            "42424242424242424242",
        ] {
            assert!(CardNumber::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn debug_and_display_never_show_the_number() {
        let n = CardNumber::parse("4242424242424242").unwrap();
        assert_eq!(format!("{n:?}"), "CardNumber(****4242)");
        assert_eq!(n.to_string(), "****4242");
        let cvc = Cvc::parse("123").unwrap();
        assert!(!format!("{cvc:?}").contains("123"));
    }

    #[test]
    fn brands_are_detected() {
        let brand = |n: &str| CardNumber::parse(n).unwrap().brand();
        assert_eq!(brand("4242424242424242"), CardBrand::Visa);
        assert_eq!(brand("5555555555554444"), CardBrand::Mastercard);
        assert_eq!(brand("2223003122003222"), CardBrand::Mastercard);
        assert_eq!(brand("378282246310005"), CardBrand::Amex);
        assert_eq!(brand("6011111111111117"), CardBrand::Discover);
        assert_eq!(brand("5061460410120223210"), CardBrand::Verve);
    }

    #[test]
    fn expiry_is_checked_against_today() {
        let card = |m, y| {
            CardDetails::new(
                CardNumber::parse("4242424242424242").unwrap(),
                m,
                y,
                Cvc::parse("123").unwrap(),
                (2026, 11),
            )
        };
        assert!(card(11, 2026).is_ok());
        assert!(matches!(card(10, 2026), Err(DomainError::ExpiredCard)));
        assert!(matches!(card(13, 2030), Err(DomainError::InvalidExpiryMonth)));
        assert!(matches!(card(1, 30), Err(DomainError::InvalidExpiryYear)));
    }
}
