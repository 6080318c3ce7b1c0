//! A report is its requester's, on both stores: `GET /api/v1/reports` lists
//! the caller's own (everyone's for an admin), a page at a time; another
//! supervisor gets 403 for its state and its download.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use paqueteria_core::domain::Role;
use paqueteria_core::store::NewUser;
use serde_json::json;

use crate::common::{PASSWORD, TestApp, app_with_staff_and, token};

async fn supervisor(app: &TestApp, email: &str, branch: i64) -> String {
    app.store
        .create_user(&NewUser {
            email: email.to_owned(),
            name: email.to_owned(),
            password: PASSWORD.to_owned(),
            role: Role::Supervisor,
            branch_id: Some(branch),
        })
        .await
        .unwrap();
    token(app, email).await
}

async fn a_report_is_its_requesters(app: TestApp, branches: Vec<i64>) {
    let ana = supervisor(&app, "ana@example.com", branches[0]).await;
    let luis = supervisor(&app, "luis@example.com", branches[1]).await;
    let admin = token(&app, "admin@example.com").await;
    let mut ids = Vec::new();
    for kind in ["pdf", "xlsx", "pdf"] {
        let r = app
            .post_json("/api/v1/reports", Some(&ana), &json!({"kind": kind}))
            .await;
        assert_eq!(r.status, 202, "{}", r.body);
        ids.push(r.json()["id"].as_i64().unwrap());
    }
    let r = app
        .post_json("/api/v1/reports", Some(&luis), &json!({"kind": "pdf"}))
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    let luis_report = r.json()["id"].as_i64().unwrap();

    // Someone else's report: 403 for its state and its file.
    for path in [
        format!("/api/v1/reports/{}", ids[0]),
        format!("/api/v1/reports/{}/download", ids[0]),
    ] {
        let r = app.get(&path, Some(&luis)).await;
        assert_eq!(r.status, 403, "{path}: {}", r.body);
        assert!(r.json()["detail"].is_string(), "{}", r.body);
    }
    assert_eq!(
        app.get(&format!("/api/v1/reports/{}", ids[0]), Some(&ana))
            .await
            .status,
        200
    );
    assert_eq!(
        app.get(&format!("/api/v1/reports/{}", ids[0]), Some(&admin))
            .await
            .status,
        200,
        "admins read every report"
    );

    // The list: one's own, newest first, a page at a time.
    let page = app
        .get("/api/v1/reports?page_size=2", Some(&ana))
        .await
        .json();
    assert_eq!(page["total"], 3, "{page}");
    let got: Vec<i64> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect();
    assert_eq!(got, vec![ids[2], ids[1]], "{page}");
    let page = app
        .get("/api/v1/reports?page_size=2&page=2", Some(&ana))
        .await
        .json();
    assert_eq!(page["items"][0]["id"], ids[0], "{page}");
    let mine = app.get("/api/v1/reports", Some(&luis)).await.json();
    assert_eq!(mine["total"], 1, "{mine}");
    assert_eq!(mine["items"][0]["id"], luis_report, "{mine}");
    let all = app.get("/api/v1/reports", Some(&admin)).await.json();
    assert_eq!(all["total"], 4, "{all}");
    let op = token(&app, "operator@example.com").await;
    assert_eq!(app.get("/api/v1/reports", Some(&op)).await.status, 403);
    assert_eq!(
        app.get("/api/v1/reports?page_size=500", Some(&ana))
            .await
            .status,
        422
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_is_its_requesters_on_sqlite() {
    let (app, branches) = app_with_staff_and(&[]).await;
    a_report_is_its_requesters(app, branches).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_is_its_requesters_on_postgres() {
    let pg = paqueteria_testkit::PgDatabase::create().await;
    let (app, branches) = app_with_staff_and(&[("DATABASE_URL", pg.url.clone())]).await;
    a_report_is_its_requesters(app, branches).await;
    pg.drop_now().await;
}
