//! The matching's rules (`report.rs`), one test per rule: each disagreement is one mismatch,
//! reversals and failures, and provider records that name payrail's payment.

use super::*;

fn ours(record_type: RecordType, reference: &str, merchant: &str, amount: i64) -> PayrailRecord {
    PayrailRecord {
        record_type,
        reference: reference.into(),
        payment_id: format!("pay_{reference}"),
        refund_id: None,
        merchant_id: merchant.into(),
        amount,
        currency: "usd".into(),
        status: RecordStatus::Succeeded,
    }
}

fn theirs(record_type: RecordType, reference: &str, amount: i64) -> ProviderRecord {
    ProviderRecord {
        record_type,
        reference: reference.into(),
        payment_id: None,
        amount,
        currency: "usd".into(),
        status: RecordStatus::Succeeded,
    }
}

fn kinds(group: &MerchantReconciliation) -> Vec<(MismatchKind, &str)> {
    group
        .mismatches
        .iter()
        .map(|m| (m.kind, m.reference.as_str()))
        .collect()
}

#[test]
fn every_disagreement_is_one_mismatch_and_agreement_is_none() {
    let payrail = vec![
        ours(RecordType::Payment, "a", "m1", 1_000),
        ours(RecordType::Refund, "ra", "m1", 300),
        ours(RecordType::Payment, "b", "m1", 2_000),
        ours(RecordType::Payment, "c", "m1", 500),
        ours(RecordType::Payment, "d", "m2", 700),
    ];
    let mut failed = theirs(RecordType::Payment, "d", 700);
    failed.status = RecordStatus::Failed;
    let mut named = theirs(RecordType::Payment, "e", 90);
    named.payment_id = Some("pay_e".into());
    let provider = vec![
        theirs(RecordType::Payment, "a", 1_000),
        theirs(RecordType::Refund, "ra", 300),
        theirs(RecordType::Payment, "b", 1_999),
        failed,
        named,
        theirs(RecordType::Payment, "x", 42),
    ];
    let owners = HashMap::from([("pay_e".to_owned(), "m2".to_owned())]);
    let groups = reconcile(payrail, provider, &owners);
    let merchants: Vec<Option<&str>> = groups.iter().map(|g| g.merchant_id.as_deref()).collect();
    assert_eq!(merchants, [Some("m1"), Some("m2"), None]);
    assert_eq!(
        kinds(&groups[0]),
        [
            (MismatchKind::AmountDiffers, "b"),
            (MismatchKind::MissingAtProvider, "c")
        ]
    );
    assert_eq!(
        (
            groups[0].payrail_count,
            groups[0].provider_count,
            groups[0].matched_count
        ),
        (4, 3, 2)
    );
    assert_eq!(
        kinds(&groups[1]),
        [
            (MismatchKind::StatusDiffers, "d"),
            (MismatchKind::MissingAtPayrail, "e")
        ]
    );
    assert_eq!(kinds(&groups[2]), [(MismatchKind::MissingAtPayrail, "x")]);
}

#[test]
fn a_reversed_refund_is_a_failed_refund_of_its_amount() {
    let refund = MoneyEvent {
        event_id: "e1".into(),
        payment_id: "p".into(),
        refund_id: Some("r".into()),
        merchant_id: "m".into(),
        provider: "sandbox".into(),
        currency: "usd".into(),
        kind: LineKind::Refund,
        amount: 400,
        provider_reference: Some("re_1".into()),
        occurred_at_micros: 1,
    };
    let reversal = MoneyEvent {
        event_id: "e2".into(),
        kind: LineKind::RefundReversal,
        occurred_at_micros: 2,
        ..refund.clone()
    };
    let mut failed = theirs(RecordType::Refund, "re_1", 400);
    failed.status = RecordStatus::Failed;
    let groups = reconcile(
        payrail_records(&[refund, reversal], &[], true),
        vec![failed],
        &HashMap::new(),
    );
    assert_eq!(groups[0].mismatches, []);
    assert_eq!(groups[0].matched_count, 1);
}

#[test]
fn a_provider_record_naming_the_payment_matches_it_whatever_its_own_id() {
    // PayPal lists the capture (its id), payrail refers to the order.
    let mut capture = theirs(RecordType::Payment, "CAPTURE-1", 1_000);
    capture.payment_id = Some("pay_ORDER-1".into());
    let groups = reconcile(
        vec![ours(RecordType::Payment, "ORDER-1", "m", 1_000)],
        vec![capture],
        &HashMap::new(),
    );
    assert_eq!(groups.len(), 1);
    assert_eq!((groups[0].matched_count, groups[0].mismatches.len()), (1, 0));
}

#[test]
fn failures_are_compared_only_where_the_provider_lists_them() {
    let failure = FailedCharge {
        payment_id: "p".into(),
        merchant_id: "m".into(),
        currency: "usd".into(),
        amount: 10,
        provider_reference: Some("f".into()),
    };
    assert_eq!(payrail_records(&[], std::slice::from_ref(&failure), false), []);
    let records = payrail_records(&[], &[failure], true);
    assert_eq!(records[0].status, RecordStatus::Failed);
    assert_eq!(records[0].reference, "f");
}
