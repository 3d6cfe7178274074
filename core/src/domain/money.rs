//! Money: [`Amount`] in integer minor units and [`Currency`] as an ISO 4217 code with its exponent.
//!
//! Amounts never touch floating point. A currency's exponent says how many minor units make a major
//! one (JPY 0, USD 2, KWD 3); providers that speak major units (PayPal, Flutterwave) convert at their
//! edge with [`Currency::exponent`], nowhere else.

use std::fmt;

use crate::domain::DomainError;

/// A strictly positive amount of money in the currency's minor units (cents, kobo, yen).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Amount(i64);

impl Amount {
    /// The largest amount payrail accepts: twelve digits of minor units. Large enough for any card
    /// payment in any currency, small enough that sums of many refunds can never overflow an `i64`.
    pub const MAX: i64 = 999_999_999_999;

    pub fn new(minor_units: i64) -> Result<Self, DomainError> {
        if minor_units <= 0 {
            return Err(DomainError::InvalidAmount(
                "amount must be a positive integer in minor units",
            ));
        }
        if minor_units > Self::MAX {
            return Err(DomainError::InvalidAmount(
                "amount exceeds the maximum of 999999999999 minor units",
            ));
        }
        Ok(Self(minor_units))
    }

    pub fn minor_units(self) -> i64 {
        self.0
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// An ISO 4217 currency. Accepted in any case, always shown in lowercase (as Stripe does).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Currency {
    code: &'static str,
    exponent: u8,
}

impl Currency {
    /// Parses a three-letter code; unknown codes are rejected rather than guessed.
    pub fn parse(code: &str) -> Result<Self, DomainError> {
        let lower = code.to_ascii_lowercase();
        CURRENCIES
            .iter()
            .find(|(c, _)| *c == lower)
            .map(|&(code, exponent)| Currency { code, exponent })
            .ok_or(DomainError::UnknownCurrency)
    }

    /// Lowercase ISO code, e.g. `usd`.
    pub fn code(self) -> &'static str {
        self.code
    }

    /// Number of decimal places between minor and major units.
    pub fn exponent(self) -> u8 {
        self.exponent
    }

    /// Formats minor units as a decimal string in major units (`1050` USD → `"10.50"`), the form
    /// PayPal and Flutterwave expect. Integer arithmetic only.
    pub fn to_major_string(self, minor_units: i64) -> String {
        if self.exponent == 0 {
            return minor_units.to_string();
        }
        let scale = 10_i64.pow(u32::from(self.exponent));
        let sign = if minor_units < 0 { "-" } else { "" };
        let abs = minor_units.unsigned_abs();
        let scale = scale.unsigned_abs();
        format!(
            "{sign}{}.{:0width$}",
            abs / scale,
            abs % scale,
            width = usize::from(self.exponent)
        )
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code)
    }
}

/// Active ISO 4217 codes with their minor-unit exponents.
#[rustfmt::skip]
const CURRENCIES: &[(&str, u8)] = &[
    ("aed", 2), ("afn", 2), ("all", 2), ("amd", 2), ("ang", 2), ("aoa", 2), ("ars", 2), ("aud", 2),
    ("awg", 2), ("azn", 2), ("bam", 2), ("bbd", 2), ("bdt", 2), ("bgn", 2), ("bhd", 3), ("bif", 0),
    ("bmd", 2), ("bnd", 2), ("bob", 2), ("brl", 2), ("bsd", 2), ("btn", 2), ("bwp", 2), ("byn", 2),
    ("bzd", 2), ("cad", 2), ("cdf", 2), ("chf", 2), ("clp", 0), ("cny", 2), ("cop", 2), ("crc", 2),
    ("cup", 2), ("cve", 2), ("czk", 2), ("djf", 0), ("dkk", 2), ("dop", 2), ("dzd", 2), ("egp", 2),
    ("ern", 2), ("etb", 2), ("eur", 2), ("fjd", 2), ("fkp", 2), ("gbp", 2), ("gel", 2), ("ghs", 2),
    ("gip", 2), ("gmd", 2), ("gnf", 0), ("gtq", 2), ("gyd", 2), ("hkd", 2), ("hnl", 2), ("htg", 2),
    ("huf", 2), ("idr", 2), ("ils", 2), ("inr", 2), ("iqd", 3), ("irr", 2), ("isk", 0), ("jmd", 2),
    ("jod", 3), ("jpy", 0), ("kes", 2), ("kgs", 2), ("khr", 2), ("kmf", 0), ("kpw", 2), ("krw", 0),
    ("kwd", 3), ("kyd", 2), ("kzt", 2), ("lak", 2), ("lbp", 2), ("lkr", 2), ("lrd", 2), ("lsl", 2),
    ("lyd", 3), ("mad", 2), ("mdl", 2), ("mga", 2), ("mkd", 2), ("mmk", 2), ("mnt", 2), ("mop", 2),
    ("mru", 2), ("mur", 2), ("mvr", 2), ("mwk", 2), ("mxn", 2), ("myr", 2), ("mzn", 2), ("nad", 2),
    ("ngn", 2), ("nio", 2), ("nok", 2), ("npr", 2), ("nzd", 2), ("omr", 3), ("pab", 2), ("pen", 2),
    ("pgk", 2), ("php", 2), ("pkr", 2), ("pln", 2), ("pyg", 0), ("qar", 2), ("ron", 2), ("rsd", 2),
    ("rub", 2), ("rwf", 0), ("sar", 2), ("sbd", 2), ("scr", 2), ("sdg", 2), ("sek", 2), ("sgd", 2),
    ("shp", 2), ("sle", 2), ("sos", 2), ("srd", 2), ("ssp", 2), ("stn", 2), ("svc", 2), ("syp", 2),
    ("szl", 2), ("thb", 2), ("tjs", 2), ("tmt", 2), ("tnd", 3), ("top", 2), ("try", 2), ("ttd", 2),
    ("twd", 2), ("tzs", 2), ("uah", 2), ("ugx", 0), ("usd", 2), ("uyu", 2), ("uzs", 2), ("ves", 2),
    ("vnd", 0), ("vuv", 0), ("wst", 2), ("xaf", 0), ("xcd", 2), ("xof", 0), ("xpf", 0), ("yer", 2),
    ("zar", 2), ("zmw", 2), ("zwl", 2),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amount_must_be_positive_and_bounded() {
        assert!(Amount::new(0).is_err());
        assert!(Amount::new(-5).is_err());
        assert!(Amount::new(Amount::MAX + 1).is_err());
        assert_eq!(Amount::new(1).unwrap().minor_units(), 1);
        assert_eq!(Amount::new(Amount::MAX).unwrap().minor_units(), Amount::MAX);
    }

    #[test]
    fn currency_is_case_insensitive_and_lowercased() {
        let usd = Currency::parse("USD").unwrap();
        assert_eq!(usd.code(), "usd");
        assert_eq!(usd.exponent(), 2);
        assert_eq!(Currency::parse("jPy").unwrap().exponent(), 0);
        assert_eq!(Currency::parse("kwd").unwrap().exponent(), 3);
        assert!(Currency::parse("xyz").is_err());
        assert!(Currency::parse("").is_err());
        assert!(Currency::parse("usdd").is_err());
    }

    #[test]
    fn major_string_uses_the_exponent() {
        assert_eq!(Currency::parse("usd").unwrap().to_major_string(1050), "10.50");
        assert_eq!(Currency::parse("usd").unwrap().to_major_string(5), "0.05");
        assert_eq!(Currency::parse("jpy").unwrap().to_major_string(1050), "1050");
        assert_eq!(Currency::parse("kwd").unwrap().to_major_string(1), "0.001");
    }
}
