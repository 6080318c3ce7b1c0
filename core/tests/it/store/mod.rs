//! The parcel store against both engines: a fresh SQLite file, or a fresh
//! PostgreSQL database (`TEST_DATABASE_URL`, default
//! `postgres://postgres@127.0.0.1:5432/postgres`) per test.
//!
//! One file per part of the store, as in `core/src/store`; this one holds
//! the helpers they share.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use paqueteria_core::domain::branch_scope::{Branches, event_branch};
use paqueteria_core::domain::{Grams, Money, ParcelEvent, Role, Service};
use paqueteria_core::store::{Actor, Handover, NewParcel, Parcel, Store, StoreResult};

use paqueteria_testkit::{TestStore as TestDb, customer};

macro_rules! store_suite {
    ($engine:ident; $($case:ident),* $(,)?) => {
        mod $engine {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case(super::TestDb::$engine().await).await;
                }
            )*
        }
    };
}

mod connection;
mod lifecycle;
mod list;
mod outbox;
mod search;
mod sessions;

const OPERATOR: Actor = Actor {
    user_id: None,
    role: Role::Operator,
    branch_id: None,
};
const SUPERVISOR: Actor = Actor {
    user_id: None,
    role: Role::Supervisor,
    branch_id: None,
};
const COURIER: Actor = Actor {
    user_id: None,
    role: Role::Courier,
    branch_id: None,
};

/// `actor` working at `branch`.
fn at(actor: &Actor, branch: i64) -> Actor {
    Actor {
        branch_id: Some(branch),
        ..*actor
    }
}

/// The pickup PINs of the parcels [`register`] made, by tracking code.
static PINS: std::sync::LazyLock<std::sync::Mutex<std::collections::HashMap<String, String>>> =
    std::sync::LazyLock::new(Default::default);

/// Applies `event` to `p` as `actor` would at the branch where it
/// happens, giving the PIN [`register`] kept for a delivery.
async fn apply(s: &Store, p: &Parcel, event: &ParcelEvent, actor: &Actor) -> StoreResult<Parcel> {
    let here = event_branch(
        p.status,
        event,
        Branches {
            origin: p.origin_branch_id,
            destination: p.destination_branch_id,
        },
    );
    let actor = match actor.branch_id {
        None if actor.role != Role::Admin => at(actor, here),
        _ => *actor,
    };
    let pin = PINS.lock().unwrap().get(p.tracking_code.as_str()).cloned();
    let handover = pin.map(Handover::pin).unwrap_or_default();
    s.apply_event(p.id, p.version, event, &actor, &handover)
        .await
}

fn parcel(origin: i64, destination: i64, service: Service) -> NewParcel {
    NewParcel {
        sender: customer("+573001110000", "Ana Gómez", Some("ana@example.com")),
        recipient: customer("+573002220000", "Luis Pérez", None),
        origin_branch_id: origin,
        destination_branch_id: destination,
        service,
        delivery_address: "Carrera 7 # 12-34".to_owned(),
        package_type: "box".to_owned(),
        zone: "national".to_owned(),
        weight: Grams(1_500),
        dimensions_mm: [300, 200, 100],
        declared_value: Money::units(100_000),
        cod_amount: Money::units(50_000),
    }
}

/// A parcel from `a` to `b`, registered by an operator.
async fn register(s: &Store, a: i64, b: i64, service: Service) -> paqueteria_core::store::Parcel {
    let r = s
        .register_parcel(&parcel(a, b, service), &at(&OPERATOR, a))
        .await
        .unwrap();
    PINS.lock()
        .unwrap()
        .insert(r.parcel.tracking_code.to_string(), r.pickup_pin);
    r.parcel
}

/// The events of a home delivery from registration to delivery, with one
/// failed attempt on the way, each with the actor who records it.
fn home_delivery_life() -> Vec<(ParcelEvent, Actor)> {
    vec![
        (ParcelEvent::Receive, OPERATOR),
        (ParcelEvent::Dispatch, OPERATOR),
        (ParcelEvent::Arrive, OPERATOR),
        (ParcelEvent::OutForDelivery, COURIER),
        (
            ParcelEvent::FailAttempt {
                reason: "nadie en casa".to_owned(),
            },
            COURIER,
        ),
        (ParcelEvent::OutForDelivery, COURIER),
        (ParcelEvent::Deliver, COURIER),
    ]
}

/// How many parcels have no list item.
async fn missing_items(conn: &mut sqlx::AnyConnection) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM parcels WHERE list_item IS NULL")
        .fetch_one(conn)
        .await
        .unwrap()
}

/// The ids of the first 50 parcels a search for `q` lists.
async fn found(s: &Store, q: &str) -> Vec<i64> {
    s.list_parcels(&paqueteria_core::store::ParcelFilter {
        q: Some(q.to_owned()),
        page: 1,
        page_size: 50,
        ..Default::default()
    })
    .await
    .unwrap()
    .items
    .iter()
    .map(|p| p.id)
    .collect()
}
