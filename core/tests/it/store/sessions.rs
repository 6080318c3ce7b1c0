//! Sessions: a session ends at sign-out and at expiry.

use std::time::Duration;

use paqueteria_core::domain::Role;

use super::TestDb;

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

/// A user's language for the web UI is unset until they choose one, kept
/// once chosen, and cleared back to the browser's.
async fn a_users_language_is_kept_until_cleared(db: TestDb) {
    use paqueteria_core::store::{NewUser, StoreError};
    let s = &db.store;
    let user = s
        .create_user(&NewUser {
            email: "lang@example.com".into(),
            name: "Lang".into(),
            password: "correct horse battery".into(),
            role: Role::Admin,
            branch_id: None,
        })
        .await
        .unwrap();
    assert_eq!(s.user_language(user.id).await.unwrap(), None);
    s.set_user_language(user.id, Some("EN")).await.unwrap();
    assert_eq!(
        s.user_language(user.id).await.unwrap().as_deref(),
        Some("en")
    );
    assert!(matches!(
        s.set_user_language(user.id, Some("e n")).await,
        Err(StoreError::Invalid {
            field: "language",
            ..
        })
    ));
    s.set_user_language(user.id, None).await.unwrap();
    assert_eq!(s.user_language(user.id).await.unwrap(), None);
    assert!(matches!(
        s.user_language(user.id + 1000).await,
        Err(StoreError::NotFound(_))
    ));
    db.finish().await;
}

store_suite!(sqlite;
    a_session_ends_at_sign_out_and_at_expiry,
    a_users_language_is_kept_until_cleared,
);

store_suite!(postgres;
    a_session_ends_at_sign_out_and_at_expiry,
    a_users_language_is_kept_until_cleared,
);
