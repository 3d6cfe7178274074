//! Unit and property tests of the payment state machine (DESIGN §3, §11.1).

use std::collections::BTreeMap;

use chrono::Utc;
use proptest::prelude::*;

use super::*;

fn new_payment(amount: i64, capture_method: CaptureMethod) -> Payment {
    let new = NewPayment {
        id: PaymentId::generate(),
        merchant_id: MerchantId::parse("merchant_a").unwrap(),
        amount: Amount::new(amount).unwrap(),
        currency: Currency::parse("usd").unwrap(),
        capture_method,
        provider: "sandbox".into(),
        order_id: None,
        description: None,
        metadata: BTreeMap::new(),
        card: None,
        return_url: None,
    };
    Payment::create(new, Utc::now()).payment
}

fn step(payment: &Payment, command: Command) -> Result<Payment, DomainError> {
    payment.apply(command, Utc::now()).map(|t| t.payment)
}

fn authorized(amount: i64) -> Payment {
    let outcome = AuthorizationOutcome::Authorized {
        provider_reference: "ref".into(),
    };
    step(
        &new_payment(amount, CaptureMethod::Manual),
        Command::RecordAuthorization(outcome),
    )
    .unwrap()
}

fn captured(amount: i64) -> Payment {
    let outcome = AuthorizationOutcome::Captured {
        provider_reference: "ref".into(),
    };
    step(
        &new_payment(amount, CaptureMethod::Automatic),
        Command::RecordAuthorization(outcome),
    )
    .unwrap()
}

fn refund(amount: i64) -> Command {
    Command::Refund {
        id: RefundId::generate(),
        amount: Amount::new(amount).unwrap(),
        reason: None,
        status: RefundStatus::Succeeded,
        provider_reference: None,
    }
}

fn amt(minor: i64) -> Amount {
    Amount::new(minor).unwrap()
}

#[test]
fn creation_is_pending_at_version_one_with_a_created_event() {
    let t = Payment::create(
        NewPayment {
            id: PaymentId::generate(),
            merchant_id: MerchantId::parse("m").unwrap(),
            amount: amt(500),
            currency: Currency::parse("eur").unwrap(),
            capture_method: CaptureMethod::Automatic,
            provider: "sandbox".into(),
            order_id: Some("order-1".into()),
            description: None,
            metadata: BTreeMap::new(),
            card: None,
            return_url: None,
        },
        Utc::now(),
    );
    assert_eq!(t.payment.status, PaymentStatus::Pending);
    assert_eq!(t.payment.version, 1);
    assert_eq!(t.expected_version, None);
    assert_eq!(t.event.kind, EventKind::Created);
    assert_eq!(t.event.sequence, 1);
}

#[test]
fn automatic_capture_succeeds_with_everything_captured() {
    let p = captured(1000);
    assert_eq!(p.status, PaymentStatus::Succeeded);
    assert_eq!(p.captured_amount, 1000);
    assert_eq!(p.version, 2);
}

#[test]
fn partial_capture_releases_the_rest() {
    let p = step(&authorized(1000), Command::Capture { amount: amt(600) }).unwrap();
    assert_eq!(p.status, PaymentStatus::Succeeded);
    assert_eq!(p.captured_amount, 600);
    assert_eq!(p.refundable_amount(), 600);
    assert_eq!(p.capturable_amount(), 0);
}

#[test]
fn capture_beyond_the_authorisation_is_too_large() {
    let err = step(&authorized(1000), Command::Capture { amount: amt(1001) }).unwrap_err();
    assert!(matches!(err, DomainError::AmountTooLarge { available: 1000, .. }));
}

#[test]
fn capture_of_a_captured_payment_is_invalid_state() {
    let err = step(&captured(1000), Command::Capture { amount: amt(1) }).unwrap_err();
    assert!(matches!(
        err,
        DomainError::InvalidState {
            status: PaymentStatus::Succeeded,
            ..
        }
    ));
}

#[test]
fn cancel_only_voids_authorisations() {
    let p = step(&authorized(1000), Command::Cancel).unwrap();
    assert_eq!(p.status, PaymentStatus::Canceled);
    assert!(step(&p, Command::Cancel).is_err());
    assert!(step(&captured(1000), Command::Cancel).is_err());
}

#[test]
fn refunds_move_to_partially_refunded_then_refunded() {
    let p = step(&captured(1000), refund(300)).unwrap();
    assert_eq!(p.status, PaymentStatus::PartiallyRefunded);
    let p = step(&p, refund(700)).unwrap();
    assert_eq!(p.status, PaymentStatus::Refunded);
    assert_eq!(p.refunded_amount, 1000);
    let err = step(&p, refund(1)).unwrap_err();
    assert!(matches!(
        err,
        DomainError::InvalidState {
            status: PaymentStatus::Refunded,
            ..
        }
    ));
}

#[test]
fn refund_beyond_the_refundable_amount_is_too_large() {
    let p = step(&captured(1000), refund(900)).unwrap();
    let err = step(&p, refund(101)).unwrap_err();
    assert!(matches!(
        err,
        DomainError::AmountTooLarge {
            requested: 101,
            available: 100,
            ..
        }
    ));
}

#[test]
fn refund_defaults_to_the_remainder() {
    let p = step(&captured(1000), refund(250)).unwrap();
    assert_eq!(p.plan_refund(None).unwrap().minor_units(), 750);
}

#[test]
fn decline_fails_with_its_code_and_event() {
    let pending = new_payment(1000, CaptureMethod::Automatic);
    let outcome = AuthorizationOutcome::Declined {
        provider_reference: None,
        code: "card_declined".into(),
        message: "declined".into(),
    };
    let t = pending
        .apply(Command::RecordAuthorization(outcome), Utc::now())
        .unwrap();
    assert_eq!(t.payment.status, PaymentStatus::Failed);
    assert_eq!(t.payment.failure_code.as_deref(), Some("card_declined"));
    assert_eq!(t.event.kind, EventKind::Failed);
    assert_eq!(t.event.failure_code.as_deref(), Some("card_declined"));
    assert!(step(&t.payment, refund(1)).is_err());
}

#[test]
fn unknown_outcome_is_processing_then_settled() {
    let pending = new_payment(1000, CaptureMethod::Automatic);
    let p = step(
        &pending,
        Command::RecordAuthorization(AuthorizationOutcome::Unknown {
            provider_reference: None,
        }),
    )
    .unwrap();
    assert_eq!(p.status, PaymentStatus::Processing);
    let again = step(
        &p,
        Command::RecordAuthorization(AuthorizationOutcome::Unknown {
            provider_reference: None,
        }),
    );
    assert!(again.is_err(), "processing stays processing without a new event");
    let settled = step(
        &p,
        Command::RecordAuthorization(AuthorizationOutcome::Captured {
            provider_reference: "r".into(),
        }),
    )
    .unwrap();
    assert_eq!(settled.status, PaymentStatus::Succeeded);
}

#[test]
fn a_settled_payment_takes_no_second_authorisation() {
    let outcome = AuthorizationOutcome::Captured {
        provider_reference: "again".into(),
    };
    assert!(step(&captured(10), Command::RecordAuthorization(outcome)).is_err());
}

#[derive(Clone, Debug)]
enum Op {
    Outcome(u8),
    Capture(i64),
    Cancel,
    Refund(i64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0u8..5).prop_map(Op::Outcome),
        (1i64..2_000).prop_map(Op::Capture),
        Just(Op::Cancel),
        (1i64..2_000).prop_map(Op::Refund),
    ]
}

fn to_command(op: &Op) -> Command {
    match *op {
        Op::Outcome(n) => Command::RecordAuthorization(match n {
            0 => AuthorizationOutcome::Authorized {
                provider_reference: "r".into(),
            },
            1 => AuthorizationOutcome::Captured {
                provider_reference: "r".into(),
            },
            2 => AuthorizationOutcome::Declined {
                provider_reference: None,
                code: "c".into(),
                message: "m".into(),
            },
            3 => AuthorizationOutcome::RequiresAction {
                provider_reference: "r".into(),
                next_action: None,
            },
            _ => AuthorizationOutcome::Unknown {
                provider_reference: None,
            },
        }),
        Op::Capture(a) => Command::Capture { amount: amt(a) },
        Op::Cancel => Command::Cancel,
        Op::Refund(a) => refund(a),
    }
}

proptest! {
    /// DESIGN §11.1 and §11.2 under any sequence of commands: captured ≤ authorised, refunds ≤
    /// captured, every accepted change bumps the version by one with one event, and the sum of
    /// accepted refunds equals `refunded_amount`.
    #[test]
    fn no_command_sequence_breaks_the_money_invariants(amount in 1i64..2_000, ops in prop::collection::vec(op(), 0..40)) {
        let mut payment = new_payment(amount, CaptureMethod::Manual);
        let mut refunded_sum = 0;
        for op in &ops {
            let before = payment.clone();
            match payment.apply(to_command(op), Utc::now()) {
                Ok(t) => {
                    prop_assert_eq!(t.expected_version, Some(before.version));
                    prop_assert_eq!(t.payment.version, before.version + 1);
                    prop_assert_eq!(t.event.sequence, t.payment.version);
                    prop_assert_eq!(t.event.to_status, t.payment.status);
                    prop_assert!(!before.status.is_terminal(), "terminal {} changed", before.status);
                    if let Some(r) = &t.refund {
                        refunded_sum += r.amount.minor_units();
                    }
                    payment = t.payment;
                }
                Err(_) => prop_assert_eq!(&payment, &before),
            }
            prop_assert!(payment.captured_amount >= 0);
            prop_assert!(payment.captured_amount <= payment.amount.minor_units());
            prop_assert!(payment.refunded_amount <= payment.captured_amount);
            prop_assert_eq!(payment.refunded_amount, refunded_sum);
            if payment.status == PaymentStatus::Refunded {
                prop_assert_eq!(payment.refunded_amount, payment.captured_amount);
            }
        }
    }
}

mod provider_updates {
    use super::*;
    use crate::domain::{EventKind, RefundId, RefundStatus};

    fn refunded(payment: &Payment, amount: i64, status: RefundStatus) -> (Payment, Refund) {
        let t = payment
            .apply(
                Command::Refund {
                    id: RefundId::generate(),
                    amount: Amount::new(amount).unwrap(),
                    reason: None,
                    status,
                    provider_reference: Some("re_1".into()),
                },
                Utc::now(),
            )
            .unwrap();
        (t.payment, t.refund.unwrap())
    }

    fn settle(payment: &Payment, refund: Refund, status: RefundStatus) -> Result<Transition, DomainError> {
        payment.apply(
            Command::SettleRefund {
                refund,
                status,
                provider_reference: None,
            },
            Utc::now(),
        )
    }

    #[test]
    fn a_failed_refund_gives_its_amount_back_and_a_settled_one_stays_settled() {
        let paid = captured(1000);
        let (p, refund) = refunded(&paid, 1000, RefundStatus::Pending);
        assert_eq!(p.status, PaymentStatus::Refunded);
        let failed = settle(&p, refund.clone(), RefundStatus::Failed).unwrap();
        assert_eq!(failed.payment.refunded_amount, 0);
        assert_eq!(failed.payment.status, PaymentStatus::Succeeded);
        assert_eq!(failed.event.kind, EventKind::RefundUpdated);
        assert_eq!(failed.refund.unwrap().status, RefundStatus::Failed);
        let ok = settle(&p, refund.clone(), RefundStatus::Succeeded).unwrap();
        assert_eq!(ok.payment.refunded_amount, 1000);
        let done = ok.refund.unwrap();
        assert!(
            settle(&ok.payment, done.clone(), RefundStatus::Succeeded).is_err(),
            "repeat changes nothing"
        );
        assert!(
            settle(&ok.payment, done, RefundStatus::Pending).is_err(),
            "no way back to pending"
        );
    }

    #[test]
    fn only_a_pending_payment_is_rerouted() {
        let paid = captured(1000);
        assert!(paid
            .apply(Command::Reroute { provider: "x".into() }, Utc::now())
            .is_err());
    }
}

#[test]
fn a_customer_action_is_shown_while_waiting_and_cleared_when_settled() {
    let action = NextAction::RedirectToUrl {
        url: "https://acs.example/challenge".into(),
    };
    let waiting = step(
        &new_payment(700, CaptureMethod::Automatic),
        Command::RecordAuthorization(AuthorizationOutcome::RequiresAction {
            provider_reference: "pi_1".into(),
            next_action: Some(action.clone()),
        }),
    )
    .unwrap();
    assert_eq!(waiting.status, PaymentStatus::RequiresAction);
    assert_eq!(waiting.next_action, Some(action));
    let settled = step(
        &waiting,
        Command::RecordAuthorization(AuthorizationOutcome::Captured {
            provider_reference: "pi_1".into(),
        }),
    )
    .unwrap();
    assert_eq!(settled.status, PaymentStatus::Succeeded);
    assert_eq!(settled.next_action, None);
    // Settled is settled: a late expiry or a second completion is refused.
    assert!(step(&settled, Command::ExpireAction).is_err());
    assert!(step(
        &settled,
        Command::RecordAuthorization(AuthorizationOutcome::Declined {
            provider_reference: None,
            code: "authentication_failed".into(),
            message: "m".into()
        })
    )
    .is_err());
}

#[test]
fn only_a_payment_awaiting_the_customer_expires() {
    let fresh = new_payment(700, CaptureMethod::Automatic);
    assert!(step(&fresh, Command::ExpireAction).is_err());
    let waiting = step(
        &fresh,
        Command::RecordAuthorization(AuthorizationOutcome::RequiresAction {
            provider_reference: "pi_1".into(),
            next_action: None,
        }),
    )
    .unwrap();
    let expired = waiting.apply(Command::ExpireAction, Utc::now()).unwrap();
    assert_eq!(expired.payment.status, PaymentStatus::Canceled);
    assert_eq!(expired.payment.failure_code.as_deref(), Some("action_expired"));
    assert_eq!(expired.event.kind, EventKind::Canceled);
    assert_eq!(expired.payment.captured_amount, 0);
}
