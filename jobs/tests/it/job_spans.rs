//! Every log line of a job's attempt is in the attempt's span: job id,
//! name, queue, attempt and the request id the job was enqueued with, in
//! async and blocking handlers alike. Read back from a subscriber of the
//! test's own, on one thread so every task logs to it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use paqueteria_jobs::broker::sqlite::SqliteBroker;
use paqueteria_jobs::broker::{BrokerConfig, NewJob, SharedBroker};
use paqueteria_jobs::testing::job_ended;
use paqueteria_jobs::{Handlers, Job, JobPolicy, Metrics, QueueSpec, Runtime, RuntimeConfig};

/// A job whose handler runs on the blocking pool.
#[derive(serde::Serialize, serde::Deserialize)]
struct Crunch {}

impl Job for Crunch {
    const NAME: &'static str = "test.crunch";
    fn policy() -> JobPolicy {
        JobPolicy::new(1, 1, 1, 10)
    }
}

/// A writer into a buffer the test reads.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_jobs_log_lines_carry_its_job_id_and_the_request_that_caused_it() {
    let out = Captured::default();
    let writer = out.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_current_span(true)
        .with_span_list(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let dir = tempfile::tempdir().unwrap();
    let broker: SharedBroker = Arc::new(
        SqliteBroker::open(&dir.path().join("jobs.sqlite3"), BrokerConfig::default())
            .await
            .unwrap(),
    );
    let mut handlers = Handlers::new();
    handlers.register_raw("test.say", |_ctx, payload| async move {
        tracing::info!(said = %payload, "async handler");
        Ok(None)
    });
    handlers.register_blocking::<Crunch, _>(|_ctx, _job| {
        tracing::info!("blocking handler");
        Ok(None)
    });
    let jobs = [
        NewJob::new("test.say", "default", "\"a\"").with_request_id(Some("req-a".to_owned())),
        Crunch {}
            .to_new_job()
            .unwrap()
            .with_request_id(Some("req-b".to_owned())),
        NewJob::new("test.say", "default", "\"none\""),
    ];
    let ids: Vec<_> = broker
        .enqueue_many(jobs.to_vec())
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.id)
        .collect();

    // Other tests run jobs at the same time without a subscriber: a log
    // statement one of them reached first, while this one was being
    // installed, may be cached as wanted by nobody. Ask again, now.
    tracing::callsite::rebuild_interest_cache();
    let runtime = Runtime::build(
        RuntimeConfig {
            queues: vec![QueueSpec::new("default")],
            concurrency: 2,
            grace: Duration::from_secs(5),
            lease: Duration::from_secs(10),
            maintain_every: Duration::from_millis(50),
        },
        broker.clone(),
        handlers,
        Metrics::new(),
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let worker = tokio::spawn(runtime.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    for id in &ids {
        let ended = job_ended(&broker, id, Duration::from_secs(20)).await;
        assert_eq!(
            ended.state,
            paqueteria_jobs::JobState::Succeeded,
            "{ended:?}"
        );
    }
    let _ = stop.send(());
    worker.await.unwrap().unwrap();

    let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let line = |message: &str, said: Option<&str>| {
        lines
            .iter()
            .find(|l| {
                l["fields"]["message"] == message && said.is_none_or(|s| l["fields"]["said"] == s)
            })
            .unwrap_or_else(|| panic!("no {message:?} line in:\n{text}"))
    };
    let a = &line("async handler", Some("\"a\""))["span"];
    assert_eq!(
        (&a["job_id"], &a["request_id"], &a["job"]),
        (&ids[0].as_str().into(), &"req-a".into(), &"test.say".into()),
        "{a}"
    );
    let b = &line("blocking handler", None)["span"];
    assert_eq!(
        (&b["job_id"], &b["request_id"]),
        (&ids[1].as_str().into(), &"req-b".into()),
        "{b}"
    );
    let none = &line("async handler", Some("\"none\""))["span"];
    assert_eq!(none["job_id"], ids[2].as_str(), "{none}");
    assert!(none.get("request_id").is_none(), "{none}");
}
