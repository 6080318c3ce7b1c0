//! The jobs console over HTTP: who may open it, who may act, and the
//! messages page's resend, which sends a failed message once more and
//! never one that may have arrived.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use paqueteria_core::domain::Role;
use paqueteria_core::store::{AuditAction, AuditFilter};

use crate::common::TestApp;
use crate::ui::{Jar, get, post_form, signed_in, token_of};

/// Waits (at most 30 s) until notification `id` is in `state`.
async fn settles(app: &TestApp, id: i64, state: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let n = app.store.notification(id).await.unwrap();
        if n.state == state {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "notification {id} stays {}: {n:?}",
            n.state
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// An app with a supervisor (sup@example.com) and one parcel, received:
/// the app, the parcel's id and code, the id of the SMS its reception sent
/// (once it is sent), and an admin's token.
async fn received_and_texted() -> (TestApp, i64, String, i64, String) {
    let (app, branches) = crate::common::app_with_staff().await;
    crate::common::staff_at(&app, "sup@example.com", Role::Supervisor, Some(branches[0])).await;
    let (parcel, code) = crate::common::registered_parcels(&app, &branches, 1).await[0].clone();
    let admin_token = crate::common::token(&app, "admin@example.com").await;
    let r = app
        .post_json(
            &format!("/api/v1/parcels/{parcel}/transition"),
            Some(&admin_token),
            &serde_json::json!({"event": "receive", "version": 1}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let sms = app.store.notifications(parcel).await.unwrap()[0].id;
    settles(&app, sms, "sent").await;
    (app, parcel, code, sms, admin_token)
}

async fn resends(app: &TestApp) -> usize {
    app.store
        .audit_log(&AuditFilter {
            action: Some(AuditAction::MessageResent),
            actor_id: None,
            before_id: None,
            limit: 50,
        })
        .await
        .unwrap()
        .len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_message_is_sent_again_once_by_an_admin_and_never_by_a_supervisor() {
    let (app, _, _, sms, admin_token) = received_and_texted().await;
    // Sent (the embedded default keeps it in the outbox), then recorded as
    // refused by the gateway.
    app.store
        .mark_notification_failed(sms, "the gateway refused the number")
        .await
        .unwrap();

    // Who may open the console.
    let mut nobody = Jar::default();
    let r = get(&app, &mut nobody, "/console/messages", &[]).await;
    assert_eq!(r.status, 303);
    let mut op = signed_in(&app, "operator@example.com").await;
    assert_eq!(
        get(&app, &mut op, "/console/messages", &[]).await.status,
        403
    );

    // A supervisor reads it, without the resend button, and may not post it.
    let mut sup = signed_in(&app, "sup@example.com").await;
    let page = get(&app, &mut sup, "/console/messages?state=failed", &[]).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains(&format!("id=\"message-{sms}\"")),
        "{}",
        page.body
    );
    assert!(page.body.contains("the gateway refused the number"));
    assert!(!page.body.contains("/resend"), "{}", page.body);
    let token = token_of(&page);
    let path = format!("/console/messages/{sms}/resend");
    let r = post_form(&app, &mut sup, &path, &[("authenticity_token", &token)]).await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(app.store.notification(sms).await.unwrap().state, "failed");

    // An admin: without the token nothing happens; with it, once.
    let mut admin = signed_in(&app, "admin@example.com").await;
    let page = get(&app, &mut admin, "/console/messages?state=failed", &[]).await;
    assert!(page.body.contains(&path), "{}", page.body);
    let r = post_form(&app, &mut admin, &path, &[]).await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(app.store.notification(sms).await.unwrap().state, "failed");
    let token = token_of(&page);
    let r = post_form(&app, &mut admin, &path, &[("authenticity_token", &token)]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(
        r.header("location").as_deref(),
        Some("/console/messages?resent=1")
    );
    settles(&app, sms, "sent").await;
    assert_eq!(resends(&app).await, 1);
    // A new send job did it (the first one's id was spent), and the outbox
    // holds the message as sent again.
    let job = app
        .get(
            &format!("/api/v1/jobs/sms.send:{sms}:resend1"),
            Some(&admin_token),
        )
        .await;
    assert_eq!(job.status, 200, "{}", job.body);
    assert_eq!(job.json()["state"], "succeeded", "{}", job.body);
    // A second press finds it no longer failed: nothing is sent.
    let r = post_form(&app, &mut admin, &path, &[("authenticity_token", &token)]).await;
    assert_eq!(
        r.header("location").as_deref(),
        Some("/console/messages?resent=0")
    );
    assert_eq!(resends(&app).await, 1);

    // A message whose send may have reached its recipient (`unknown`: an
    // attempt died during the call) is never offered again, nor sent.
    app.store
        .mark_notification_failed(sms, "refused")
        .await
        .unwrap();
    app.store.claim_notification(sms).await.unwrap();
    app.store.claim_notification(sms).await.unwrap();
    assert_eq!(app.store.notification(sms).await.unwrap().state, "unknown");
    let page = get(&app, &mut admin, "/console/messages?state=unknown", &[]).await;
    assert!(
        page.body.contains(&format!("id=\"message-{sms}\"")),
        "{}",
        page.body
    );
    assert!(!page.body.contains(&path), "{}", page.body);
    let r = post_form(&app, &mut admin, &path, &[("authenticity_token", &token)]).await;
    assert_eq!(
        r.header("location").as_deref(),
        Some("/console/messages?resent=0")
    );
    assert_eq!(app.store.notification(sms).await.unwrap().state, "unknown");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_overview_shows_queues_and_workers_and_finds_a_job_by_id() {
    let (app, parcel, code, sms, _) = received_and_texted().await;

    let mut op = signed_in(&app, "operator@example.com").await;
    assert_eq!(get(&app, &mut op, "/console", &[]).await.status, 403);
    assert_eq!(
        get(&app, &mut op, "/console/overview", &[]).await.status,
        403
    );

    let mut admin = signed_in(&app, "admin@example.com").await;
    let page = get(&app, &mut admin, "/console", &[]).await;
    assert_eq!(page.status, 200, "{}", page.body);
    for q in ["reports", "sms", "files", "maintenance", "default"] {
        assert!(
            page.body.contains(&format!("id=\"queue-{q}\"")),
            "{q}: {}",
            page.body
        );
    }
    // The in-process worker is live, and the part refreshes alone.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let part = get(
            &app,
            &mut admin,
            "/console/overview",
            &[("HX-Request", "true")],
        )
        .await;
        assert_eq!(part.status, 200, "{}", part.body);
        if part.body.contains("id=\"workers\"") {
            assert!(part.body.contains("sms"), "{}", part.body);
            break;
        }
        assert!(Instant::now() < deadline, "no live worker: {}", part.body);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Find by exact id; an unknown id is said so.
    let job = format!("sms.send:{sms}");
    let r = get(&app, &mut admin, &format!("/console?job={job}"), &[]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let to = r.header("location").unwrap();
    assert_eq!(to, format!("/console/jobs/sms.send%3A{sms}"));
    let r = get(&app, &mut admin, "/console?job=sms.send:999999", &[]).await;
    assert_eq!(r.status, 404, "{}", r.body);
    assert!(r.body.contains("sms.send:999999"), "{}", r.body);

    // The job's page: an admin reads its payload and where it belongs.
    let page = get(&app, &mut admin, &to, &[]).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains("data-state=\"succeeded\""),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("&#34;notification_id&#34;: "),
        "{}",
        page.body
    );
    assert!(
        page.body.contains(&format!("Del envío {code}")),
        "{}",
        page.body
    );
    assert!(page.body.contains(&format!("href=\"/parcels/{parcel}\"")));
    // A supervisor reads the job, not the customer's data in it.
    let mut sup = signed_in(&app, "sup@example.com").await;
    let page = get(&app, &mut sup, &to, &[]).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(!page.body.contains("+573002220000"), "{}", page.body);
    assert!(!page.body.contains("id=\"payload\""), "{}", page.body);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_job_is_found_retried_in_bulk_and_a_paused_queue_holds_its_jobs_from_the_pages() {
    use paqueteria_core::jobs::{GenerateReportXlsx, Ping};
    use paqueteria_jobs::Job;
    use paqueteria_jobs::broker::sqlite::SqliteBroker;
    use paqueteria_jobs::broker::{BrokerConfig, JobId, JobState, SharedBroker};
    use paqueteria_testkit::job_ended;

    let (app, branches) = crate::common::app_with_staff().await;
    crate::common::staff_at(&app, "sup@example.com", Role::Supervisor, Some(branches[0])).await;
    let broker: SharedBroker = std::sync::Arc::new(
        SqliteBroker::open(&app.data_dir.join("jobs.sqlite3"), BrokerConfig::default())
            .await
            .unwrap(),
    );
    let wait = Duration::from_secs(20);
    // A report job whose report does not exist yet dies.
    let job = GenerateReportXlsx { report_id: 1 }.to_new_job().unwrap();
    let dead = broker.enqueue(job).await.unwrap().id;
    assert_eq!(job_ended(&broker, &dead, wait).await.state, JobState::Dead);

    // Found by filter; an admin may select it, a supervisor only reads.
    let list = "/console/jobs?state=dead&name=report.xlsx";
    let mut admin = signed_in(&app, "admin@example.com").await;
    let page = get(&app, &mut admin, list, &[]).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains(&format!("value=\"{dead}\"")),
        "{}",
        page.body
    );
    assert!(page.body.contains("report 1"), "the error: {}", page.body);
    let other = get(
        &app,
        &mut admin,
        "/console/jobs?state=dead&name=sms.send",
        &[],
    )
    .await;
    assert!(other.body.contains("id=\"no-jobs\""), "{}", other.body);
    let mut sup = signed_in(&app, "sup@example.com").await;
    let read = get(&app, &mut sup, list, &[]).await;
    assert_eq!(read.status, 200, "{}", read.body);
    assert!(read.body.contains(&dead.to_string()), "{}", read.body);
    assert!(
        !read.body.contains("name=\"id\""),
        "no selection: {}",
        read.body
    );
    assert!(
        !read.body.contains("value=\"retry\""),
        "no retry: {}",
        read.body
    );
    let token = token_of(&read);
    let r = post_form(
        &app,
        &mut sup,
        "/console/jobs/bulk",
        &[
            ("authenticity_token", token.as_str()),
            ("action", "retry"),
            ("scope", "selected"),
            ("id", dead.as_str()),
        ],
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(
        broker.job(&dead).await.unwrap().unwrap().state,
        JobState::Dead
    );

    // Exported as the filter reads it.
    for (ext, kind) in [("json", "application/json"), ("csv", "text/csv")] {
        let r = get(
            &app,
            &mut admin,
            &format!("/console/jobs/export.{ext}?state=dead&name=report.xlsx"),
            &[],
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(r.header("content-type").unwrap().starts_with(kind));
        assert!(r.body.contains(dead.as_str()), "{ext}: {}", r.body);
    }

    // The report is asked for now (its job is the dead one); a bulk retry
    // of every dead job the filter matches runs it.
    let admin_token = crate::common::token(&app, "admin@example.com").await;
    let report = app
        .post_json(
            "/api/v1/reports",
            Some(&admin_token),
            &serde_json::json!({"kind": "xlsx"}),
        )
        .await;
    assert_eq!(report.status, 202, "{}", report.body);
    let token = token_of(&page);
    let r = post_form(
        &app,
        &mut admin,
        "/console/jobs/bulk",
        &[
            ("authenticity_token", token.as_str()),
            ("action", "retry"),
            ("scope", "matching"),
            ("name", "report.xlsx"),
        ],
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert!(r.header("location").unwrap().ends_with("done=retry:1"));
    assert_eq!(
        job_ended(&broker, &dead, wait).await.state,
        JobState::Succeeded
    );

    // The audit log says who retried what and how many; admins only.
    let audit = get(&app, &mut admin, "/console/audit?action=jobs_retried", &[]).await;
    assert_eq!(audit.status, 200, "{}", audit.body);
    assert!(audit.body.contains("admin@example.com"), "{}", audit.body);
    assert!(audit.body.contains("1 jobs matching"), "{}", audit.body);
    assert_eq!(get(&app, &mut sup, "/console/audit", &[]).await.status, 403);

    // Pause the reports queue from the overview: a report waits while
    // other queues' jobs run; resume runs it.
    let overview = get(&app, &mut admin, "/console", &[]).await;
    assert!(overview.body.contains("/console/queues/reports/pause"));
    let token = token_of(&overview);
    let r = post_form(
        &app,
        &mut admin,
        "/console/queues/reports/pause",
        &[("authenticity_token", token.as_str())],
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let part = get(&app, &mut admin, "/console/overview", &[]).await;
    assert!(
        part.body.contains("/console/queues/reports/resume"),
        "{}",
        part.body
    );
    let report = app
        .post_json(
            "/api/v1/reports",
            Some(&admin_token),
            &serde_json::json!({"kind": "xlsx"}),
        )
        .await;
    let waiting = JobId::parse(report.json()["job_id"].as_str().unwrap()).unwrap();
    for _ in 0..3 {
        let ping = broker
            .enqueue(Ping {}.to_new_job().unwrap())
            .await
            .unwrap()
            .id;
        assert_eq!(
            job_ended(&broker, &ping, wait).await.state,
            JobState::Succeeded
        );
    }
    assert_eq!(
        broker.job(&waiting).await.unwrap().unwrap().state,
        JobState::Queued
    );
    let r = post_form(
        &app,
        &mut admin,
        "/console/queues/reports/resume",
        &[("authenticity_token", token.as_str())],
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(
        job_ended(&broker, &waiting, wait).await.state,
        JobState::Succeeded
    );
    app.stop().await;
}

/// The number before `words` in `body` ("1.234 terminaron bien" → 1234).
fn figure_before(body: &str, words: &str) -> u64 {
    let at = body
        .find(words)
        .unwrap_or_else(|| panic!("no {words:?}: {body}"));
    let n: String = body[..at]
        .trim_end()
        .chars()
        .rev()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .filter(char::is_ascii_digit)
        .collect();
    n.parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_schedule_purge_duplicate_and_throughput_chart_from_the_pages() {
    use paqueteria_core::jobs::Ping;
    use paqueteria_jobs::Job;
    let (app, _, _, sms, _) = received_and_texted().await;
    let mut sup = signed_in(&app, "sup@example.com").await;
    let mut admin = signed_in(&app, "admin@example.com").await;

    // The schedule, in words; run now is an admin's.
    let page = get(&app, &mut sup, "/console/schedule", &[]).await;
    assert_eq!(page.status, 200, "{}", page.body);
    for words in [
        "Todos los días a las 03:00",
        "Cada hora, en el minuto 15",
        "Cada 5 minutos",
        "Se corre el último tick perdido",
    ] {
        assert!(page.body.contains(words), "{words}: {}", page.body);
    }
    assert!(!page.body.contains("/run-now"), "{}", page.body);
    let run_now = "/console/schedule/cleanup-tmp/run-now";
    let token = token_of(&page);
    let r = post_form(&app, &mut sup, run_now, &[("authenticity_token", &token)]).await;
    assert_eq!(r.status, 403, "{}", r.body);
    let page = get(&app, &mut admin, "/console/schedule", &[]).await;
    assert!(
        page.body.contains(&format!("action=\"{run_now}\"")),
        "{}",
        page.body
    );
    assert_eq!(post_form(&app, &mut admin, run_now, &[]).await.status, 403);
    let token = token_of(&page);
    let r = post_form(&app, &mut admin, run_now, &[("authenticity_token", &token)]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let to = r.header("location").unwrap();
    assert!(
        to.starts_with("/console/jobs/cleanup-tmp%3Amanual%3A") && to.ends_with("?done=scheduled"),
        "{to}"
    );
    let job = get(&app, &mut admin, &to, &[]).await;
    assert!(job.body.contains("maintenance.cleanup_tmp"), "{}", job.body);

    // The throughput chart counts the texted parcel's SMS at least (once
    // the broker has recorded its job as succeeded).
    let sms_job = paqueteria_jobs::JobId::parse(format!("sms.send:{sms}")).unwrap();
    paqueteria_testkit::job_ended(&app.broker().await, &sms_job, Duration::from_secs(30)).await;
    let part = get(
        &app,
        &mut sup,
        "/console/overview",
        &[("HX-Request", "true")],
    )
    .await;
    assert!(part.body.contains("id=\"throughput\""), "{}", part.body);
    assert!(
        figure_before(&part.body, "terminaron bien") >= 1,
        "{}",
        part.body
    );

    // Purge behind a typed confirmation; the form is an admin's.
    assert!(
        !get(&app, &mut sup, "/console", &[])
            .await
            .body
            .contains("id=\"purge\"")
    );
    let page = get(&app, &mut admin, "/console", &[]).await;
    assert!(page.body.contains("id=\"purge\""), "{}", page.body);
    let token = token_of(&page);
    let form = |confirm: &'static str| {
        [
            ("authenticity_token", token.clone()),
            ("queue", "default".to_owned()),
            ("confirm", confirm.to_owned()),
        ]
    };
    let wrong = form("reports");
    let wrong: Vec<(&str, &str)> = wrong.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = post_form(&app, &mut admin, "/console/purge", &wrong).await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body.contains("id=\"purge-error\""), "{}", r.body);
    let right = form("default");
    let right: Vec<(&str, &str)> = right.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = post_form(&app, &mut admin, "/console/purge", &right).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let back = get(&app, &mut admin, &r.header("location").unwrap(), &[]).await;
    assert!(back.body.contains("de la cola default"), "{}", back.body);

    // Duplicate: a payload the job refuses is said at the field; an SMS's
    // copy would be the same job (send once) and is refused; a ping's runs.
    let sms_page = format!("/console/jobs/sms.send%3A{sms}");
    assert!(
        !get(&app, &mut sup, &sms_page, &[])
            .await
            .body
            .contains("id=\"duplicate\"")
    );
    let page = get(&app, &mut admin, &sms_page, &[]).await;
    assert!(page.body.contains("id=\"duplicate\""), "{}", page.body);
    let token = token_of(&page);
    let dup = format!("{sms_page}/duplicate");
    let r = post_form(
        &app,
        &mut admin,
        &dup,
        &[("authenticity_token", &token), ("payload", "{not json")],
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body.contains("id=\"duplicate-error\""), "{}", r.body);
    let original = app
        .broker()
        .await
        .job(&sms_job)
        .await
        .unwrap()
        .unwrap()
        .payload;
    let r = post_form(
        &app,
        &mut admin,
        &dup,
        &[("authenticity_token", &token), ("payload", &original)],
    )
    .await;
    assert_eq!(r.status, 409, "{}", r.body);
    let ping = app
        .broker()
        .await
        .enqueue(Ping {}.to_new_job().unwrap())
        .await
        .unwrap()
        .id;
    let r = post_form(
        &app,
        &mut admin,
        &format!("/console/jobs/{ping}/duplicate"),
        &[("authenticity_token", &token), ("payload", "{}")],
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let to = r.header("location").unwrap();
    assert!(
        to.ends_with("?done=duplicate") && !to.contains(ping.as_str()),
        "{to}"
    );
    app.stop().await;
}
