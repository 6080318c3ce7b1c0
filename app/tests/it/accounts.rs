//! Accounts after they exist, on both stores: changing one's own password
//! (the other sessions end, this one goes on), an admin's reset (every
//! session ends), an admin's changes to a user (a deactivated user's token
//! stops working on the very next request, even one remembered a moment
//! ago; the last active admin stays), the password policy wherever a
//! password is set, the paged user list, and the audit rows of it all.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value, json};

use crate::common::{PASSWORD, TestApp, app_with_staff_and, token};

/// The counter clerk of the first branch these tests register parcels as.
pub const CLERK: &str = "cajera@example.com";

/// [`app_with_staff_and`] on SQLite, or on the PostgreSQL database at
/// `database_url` (with the server secret it requires), plus [`CLERK`],
/// an operator of the first branch.
pub async fn staff_app(database_url: Option<&str>) -> (TestApp, Vec<i64>) {
    let mut vars = Vec::new();
    if let Some(url) = database_url {
        vars.push(("DATABASE_URL", url.to_owned()));
        vars.push((
            "APP_SECRET_KEY",
            "accounts-test-secret-0123456789abcdef".to_owned(),
        ));
    }
    let (app, branches) = app_with_staff_and(&vars).await;
    app.store
        .create_user(&paqueteria_core::store::NewUser {
            email: CLERK.to_owned(),
            name: "Cajera".to_owned(),
            password: PASSWORD.to_owned(),
            role: paqueteria_core::domain::Role::Operator,
            branch_id: Some(branches[0]),
        })
        .await
        .unwrap();
    (app, branches)
}

/// A PATCH with a JSON body, signed in with `token`.
pub async fn patch_json(
    app: &TestApp,
    path: &str,
    token: Option<&str>,
    body: &Value,
) -> crate::common::Reply {
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("Content-Type", "application/json")];
    if let Some(a) = &auth {
        headers.push(("Authorization", a.as_str()));
    }
    app.request("PATCH", path, &headers, &body.to_string())
        .await
}

/// The `loc`s of a 422's `detail`, each joined with dots (`body.name`).
pub fn locs(r: &crate::common::Reply) -> Vec<String> {
    assert_eq!(r.status, 422, "{}", r.body);
    r.json()["detail"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            e["loc"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p.as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
                .join(".")
        })
        .collect()
}

/// The id of the user with `email`.
async fn user_id(app: &TestApp, email: &str) -> i64 {
    app.store
        .users()
        .await
        .unwrap()
        .into_iter()
        .find(|u| u.email == email)
        .unwrap()
        .id
}

/// The audit rows of `action`, newest first, as an admin reads them.
async fn audit_rows(app: &TestApp, admin: &str, action: &str) -> Vec<Value> {
    let r = app
        .get(&format!("/api/v1/audit?action={action}"), Some(admin))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["items"].as_array().unwrap().clone()
}

async fn a_password_change_ends_the_other_sessions_and_keeps_this_one(app: TestApp) {
    let admin = token(&app, "admin@example.com").await;
    let here = token(&app, "operator@example.com").await;
    let elsewhere = token(&app, "operator@example.com").await;
    // both in use (and so remembered by the app)
    for t in [&here, &elsewhere] {
        assert_eq!(app.get("/api/v1/users/me", Some(t)).await.status, 200);
    }
    let change =
        |current: &str, new: &str| json!({"current_password": current, "new_password": new});
    let path = "/api/v1/users/me/password";

    let r = patch_json(&app, path, Some(&here), &change("not my password", "short")).await;
    assert_eq!(
        locs(&r),
        ["body.current_password", "body.new_password"],
        "both wrong, both named"
    );
    let r = patch_json(&app, path, Some(&here), &change(PASSWORD, "Contraseña123")).await;
    assert_eq!(locs(&r), ["body.new_password"]);
    assert!(r.body.contains("common"), "{}", r.body);
    let r = patch_json(&app, path, Some(&here), &change(PASSWORD, PASSWORD)).await;
    assert_eq!(locs(&r), ["body.new_password"], "the same password again");
    let r = patch_json(&app, path, None, &change(PASSWORD, "a new long secret 7")).await;
    assert_eq!(r.status, 401);
    // nothing changed so far
    assert_eq!(
        app.get("/api/v1/users/me", Some(&elsewhere)).await.status,
        200
    );
    assert_eq!(
        app.login("operator@example.com", PASSWORD).await.status,
        200
    );

    let r = patch_json(
        &app,
        path,
        Some(&here),
        &change(PASSWORD, "a new long secret 7"),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(
        app.get("/api/v1/users/me", Some(&here)).await.status,
        200,
        "the session that changed it goes on"
    );
    assert_eq!(
        app.get("/api/v1/users/me", Some(&elsewhere)).await.status,
        401,
        "every other session ended"
    );
    assert_eq!(
        app.login("operator@example.com", PASSWORD).await.status,
        401
    );
    assert_eq!(
        app.login("operator@example.com", "a new long secret 7")
            .await
            .status,
        200
    );

    let rows = audit_rows(&app, &admin, "password_changed").await;
    let op = user_id(&app, "operator@example.com").await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["actor_id"], op);
    assert_eq!(rows[0]["subject"], format!("user:{op}"));
    assert_eq!(rows[0]["client_addr"], "127.0.0.1", "from where");
    let all = app.get("/api/v1/audit?limit=200", Some(&admin)).await.body;
    assert!(
        !all.contains("a new long secret"),
        "a password in the log: {all}"
    );
    app.stop().await;
}

async fn guessing_the_current_password_is_throttled_as_a_sign_in_is(app: TestApp) {
    let op = token(&app, "operator@example.com").await;
    let change =
        |current: &str| json!({"current_password": current, "new_password": "a new long secret 7"});
    let mut refused = None;
    for i in 0..30 {
        let r = patch_json(
            &app,
            "/api/v1/users/me/password",
            Some(&op),
            &change(&format!("guess number {i}")),
        )
        .await;
        if r.status == 429 {
            refused = Some(r);
            break;
        }
        assert_eq!(locs(&r), ["body.current_password"], "guess {i}");
    }
    let r = refused.expect("30 wrong guesses and never a 429");
    assert!(r.header("retry-after").is_some(), "{}", r.head);
    let r = patch_json(
        &app,
        "/api/v1/users/me/password",
        Some(&op),
        &change(PASSWORD),
    )
    .await;
    assert_eq!(r.status, 429, "even the right one, for now: {}", r.body);
    assert!(
        app.store
            .authenticate("operator@example.com", PASSWORD)
            .await
            .unwrap()
            .is_some(),
        "unchanged"
    );
    app.stop().await;
}

async fn an_admin_reset_ends_every_session_of_the_user(app: TestApp) {
    let admin = token(&app, "admin@example.com").await;
    let courier = token(&app, "courier@example.com").await;
    assert_eq!(
        app.get("/api/v1/users/me", Some(&courier)).await.status,
        200
    );
    let id = user_id(&app, "courier@example.com").await;
    let path = format!("/api/v1/users/{id}/password-reset");

    let r = app
        .post_json(
            &path,
            Some(&courier),
            &json!({"new_password": "a courier's own 1"}),
        )
        .await;
    assert_eq!(r.status, 403, "only admins reset: {}", r.body);
    let r = app
        .post_json(&path, Some(&admin), &json!({"new_password": "1234567890"}))
        .await;
    assert_eq!(locs(&r), ["body.new_password"]);
    let r = app
        .post_json(
            "/api/v1/users/999999/password-reset",
            Some(&admin),
            &json!({"new_password": "reset by the admin 1"}),
        )
        .await;
    assert_eq!(r.status, 404, "{}", r.body);
    assert_eq!(
        app.get("/api/v1/users/me", Some(&courier)).await.status,
        200
    );

    let r = app
        .post_json(
            &path,
            Some(&admin),
            &json!({"new_password": "reset by the admin 1"}),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(
        app.get("/api/v1/users/me", Some(&courier)).await.status,
        401,
        "the remembered session ended at once"
    );
    assert_eq!(app.login("courier@example.com", PASSWORD).await.status, 401);
    assert_eq!(
        app.login("courier@example.com", "reset by the admin 1")
            .await
            .status,
        200
    );
    let rows = audit_rows(&app, &admin, "password_reset").await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["subject"], format!("user:{id}"));
    assert_eq!(
        rows[0]["actor_id"],
        user_id(&app, "admin@example.com").await
    );
    assert!(
        !serde_json::to_string(&rows)
            .unwrap()
            .contains("reset by the admin"),
        "{rows:?}"
    );
    app.stop().await;
}

async fn a_deactivated_users_token_stops_working_on_the_next_request(app: TestApp) {
    let admin = token(&app, "admin@example.com").await;
    let courier = token(&app, "courier@example.com").await;
    let id = user_id(&app, "courier@example.com").await;
    // in use, and so remembered by the app for a few seconds
    assert_eq!(
        app.get("/api/v1/users/me", Some(&courier)).await.status,
        200
    );
    assert_eq!(app.get("/api/v1/tariffs", Some(&courier)).await.status, 200);

    let r = patch_json(
        &app,
        &format!("/api/v1/users/{id}"),
        Some(&courier),
        &json!({"active": false}),
    )
    .await;
    assert_eq!(r.status, 403, "a courier deactivates nobody");
    let r = patch_json(
        &app,
        &format!("/api/v1/users/{id}"),
        Some(&admin),
        &json!({"active": false}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["active"], false);
    assert_eq!(
        app.get("/api/v1/tariffs", Some(&courier)).await.status,
        401,
        "the very next request"
    );
    assert_eq!(app.login("courier@example.com", PASSWORD).await.status, 401);

    let r = patch_json(
        &app,
        &format!("/api/v1/users/{id}"),
        Some(&admin),
        &json!({"active": true}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        app.get("/api/v1/tariffs", Some(&courier)).await.status,
        401,
        "a session ended stays ended"
    );
    assert_eq!(app.login("courier@example.com", PASSWORD).await.status, 200);
    let rows = audit_rows(&app, &admin, "user_changed").await;
    let details: Vec<&str> = rows.iter().map(|r| r["detail"].as_str().unwrap()).collect();
    assert_eq!(
        details,
        ["active: false → true", "active: true → false"],
        "newest first"
    );
    app.stop().await;
}

async fn role_branch_and_name_changes_are_checked_and_take_effect_at_once(
    app: TestApp,
    branches: Vec<i64>,
) {
    let admin = token(&app, "admin@example.com").await;
    let op = token(&app, CLERK).await;
    assert_eq!(app.get("/api/v1/outbox", Some(&op)).await.status, 403);
    let id = user_id(&app, CLERK).await;
    let path = format!("/api/v1/users/{id}");

    // a supervisor needs a branch
    let r = patch_json(
        &app,
        &path,
        Some(&admin),
        &json!({"role": "supervisor", "branch_id": null}),
    )
    .await;
    assert_eq!(locs(&r), ["body.branch_id"]);
    let r = patch_json(
        &app,
        &path,
        Some(&admin),
        &json!({"role": "supervisor", "branch_id": 999_999, "name": " "}),
    )
    .await;
    assert_eq!(
        locs(&r),
        ["body.name", "body.branch_id"],
        "every field named"
    );
    let r = patch_json(&app, &path, Some(&admin), &json!({"role": "boss"})).await;
    assert_eq!(r.status, 422, "{}", r.body);
    let r = patch_json(&app, &path, Some(&admin), &json!({"password": "x"})).await;
    assert_eq!(r.status, 422, "not a field of this route: {}", r.body);
    let r = patch_json(
        &app,
        "/api/v1/users/999999",
        Some(&admin),
        &json!({"active": false}),
    )
    .await;
    assert_eq!(r.status, 404, "{}", r.body);
    assert_eq!(
        app.get("/api/v1/users/me", Some(&op)).await.json()["role"],
        "operator",
        "nothing changed"
    );

    let r = patch_json(
        &app,
        &path,
        Some(&admin),
        &json!({"role": "supervisor", "branch_id": branches[1], "name": "Olga Operaria"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        (r.json()["role"].clone(), r.json()["branch_id"].clone()),
        (json!("supervisor"), json!(branches[1]))
    );
    // the new role counts on the next request
    assert_eq!(app.get("/api/v1/outbox", Some(&op)).await.status, 200);
    let r = patch_json(&app, &path, Some(&admin), &json!({"branch_id": null})).await;
    assert_eq!(locs(&r), ["body.branch_id"], "a supervisor keeps a branch");

    let rows = audit_rows(&app, &admin, "user_changed").await;
    assert_eq!(rows.len(), 1, "refused changes are not logged: {rows:?}");
    let detail = rows[0]["detail"].as_str().unwrap();
    for part in [
        "role: operator → supervisor",
        &format!("branch_id: {} → {}", branches[0], branches[1]),
        "name: Cajera → Olga Operaria",
    ] {
        assert!(detail.contains(part), "{part} in {detail}");
    }
    app.stop().await;
}

async fn the_last_active_admin_cannot_be_demoted_or_deactivated(app: TestApp, branches: Vec<i64>) {
    let admin = token(&app, "admin@example.com").await;
    let me = user_id(&app, "admin@example.com").await;
    let path = format!("/api/v1/users/{me}");
    for change in [
        json!({"active": false}),
        json!({"role": "supervisor", "branch_id": branches[0]}),
    ] {
        let r = patch_json(&app, &path, Some(&admin), &change).await;
        assert_eq!(r.status, 409, "{change}: {}", r.body);
        assert!(r.body.contains("last active admin"), "{}", r.body);
    }
    // a second admin, and the first may step down
    let r = app
        .post_json(
            "/api/v1/users",
            Some(&admin),
            &json!({"email": "dos@example.com", "name": "Admin Dos",
                    "password": "second admin pass 2", "role": "admin"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let second = r.json()["id"].as_i64().unwrap();
    let r = patch_json(
        &app,
        &path,
        Some(&admin),
        &json!({"role": "supervisor", "branch_id": branches[0]}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        app.get("/api/v1/users", Some(&admin)).await.status,
        403,
        "no longer an admin, from the next request on"
    );
    let dos = app
        .login("dos@example.com", "second admin pass 2")
        .await
        .json()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = patch_json(
        &app,
        &format!("/api/v1/users/{second}"),
        Some(&dos),
        &json!({"active": false}),
    )
    .await;
    assert_eq!(r.status, 409, "now the last one: {}", r.body);
    app.stop().await;
}

async fn every_password_set_follows_the_policy_and_new_users_are_audited(app: TestApp) {
    let admin = token(&app, "admin@example.com").await;
    let user = |email: &str, password: &str| json!({"email": email, "name": "Nuevo", "password": password, "role": "admin"});
    for weak in ["short1", "contraseña123", "QWERTYUIOP", "password123"] {
        let r = app
            .post_json(
                "/api/v1/users",
                Some(&admin),
                &user("nuevo@example.com", weak),
            )
            .await;
        assert_eq!(locs(&r), ["body.password"], "{weak}");
    }
    let r = app
        .post_json(
            "/api/v1/users",
            Some(&admin),
            &user("nuevo@example.com", "un buen secreto 42"),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.json()["id"].as_i64().unwrap();
    let rows = audit_rows(&app, &admin, "user_created").await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["subject"], format!("user:{id}"));
    assert_eq!(
        rows[0]["actor_id"],
        user_id(&app, "admin@example.com").await
    );
    assert!(rows[0]["detail"].as_str().unwrap().contains("role: admin"));
    assert_eq!(rows[0]["client_addr"], "127.0.0.1");
    assert!(!rows[0]["detail"].as_str().unwrap().contains("secreto"));
    app.stop().await;
}

async fn the_user_list_comes_in_pages(app: TestApp) {
    let admin = token(&app, "admin@example.com").await;
    let op = token(&app, "operator@example.com").await;
    let r = app.get("/api/v1/users?page_size=2", Some(&admin)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let first = r.json();
    assert_eq!(first["total"], 4);
    let emails = |page: &Value| -> Vec<String> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["email"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        emails(&first),
        ["admin@example.com", "cajera@example.com"],
        "by email"
    );
    let second = app
        .get("/api/v1/users?page=2&page_size=2", Some(&admin))
        .await
        .json();
    assert_eq!(
        emails(&second),
        ["courier@example.com", "operator@example.com"]
    );
    assert_eq!(
        (second["page"].clone(), second["page_size"].clone()),
        (json!(2), json!(2))
    );
    let r = app
        .get("/api/v1/users?page=0&page_size=201", Some(&admin))
        .await;
    assert_eq!(locs(&r), ["query.page", "query.page_size"]);
    assert_eq!(app.get("/api/v1/users", Some(&op)).await.status, 403);
    app.stop().await;
}

macro_rules! both_stores {
    ($($name:ident => $body:expr;)*) => {$(
        mod $name {
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn on_sqlite() {
                let (app, branches) = staff_app(None).await;
                ($body)(app, branches).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn on_postgres() {
                let pg = paqueteria_testkit::PgDatabase::create().await;
                let (app, branches) = staff_app(Some(&pg.url)).await;
                ($body)(app, branches).await;
                pg.drop_now().await;
            }
        }
    )*};
}

both_stores! {
    a_password_change_ends_the_other_sessions_and_keeps_this_one =>
        |app, _| a_password_change_ends_the_other_sessions_and_keeps_this_one(app);
    guessing_the_current_password_is_throttled_as_a_sign_in_is =>
        |app, _| guessing_the_current_password_is_throttled_as_a_sign_in_is(app);
    an_admin_reset_ends_every_session_of_the_user =>
        |app, _| an_admin_reset_ends_every_session_of_the_user(app);
    a_deactivated_users_token_stops_working_on_the_next_request =>
        |app, _| a_deactivated_users_token_stops_working_on_the_next_request(app);
    role_branch_and_name_changes_are_checked_and_take_effect_at_once =>
        role_branch_and_name_changes_are_checked_and_take_effect_at_once;
    the_last_active_admin_cannot_be_demoted_or_deactivated =>
        the_last_active_admin_cannot_be_demoted_or_deactivated;
    every_password_set_follows_the_policy_and_new_users_are_audited =>
        |app, _| every_password_set_follows_the_policy_and_new_users_are_audited(app);
    the_user_list_comes_in_pages => |app, _| the_user_list_comes_in_pages(app);
}

/// The first admin's password from `APP_ADMIN_PASSWORD` follows the policy
/// too: a common one stops start-up, naming the variable; a generated one
/// passes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_admins_password_follows_the_policy() {
    use paqueteria_app::startup::ensure_first_admin;
    let db = paqueteria_testkit::TestStore::sqlite().await;
    let err = ensure_first_admin(&db.store, None, Some("password123".to_owned()))
        .await
        .unwrap_err();
    let err = format!("{err:#}");
    assert!(
        err.contains("APP_ADMIN_PASSWORD") && err.contains("common"),
        "{err}"
    );
    assert_eq!(db.store.count_users().await.unwrap(), 0);
    let (email, generated) = ensure_first_admin(&db.store, None, None)
        .await
        .unwrap()
        .unwrap();
    assert!(
        db.store
            .authenticate(&email, &generated)
            .await
            .unwrap()
            .is_some()
    );
    db.finish().await;
}
