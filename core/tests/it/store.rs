//! The parcel store against both engines: a fresh SQLite file, or a fresh
//! PostgreSQL database (`TEST_DATABASE_URL`, default
//! `postgres://postgres@127.0.0.1:5432/postgres`) per test.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use paqueteria_core::domain::branch_scope::{Branches, event_branch};
use paqueteria_core::domain::{Grams, Money, ParcelEvent, ParcelStatus, Phone, Role, Service};
use paqueteria_core::store::search::search_words;
use paqueteria_core::store::{
    Actor, Handover, NewParcel, Parcel, ParcelFilter, Store, StoreError, StoreResult,
};
use sqlx::Connection;

use paqueteria_testkit::{TestStore as TestDb, customer, two_branches_and_a_tariff as setup};

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

async fn the_list_filters_searches_and_pages(db: TestDb) {
    let s = &db.store;
    let (a, b) = setup(s).await;
    let mut codes = Vec::new();
    for (i, (phone, name)) in [
        ("+573101234567", "Carolina Ruiz"),
        ("+573207654321", "Pedro Ruiz"),
        ("+573009998877", "Marta Díaz"),
    ]
    .iter()
    .enumerate()
    {
        let mut p = parcel(a, b, Service::BranchPickup);
        p.recipient = customer(phone, name, None);
        let r = s
            .register_parcel(&p, &at(&OPERATOR, p.origin_branch_id))
            .await
            .unwrap()
            .parcel;
        if i == 0 {
            apply(s, &r, &ParcelEvent::Receive, &OPERATOR)
                .await
                .unwrap();
        }
        codes.push(r.tracking_code.to_string());
    }
    let list = |f: ParcelFilter| async move { s.list_parcels(&f).await.unwrap() };
    let all = list(ParcelFilter {
        page: 1,
        page_size: 2,
        ..Default::default()
    })
    .await;
    assert_eq!((all.total, all.items.len()), (3, 2));
    assert_eq!(
        all.items[0].parcel().unwrap().tracking_code.to_string(),
        codes[2],
        "newest first"
    );
    let second = list(ParcelFilter {
        page: 2,
        page_size: 2,
        ..Default::default()
    })
    .await;
    assert_eq!(second.items.len(), 1);
    let by_name = list(ParcelFilter {
        q: Some("ruiz".into()),
        page: 1,
        page_size: 50,
        ..Default::default()
    })
    .await;
    assert_eq!(by_name.total, 2);
    let by_phone = list(ParcelFilter {
        q: Some("320 765 4321".into()),
        page: 1,
        page_size: 50,
        ..Default::default()
    })
    .await;
    assert_eq!(
        by_phone
            .items
            .iter()
            .map(|p| p.parcel().unwrap().tracking_code.to_string())
            .collect::<Vec<_>>(),
        vec![codes[1].clone()]
    );
    let by_code = list(ParcelFilter {
        q: Some(codes[0].to_lowercase()),
        page: 1,
        page_size: 50,
        ..Default::default()
    })
    .await;
    assert_eq!(by_code.total, 1);
    let received = list(ParcelFilter {
        status: Some(ParcelStatus::Received),
        page: 1,
        page_size: 50,
        ..Default::default()
    })
    .await;
    assert_eq!(received.total, 1);
    let elsewhere = list(ParcelFilter {
        branch_id: Some(9999),
        page: 1,
        page_size: 50,
        ..Default::default()
    })
    .await;
    assert_eq!(elsewhere.total, 0);
    db.finish().await;
}

/// The optimised list (index walks, the count table, trigram search) gives
/// exactly what a plain scan of the same parcels gives, for every
/// combination of filter and search, page by page.
async fn the_list_agrees_with_a_plain_scan(db: TestDb) {
    let s = &db.store;
    let (a, b) = setup(s).await;
    let names = [
        "Carolina Ruiz",
        "Pedro RUIZ",
        "Ana_María Díaz",
        "100% Envíos",
        "Lu",
        "Marta Díaz",
    ];
    // (id, code, status, origin, destination, [(name, phone)] of both ends)
    type Row = (i64, String, ParcelStatus, i64, i64, Vec<(String, String)>);
    let mut rows: Vec<Row> = Vec::new();
    for i in 0..30usize {
        let (origin, dest) = match i % 3 {
            0 => (a, b),
            1 => (b, a),
            _ => (a, a),
        };
        let mut p = parcel(origin, dest, Service::BranchPickup);
        let sender = (
            names[i % names.len()],
            format!("+5730{:08}", 10_000_000 + i * 37),
        );
        let recipient = (
            names[(i * 5 + 1) % names.len()],
            format!("+5731{:08}", 20_000_000 + i * 53),
        );
        p.sender = customer(&sender.1, sender.0, None);
        p.recipient = customer(&recipient.1, recipient.0, None);
        let mut r = s
            .register_parcel(&p, &at(&OPERATOR, p.origin_branch_id))
            .await
            .unwrap()
            .parcel;
        if i % 4 != 0 {
            r = apply(s, &r, &ParcelEvent::Receive, &OPERATOR)
                .await
                .unwrap();
        }
        if i % 5 == 0 && r.status == ParcelStatus::Received {
            r = apply(
                s,
                &r,
                &ParcelEvent::Cancel {
                    reason: "desistió".into(),
                },
                &SUPERVISOR,
            )
            .await
            .unwrap();
        }
        rows.push((
            r.id,
            r.tracking_code.to_string(),
            r.status,
            origin,
            dest,
            vec![
                (sender.0.to_owned(), sender.1.clone()),
                (recipient.0.to_owned(), recipient.1.clone()),
            ],
        ));
    }
    let some_code = rows[7].1.clone();
    let searches = [
        None,
        Some("ruiz".to_owned()),
        Some("DÍAZ".to_owned()),
        Some("na_m".to_owned()),
        Some("100%".to_owned()),
        Some("%".to_owned()),
        Some("lu".to_owned()),
        Some(some_code[..6].to_lowercase()),
        Some(some_code.clone()),
        Some(format!(
            "{} {}",
            &rows[3].5[1].1[5..8],
            &rows[3].5[1].1[8..]
        )),
        Some("zzz".to_owned()),
        Some("diaz car".to_owned()),
        Some("ENVIOS".to_owned()),
        Some("ma d".to_owned()),
        Some("ana maría".to_owned()),
        // starts two words of one parcel (María, Marta)
        Some("mar".to_owned()),
    ];
    let statuses = [
        None,
        Some(ParcelStatus::Received),
        Some(ParcelStatus::Cancelled),
    ];
    let branches = [None, Some(a), Some(b), Some(9_999)];
    for q in &searches {
        for status in statuses {
            for branch in branches {
                let mut expected: Vec<i64> = rows
                    .iter()
                    .filter(|(_, code, st, o, d, people)| {
                        status.is_none_or(|x| x == *st)
                            && branch.is_none_or(|x| x == *o || x == *d)
                            && q.as_deref().is_none_or(|q| {
                                let digits: String =
                                    q.chars().filter(char::is_ascii_digit).collect();
                                // every word of q starts a word of either name
                                let names: Vec<String> = people
                                    .iter()
                                    .flat_map(|(name, _)| search_words(name))
                                    .collect();
                                // words with a digit are codes or phones
                                let words: Vec<String> = search_words(q)
                                    .into_iter()
                                    .filter(|w| !w.chars().any(char::is_numeric))
                                    .collect();
                                code.starts_with(&q.to_uppercase().replace(' ', ""))
                                    || (!words.is_empty()
                                        && words.iter().all(|w| {
                                            names.iter().any(|n| n.starts_with(w.as_str()))
                                        }))
                                    || people.iter().any(|(_, phone)| {
                                        digits.len() >= 7 && phone.ends_with(&digits)
                                    })
                            })
                    })
                    .map(|r| r.0)
                    .collect();
                expected.sort_unstable_by(|x, y| y.cmp(x));
                let mut got = Vec::new();
                for page in 1..=12 {
                    let listed = s
                        .list_parcels(&ParcelFilter {
                            status,
                            branch_id: branch,
                            q: q.clone(),
                            page,
                            page_size: 4,
                        })
                        .await
                        .unwrap();
                    got.extend(listed.items.iter().map(|p| p.id));
                    let case = format!("q={q:?} status={status:?} branch={branch:?} page={page}");
                    assert!(listed.total_exact, "{case}");
                    assert_eq!(listed.total, expected.len() as i64, "total for {case}");
                    if listed.items.is_empty() {
                        break;
                    }
                }
                assert_eq!(got, expected, "q={q:?} status={status:?} branch={branch:?}");
            }
        }
    }
    // The rows of a page are each parcel as read alone, field for field.
    for q in [None, Some("ruiz".to_owned())] {
        let page = s
            .list_parcels(&ParcelFilter {
                q,
                page: 1,
                page_size: 50,
                ..Default::default()
            })
            .await
            .unwrap();
        assert!(!page.items.is_empty());
        for item in page.items {
            assert_eq!(item.parcel().unwrap(), s.parcel(item.id).await.unwrap());
        }
    }
    // A renamed customer is found by the new name, no longer by the old.
    let (first_id, first_sender) = (rows[0].0, rows[0].5[0].clone());
    // the words of the old name alone, which the recipient does not hold
    // (PostgreSQL reads one word from a table of words of its own)
    let recipient_words = search_words(&rows[0].5[1].0);
    let old_words: Vec<String> = search_words(&first_sender.0)
        .into_iter()
        .filter(|w| w.chars().count() >= 3 && !recipient_words.contains(w))
        .collect();
    assert!(!old_words.is_empty(), "{first_sender:?}");
    for word in &old_words {
        assert!(found(s, word).await.contains(&first_id), "{word}");
    }
    s.upsert_customer(&customer(&first_sender.1, "Zacarías Nuevo", None))
        .await
        .unwrap();
    assert_eq!(found(s, "zacarías").await, vec![first_id]);
    assert!(!found(s, &first_sender.0).await.contains(&first_id));
    for word in &old_words {
        assert!(!found(s, word).await.contains(&first_id), "{word}");
    }
    db.finish().await;
}

/// A name that more than 1,000 parcels match is counted up to 1,000 and
/// paged like any other; the last page knows the exact total.
async fn a_search_counts_up_to_a_thousand_matches(db: TestDb) {
    use futures::StreamExt;
    let s = &db.store;
    let (a, b) = setup(s).await;
    let mut ids: Vec<i64> = futures::stream::iter(0..1_010)
        .map(|i| async move {
            let mut p = parcel(a, b, Service::BranchPickup);
            p.recipient = customer(&format!("+5731{:08}", 20_000_000 + i), "Luis Pérez", None);
            s.register_parcel(&p, &at(&OPERATOR, p.origin_branch_id))
                .await
                .unwrap()
                .parcel
                .id
        })
        .buffer_unordered(8)
        .collect()
        .await;
    ids.sort_unstable_by(|x, y| y.cmp(x));
    let list = |q: &'static str, page: u32| async move {
        s.list_parcels(&ParcelFilter {
            q: Some(q.to_owned()),
            page,
            page_size: 100,
            ..Default::default()
        })
        .await
        .unwrap()
    };
    for q in ["gomez", "PÉR luis", "a"] {
        let first = list(q, 1).await;
        assert!(!first.total_exact, "{q}");
        assert_eq!(first.total, 1_000, "{q}");
        let page = list(q, 4).await;
        let want: Vec<i64> = ids[300..400].to_vec();
        assert_eq!(
            page.items.iter().map(|p| p.id).collect::<Vec<_>>(),
            want,
            "{q}"
        );
        // the last page the first thousand matches hold
        let tenth = list(q, 10).await;
        assert_eq!(
            tenth.items.iter().map(|p| p.id).collect::<Vec<_>>(),
            ids[900..1_000].to_vec(),
            "{q}"
        );
        assert!(!tenth.total_exact && tenth.total >= 1_000, "{q}");
        let last = list(q, 11).await;
        assert_eq!(last.items.len(), 10, "{q}");
        assert!(last.total_exact, "{q}");
        assert_eq!(last.total, 1_010, "{q}");
        let past = list(q, 12).await;
        assert!(past.items.is_empty(), "{q}");
        assert!(!past.total_exact, "{q}");
    }
    let none = list("gomez zz", 1).await;
    assert!(none.items.is_empty() && none.total == 0 && none.total_exact);
    // Renamed recipients take a word below the cap again: counted exactly
    // (PostgreSQL had marked "perez" as in over 1,000 parcels).
    assert!(!list("perez", 1).await.total_exact);
    for i in 0..20 {
        s.upsert_customer(&customer(
            &format!("+5731{:08}", 20_000_000 + i),
            "Luis Ruiz",
            None,
        ))
        .await
        .unwrap();
    }
    let fewer = list("perez", 1).await;
    assert!(fewer.total_exact);
    assert_eq!(fewer.total, 990);
    assert_eq!(list("ruiz", 1).await.total, 20);
    db.finish().await;
}

/// Searches of several words whose starts match many names: a few words
/// each (PostgreSQL reads pairs of whole words), and more words than it
/// pairs (it reads the prefixes); both give what a scan of the names does.
async fn several_words_that_start_many_names_find_what_a_scan_finds(db: TestDb) {
    use futures::StreamExt;
    let s = &db.store;
    let (a, b) = setup(s).await;
    let syllables = [
        "ba", "be", "bi", "bo", "bu", "ca", "ce", "ci", "co", "cu", "da", "de",
    ];
    // (id, the words of both names)
    let rows: Vec<(i64, Vec<String>)> = futures::stream::iter(0..12usize)
        .map(|k| async move {
            let mut p = parcel(a, b, Service::BranchPickup);
            let sender = format!(
                "Za{} Qu{}",
                syllables[k],
                syllables[(k * 5 + 3) % syllables.len()]
            );
            let recipient = if k % 3 == 0 {
                "Ana Gómez"
            } else {
                "Luis Zabala"
            };
            p.sender = customer(&format!("+5730{:08}", 30_000_000 + k), &sender, None);
            p.recipient = customer(&format!("+5731{:08}", 40_000_000 + k), recipient, None);
            let id = s
                .register_parcel(&p, &at(&OPERATOR, p.origin_branch_id))
                .await
                .unwrap()
                .parcel
                .id;
            let mut words = search_words(&sender);
            words.extend(search_words(recipient));
            (id, words)
        })
        .buffer_unordered(4)
        .collect()
        .await;
    for q in [
        // 13 words start "za" and 12 "qu": more pairs than read as pairs
        "za qu",
        "qu za ana",
        // few: pairs
        "zaba qu",
        "zabe quba",
        "zab quc",
        "ana za",
        "gomez zaca",
        "luis zabala",
        "zabala zabal",
        "quda zaba",
        "zabala ana",
    ] {
        let words = search_words(q);
        let mut want: Vec<i64> = rows
            .iter()
            .filter(|(_, names)| {
                words
                    .iter()
                    .all(|w| names.iter().any(|n| n.starts_with(w.as_str())))
            })
            .map(|r| r.0)
            .collect();
        want.sort_unstable_by(|x, y| y.cmp(x));
        assert_eq!(found(s, q).await, want, "{q}");
    }
    db.finish().await;
}

/// Parcels saved before name search existed (no search words) get their
/// words when the store next starts.
async fn parcels_from_before_name_search_get_their_words_at_start_up(db: TestDb) {
    let (a, b) = setup(&db.store).await;
    let mut p = parcel(a, b, Service::BranchPickup);
    p.sender = customer("+573005550000", "Íñigo Muñoz", None);
    let id = db
        .store
        .register_parcel(&p, &at(&OPERATOR, p.origin_branch_id))
        .await
        .unwrap()
        .parcel
        .id;
    let find = |s: Store| async move { found(&s, "inigo munoz").await };
    assert_eq!(find(db.store.clone()).await, vec![id]);
    let mut conn = sqlx::AnyConnection::connect(&db.url).await.unwrap();
    sqlx::query("UPDATE parcels SET search_text = NULL")
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    assert!(find(db.store.clone()).await.is_empty());
    let reopened = Store::connect(&db.url, db.clock.clone()).await.unwrap();
    assert_eq!(find(reopened).await, vec![id]);
    db.finish().await;
}

/// A session is the user's until it expires or is ended, even right after
/// it was looked up (and remembered).
async fn a_session_ends_at_sign_out_and_at_expiry(db: TestDb) {
    use paqueteria_core::store::NewUser;
    let s = &db.store;
    let user = s
        .create_user(&NewUser {
            email: "ops@example.com".into(),
            name: "Ops".into(),
            password: "correct horse battery".into(),
            role: Role::Operator,
            branch_id: None,
        })
        .await
        .unwrap();
    let token = s.create_session(user.id, 60_000).await.unwrap();
    for _ in 0..2 {
        assert_eq!(
            s.session_user(&token).await.unwrap().map(|u| u.id),
            Some(user.id)
        );
    }
    assert_eq!(s.session_user("not-a-token").await.unwrap(), None);
    db.clock.advance(Duration::from_secs(61));
    assert_eq!(s.session_user(&token).await.unwrap(), None, "expired");
    let token = s.create_session(user.id, 60_000).await.unwrap();
    assert!(s.session_user(&token).await.unwrap().is_some());
    s.delete_session(&token).await.unwrap();
    assert_eq!(s.session_user(&token).await.unwrap(), None, "signed out");
    db.finish().await;
}

/// Each item of the list is the parcel as read alone, in every status and
/// through every way a page is read (the plain list, a filter, a search),
/// and as the API writes it: the items the store keeps beside the rows
/// (migrations `*_list_items`) follow every change. A change made by a
/// statement that does not write the item is shown too: the item it leaves
/// behind is not used.
async fn list_items_are_each_parcel_as_read_alone(db: TestDb) {
    let s = &db.store;
    let (a, b) = setup(s).await;
    // a home delivery's whole life; each of its beginnings is a parcel
    // (registered, received, in transit, ..., delivered after a failed
    // attempt), then a same-branch pickup, a cancelled and a returned one
    let life = home_delivery_life();
    let mut lives: Vec<_> = (0..=life.len())
        .map(|n| (Service::HomeDelivery, b, life[..n].to_vec()))
        .collect();
    lives.push((
        Service::BranchPickup,
        a,
        vec![
            (ParcelEvent::Receive, OPERATOR),
            (ParcelEvent::Arrive, OPERATOR),
        ],
    ));
    lives.push((
        Service::BranchPickup,
        b,
        vec![(
            ParcelEvent::Cancel {
                reason: "lo pidió el remitente".to_owned(),
            },
            SUPERVISOR,
        )],
    ));
    let mut returned = life[..3].to_vec();
    returned.push((
        ParcelEvent::Return {
            reason: "nadie lo recogió".to_owned(),
        },
        SUPERVISOR,
    ));
    lives.push((Service::HomeDelivery, b, returned));
    let mut ids = Vec::new();
    for (service, to, events) in &lives {
        let mut p = register(s, a, *to, *service).await;
        for (event, actor) in events {
            p = apply(s, &p, event, actor).await.unwrap();
        }
        assert_eq!(p, s.parcel(p.id).await.unwrap(), "what a change returns");
        ids.push(p.id);
    }
    let statuses: std::collections::BTreeSet<_> = {
        let mut seen = std::collections::BTreeSet::new();
        for id in &ids {
            seen.insert(s.parcel(*id).await.unwrap().status.as_str());
        }
        seen
    };
    assert_eq!(statuses.len(), ParcelStatus::ALL.len(), "{statuses:?}");
    let check = |s: Store| async move {
        let s = &s;
        let filters = [
            ParcelFilter::default(),
            ParcelFilter {
                branch_id: Some(b),
                ..Default::default()
            },
            ParcelFilter {
                q: Some("perez".to_owned()),
                ..Default::default()
            },
        ];
        for f in filters {
            let page = s
                .list_parcels(&ParcelFilter {
                    page: 1,
                    page_size: 50,
                    ..f.clone()
                })
                .await
                .unwrap();
            assert!(!page.items.is_empty(), "{f:?}");
            for item in &page.items {
                let alone = s.parcel(item.id).await.unwrap();
                assert_eq!(item.json(), serde_json::to_string(&alone).unwrap(), "{f:?}");
            }
            // the API's body is what serde writes for the page
            assert_eq!(page.to_json(), serde_json::to_string(&page).unwrap());
            let written: serde_json::Value = serde_json::from_str(&page.to_json()).unwrap();
            assert_eq!(
                written["items"].as_array().map(Vec::len),
                Some(page.items.len())
            );
            assert_eq!(
                written["items"][0],
                serde_json::to_value(s.parcel(page.items[0].id).await.unwrap()).unwrap()
            );
        }
    };
    check(s.clone()).await;
    let mut conn = sqlx::AnyConnection::connect(&db.url).await.unwrap();
    assert_eq!(missing_items(&mut conn).await, 0);
    // a statement that changes what the item shows, and not the item
    sqlx::query("UPDATE parcels SET shelf = 'B-7', condition = 'damaged' WHERE id = $1")
        .bind(ids[1])
        .execute(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        missing_items(&mut conn).await,
        1,
        "the stale item is dropped"
    );
    let moved = s.parcel(ids[1]).await.unwrap();
    assert_eq!(moved.shelf.as_deref(), Some("B-7"));
    check(s.clone()).await;
    // the next change writes the item again
    let p = apply(s, &moved, &ParcelEvent::Dispatch, &OPERATOR)
        .await
        .unwrap();
    assert_eq!(p.shelf.as_deref(), Some("B-7"));
    assert_eq!(missing_items(&mut conn).await, 0);
    check(s.clone()).await;
    // items missing when the store opens (parcels from before the items,
    // here all of them) are written then
    sqlx::query("UPDATE parcels SET list_item = NULL")
        .execute(&mut conn)
        .await
        .unwrap();
    check(s.clone()).await;
    let reopened = Store::connect(&db.url, db.clock.clone()).await.unwrap();
    assert_eq!(missing_items(&mut conn).await, 0);
    check(reopened).await;
    conn.close().await.unwrap();
    db.finish().await;
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

store_suite!(sqlite;
    list_items_are_each_parcel_as_read_alone,
    the_list_filters_searches_and_pages,
    the_list_agrees_with_a_plain_scan,
    several_words_that_start_many_names_find_what_a_scan_finds,
    a_search_counts_up_to_a_thousand_matches,
    a_session_ends_at_sign_out_and_at_expiry,
    parcels_from_before_name_search_get_their_words_at_start_up,
    registering_quotes_from_the_tariff_and_keeps_the_fee_snapshot,
    registering_without_a_tariff_names_the_field,
    a_home_delivery_runs_its_whole_life_with_history_payments_and_outbox,
    a_pickup_after_the_grace_pays_storage_per_started_day,
    a_refused_change_writes_nothing,
    concurrent_edits_of_one_parcel_give_one_winner_and_a_conflict,
    customers_are_matched_by_phone,
);

store_suite!(postgres;
    list_items_are_each_parcel_as_read_alone,
    the_list_filters_searches_and_pages,
    the_list_agrees_with_a_plain_scan,
    several_words_that_start_many_names_find_what_a_scan_finds,
    a_search_counts_up_to_a_thousand_matches,
    a_session_ends_at_sign_out_and_at_expiry,
    parcels_from_before_name_search_get_their_words_at_start_up,
    registering_quotes_from_the_tariff_and_keeps_the_fee_snapshot,
    registering_without_a_tariff_names_the_field,
    a_home_delivery_runs_its_whole_life_with_history_payments_and_outbox,
    a_pickup_after_the_grace_pays_storage_per_started_day,
    a_refused_change_writes_nothing,
    concurrent_edits_of_one_parcel_give_one_winner_and_a_conflict,
    customers_are_matched_by_phone,
);

/// A SQLite store made before the pairs of name words (migration 0007)
/// gets them for the parcels it holds when it is upgraded: a full name
/// finds its parcels, and only them, after the upgrade.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_parcels_from_before_name_pairs_are_found_by_full_name() {
    let db = TestDb::sqlite().await;
    let s = &db.store;
    let (a, b) = setup(s).await;
    let mut ids = Vec::new();
    for (i, (sender, recipient)) in [
        ("Íñigo Muñoz Díaz", "Ana Ruiz"),
        ("Ana Muñoz", "Íñigo Ruiz"),
        ("Íñigo Muñoz", "Ana Muñoz"),
    ]
    .iter()
    .enumerate()
    {
        let mut p = parcel(a, b, Service::BranchPickup);
        p.sender = customer(&format!("+57300555000{i}"), sender, None);
        p.recipient = customer(&format!("+57310555000{i}"), recipient, None);
        ids.push(
            s.register_parcel(&p, &at(&OPERATOR, p.origin_branch_id))
                .await
                .unwrap()
                .parcel
                .id,
        );
    }
    let want = [
        ("inigo munoz", vec![ids[2], ids[1], ids[0]]),
        ("Íñigo Muñoz Díaz", vec![ids[0]]),
        ("munoz diaz ana", vec![ids[0]]),
        ("ana ruiz inigo", vec![ids[1], ids[0]]),
        ("ana munoz", vec![ids[2], ids[1], ids[0]]),
        ("inig ru", vec![ids[1], ids[0]]),
        ("ana perez", vec![]),
    ];
    let want = &want;
    let check = |s: Store| async move {
        for (q, ids) in want {
            assert_eq!(&found(&s, q).await, ids, "{q}");
        }
    };
    check(s.clone()).await;
    // the store as it was before migration 0007
    let mut conn = sqlx::AnyConnection::connect(&db.url).await.unwrap();
    sqlx::raw_sql(
        "DROP TRIGGER parcels_pairs_insert; DROP TRIGGER parcels_pairs_update; \
         DROP TRIGGER parcels_pairs_delete; DROP TABLE parcels_pairs; DROP TABLE name_words; \
         DELETE FROM _sqlx_migrations WHERE version = 7;",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    conn.close().await.unwrap();
    let upgraded = Store::connect(&db.url, db.clock.clone()).await.unwrap();
    check(upgraded).await;
    db.finish().await;
}

/// PostgreSQL's list reads keep their own connections: a request dropped
/// while its statement runs leaves no reply behind for the next read, and
/// connections the server ends are replaced, not handed out again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_reads_survive_dropped_requests_and_ended_sessions() {
    let db = TestDb::postgres().await;
    let s = &db.store;
    let (a, b) = setup(s).await;
    let names = ["Carolina Ruiz", "Pedro Gómez", "Marta Díaz", "Luis Pérez"];
    let mut ids = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let mut p = parcel(a, b, Service::BranchPickup);
        p.recipient = customer(&format!("+57310123456{i}"), name, None);
        ids.push(
            s.register_parcel(&p, &at(&OPERATOR, p.origin_branch_id))
                .await
                .unwrap()
                .parcel
                .id,
        );
    }
    let check = || async {
        for (name, id) in names.iter().zip(&ids) {
            assert_eq!(found(s, name).await, vec![*id], "{name}");
        }
    };
    check().await;
    // searches dropped after one to four polls: while they wait for a
    // connection, for their reply, or in the middle of reading it
    let mut dropped = 0;
    for i in 0..200usize {
        let mut search = std::pin::pin!(found(s, names[i % 4]));
        let mut pending = true;
        for _ in 0..=i % 4 {
            pending = futures::poll!(search.as_mut()).is_pending();
            if !pending {
                break;
            }
            tokio::task::yield_now().await;
        }
        dropped += usize::from(pending);
        if i % 20 == 0 {
            check().await;
        }
    }
    assert!(dropped > 0, "no search was dropped");
    check().await;
    // the server ends every session of the database
    let mut admin = sqlx::PgConnection::connect(&db.url).await.unwrap();
    sqlx::query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    .execute(&mut admin)
    .await
    .unwrap();
    // until the ended backends are gone (a read on one still ending could
    // pass, and the ended connections behind it fail after the first pass)
    let mut left: i64 = 1;
    for _ in 0..500 {
        left = sqlx::query_scalar(
            "SELECT COUNT(*) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
        )
        .fetch_one(&mut admin)
        .await
        .unwrap();
        if left == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(left, 0, "ended backends still running");
    admin.close().await.unwrap();
    // each ended connection fails one read at most (16 at most are kept)
    let all = paqueteria_core::store::ParcelFilter {
        page: 1,
        page_size: 50,
        ..Default::default()
    };
    let list = || s.list_parcels(&all);
    let mut failed = 0;
    while list().await.is_err() {
        failed += 1;
        assert!(failed <= 16, "reads still fail after {failed} tries");
    }
    for _ in 0..40 {
        assert_eq!(list().await.unwrap().items.len(), names.len());
    }
    check().await;
    db.finish().await;
}

/// The outbox: a change made while the broker is unreachable still gets its
/// notifications once the broker is back, each exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notifications_of_a_change_made_while_the_broker_is_down_go_out_once_it_is_back() {
    use paqueteria_jobs::broker::redis::RedisBroker;
    use paqueteria_jobs::broker::{Broker, BrokerConfig};

    let db = TestDb::sqlite().await;
    let s = &db.store;
    let (a, b) = setup(s).await;
    let p = register(s, a, b, Service::BranchPickup).await;
    // Nothing listens on port 1: every call fails as "unavailable".
    let down =
        RedisBroker::connect("redis://127.0.0.1:1/0", "down", BrokerConfig::default()).unwrap();
    let p = apply(s, &p, &ParcelEvent::Receive, &OPERATOR)
        .await
        .unwrap();
    let relayed = s.relay_outbox(&down, 100).await.unwrap();
    assert_eq!((relayed.enqueued, relayed.failed), (0, 1));
    assert_eq!(
        s.pending_notifications(100).await.unwrap().len(),
        1,
        "the row waits for the broker"
    );

    let url =
        std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/0".to_owned());
    let prefix = format!("test:{}", uuid::Uuid::now_v7().simple());
    let up = RedisBroker::connect(&url, &prefix, BrokerConfig::default()).unwrap();
    assert_eq!(s.relay_outbox(&up, 100).await.unwrap().enqueued, 1);
    assert_eq!(
        s.relay_outbox(&up, 100).await.unwrap().enqueued,
        0,
        "a relayed row is not sent again"
    );
    let stats = up.stats(&["sms".to_owned()]).await.unwrap();
    assert_eq!(stats[0].queued, 1, "exactly one job");
    let note = &s.notifications(p.id).await.unwrap()[0];
    assert_eq!(note.state, "enqueued");
    assert_eq!(
        note.job_id.as_deref(),
        Some(format!("sms.send:{}", note.id).as_str())
    );
    let _ = up.purge("sms").await;
    db.finish().await;
}
