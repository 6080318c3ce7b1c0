//! The jobs console's API: browse and filter the queues' jobs, pause and
//! resume a queue, run a waiting job now, cancel, bulk retry and discard of
//! dead jobs, the roles that may do each, and the audit rows they leave.
//! On the embedded engine the in-process worker runs the jobs, so what a
//! console user checks is checked: the retried jobs succeed, a paused
//! queue's job waits while other queues' jobs run, and runs once resumed.
//! On PostgreSQL + Redis (no worker runs in the app) the test plays the
//! worker with its own broker on the same Redis.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use paqueteria_core::domain::Role;
use paqueteria_core::jobs::{GenerateReportXlsx, Ping};
use paqueteria_jobs::Job;
use paqueteria_jobs::broker::redis::RedisBroker;
use paqueteria_jobs::broker::sqlite::SqliteBroker;
use paqueteria_jobs::broker::{BrokerConfig, JobId, JobState, NewJob, SharedBroker};
use paqueteria_testkit::job_ended;
use serde_json::{Value, json};

use crate::common::{TestApp, app_with_staff_and, staff_at, token};

pub(crate) const WAIT: Duration = Duration::from_secs(20);

pub(crate) struct Console {
    pub(crate) app: TestApp,
    pub(crate) broker: SharedBroker,
    pub(crate) admin: String,
    pub(crate) supervisor: String,
}

impl Console {
    pub(crate) async fn embedded() -> Self {
        let (app, branches) = app_with_staff_and(&[]).await;
        let broker: SharedBroker = std::sync::Arc::new(
            SqliteBroker::open(&app.data_dir.join("jobs.sqlite3"), BrokerConfig::default())
                .await
                .unwrap(),
        );
        Self::with(app, broker, branches[0]).await
    }

    pub(crate) async fn on_postgres_and_redis(pg: &paqueteria_testkit::PgDatabase) -> Self {
        let redis = paqueteria_testkit::redis_url();
        let prefix = paqueteria_testkit::unique_prefix();
        let (app, branches) = app_with_staff_and(&[
            ("DATABASE_URL", pg.url.clone()),
            ("REDIS_URL", redis.clone()),
            ("REDIS_PREFIX", prefix.clone()),
        ])
        .await;
        let broker: SharedBroker = std::sync::Arc::new(
            RedisBroker::connect(&redis, &prefix, BrokerConfig::default()).unwrap(),
        );
        Self::with(app, broker, branches[0]).await
    }

    async fn with(app: TestApp, broker: SharedBroker, branch: i64) -> Self {
        let admin = token(&app, "admin@example.com").await;
        let supervisor = staff_at(
            &app,
            "supervisor@example.com",
            Role::Supervisor,
            Some(branch),
        )
        .await;
        Self {
            app,
            broker,
            admin,
            supervisor,
        }
    }

    pub(crate) async fn get(&self, path: &str, token: &str) -> Value {
        let r = self.app.get(path, Some(token)).await;
        assert_eq!(r.status, 200, "GET {path}: {}", r.body);
        r.json()
    }

    pub(crate) async fn post(&self, path: &str, token: &str, body: Value) -> (u16, Value) {
        let r = self.app.post_json(path, Some(token), &body).await;
        (r.status, r.json())
    }

    pub(crate) fn ids(page: &Value) -> Vec<String> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|j| j["id"].as_str().unwrap().to_owned())
            .collect()
    }

    pub(crate) async fn state(&self, id: &str) -> Option<JobState> {
        self.broker
            .job(&JobId::parse(id).unwrap())
            .await
            .unwrap()
            .map(|j| j.state)
    }

    /// Waits until report `id` is done (its chain of jobs has run).
    async fn report_done(&self, id: usize) {
        paqueteria_testkit::eventually(WAIT, &format!("report {id} to be done"), || async {
            let r = self
                .get(&format!("/api/v1/reports/{id}"), &self.admin)
                .await;
            r["state"] == json!("done")
        })
        .await;
    }

    async fn paused(&self, queue: &str) -> bool {
        let all = self.get("/api/v1/jobs/queues", &self.admin).await;
        all.as_array()
            .unwrap()
            .iter()
            .find(|q| q["queue"] == queue)
            .is_some_and(|q| q["paused"] == json!(true))
    }

    /// The audit rows of `action`, newest first.
    pub(crate) async fn audit(&self, action: &str) -> Vec<Value> {
        let page = self
            .get(&format!("/api/v1/audit?action={action}"), &self.admin)
            .await;
        page["items"].as_array().unwrap().clone()
    }

    /// A supervisor reads the console but changes nothing: every action is
    /// refused with 403, the dead set and the queues stay as they were, and
    /// no audit row is written.
    async fn supervisor_is_refused_and_nothing_changes(&self, dead_id: &str) {
        let before = Self::ids(&self.get("/api/v1/jobs?state=dead", &self.admin).await);
        assert!(before.contains(&dead_id.to_owned()));
        let sup = &self.supervisor;
        for (path, body) in [
            (
                "/api/v1/jobs/bulk".to_owned(),
                json!({"action": "retry", "ids": [dead_id]}),
            ),
            (
                "/api/v1/jobs/bulk".to_owned(),
                json!({"action": "discard", "filter": {}}),
            ),
            ("/api/v1/jobs/queues/default/pause".to_owned(), json!(null)),
            ("/api/v1/jobs/queues/default/resume".to_owned(), json!(null)),
            (format!("/api/v1/jobs/{dead_id}/run-now"), json!(null)),
            (format!("/api/v1/jobs/{dead_id}/cancel"), json!(null)),
            (format!("/api/v1/jobs/dead/{dead_id}/retry"), json!(null)),
        ] {
            let (status, body) = self.post(&path, sup, body).await;
            assert_eq!(status, 403, "POST {path} as a supervisor: {body}");
        }
        let after = Self::ids(&self.get("/api/v1/jobs?state=dead", &self.admin).await);
        assert_eq!(after, before, "a refused action changed the dead set");
        assert_eq!(self.state(dead_id).await, Some(JobState::Dead));
        assert!(!self.paused("default").await);
        for action in [
            "jobs_retried",
            "jobs_discarded",
            "queue_paused",
            "job_cancelled",
        ] {
            assert!(self.audit(action).await.is_empty(), "{action} audited");
        }
        // Reading is theirs, without payloads or errors; searching those is
        // not.
        let page = self.get("/api/v1/jobs?state=dead", sup).await;
        let job = &page["items"][0];
        assert_eq!(
            (job["payload"].as_str(), &job["last_error"]),
            (Some(""), &Value::Null)
        );
        let r = self
            .app
            .get("/api/v1/jobs?state=dead&q=report", Some(sup))
            .await;
        assert_eq!(r.status, 403, "{}", r.body);
    }

    pub(crate) async fn stop(self) {
        self.app.stop().await;
    }
}

/// Every state listed, filters and pages, as an admin reads them.
async fn listings_filter_and_page(c: &Console, dead: &[String]) {
    let page = c
        .get("/api/v1/jobs?state=dead&name=report.xlsx", &c.admin)
        .await;
    let mut got = Console::ids(&page);
    got.sort();
    assert_eq!(got, dead);
    assert!(
        page["items"][0]["payload"]
            .as_str()
            .unwrap()
            .contains("report_id")
    );
    let one = c
        .get("/api/v1/jobs?state=dead&q=%22report_id%22%3A2", &c.admin)
        .await;
    assert_eq!(
        Console::ids(&one),
        [dead[1].clone()],
        "found by its payload"
    );
    let none = c
        .get("/api/v1/jobs?state=dead&name=report.pdf", &c.admin)
        .await;
    assert!(Console::ids(&none).is_empty());
    let first = c
        .get("/api/v1/jobs?state=dead&limit=1&page=1", &c.admin)
        .await;
    let second = c
        .get("/api/v1/jobs?state=dead&limit=1&page=2", &c.admin)
        .await;
    assert_eq!(
        (first["more"].as_bool(), second["more"].as_bool()),
        (Some(true), Some(false))
    );
    assert_eq!(Console::ids(&first), [dead[1].clone()], "newest first");
    assert_eq!(Console::ids(&second), [dead[0].clone()]);
    for bad in ["state=finished", "limit=0", "page=0", "limit=200&page=51"] {
        let r = c
            .app
            .get(&format!("/api/v1/jobs?{bad}"), Some(&c.admin))
            .await;
        assert_eq!(r.status, 422, "{bad}: {}", r.body);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_jobs_console_finds_retries_pauses_and_runs_jobs_on_the_embedded_engine() {
    let c = Console::embedded().await;
    // Two report jobs whose reports do not exist yet: the worker sends them
    // to the dead set ("report 1 does not exist").
    let mut dead = Vec::new();
    for report_id in [1, 2] {
        let job = GenerateReportXlsx { report_id }.to_new_job().unwrap();
        let id = c.broker.enqueue(job).await.unwrap().id;
        let info = job_ended(&c.broker, &id, WAIT).await;
        assert_eq!(info.state, JobState::Dead, "{info:?}");
        dead.push(id.to_string());
    }
    listings_filter_and_page(&c, &dead).await;
    c.supervisor_is_refused_and_nothing_changes(&dead[0]).await;

    // The reports are asked for now; their jobs are the dead ones (same
    // ids). A bulk retry of every dead report.xlsx job runs them.
    for (i, id) in dead.iter().enumerate() {
        let (status, report) = c
            .post("/api/v1/reports", &c.admin, json!({"kind": "xlsx"}))
            .await;
        assert_eq!(status, 202, "{report}");
        assert_eq!(report["id"], json!(i + 1));
        assert_eq!(report["job_id"].as_str(), Some(id.as_str()), "{report}");
    }
    let (status, done) = c
        .post(
            "/api/v1/jobs/bulk",
            &c.admin,
            json!({"action": "retry", "filter": {"name": "report.xlsx"}}),
        )
        .await;
    assert_eq!((status, &done["count"]), (200, &json!(2)), "{done}");
    for (i, id) in dead.iter().enumerate() {
        let info = job_ended(&c.broker, &JobId::parse(id.as_str()).unwrap(), WAIT).await;
        assert_eq!(info.state, JobState::Succeeded, "{info:?}");
        c.report_done(i + 1).await;
    }

    // Pause: a report waits while other queues' jobs run; resume runs it.
    let (status, stats) = c
        .post("/api/v1/jobs/queues/reports/pause", &c.admin, json!(null))
        .await;
    assert_eq!((status, &stats["paused"]), (200, &json!(true)), "{stats}");
    let (status, report) = c
        .post("/api/v1/reports", &c.admin, json!({"kind": "xlsx"}))
        .await;
    assert_eq!(status, 202, "{report}");
    let waiting = report["job_id"].as_str().unwrap().to_owned();
    for _ in 0..5 {
        let ping = c
            .broker
            .enqueue(Ping {}.to_new_job().unwrap())
            .await
            .unwrap()
            .id;
        assert_eq!(
            job_ended(&c.broker, &ping, WAIT).await.state,
            JobState::Succeeded
        );
    }
    assert_eq!(
        c.state(&waiting).await,
        Some(JobState::Queued),
        "a paused queue ran a job"
    );
    let queued = c
        .get("/api/v1/jobs?state=queued&queue=reports", &c.admin)
        .await;
    assert_eq!(Console::ids(&queued), std::slice::from_ref(&waiting));
    assert!(c.paused("reports").await);
    let (status, stats) = c
        .post("/api/v1/jobs/queues/reports/resume", &c.admin, json!(null))
        .await;
    assert_eq!((status, &stats["paused"]), (200, &json!(false)), "{stats}");
    let info = job_ended(&c.broker, &JobId::parse(waiting).unwrap(), WAIT).await;
    assert_eq!(info.state, JobState::Succeeded);
    c.report_done(3).await;

    // Run now: a ping due in an hour runs at once; cancel: another is
    // cancelled before its time.
    let later = || Ping {}.to_new_job().unwrap().with_id(JobId::generate());
    let hour = c.broker.clock().now_ms() + 3_600_000;
    let soon = c.broker.enqueue(later().at(hour)).await.unwrap().id;
    let path = format!("/api/v1/jobs/{soon}/run-now");
    assert_eq!(c.post(&path, &c.admin, json!(null)).await.0, 202);
    assert_eq!(
        job_ended(&c.broker, &soon, WAIT).await.state,
        JobState::Succeeded
    );
    assert_eq!(
        c.post(&path, &c.admin, json!(null)).await.0,
        409,
        "not waiting any more"
    );
    assert_eq!(
        c.post("/api/v1/jobs/nope/run-now", &c.admin, json!(null))
            .await
            .0,
        404
    );
    let never = c.broker.enqueue(later().at(hour)).await.unwrap().id;
    let path = format!("/api/v1/jobs/{never}/cancel");
    let (status, body) = c.post(&path, &c.admin, json!(null)).await;
    assert_eq!(
        (status, &body["outcome"]),
        (200, &json!("cancelled")),
        "{body}"
    );
    assert_eq!(c.post(&path, &c.admin, json!(null)).await.0, 409);

    // Bulk discard by ids: a job no worker has a handler for.
    let orphan = c
        .broker
        .enqueue(NewJob::new("test.no_handler", "default", "{}"))
        .await
        .unwrap()
        .id;
    assert_eq!(
        job_ended(&c.broker, &orphan, WAIT).await.state,
        JobState::Dead
    );
    let (status, done) = c
        .post(
            "/api/v1/jobs/bulk",
            &c.admin,
            json!({"action": "discard", "ids": [orphan.as_str(), "nope"]}),
        )
        .await;
    assert_eq!((status, &done["count"]), (200, &json!(1)), "{done}");
    assert_eq!(c.state(orphan.as_str()).await, None);
    for bad in [
        json!({"action": "retry"}),
        json!({"action": "retry", "ids": [], "filter": {}}),
        json!({"action": "requeue", "ids": ["x"]}),
        json!({"action": "retry", "ids": ["has space"]}),
    ] {
        let (status, body) = c.post("/api/v1/jobs/bulk", &c.admin, bad.clone()).await;
        assert_eq!(status, 422, "{bad}: {body}");
    }

    // The audit log: who, what, how many.
    let admin_id = c.get("/api/v1/users/me", &c.admin).await["id"].clone();
    for (action, subject, detail) in [
        (
            "jobs_retried",
            "jobs:bulk",
            "2 jobs matching the dead set filter name=\"report.xlsx\"",
        ),
        ("queue_paused", "queue:reports", "paused"),
        ("queue_resumed", "queue:reports", "resumed"),
        ("job_run_now", &*format!("job:{soon}"), "1 job"),
        ("job_cancelled", &*format!("job:{never}"), "cancelled"),
        ("jobs_discarded", "jobs:bulk", "1 of 2 jobs"),
    ] {
        let rows = c.audit(action).await;
        assert_eq!(rows.len(), 1, "{action}: {rows:?}");
        assert_eq!(rows[0]["actor_id"], admin_id);
        assert_eq!(rows[0]["subject"].as_str(), Some(subject), "{action}");
        assert!(
            rows[0]["detail"].as_str().unwrap().starts_with(detail),
            "{action}: {}",
            rows[0]["detail"]
        );
    }
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_jobs_console_works_on_postgresql_and_redis() {
    let pg = paqueteria_testkit::PgDatabase::create().await;
    let c = Console::on_postgres_and_redis(&pg).await;
    let worker = "console-test";
    // No worker runs beside this app: the test leases and fails the jobs.
    let mut dead = Vec::new();
    for report_id in [1, 2] {
        let job = GenerateReportXlsx { report_id }.to_new_job().unwrap();
        c.broker.enqueue(job).await.unwrap();
        let l = c
            .broker
            .lease(&["reports".to_owned()], 1, worker)
            .await
            .unwrap()
            .remove(0);
        c.broker
            .dead(
                &l.lease_ref(),
                &format!("report {report_id} does not exist"),
            )
            .await
            .unwrap();
        dead.push(l.id.to_string());
    }
    listings_filter_and_page(&c, &dead).await;
    c.supervisor_is_refused_and_nothing_changes(&dead[0]).await;

    let (status, _) = c
        .post("/api/v1/jobs/queues/reports/pause", &c.admin, json!(null))
        .await;
    assert_eq!(status, 200);
    assert!(c.paused("reports").await);
    let (status, done) = c
        .post(
            "/api/v1/jobs/bulk",
            &c.admin,
            json!({"action": "retry", "ids": dead}),
        )
        .await;
    assert_eq!((status, &done["count"]), (200, &json!(2)), "{done}");
    let queued = c
        .get("/api/v1/jobs?state=queued&queue=reports", &c.admin)
        .await;
    assert_eq!(Console::ids(&queued).len(), 2);
    let reports = ["reports".to_owned()];
    assert!(
        c.broker
            .lease(&reports, 5, worker)
            .await
            .unwrap()
            .is_empty(),
        "a paused queue hands out nothing"
    );
    let (status, _) = c
        .post("/api/v1/jobs/queues/reports/resume", &c.admin, json!(null))
        .await;
    assert_eq!(status, 200);
    let leased = c.broker.lease(&reports, 5, worker).await.unwrap();
    assert_eq!(leased.len(), 2, "resumed, both run");
    let running = c.get("/api/v1/jobs?state=running", &c.admin).await;
    assert_eq!(Console::ids(&running).len(), 2);
    assert_eq!(running["items"][0]["worker"], json!(worker));

    let hour = c.broker.clock().now_ms() + 3_600_000;
    let later = c
        .broker
        .enqueue(Ping {}.to_new_job().unwrap().at(hour))
        .await
        .unwrap()
        .id;
    let scheduled = c.get("/api/v1/jobs?state=scheduled", &c.supervisor).await;
    assert_eq!(Console::ids(&scheduled), [later.to_string()]);
    let path = format!("/api/v1/jobs/{later}/run-now");
    assert_eq!(c.post(&path, &c.admin, json!(null)).await.0, 202);
    assert_eq!(c.state(later.as_str()).await, Some(JobState::Queued));

    assert_eq!(c.audit("jobs_retried").await.len(), 1);
    assert_eq!(c.audit("queue_paused").await.len(), 1);
    assert_eq!(c.audit("queue_resumed").await.len(), 1);
    assert_eq!(c.audit("job_run_now").await.len(), 1);
    assert!(
        c.audit("jobs_retried").await[0]["detail"]
            .as_str()
            .unwrap()
            .starts_with("2 of 2 jobs")
    );
    c.stop().await;
    pg.drop_now().await;
}
