//! The audit log as admins read it, on both stores: newest first, filtered
//! by action and actor, paged by `before_id`; nobody else reads it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value, json};

use crate::accounts::{locs, patch_json, staff_app};
use crate::common::{PASSWORD, TestApp, token};

fn ids(page: &Value) -> Vec<i64> {
    page["items"]
        .as_array()
        .unwrap_or_else(|| panic!("not a page: {page}"))
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect()
}

async fn admins_read_the_audit_log_newest_first_a_page_at_a_time(app: TestApp) {
    let admin = token(&app, "admin@example.com").await;
    let op = token(&app, "operator@example.com").await;
    for i in 0..3 {
        let r = app
            .post_json(
                "/api/v1/users",
                Some(&admin),
                &json!({"email": format!("u{i}@example.com"), "name": format!("U {i}"),
                        "password": "a long password 1", "role": "admin"}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
    }
    let r = patch_json(
        &app,
        "/api/v1/users/me/password",
        Some(&op),
        &json!({"current_password": PASSWORD, "new_password": "operator's new one 9"}),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.body);

    let get = |q: &str| {
        let (app, admin) = (&app, admin.clone());
        let q = q.to_owned();
        async move {
            let r = app.get(&format!("/api/v1/audit?{q}"), Some(&admin)).await;
            assert_eq!(r.status, 200, "{q}: {}", r.body);
            r.json()
        }
    };
    // paged by id, newest first, until the last page says so
    let mut seen = Vec::new();
    let mut query = "action=user_created&limit=2".to_owned();
    loop {
        let page = get(&query).await;
        seen.extend(ids(&page));
        match page["next_before_id"].as_i64() {
            Some(before) => query = format!("action=user_created&limit=2&before_id={before}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 3, "{seen:?}");
    assert!(
        seen.windows(2).all(|w| w[0] > w[1]),
        "newest first: {seen:?}"
    );
    let subjects: Vec<Value> = get("action=user_created").await["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["actor_name"].clone())
        .collect();
    assert!(
        subjects.iter().all(|n| n == "admin@example.com"),
        "{subjects:?}"
    );

    let op_id = app.get("/api/v1/users/me", Some(&op)).await.json()["id"]
        .as_i64()
        .unwrap();
    let mine = get(&format!("actor_id={op_id}&action=password_changed")).await;
    assert_eq!(ids(&mine).len(), 1, "{mine}");
    assert_eq!(mine["items"][0]["action"], "password_changed");
    assert_eq!(mine["next_before_id"], Value::Null);

    assert_eq!(app.get("/api/v1/audit", None).await.status, 401);
    assert_eq!(app.get("/api/v1/audit", Some(&op)).await.status, 403);
    let r = app.get("/api/v1/audit?limit=0", Some(&admin)).await;
    assert_eq!(locs(&r), ["query.limit"]);
    let r = app.get("/api/v1/audit?limit=201", Some(&admin)).await;
    assert_eq!(locs(&r), ["query.limit"]);
    let r = app
        .get("/api/v1/audit?action=deleted_everything", Some(&admin))
        .await;
    assert_eq!(locs(&r), ["query.action"]);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_read_the_audit_log_newest_first_a_page_at_a_time_on_sqlite() {
    let (app, _) = staff_app(None).await;
    admins_read_the_audit_log_newest_first_a_page_at_a_time(app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_read_the_audit_log_newest_first_a_page_at_a_time_on_postgres() {
    let pg = paqueteria_testkit::PgDatabase::create().await;
    let (app, _) = staff_app(Some(&pg.url)).await;
    admins_read_the_audit_log_newest_first_a_page_at_a_time(app).await;
    pg.drop_now().await;
}
