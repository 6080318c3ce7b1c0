//! A parcel's life in the store: registering, the status changes with their
//! history, payments and notifications, refused and concurrent changes, and
//! customers matched by phone.

use std::time::Duration;

use paqueteria_core::domain::{Money, ParcelEvent, ParcelStatus, Phone, Service};
use paqueteria_core::store::StoreError;

use paqueteria_testkit::{customer, two_branches_and_a_tariff as setup};

use super::{
    COURIER, OPERATOR, SUPERVISOR, TestDb, apply, at, home_delivery_life, parcel, register,
};

async fn registering_quotes_from_the_tariff_and_keeps_the_fee_snapshot(db: TestDb) {
    let s = &db.store;
    let (a, b) = setup(s).await;
    let r = s
        .register_parcel(&parcel(a, b, Service::HomeDelivery), &at(&OPERATOR, a))
        .await
        .unwrap();
    let p = &r.parcel;
    // $ 8.000 + 2 started kg × $ 2.000 + $ 3.000 COD fee.
    assert_eq!(p.quoted_amount, Money::units(15_000));
    assert_eq!(
        (p.status, p.version, p.storage_grace_hours),
        (ParcelStatus::Registered, 1, 24)
    );
    assert_eq!(r.pickup_pin.len(), 6);
    assert!(r.pickup_pin.chars().all(|c| c.is_ascii_digit()));
    assert_eq!(
        s.parcel_by_code(&p.tracking_code)
            .await
            .unwrap()
            .map(|x| x.id),
        Some(p.id)
    );
    let pays = s.payments(p.id).await.unwrap();
    assert_eq!(
        pays.iter()
            .map(|x| (x.kind.as_str(), x.amount))
            .collect::<Vec<_>>(),
        vec![("shipping", Money::units(15_000))]
    );
    let sender = s
        .customer_by_phone(&Phone::parse("+573001110000").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(sender.email.as_deref(), Some("ana@example.com"));
    db.finish().await;
}

async fn registering_without_a_tariff_names_the_field(db: TestDb) {
    let s = &db.store;
    let (a, b) = setup(s).await;
    let mut p = parcel(a, b, Service::BranchPickup);
    p.package_type = "pallet".to_owned();
    match s
        .register_parcel(&p, &at(&OPERATOR, p.origin_branch_id))
        .await
    {
        Err(StoreError::Invalid { field, .. }) => assert_eq!(field, "package_type"),
        other => panic!("expected an invalid package_type, got {other:?}"),
    }
    p.package_type = "box".to_owned();
    p.destination_branch_id = 9999;
    match s
        .register_parcel(&p, &at(&OPERATOR, p.origin_branch_id))
        .await
    {
        Err(StoreError::Invalid { field, .. }) => assert_eq!(field, "destination_branch_id"),
        other => panic!("expected an invalid destination, got {other:?}"),
    }
    db.finish().await;
}

async fn a_home_delivery_runs_its_whole_life_with_history_payments_and_outbox(db: TestDb) {
    let s = &db.store;
    let (a, b) = setup(s).await;
    let mut p = register(s, a, b, Service::HomeDelivery).await;
    for (event, actor) in home_delivery_life() {
        p = apply(s, &p, &event, &actor).await.unwrap();
    }
    assert_eq!(
        (p.status, p.failed_attempts, p.version),
        (ParcelStatus::Delivered, 1, 8)
    );
    assert!(p.arrived_at_ms.is_some() && p.delivered_at_ms.is_some());
    let history: Vec<_> = s
        .history(p.id)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.event, e.to_status))
        .collect();
    assert_eq!(history.len(), 8);
    assert_eq!(
        history[0],
        ("register".to_owned(), ParcelStatus::Registered)
    );
    assert_eq!(history[5].0, "fail_attempt");
    // Delivered within the grace: no storage fee; the COD was collected.
    let kinds: Vec<_> = s
        .payments(p.id)
        .await
        .unwrap()
        .into_iter()
        .map(|x| (x.kind, x.amount))
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("shipping".to_owned(), Money::units(15_000)),
            ("cod".to_owned(), Money::units(50_000))
        ]
    );
    let notes = s.notifications(p.id).await.unwrap();
    let templates: Vec<_> = notes
        .iter()
        .map(|n| (n.template.as_str(), n.channel.as_str()))
        .collect();
    assert_eq!(
        templates,
        vec![
            ("received", "sms"),
            ("out_for_delivery", "sms"),
            ("failed_attempt", "sms"),
            ("out_for_delivery", "sms"),
            ("delivered", "sms"),
            ("delivered", "email"),
        ]
    );
    assert!(notes.iter().all(|n| n.state == "pending"));
    db.finish().await;
}

async fn a_pickup_after_the_grace_pays_storage_per_started_day(db: TestDb) {
    let s = &db.store;
    let (a, b) = setup(s).await;
    let mut p = register(s, a, b, Service::BranchPickup).await;
    for e in [
        ParcelEvent::Receive,
        ParcelEvent::Dispatch,
        ParcelEvent::Arrive,
    ] {
        p = apply(s, &p, &e, &OPERATOR).await.unwrap();
    }
    // 24 h free, then 26 h more: two started days.
    db.clock.advance(Duration::from_secs(50 * 3600));
    p = apply(s, &p, &ParcelEvent::Deliver, &OPERATOR)
        .await
        .unwrap();
    assert_eq!(p.status, ParcelStatus::Delivered);
    let storage: Vec<_> = s
        .payments(p.id)
        .await
        .unwrap()
        .into_iter()
        .filter(|x| x.kind == "storage")
        .collect();
    assert_eq!(storage.len(), 1);
    assert_eq!(storage[0].amount, Money::units(2_000));
    db.finish().await;
}

async fn a_refused_change_writes_nothing(db: TestDb) {
    let s = &db.store;
    let (a, b) = setup(s).await;
    let p = register(s, a, b, Service::HomeDelivery).await;
    let err = apply(s, &p, &ParcelEvent::Deliver, &OPERATOR).await;
    assert!(matches!(err, Err(StoreError::Transition(_))), "{err:?}");
    let err = apply(s, &p, &ParcelEvent::Receive, &COURIER).await;
    assert!(matches!(err, Err(StoreError::Transition(_))), "{err:?}");
    let after = s.parcel(p.id).await.unwrap();
    assert_eq!((after.status, after.version), (ParcelStatus::Registered, 1));
    assert_eq!(s.history(p.id).await.unwrap().len(), 1);
    assert!(s.notifications(p.id).await.unwrap().is_empty());
    db.finish().await;
}

async fn concurrent_edits_of_one_parcel_give_one_winner_and_a_conflict(db: TestDb) {
    let s = db.store.clone();
    let (a, b) = setup(&s).await;
    let p = register(&s, a, b, Service::HomeDelivery).await;
    let p = apply(&s, &p, &ParcelEvent::Receive, &OPERATOR)
        .await
        .unwrap();
    let cancel = ParcelEvent::Cancel {
        reason: "el remitente desiste".to_owned(),
    };
    let (x, y) = tokio::join!(
        apply(&s, &p, &ParcelEvent::Dispatch, &OPERATOR),
        apply(&s, &p, &cancel, &SUPERVISOR),
    );
    let wins = [x.is_ok(), y.is_ok()].iter().filter(|w| **w).count();
    assert_eq!(
        wins, 1,
        "exactly one of two edits at the same version wins: {x:?} {y:?}"
    );
    for r in [&x, &y] {
        if let Err(e) = r {
            assert!(matches!(e, StoreError::Conflict(_)), "{e:?}");
        }
    }
    let after = s.parcel(p.id).await.unwrap();
    assert_eq!(after.version, p.version + 1);
    assert_eq!(
        s.history(p.id).await.unwrap().len(),
        3,
        "the loser left no history line"
    );
    db.finish().await;
}

async fn customers_are_matched_by_phone(db: TestDb) {
    let s = &db.store;
    let first = s
        .upsert_customer(&customer("+573009990000", "María", None))
        .await
        .unwrap();
    let again = s
        .upsert_customer(&customer(
            "+57 300 999 0000",
            "María José",
            Some("mj@example.com"),
        ))
        .await
        .unwrap();
    assert_eq!(first.id, again.id);
    assert_eq!(
        (again.name.as_str(), again.email.as_deref()),
        ("María José", Some("mj@example.com"))
    );
    db.finish().await;
}

store_suite!(sqlite;
    registering_quotes_from_the_tariff_and_keeps_the_fee_snapshot,
    registering_without_a_tariff_names_the_field,
    a_home_delivery_runs_its_whole_life_with_history_payments_and_outbox,
    a_pickup_after_the_grace_pays_storage_per_started_day,
    a_refused_change_writes_nothing,
    concurrent_edits_of_one_parcel_give_one_winner_and_a_conflict,
    customers_are_matched_by_phone,
);

store_suite!(postgres;
    registering_quotes_from_the_tariff_and_keeps_the_fee_snapshot,
    registering_without_a_tariff_names_the_field,
    a_home_delivery_runs_its_whole_life_with_history_payments_and_outbox,
    a_pickup_after_the_grace_pays_storage_per_started_day,
    a_refused_change_writes_nothing,
    concurrent_edits_of_one_parcel_give_one_winner_and_a_conflict,
    customers_are_matched_by_phone,
);
