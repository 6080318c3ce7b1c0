//! The store's PostgreSQL connections: list reads survive dropped requests
//! and sessions the server ends.

use std::time::Duration;

use paqueteria_core::domain::Service;
use sqlx::Connection;

use paqueteria_testkit::{customer, two_branches_and_a_tariff as setup};

use super::{OPERATOR, TestDb, at, found, parcel};

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
