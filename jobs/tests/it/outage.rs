//! The runtime through a broker that fails or waits at a chosen moment
//! ([`Hooked`]): lease calls that fail while every queue is at its cap must
//! neither wedge the worker nor make it spin; attempts that end while a
//! settle call is on the wire go together in the next one.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use paqueteria_jobs::testing::{eventually, job_ended};
use paqueteria_jobs::{
    BrokerConfig, EngineConfig, Handlers, JobState, Metrics, NewJob, QueueSpec, Runtime,
    RuntimeConfig, SharedBroker, connect,
};

use crate::hooked::Hooked;

async fn sqlite_broker(dir: &tempfile::TempDir) -> SharedBroker {
    connect(
        &EngineConfig::sqlite(dir.path().join("jobs.sqlite3")),
        BrokerConfig::default(),
    )
    .await
    .unwrap()
}

/// Two queues capped at one job each and four slots: the first lease call
/// on the wire counts against both caps, so the next finds every queue at
/// its cap. Its failure must not leave the worker waiting for a slot to
/// free (nothing runs) or spinning on its backoff: once the broker answers,
/// a new job runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_leases_again_after_lease_errors_while_every_queue_was_capped() {
    let dir = tempfile::tempdir().unwrap();
    let flaky = Arc::new(Hooked::new(sqlite_broker(&dir).await));
    flaky.down.store(true, Ordering::SeqCst);
    let broker: SharedBroker = flaky.clone();
    let mut h = Handlers::new();
    h.register_raw("t", |_ctx, _p| async { Ok(None) });
    let runtime = Runtime::build(
        RuntimeConfig {
            queues: QueueSpec::parse_list("a@1,b@1").unwrap(),
            concurrency: 4,
            ..RuntimeConfig::default()
        },
        broker.clone(),
        h,
        Metrics::new(),
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let worker = tokio::spawn(runtime.run_until_stopped(async {
        let _ = stopped.await;
    }));
    eventually(Duration::from_secs(10), "lease calls to fail", || async {
        flaky.failed.load(Ordering::SeqCst) >= 2
    })
    .await;
    flaky.down.store(false, Ordering::SeqCst);
    let id = broker
        .enqueue(NewJob::new("t", "a", "{}"))
        .await
        .unwrap()
        .id;
    let info = job_ended(&broker, &id, Duration::from_secs(10)).await;
    assert_eq!(info.state, JobState::Succeeded);
    let _ = stop.send(());
    worker.await.unwrap().unwrap();
}

/// Three slots finish while the first one's settle call is held on the
/// wire: they go together in the next call, which also leases their slots'
/// next jobs; every job still ends succeeded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attempts_that_end_during_a_settle_call_go_together_in_the_next() {
    let dir = tempfile::tempdir().unwrap();
    let hooked = Arc::new(Hooked::new(sqlite_broker(&dir).await));
    let (release, gate) = tokio::sync::oneshot::channel();
    *hooked.hold_next_settle.lock().unwrap() = Some(gate);
    let broker: SharedBroker = hooked.clone();
    // One job ends at once; three more end only once its settle call is
    // held on the wire; four more wait behind them.
    let later = Arc::new(tokio::sync::Semaphore::new(0));
    let gate = later.clone();
    let mut h = Handlers::new();
    h.register_raw("t", move |_ctx, payload| {
        let gate = gate.clone();
        async move {
            if payload == "\"later\"" {
                gate.acquire().await.unwrap().forget();
            }
            Ok(None)
        }
    });
    let payloads = ["\"first\""]
        .into_iter()
        .chain(["\"later\""; 3])
        .chain(["\"next\""; 4]);
    let mut ids = Vec::new();
    for p in payloads {
        ids.push(broker.enqueue(NewJob::new("t", "q", p)).await.unwrap().id);
    }
    let metrics = Metrics::new();
    let runtime = Runtime::build(
        RuntimeConfig {
            queues: vec![QueueSpec::new("q")],
            concurrency: 4,
            ..RuntimeConfig::default()
        },
        broker.clone(),
        h,
        metrics.clone(),
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let worker = tokio::spawn(runtime.run_until_stopped(async {
        let _ = stopped.await;
    }));
    // The first job's settle call is held; then the other three end (an
    // attempt leaves the running gauge once its settlement is handed over).
    tokio::time::timeout(Duration::from_secs(10), hooked.held.notified())
        .await
        .expect("the first settle call");
    later.add_permits(3);
    eventually(Duration::from_secs(10), "the three to end", || async {
        metrics.running.with_label_values(&["q", "t"]).get() == 0
            && metrics.started.with_label_values(&["q", "t"]).get() == 4
    })
    .await;
    let _ = release.send(());
    for id in &ids {
        let info = job_ended(&broker, id, Duration::from_secs(10)).await;
        assert_eq!(info.state, JobState::Succeeded, "{id}");
    }
    let batches = hooked.batches.lock().unwrap().clone();
    assert_eq!(
        batches.get(..2),
        Some([1, 3].as_slice()),
        "the three attempts that ended during the first call went in one: {batches:?}"
    );
    assert_eq!(batches.iter().sum::<usize>(), 8, "{batches:?}");
    let _ = stop.send(());
    worker.await.unwrap().unwrap();
}
