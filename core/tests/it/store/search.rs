//! Name search: counts capped at a thousand matches, several words that
//! start many names, and the search words of parcels saved before them.

use paqueteria_core::domain::Service;
use paqueteria_core::store::search::search_words;
use paqueteria_core::store::{ParcelFilter, Store};
use sqlx::Connection;

use paqueteria_testkit::{customer, two_branches_and_a_tariff as setup};

use super::{OPERATOR, TestDb, at, found, parcel};

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

store_suite!(sqlite;
    several_words_that_start_many_names_find_what_a_scan_finds,
    a_search_counts_up_to_a_thousand_matches,
    parcels_from_before_name_search_get_their_words_at_start_up,
);

store_suite!(postgres;
    several_words_that_start_many_names_find_what_a_scan_finds,
    a_search_counts_up_to_a_thousand_matches,
    parcels_from_before_name_search_get_their_words_at_start_up,
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
