//! The demo seed and the first admin.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common::TestApp;
use paqueteria_core::domain::ParcelStatus;
use paqueteria_core::store::ParcelFilter;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_makes_parcels_in_every_status() {
    let app = TestApp::spawn(&[]).await;
    let done = paqueteria_app::seed::run(&app.store, 90).await.unwrap();
    assert_eq!((done.parcels, done.branches), (90, 6));
    for status in ParcelStatus::ALL {
        let page = app
            .store
            .list_parcels(&ParcelFilter {
                status: Some(status),
                page: 1,
                page_size: 1,
                ..Default::default()
            })
            .await
            .unwrap();
        assert!(page.total > 0, "no parcel is {status}");
    }
    // A second run adds parcels, not branches.
    assert_eq!(
        paqueteria_app::seed::run(&app.store, 1)
            .await
            .unwrap()
            .branches,
        0
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_admin_is_created_once_and_a_generated_password_signs_in() {
    use paqueteria_app::startup::ensure_first_admin;
    let app = TestApp::spawn(&[]).await;
    let (email, password) = ensure_first_admin(&app.store, None, None)
        .await
        .unwrap()
        .unwrap();
    assert!(password.len() >= 20);
    assert_eq!(app.login(&email, &password).await.status, 200);
    assert!(
        ensure_first_admin(&app.store, None, None)
            .await
            .unwrap()
            .is_none(),
        "only when there is no user"
    );
    app.stop().await;

    let app = TestApp::spawn(&[]).await;
    let given = ensure_first_admin(
        &app.store,
        Some("boss@example.com".into()),
        Some("a long enough secret".into()),
    )
    .await
    .unwrap();
    assert!(given.is_none(), "a given password is not printed");
    assert_eq!(
        app.login("boss@example.com", "a long enough secret")
            .await
            .status,
        200
    );
    app.stop().await;
}
