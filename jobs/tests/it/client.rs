//! The typed client on the embedded engine: a job due later waits
//! scheduled, a job that breaks its rules is refused before it is sent, and
//! an idempotency key gives one job.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use paqueteria_jobs::{
    BrokerConfig, BrokerError, EngineConfig, Job, JobClient, JobState, SharedBroker, connect,
};

#[derive(serde::Serialize, serde::Deserialize)]
struct Remind {
    user_id: i64,
}

impl Job for Remind {
    const NAME: &'static str = "remind";
    fn idempotency_key(&self) -> Option<String> {
        Some(self.user_id.to_string())
    }
    fn check(&self) -> Result<(), String> {
        if self.user_id > 0 {
            Ok(())
        } else {
            Err(format!("user_id: {} is not an id", self.user_id))
        }
    }
}

async fn broker(dir: &tempfile::TempDir) -> SharedBroker {
    connect(
        &EngineConfig::sqlite(dir.path().join("jobs.sqlite3")),
        BrokerConfig::default(),
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn a_job_enqueued_in_an_hour_waits_scheduled_for_an_hour() {
    let dir = tempfile::tempdir().unwrap();
    let b = broker(&dir).await;
    let client = JobClient::new(b.clone());
    let before = b.clock().now_ms();
    let done = client
        .enqueue_in(&Remind { user_id: 7 }, Duration::from_secs(3600))
        .await
        .unwrap();
    let info = b.job(&done.id).await.unwrap().unwrap();
    assert_eq!(info.state, JobState::Scheduled);
    assert!(
        (before + 3_600_000..=before + 3_601_000).contains(&info.run_at_ms),
        "due {} ms after the enqueue",
        info.run_at_ms - before
    );
}

#[tokio::test]
async fn an_invalid_job_is_refused_naming_the_field_and_nothing_is_enqueued() {
    let dir = tempfile::tempdir().unwrap();
    let b = broker(&dir).await;
    let client = JobClient::new(b.clone());
    let err = client
        .enqueue_many(&[Remind { user_id: 1 }, Remind { user_id: -1 }])
        .await
        .unwrap_err();
    assert!(
        matches!(&err, BrokerError::Invalid(m) if m.contains("user_id")),
        "{err}"
    );
    let stats = b.stats(&["default".to_owned()]).await.unwrap();
    assert_eq!(
        stats[0].queued + stats[0].scheduled,
        0,
        "the batch was refused whole"
    );
}

#[tokio::test]
async fn the_same_idempotency_key_gives_one_job() {
    let dir = tempfile::tempdir().unwrap();
    let client = JobClient::new(broker(&dir).await);
    let first = client.enqueue(&Remind { user_id: 3 }).await.unwrap();
    let again = client.enqueue(&Remind { user_id: 3 }).await.unwrap();
    assert!(first.created && !again.created);
    assert_eq!(
        (first.id.as_str(), again.id.as_str()),
        ("remind:3", "remind:3")
    );
}

#[tokio::test]
async fn a_metered_broker_counts_each_job_it_creates_once() {
    let dir = tempfile::tempdir().unwrap();
    let metrics = paqueteria_jobs::EnqueueMetrics::new("paqueteria");
    let b = paqueteria_jobs::metered(broker(&dir).await, &metrics);
    let client = JobClient::new(b.clone());
    client.enqueue(&Remind { user_id: 1 }).await.unwrap();
    // The same idempotency key: the fence answers "already there".
    let again = client.enqueue(&Remind { user_id: 1 }).await.unwrap();
    assert!(!again.created);
    client
        .enqueue_many(&[
            Remind { user_id: 2 },
            Remind { user_id: 3 },
            Remind { user_id: 1 },
        ])
        .await
        .unwrap();
    // A refused job is not counted either.
    assert!(client.enqueue(&Remind { user_id: -1 }).await.is_err());
    assert_eq!(metrics.get("default", "remind"), 3);
    let text = metrics.render();
    assert!(
        text.contains(r#"paqueteria_jobs_enqueued_total{job="remind",queue="default"} 3"#),
        "{text}"
    );
    // The wrapper is the broker: what was enqueued through it is there.
    assert_eq!(b.stats(&["default".to_owned()]).await.unwrap()[0].queued, 3);
}

#[tokio::test]
async fn a_worker_shows_its_jobs_counters_at_zero_before_the_first_run() {
    let dir = tempfile::tempdir().unwrap();
    let mut handlers = paqueteria_jobs::Handlers::new();
    handlers.register(|_ctx, _job: Remind| async { Ok(None) });
    let metrics = paqueteria_jobs::Metrics::new();
    let _runtime = paqueteria_jobs::Runtime::build(
        paqueteria_jobs::RuntimeConfig::default(),
        broker(&dir).await,
        handlers,
        metrics.clone(),
    );
    let text = metrics.render();
    for outcome in ["succeeded", "retried", "dead"] {
        let series = format!(
            r#"paqueteria_jobs_finished_total{{job="remind",outcome="{outcome}",queue="default"}} 0"#
        );
        assert!(text.contains(&series), "{series}:\n{text}");
    }
    assert!(text.contains(r#"paqueteria_jobs_started_total{job="remind",queue="default"} 0"#));
}
