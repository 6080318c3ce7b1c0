//! The parcel list: filters, search and pages, agreement with a plain scan
//! of the same parcels, and the list items kept beside the rows.

use paqueteria_core::domain::{ParcelEvent, ParcelStatus, Service};
use paqueteria_core::store::search::search_words;
use paqueteria_core::store::{ParcelFilter, Store};
use sqlx::Connection;

use paqueteria_testkit::{customer, two_branches_and_a_tariff as setup};

use super::{
    OPERATOR, SUPERVISOR, TestDb, apply, at, found, home_delivery_life, missing_items, parcel,
    register,
};

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

store_suite!(sqlite;
    list_items_are_each_parcel_as_read_alone,
    the_list_filters_searches_and_pages,
    the_list_agrees_with_a_plain_scan,
);

store_suite!(postgres;
    list_items_are_each_parcel_as_read_alone,
    the_list_filters_searches_and_pages,
    the_list_agrees_with_a_plain_scan,
);
