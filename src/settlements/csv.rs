//! A settlement report's lines as CSV per RFC 4180: a header row, CRLF line ends, and a field
//! quoted (its quotes doubled) when it holds a comma, a quote, CR or LF. Amounts are integer minor
//! units, as everywhere in payrail.

use crate::store::settlements::{SettlementLineRecord, SettlementRecord};

const HEADER: [&str; 11] = [
    "settlement_id",
    "line",
    "type",
    "payment_id",
    "refund_id",
    "event_id",
    "amount",
    "currency",
    "provider",
    "provider_reference",
    "occurred_at",
];

/// The whole document for `settlement`'s `lines`.
pub fn render(settlement: &SettlementRecord, lines: &[SettlementLineRecord]) -> String {
    let mut out = String::new();
    push_row(&mut out, HEADER.iter().map(|h| (*h).to_owned()));
    for line in lines {
        let occurred_at = chrono::DateTime::from_timestamp_micros(line.occurred_at)
            .map(|at| at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
            .unwrap_or_default();
        push_row(
            &mut out,
            [
                settlement.id.clone(),
                line.line_no.to_string(),
                line.kind.clone(),
                line.payment_id.clone(),
                line.refund_id.clone().unwrap_or_default(),
                line.event_id.clone(),
                line.amount.to_string(),
                line.currency.clone(),
                settlement.provider.clone(),
                line.provider_reference.clone().unwrap_or_default(),
                occurred_at,
            ],
        );
    }
    out
}

fn push_row(out: &mut String, fields: impl IntoIterator<Item = String>) {
    let fields: Vec<String> = fields.into_iter().map(|f| field(&f)).collect();
    out.push_str(&fields.join(","));
    out.push_str("\r\n");
}

/// One field, quoted only when RFC 4180 requires it.
pub fn field(value: &str) -> String {
    if value.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::field;

    #[test]
    fn fields_are_quoted_only_when_needed_and_quotes_doubled() {
        assert_eq!(field("pi_123"), "pi_123");
        assert_eq!(field(""), "");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(field("line\r\nbreak"), "\"line\r\nbreak\"");
    }
}
