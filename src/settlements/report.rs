//! A settlement report, as plain values: the money events of one UTC day grouped per provider ×
//! currency × merchant into figures (captured, refunded, counts, fees, net) and lines, plus a
//! digest of the lines that tells a re-run with the same events (same report) from one after late
//! events (a new revision). No I/O here: the store reads the events (`store/settlements.rs`) and
//! `job.rs` decides what to write.
//!
//! Money is what the events say moved: a `payment.succeeded` (authorised and captured at once) or
//! `payment.captured` event's amount is captured, a `payment.refunded` event's amount is refunded,
//! and a refund that later failed or was canceled gives its amount back on the day of the
//! `refund.updated` event that ended it (a reversal line; `refunded` is net of reversals, its count
//! is of refunds made). Fees: no provider adapter reports them yet, so `fees` is `None` and
//! net = captured − refunded.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

/// What a line records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum LineKind {
    Capture,
    Refund,
    /// A refund that failed or was canceled after it was counted: its money stayed with the merchant.
    RefundReversal,
}

impl LineKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LineKind::Capture => "capture",
            LineKind::Refund => "refund",
            LineKind::RefundReversal => "refund_reversal",
        }
    }
}

/// One committed event that moved money, with the (immutable) facts of its payment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MoneyEvent {
    pub event_id: String,
    pub payment_id: String,
    pub refund_id: Option<String>,
    pub merchant_id: String,
    pub provider: String,
    pub currency: String,
    pub kind: LineKind,
    /// Minor units, always positive: the kind says which way it went.
    pub amount: i64,
    /// The payment's reference at its provider, or the refund's for a refund line.
    pub provider_reference: Option<String>,
    pub occurred_at_micros: i64,
}

/// Whose money a report counts.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ReportKey {
    pub provider: String,
    pub currency: String,
    pub merchant_id: String,
}

/// A report's totals, in minor units of its currency.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Figures {
    pub captured_amount: i64,
    pub captured_count: i64,
    pub refunded_amount: i64,
    pub refunded_count: i64,
    /// `None`: the provider reports no fees to payrail.
    pub fees: Option<i64>,
    pub net_amount: i64,
}

/// One provider × currency × merchant's day.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    pub key: ReportKey,
    pub figures: Figures,
    /// Oldest first; ties broken by event id so the order (and the digest) is stable.
    pub lines: Vec<MoneyEvent>,
    /// Hex SHA-256 over the lines' event ids, kinds and amounts.
    pub digest: String,
}

/// Groups a day's money events into reports, ordered by provider, currency, merchant.
pub fn build(events: Vec<MoneyEvent>) -> Vec<Report> {
    let mut groups: BTreeMap<ReportKey, Vec<MoneyEvent>> = BTreeMap::new();
    for event in events {
        let key = ReportKey {
            provider: event.provider.clone(),
            currency: event.currency.clone(),
            merchant_id: event.merchant_id.clone(),
        };
        groups.entry(key).or_default().push(event);
    }
    groups
        .into_iter()
        .map(|(key, mut lines)| {
            lines.sort_by(|a, b| (a.occurred_at_micros, &a.event_id).cmp(&(b.occurred_at_micros, &b.event_id)));
            Report {
                figures: figures(&lines),
                digest: digest(&lines),
                key,
                lines,
            }
        })
        .collect()
}

fn figures(lines: &[MoneyEvent]) -> Figures {
    let mut figures = Figures::default();
    for line in lines {
        match line.kind {
            LineKind::Capture => {
                figures.captured_amount += line.amount;
                figures.captured_count += 1;
            }
            LineKind::Refund => {
                figures.refunded_amount += line.amount;
                figures.refunded_count += 1;
            }
            LineKind::RefundReversal => figures.refunded_amount -= line.amount,
        }
    }
    figures.net_amount = figures.captured_amount - figures.refunded_amount - figures.fees.unwrap_or(0);
    figures
}

fn digest(lines: &[MoneyEvent]) -> String {
    let mut hasher = Sha256::new();
    for line in lines {
        hasher.update(format!("{}|{}|{}\n", line.event_id, line.kind.as_str(), line.amount));
    }
    hex::encode(hasher.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: &str, merchant: &str, provider: &str, kind: LineKind, amount: i64, at: i64) -> MoneyEvent {
        MoneyEvent {
            event_id: id.into(),
            payment_id: format!("pay_{id}"),
            refund_id: None,
            merchant_id: merchant.into(),
            provider: provider.into(),
            currency: "usd".into(),
            kind,
            amount,
            provider_reference: None,
            occurred_at_micros: at,
        }
    }

    #[test]
    fn events_are_grouped_per_provider_currency_and_merchant_with_net_figures() {
        let reports = build(vec![
            event("e1", "m1", "sandbox", LineKind::Capture, 1_000, 3),
            event("e2", "m1", "sandbox", LineKind::Refund, 300, 4),
            event("e3", "m1", "stripe", LineKind::Capture, 700, 1),
            event("e4", "m2", "sandbox", LineKind::Capture, 50, 2),
            event("e5", "m1", "sandbox", LineKind::Capture, 2_000, 1),
        ]);
        let keys: Vec<(&str, &str)> = reports
            .iter()
            .map(|r| (r.key.provider.as_str(), r.key.merchant_id.as_str()))
            .collect();
        assert_eq!(keys, [("sandbox", "m1"), ("sandbox", "m2"), ("stripe", "m1")]);
        let first = &reports[0];
        assert_eq!(
            first.figures,
            Figures {
                captured_amount: 3_000,
                captured_count: 2,
                refunded_amount: 300,
                refunded_count: 1,
                fees: None,
                net_amount: 2_700,
            }
        );
        let order: Vec<&str> = first.lines.iter().map(|l| l.event_id.as_str()).collect();
        assert_eq!(order, ["e5", "e1", "e2"], "oldest first");
    }

    #[test]
    fn a_reversed_refund_gives_its_amount_back() {
        let reports = build(vec![
            event("e1", "m", "sandbox", LineKind::Capture, 5_000, 1),
            event("e2", "m", "sandbox", LineKind::Refund, 2_000, 2),
            event("e3", "m", "sandbox", LineKind::RefundReversal, 2_000, 3),
        ]);
        let figures = reports[0].figures;
        assert_eq!(
            (figures.refunded_amount, figures.refunded_count, figures.net_amount),
            (0, 1, 5_000)
        );
    }

    #[test]
    fn the_digest_depends_on_the_lines_not_on_their_arrival_order() {
        let a = event("e1", "m", "sandbox", LineKind::Capture, 10, 1);
        let b = event("e2", "m", "sandbox", LineKind::Refund, 5, 2);
        let once = build(vec![a.clone(), b.clone()]);
        let again = build(vec![b.clone(), a.clone()]);
        assert_eq!(once[0].digest, again[0].digest);
        let late = build(vec![a, b, event("e3", "m", "sandbox", LineKind::Refund, 1, 3)]);
        assert_ne!(once[0].digest, late[0].digest);
    }
}
