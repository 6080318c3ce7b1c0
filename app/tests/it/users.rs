//! Creating staff accounts, on both stores: a branch that does not exist,
//! or none for a role that needs one, is a 422 naming `branch_id` (not a
//! 500), a taken email a 409 that says so in plain words (not the
//! database's message), and nothing is created.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::json;

use crate::accounts::staff_app;
use crate::common::{TestApp, token};

async fn bad_staff_accounts_are_refused_clearly(app: TestApp, branches: Vec<i64>) {
    let admin = token(&app, "admin@example.com").await;
    let user = |email: &str, branch: Option<i64>| {
        json!({"email": email, "name": "Marta Ruiz", "password": "a long password 1",
               "role": "operator", "branch_id": branch})
    };
    let r = app
        .post_json(
            "/api/v1/users",
            Some(&admin),
            &user("marta@example.com", Some(999_999)),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert_eq!(
        r.json()["detail"][0]["loc"],
        json!(["body", "branch_id"]),
        "{}",
        r.body
    );
    let r = app
        .post_json(
            "/api/v1/users",
            Some(&admin),
            &user("marta@example.com", None),
        )
        .await;
    assert_eq!(r.status, 422, "an operator works at a branch: {}", r.body);
    assert_eq!(r.json()["detail"][0]["loc"], json!(["body", "branch_id"]));

    let r = app
        .post_json(
            "/api/v1/users",
            Some(&admin),
            &user("operator@example.com", Some(branches[0])),
        )
        .await;
    assert_eq!(r.status, 409, "{}", r.body);
    let detail = r.json()["detail"].as_str().unwrap().to_owned();
    assert!(
        detail.contains("operator@example.com already exists"),
        "{detail}"
    );
    for db_words in ["UNIQUE", "unique", "constraint", "duplicate key", "users"] {
        assert!(!detail.contains(db_words), "the database speaks: {detail}");
    }

    let users = app.get("/api/v1/users", Some(&admin)).await.json();
    let marta = users["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|u| u["email"] == "marta@example.com");
    assert!(!marta, "nothing was created: {users}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_staff_accounts_are_refused_clearly_on_sqlite() {
    let (app, branches) = staff_app(None).await;
    bad_staff_accounts_are_refused_clearly(app, branches).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_staff_accounts_are_refused_clearly_on_postgres() {
    let pg = paqueteria_testkit::PgDatabase::create().await;
    let (app, branches) = staff_app(Some(&pg.url)).await;
    bad_staff_accounts_are_refused_clearly(app, branches).await;
    pg.drop_now().await;
}
