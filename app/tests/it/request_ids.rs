//! Request ids end to end: every answer carries `X-Request-Id` (the
//! caller's when it is a sane token, else a fresh UUID v7), and the jobs a
//! request causes carry it: a status change's SMS through the outbox relay
//! (on the embedded engines, and on PostgreSQL + Redis), a report, a
//! duplicated job; the job's JSON and its console page show it.
//!
//! The access-log line and the request's span are checked in
//! `app/src/access/tests.rs`, where a subscriber of the test's own reads
//! them back; here the app logs to nobody.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use paqueteria_core::jobs::{Job, Ping};
use paqueteria_jobs::broker::JobId;
use paqueteria_testkit::eventually;
use serde_json::{Value, json};

use crate::common::{
    Reply, TestApp, app_with_staff, app_with_staff_and, registered_parcels, token,
};

const WAIT: Duration = Duration::from_secs(20);

fn is_fresh_uuid(id: &str) -> bool {
    uuid::Uuid::parse_str(id).is_ok_and(|u| u.get_version_num() == 7)
}

/// A JSON POST as `token` with `X-Request-Id: rid`.
async fn post_with_id(app: &TestApp, path: &str, token: &str, rid: &str, body: &Value) -> Reply {
    let auth = format!("Bearer {token}");
    let r = app
        .request(
            "POST",
            path,
            &[
                ("Content-Type", "application/json"),
                ("Authorization", &auth),
                ("X-Request-Id", rid),
            ],
            &body.to_string(),
        )
        .await;
    assert_eq!(r.header("x-request-id").as_deref(), Some(rid), "{}", r.head);
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_carries_a_request_id_and_only_a_sane_one_is_kept() {
    let app = TestApp::spawn(&[]).await;
    let with_id = |path: &'static str, id: String| {
        let app = &app;
        async move { app.request("GET", path, &[("X-Request-Id", &id)], "").await }
    };

    let none = app.get("/health", None).await;
    assert_eq!(none.status, 200);
    let fresh = none.header("x-request-id").unwrap();
    assert!(is_fresh_uuid(&fresh), "{fresh}");
    let again = app.get("/health", None).await.header("x-request-id");
    assert_ne!(again.as_deref(), Some(fresh.as_str()), "one id per request");

    // A proxy's id is kept, on an answer the API refuses too.
    let kept = with_id("/api/v1/parcels", "edge-7f3a.b_c".to_owned()).await;
    assert_eq!(kept.status, 401);
    assert_eq!(
        kept.header("x-request-id").as_deref(),
        Some("edge-7f3a.b_c")
    );

    for bad in [
        "x".repeat(65),
        "a b".to_owned(),
        "evil\"=1;injected".to_owned(),
        "<script>".to_owned(),
        "a/b".to_owned(),
    ] {
        let r = with_id("/health", bad.clone()).await;
        let id = r.header("x-request-id").unwrap();
        assert!(is_fresh_uuid(&id), "{bad:?} gave {id:?}");
    }

    // No route, a web page: the same.
    for path in ["/no/such/route", "/login"] {
        let r = with_id(path, "page-1".to_owned()).await;
        assert_eq!(
            r.header("x-request-id").as_deref(),
            Some("page-1"),
            "{path}"
        );
    }
    app.stop().await;
}

/// Registers a parcel and receives it with `X-Request-Id: rid`; the id
/// of its SMS job once the relay has enqueued it.
async fn receive_with_request_id(app: &TestApp, branches: &[i64], rid: &str) -> JobId {
    let op = token(app, "operator@example.com").await;
    let (parcel, _) = registered_parcels(app, branches, 1).await[0].clone();
    let r = post_with_id(
        app,
        &format!("/api/v1/parcels/{parcel}/transition"),
        &op,
        rid,
        &json!({"event": "receive", "version": 1}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let sms = eventually(WAIT, "the reception's SMS enqueued", || async {
        app.store
            .notifications(parcel)
            .await
            .unwrap()
            .into_iter()
            .find(|n| n.channel == "sms" && n.job_id.is_some())
    })
    .await;
    assert_eq!(sms.request_id.as_deref(), Some(rid), "{sms:?}");
    JobId::parse(sms.job_id.unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_status_change_gives_its_sms_job_the_request_id_on_the_embedded_engines() {
    let (app, branches) = app_with_staff().await;
    let rid = "receive-at-counter-1";
    let job = receive_with_request_id(&app, &branches, rid).await;

    // The in-process worker runs it; the job keeps the id.
    let broker = app.broker().await;
    let ended = paqueteria_testkit::job_ended(&broker, &job, WAIT).await;
    assert_eq!(ended.request_id.as_deref(), Some(rid), "{ended:?}");
    let admin = token(&app, "admin@example.com").await;
    let shown = app.get(&format!("/api/v1/jobs/{job}"), Some(&admin)).await;
    assert_eq!(shown.status, 200, "{}", shown.body);
    assert_eq!(shown.json()["request_id"], rid);

    // The console's job page shows it too (in Spanish by default).
    let mut jar = crate::ui::signed_in(&app, "admin@example.com").await;
    let page = crate::ui::get(&app, &mut jar, &format!("/console/jobs/{job}"), &[]).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body
            .contains(&format!("<code id=\"job-request-id\">{rid}</code>")),
        "{}",
        page.body
    );
    assert!(page.body.contains("Petición"), "{}", page.body);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_status_change_gives_its_sms_job_the_request_id_on_postgresql_and_redis() {
    let pg = paqueteria_testkit::PgDatabase::create().await;
    let (app, branches) = app_with_staff_and(&[
        ("DATABASE_URL", pg.url.clone()),
        ("REDIS_URL", paqueteria_testkit::redis_url()),
        ("REDIS_PREFIX", paqueteria_testkit::unique_prefix()),
    ])
    .await;
    let rid = "receive-on-redis-1";
    let job = receive_with_request_id(&app, &branches, rid).await;
    // No worker runs beside this app: the job waits, with its id.
    let info = app.broker().await.job(&job).await.unwrap().unwrap();
    assert_eq!(info.request_id.as_deref(), Some(rid), "{info:?}");
    let leased = app
        .broker()
        .await
        .lease(std::slice::from_ref(&info.queue), 1, "request-id-test")
        .await
        .unwrap();
    assert_eq!(
        leased
            .iter()
            .map(|l| (&l.id, l.request_id.as_deref()))
            .collect::<Vec<_>>(),
        [(&job, Some(rid))]
    );
    app.stop().await;
    pg.drop_now().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_and_a_duplicated_job_carry_the_id_of_the_request_that_made_them() {
    let (app, _) = app_with_staff().await;
    let admin = token(&app, "admin@example.com").await;
    let broker = app.broker().await;

    let r = post_with_id(
        &app,
        "/api/v1/reports",
        &admin,
        "report-req-1",
        &json!({"kind": "xlsx"}),
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.body);
    let job = JobId::parse(r.json()["job_id"].as_str().unwrap()).unwrap();
    let info = broker.job(&job).await.unwrap().unwrap();
    assert_eq!(info.request_id.as_deref(), Some("report-req-1"));
    // The report's next step, enqueued by the in-process worker's job,
    // carries the id on.
    let report = r.json()["id"].as_i64().unwrap();
    let next = JobId::parse(format!("report.store:{report}")).unwrap();
    let stored = eventually(WAIT, "the report's report.store job", || async {
        broker.job(&next).await.unwrap()
    })
    .await;
    assert_eq!(
        stored.request_id.as_deref(),
        Some("report-req-1"),
        "{stored:?}"
    );

    // A copy is the duplicating request's job, not the original's.
    let ping = broker
        .enqueue(
            Ping {}
                .to_new_job()
                .unwrap()
                .with_request_id(Some("first".to_owned())),
        )
        .await
        .unwrap()
        .id;
    let r = post_with_id(
        &app,
        &format!("/api/v1/jobs/{ping}/duplicate"),
        &admin,
        "copy-req-9",
        &json!({}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let copy = JobId::parse(r.json()["id"].as_str().unwrap()).unwrap();
    let copy = broker.job(&copy).await.unwrap().unwrap();
    assert_eq!(copy.request_id.as_deref(), Some("copy-req-9"));
    app.stop().await;
}
