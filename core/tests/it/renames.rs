//! A customer renamed, on both engines: every one of their parcels is
//! found by the new name and none by the old, also past the first batch of
//! the re-index (which rewrites `REINDEX_BATCH` parcels a transaction).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use paqueteria_core::domain::{Grams, Money, Phone, Role, Service};
use paqueteria_core::store::{
    Actor, CustomerChanges, NewParcel, ParcelFilter, REINDEX_BATCH, Store,
};
use paqueteria_testkit::{TestStore, customer, two_branches_and_a_tariff};

const ADMIN: Actor = Actor {
    user_id: None,
    role: Role::Admin,
    branch_id: None,
};

async fn found(s: &Store, q: &str) -> i64 {
    s.list_parcels(&ParcelFilter {
        q: Some(q.to_owned()),
        page: 1,
        page_size: 10,
        ..ParcelFilter::default()
    })
    .await
    .unwrap()
    .total
}

/// Parcel `i` from Ana Gómez (the customer renamed) to a recipient of
/// its own.
fn parcel(origin: i64, destination: i64, i: i64) -> NewParcel {
    NewParcel {
        sender: customer("+573001110000", "Ana Gómez", None),
        recipient: customer(&format!("+57301{i:07}"), "Luis Pérez", None),
        origin_branch_id: origin,
        destination_branch_id: destination,
        service: Service::BranchPickup,
        delivery_address: String::new(),
        package_type: "box".to_owned(),
        zone: "national".to_owned(),
        weight: Grams(1_000),
        dimensions_mm: [0, 0, 0],
        declared_value: Money::ZERO,
        cod_amount: Money::ZERO,
    }
}

async fn a_rename_reaches_every_parcel_past_the_first_batch(db: TestStore) {
    let s = &db.store;
    let (a, b) = two_branches_and_a_tariff(s).await;
    let n = REINDEX_BATCH + 2;
    for i in 0..n {
        s.register_parcel(&parcel(a, b, i), &ADMIN).await.unwrap();
    }
    assert_eq!(found(s, "gomez").await, n);
    let ana = s
        .customer_by_phone(&Phone::parse("+573001110000").unwrap())
        .await
        .unwrap()
        .unwrap();
    let renamed = s
        .update_customer(
            ana.id,
            &CustomerChanges {
                name: Some("Ana Beltrán".to_owned()),
                ..CustomerChanges::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(renamed.name, "Ana Beltrán");
    assert_eq!(found(s, "beltran").await, n, "every parcel, every batch");
    assert_eq!(found(s, "ana beltran").await, n);
    assert_eq!(found(s, "gomez").await, 0, "the old name finds none");
    assert_eq!(found(s, "luis perez").await, n, "the recipients untouched");
    // nothing left to rewrite
    assert_eq!(s.reindex_customer_parcels(ana.id).await.unwrap(), 0);

    // Registering a parcel under a new name for the same phone renames
    // the customer too, and every earlier parcel follows (past the first
    // batch, after the registration has committed).
    let mut p = parcel(a, b, n);
    p.sender.name = "Ana Castro".to_owned();
    s.register_parcel(&p, &ADMIN).await.unwrap();
    assert_eq!(found(s, "ana castro").await, n + 1);
    assert_eq!(found(s, "beltran").await, 0, "the old name finds none");
    assert_eq!(s.reindex_customer_parcels(ana.id).await.unwrap(), 0);
    db.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rename_reaches_every_parcel_past_the_first_batch_on_sqlite() {
    a_rename_reaches_every_parcel_past_the_first_batch(TestStore::sqlite().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rename_reaches_every_parcel_past_the_first_batch_on_postgres() {
    a_rename_reaches_every_parcel_past_the_first_batch(TestStore::postgres().await).await;
}
