//! The jobs console's purge, duplicate and schedule over the API, on the
//! embedded engine and on PostgreSQL + Redis: what each does to the
//! broker, what it refuses (a confirmation that does not name the queue,
//! a payload the job's type refuses, a copy that would be the same job,
//! a supervisor), and the audit rows it leaves.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use paqueteria_core::jobs::{GenerateReportXlsx, Ping};
use paqueteria_jobs::Job;
use paqueteria_jobs::broker::{JobId, JobState, NewJob};
use paqueteria_jobs::scheduler::tick_id;
use serde_json::{Value, json};

use crate::jobs_console::Console;

/// A report job that died (its report does not exist): on the embedded
/// engine the in-process worker kills it; elsewhere the test does.
async fn a_dead_report_job(c: &Console, embedded: bool) -> JobId {
    let job = GenerateReportXlsx { report_id: 77 }.to_new_job().unwrap();
    let id = c.broker.enqueue(job).await.unwrap().id;
    if embedded {
        let info = paqueteria_testkit::job_ended(&c.broker, &id, crate::jobs_console::WAIT).await;
        assert_eq!(info.state, JobState::Dead, "{info:?}");
    } else {
        let l = c
            .broker
            .lease(&["reports".to_owned()], 1, "console-test")
            .await
            .unwrap()
            .remove(0);
        c.broker
            .dead(&l.lease_ref(), "report 77 does not exist")
            .await
            .unwrap();
    }
    id
}

async fn purge(c: &Console) {
    // A paused queue keeps what it is given: three jobs and one for later.
    let (status, _) = c
        .post("/api/v1/jobs/queues/default/pause", &c.admin, json!(null))
        .await;
    assert_eq!(status, 200);
    let hour = c.broker.clock().now_ms() + 3_600_000;
    let mut ids = Vec::new();
    for i in 0..4 {
        let mut job = Ping {}.to_new_job().unwrap();
        if i == 3 {
            job = job.at(hour);
        }
        ids.push(c.broker.enqueue(job).await.unwrap().id);
    }
    let path = "/api/v1/jobs/queues/default/purge";
    let (status, body) = c.post(path, &c.admin, json!({"confirm": "defaul"})).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(
        body["detail"][0]["loc"],
        json!(["body", "confirm"]),
        "{body}"
    );
    let (status, _) = c
        .post(path, &c.supervisor, json!({"confirm": "default"}))
        .await;
    assert_eq!(status, 403);
    for id in &ids {
        assert!(
            c.state(id.as_str()).await.is_some(),
            "a refused purge deleted {id}"
        );
    }
    let (status, body) = c
        .post(
            "/api/v1/jobs/queues/nope/purge",
            &c.admin,
            json!({"confirm": "nope"}),
        )
        .await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = c.post(path, &c.admin, json!({"confirm": "default"})).await;
    assert_eq!((status, &body["purged"]), (200, &json!(4)), "{body}");
    for id in &ids {
        assert_eq!(c.state(id.as_str()).await, None, "{id} survived the purge");
    }
    let (status, _) = c
        .post("/api/v1/jobs/queues/default/resume", &c.admin, json!(null))
        .await;
    assert_eq!(status, 200);
    let rows = c.audit("queue_purged").await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["subject"], json!("queue:default"));
    assert_eq!(rows[0]["detail"], json!("4 waiting jobs deleted"));
}

async fn duplicate(c: &Console, embedded: bool) {
    let dead = a_dead_report_job(c, embedded).await;
    let path = format!("/api/v1/jobs/{dead}/duplicate");
    // Its id comes from its payload: the same payload is the same job.
    let (status, body) = c.post(&path, &c.admin, json!({})).await;
    assert_eq!(status, 409, "{body}");
    let (status, body) = c
        .post(&path, &c.admin, json!({"payload": {"report_id": "x"}}))
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(
        body["detail"][0]["loc"],
        json!(["body", "payload"]),
        "{body}"
    );
    let (status, _) = c
        .post(&path, &c.supervisor, json!({"payload": {"report_id": 78}}))
        .await;
    assert_eq!(status, 403);
    let (status, body) = c
        .post(&path, &c.admin, json!({"payload": {"report_id": 78}}))
        .await;
    assert_eq!(status, 201, "{body}");
    let copy = JobId::parse(body["id"].as_str().unwrap()).unwrap();
    assert_ne!(copy, dead);
    let info = c.broker.job(&copy).await.unwrap().unwrap();
    assert_eq!(
        (info.name.as_str(), info.queue.as_str()),
        ("report.xlsx", "reports")
    );
    let payload: Value = serde_json::from_str(&info.payload).unwrap();
    assert_eq!(payload["report_id"], json!(78));
    assert_eq!(
        c.state(dead.as_str()).await,
        Some(JobState::Dead),
        "the original stays"
    );

    // A job with a fresh id each time: the same payload makes a new job.
    let hour = c.broker.clock().now_ms() + 3_600_000;
    let ping = c
        .broker
        .enqueue(Ping {}.to_new_job().unwrap().at(hour))
        .await
        .unwrap()
        .id;
    let (status, body) = c
        .post(
            &format!("/api/v1/jobs/{ping}/duplicate"),
            &c.admin,
            json!({}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_ne!(body["id"], json!(ping.as_str()));
    // A job the catalog does not know cannot be checked, so is not copied.
    let foreign = c
        .broker
        .enqueue(NewJob::new("test.no_handler", "elsewhere", "{}"))
        .await
        .unwrap()
        .id;
    let (status, body) = c
        .post(
            &format!("/api/v1/jobs/{foreign}/duplicate"),
            &c.admin,
            json!({}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    let (status, _) = c
        .post("/api/v1/jobs/nope/duplicate", &c.admin, json!({}))
        .await;
    assert_eq!(status, 404);
    let rows = c.audit("job_duplicated").await;
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[1]["subject"], json!(format!("job:{copy}")));
    assert_eq!(
        rows[1]["detail"],
        json!(format!("copy of {dead}, payload edited"))
    );
    assert_eq!(rows[0]["detail"], json!(format!("copy of {ping}")));
}

async fn schedule(c: &Console) {
    let entries = c.get("/api/v1/schedule", &c.supervisor).await;
    let entries = entries.as_array().unwrap();
    let names: Vec<&str> = entries
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "cleanup-reports",
            "cleanup-tmp",
            "refresh-dashboard",
            "pickup-reminders",
            "expire-registrations"
        ]
    );
    let now = c.broker.clock().now_ms();
    for e in entries {
        assert_eq!(
            (&e["queue"], &e["catch_up"]),
            (&json!("maintenance"), &json!("once"))
        );
        let next = e["next_run_at_ms"].as_i64().unwrap();
        assert!(next > now && next <= now + 86_400_000, "{e}");
    }
    // The last run is the newest tick whose job the broker holds: enqueue
    // the last tick's job of cleanup-reports (the in-process scheduler
    // may have done so already: the same id either way).
    let tz: chrono_tz::Tz = entries[0]["tz"].as_str().unwrap().parse().unwrap();
    let defaults =
        paqueteria_scheduler::schedule::parse(paqueteria_scheduler::schedule::DEFAULT_SCHEDULE, tz)
            .unwrap();
    let cleanup = &defaults[0];
    let tick = *cleanup
        .ticks_between(now - 2 * 86_400_000, now, 1)
        .last()
        .unwrap();
    c.broker
        .enqueue(cleanup.new_job(tick).unwrap())
        .await
        .unwrap();
    let entries = c.get("/api/v1/schedule", &c.supervisor).await;
    let last = &entries[0]["last_run"];
    assert_eq!(
        last["job_id"],
        json!(tick_id("cleanup-reports", tick)),
        "{last}"
    );
    assert_eq!(last["tick_at_ms"], json!(tick));

    let (status, _) = c
        .post(
            "/api/v1/schedule/cleanup-tmp/run-now",
            &c.supervisor,
            json!(null),
        )
        .await;
    assert_eq!(status, 403);
    let (status, _) = c
        .post("/api/v1/schedule/nope/run-now", &c.admin, json!(null))
        .await;
    assert_eq!(status, 404);
    let (status, body) = c
        .post(
            "/api/v1/schedule/cleanup-tmp/run-now",
            &c.admin,
            json!(null),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    let id = body["job_id"].as_str().unwrap();
    assert!(id.starts_with("cleanup-tmp:manual:"), "{id}");
    let info = c
        .broker
        .job(&JobId::parse(id).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(info.name, "maintenance.cleanup_tmp");
    let rows = c.audit("schedule_run_now").await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["subject"], json!("schedule:cleanup-tmp"));
    assert_eq!(rows[0]["detail"], json!(format!("job {id}")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purge_duplicate_and_schedule_on_the_embedded_engine() {
    let c = Console::embedded().await;
    purge(&c).await;
    duplicate(&c, true).await;
    schedule(&c).await;
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purge_duplicate_and_schedule_on_postgresql_and_redis() {
    let pg = paqueteria_testkit::PgDatabase::create().await;
    let c = Console::on_postgres_and_redis(&pg).await;
    purge(&c).await;
    duplicate(&c, false).await;
    schedule(&c).await;
    c.stop().await;
    pg.drop_now().await;
}
