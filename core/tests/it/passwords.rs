//! Password hashing stays off the async threads: a flood of sign-ins must
//! not stall every other request of the process.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use paqueteria_core::domain::Role;
use paqueteria_core::store::NewUser;
use paqueteria_testkit::TestStore;

/// On a runtime with one async thread, a ticker keeps ticking while four
/// sign-ins check their passwords: the hashing runs on the blocking pool.
/// (Run inline, each check would hold the only thread for the whole hash,
/// and the ticker would barely move.)
#[test]
fn password_checks_leave_the_async_thread_free() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let db = TestStore::sqlite().await;
        db.store
            .create_user(&NewUser {
                email: "ana@example.com".to_owned(),
                name: "Ana".to_owned(),
                password: "correct horse battery".to_owned(),
                role: Role::Operator,
                branch_id: None,
            })
            .await
            .unwrap();
        let ticks = Arc::new(AtomicUsize::new(0));
        let ticker = tokio::spawn({
            let ticks = ticks.clone();
            async move {
                loop {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                    ticks.fetch_add(1, Ordering::SeqCst);
                }
            }
        });
        tokio::task::yield_now().await;
        let before = ticks.load(Ordering::SeqCst);
        let store = &db.store;
        let checks = [
            store.authenticate("ana@example.com", "wrong password 1"),
            store.authenticate("ana@example.com", "wrong password 2"),
            store.authenticate("nobody@example.com", "wrong password 3"),
            store.authenticate("ana@example.com", "correct horse battery"),
        ];
        let results = futures::future::join_all(checks).await;
        let during = ticks.load(Ordering::SeqCst) - before;
        ticker.abort();
        let signed_in: Vec<bool> = results.into_iter().map(|r| r.unwrap().is_some()).collect();
        assert_eq!(signed_in, [false, false, false, true]);
        assert!(
            during >= 20,
            "the async thread ticked {during} times during four password checks"
        );
        db.finish().await;
    });
}
