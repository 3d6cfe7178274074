//! The `PaymentStore` conformance suite: the same checks against SQLite and PostgreSQL, through the
//! port the actors use. A transition commits row + event together or not at all; a stale version
//! or a transition that would break the money invariants is refused by the database itself.

use std::collections::BTreeMap;

use chrono::Utc;
use payrail_core::domain::{
    Amount, AuthorizationOutcome, CaptureMethod, Command, Currency, MerchantId, NewPayment, Payment, PaymentId,
    RefundId, RefundStatus, ReturnUrl, SealedContact,
};
use payrail_core::ports::{PageRequest, PaymentFilter, PaymentStore, StoreError};

use crate::helpers::TestApp;

pub(crate) fn new_payment(merchant: &str, amount: i64) -> NewPayment {
    NewPayment {
        id: PaymentId::generate(),
        merchant_id: MerchantId::parse(merchant).unwrap(),
        amount: Amount::new(amount).unwrap(),
        currency: Currency::parse("usd").unwrap(),
        capture_method: CaptureMethod::Automatic,
        provider: "sandbox".into(),
        order_id: Some("order".into()),
        description: None,
        metadata: BTreeMap::from([("k".to_owned(), "v".to_owned())]),
        card: None,
        return_url: Some(ReturnUrl::parse("https://shop.example/back", false).unwrap()),
    }
}

pub(crate) async fn captured(store: &dyn PaymentStore, amount: i64) -> Payment {
    let created = Payment::create(new_payment("m", amount), Utc::now());
    store.commit(&created).await.unwrap();
    let outcome = AuthorizationOutcome::Captured {
        provider_reference: "ref".into(),
    };
    let t = created
        .payment
        .apply(Command::RecordAuthorization(outcome), Utc::now())
        .unwrap();
    store.commit(&t).await.unwrap();
    t.payment
}

fn refund(payment: &Payment, amount: i64) -> Command {
    let _ = payment;
    Command::Refund {
        id: RefundId::generate(),
        amount: Amount::new(amount).unwrap(),
        reason: None,
        status: RefundStatus::Succeeded,
        provider_reference: None,
    }
}

async fn committed_transitions_read_back_exactly(app: TestApp) {
    let store = app.database.store();
    let payment = captured(store.as_ref(), 1_000).await;
    let loaded = store.load(&payment.id).await.unwrap().unwrap();
    // Timestamps are stored with microsecond precision.
    assert_eq!(loaded.id, payment.id);
    assert_eq!(loaded.status, payment.status);
    assert_eq!(loaded.captured_amount, 1_000);
    assert_eq!(loaded.metadata, payment.metadata);
    assert_eq!(loaded.version, 2);
    assert_eq!(
        loaded.created_at.timestamp_micros(),
        payment.created_at.timestamp_micros()
    );
    let merchant = MerchantId::parse("m").unwrap();
    assert!(store.find(&merchant, &payment.id).await.unwrap().is_some());
    assert!(store
        .find(&MerchantId::parse("x").unwrap(), &payment.id)
        .await
        .unwrap()
        .is_none());
    let page = PageRequest {
        limit: 10,
        starting_after: None,
    };
    let events = store.list_events(&merchant, &payment.id, &page).await.unwrap().unwrap();
    assert_eq!(events.data.iter().map(|e| e.sequence).collect::<Vec<_>>(), [1, 2]);
    let filter = PaymentFilter {
        order_id: Some("order".into()),
    };
    assert_eq!(
        store
            .list_payments(
                &merchant,
                &filter,
                &PageRequest {
                    limit: 10,
                    starting_after: None
                }
            )
            .await
            .unwrap()
            .data
            .len(),
        1
    );
}

async fn a_stale_version_is_a_conflict_and_writes_nothing(app: TestApp) {
    let store = app.database.store();
    let payment = captured(store.as_ref(), 1_000).await;
    let first = payment.apply(refund(&payment, 400), Utc::now()).unwrap();
    let second = payment.apply(refund(&payment, 700), Utc::now()).unwrap();
    store.commit(&first).await.unwrap();
    // The second was decided on the same version: another writer got there first.
    assert!(matches!(store.commit(&second).await, Err(StoreError::Conflict)));
    let stored = store.load(&payment.id).await.unwrap().unwrap();
    assert_eq!(stored.refunded_amount, 400);
    assert_eq!(store.list_refunds(&payment.id).await.unwrap().len(), 1);
    let merchant = MerchantId::parse("m").unwrap();
    let events = store
        .list_events(
            &merchant,
            &payment.id,
            &PageRequest {
                limit: 10,
                starting_after: None,
            },
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(events.data.len(), 3);
}

async fn the_database_refuses_an_over_refund_even_if_the_code_would_not(app: TestApp) {
    let store = app.database.store();
    let payment = captured(store.as_ref(), 1_000).await;
    let mut forged = payment.apply(refund(&payment, 1_000), Utc::now()).unwrap();
    forged.payment.refunded_amount = 1_001;
    assert!(matches!(store.commit(&forged).await, Err(StoreError::Conflict)));
    let stored = store.load(&payment.id).await.unwrap().unwrap();
    assert_eq!(stored.refunded_amount, 0);
    assert_eq!(stored.version, 2);
    assert!(store.list_refunds(&payment.id).await.unwrap().is_empty());
}

async fn creating_the_same_payment_twice_is_a_conflict(app: TestApp) {
    let store = app.database.store();
    let created = Payment::create(new_payment("m", 10), Utc::now());
    store.commit(&created).await.unwrap();
    assert!(matches!(store.commit(&created).await, Err(StoreError::Conflict)));
}

async fn a_new_payments_sealed_contact_commits_with_it_and_only_with_it(app: TestApp) {
    let store = app.database.store();
    let sealed = SealedContact {
        key_id: "k1".into(),
        ciphertext: "sealed-email".into(),
    };
    let mut created = Payment::create(new_payment("m", 10), Utc::now());
    created.contact = Some(sealed.clone());
    store.commit(&created).await.unwrap();
    let id = created.payment.id.as_str();
    let stored = format!(
        "SELECT COUNT(*) FROM payment_contacts WHERE payment_id = '{id}' AND merchant_id = 'm' \
         AND receipt_email_sealed = 'sealed-email' AND key_id = 'k1'"
    );
    assert_eq!(crate::sql::count(&app.database, &stored).await, 1);

    // A create that loses (the payment exists) writes no contact of its own.
    let mut other = Payment::create(new_payment("m", 10), Utc::now());
    other.contact = Some(sealed);
    let mut refused = other.clone();
    refused.payment.id = created.payment.id.clone();
    refused.event.payment_id = created.payment.id.clone();
    assert!(matches!(store.commit(&refused).await, Err(StoreError::Conflict)));
    let contacts = "SELECT COUNT(*) FROM payment_contacts";
    assert_eq!(crate::sql::count(&app.database, contacts).await, 1);
    store.commit(&other).await.unwrap();
    assert_eq!(crate::sql::count(&app.database, contacts).await, 2);
}

async fn readiness_requires_migrations(app: TestApp) {
    let store = app.database.store();
    store.ping().await.unwrap();
}

crate::backend_tests!(
    committed_transitions_read_back_exactly,
    a_stale_version_is_a_conflict_and_writes_nothing,
    the_database_refuses_an_over_refund_even_if_the_code_would_not,
    creating_the_same_payment_twice_is_a_conflict,
    a_new_payments_sealed_contact_commits_with_it_and_only_with_it,
    readiness_requires_migrations,
);
