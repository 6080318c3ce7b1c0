//! The runtime through a broker that fails or waits at a chosen moment
//! ([`Hooked`]): lease calls that fail while every queue is at its cap must
//! neither wedge the worker nor make it spin; attempts that end while
//! every settle call the engine allows is on the wire go together in the
//! next one, and with two calls allowed an attempt does not wait for the
//! other call's round trip.

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
    hooked.hold_settles.lock().unwrap().push_back(gate);
    hooked.settle_calls.store(1, Ordering::SeqCst);
    let broker: SharedBroker = hooked.clone();
    // One job ends at once; three more end only once its settle call is
    // held on the wire; four more wait behind them.
    let later = Arc::new(tokio::sync::Semaphore::new(0));
    let payloads = ["\"first\""]
        .into_iter()
        .chain(["\"later\""; 3])
        .chain(["\"next\""; 4]);
    let mut ids = Vec::new();
    for p in payloads {
        ids.push(broker.enqueue(NewJob::new("t", "q", p)).await.unwrap().id);
    }
    let metrics = Metrics::new();
    let next = Arc::new(tokio::sync::Semaphore::new(0));
    let runtime = gated_runtime(
        &broker,
        vec![("later", later.clone()), ("next", next.clone())],
        &metrics,
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
    // The next jobs end only once the second call has gone, so it carries
    // exactly the three.
    eventually(
        Duration::from_secs(10),
        "the second settle call",
        || async { hooked.batches.lock().unwrap().len() >= 2 },
    )
    .await;
    next.add_permits(4);
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

/// A runtime over `broker` at concurrency 4 on queue `q`, whose handler
/// `t` ends at once unless its payload names a gate: then it waits for a
/// permit of that gate.
fn gated_runtime(
    broker: &SharedBroker,
    gates: Vec<(&'static str, Arc<tokio::sync::Semaphore>)>,
    metrics: &Metrics,
) -> Runtime {
    let mut h = Handlers::new();
    h.register_raw("t", move |_ctx, payload| {
        let gate = gates
            .iter()
            .find(|(name, _)| payload.trim_matches('"') == *name)
            .map(|(_, g)| g.clone());
        async move {
            if let Some(gate) = gate {
                gate.acquire().await.unwrap().forget();
            }
            Ok(None)
        }
    });
    Runtime::build(
        RuntimeConfig {
            queues: vec![QueueSpec::new("q")],
            concurrency: 4,
            ..RuntimeConfig::default()
        },
        broker.clone(),
        h,
        metrics.clone(),
    )
}

/// With two settle calls allowed (as on Redis): the second attempt to end
/// goes at once while the first one's call is held on the wire, rather
/// than waiting for it; the two that end while both calls are held go
/// together in the third call; every job still ends succeeded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_two_settle_calls_an_attempt_does_not_wait_for_the_other_call() {
    let dir = tempfile::tempdir().unwrap();
    let hooked = Arc::new(Hooked::new(sqlite_broker(&dir).await));
    hooked.settle_calls.store(2, Ordering::SeqCst);
    let (release_first, gate) = tokio::sync::oneshot::channel();
    hooked.hold_settles.lock().unwrap().push_back(gate);
    let (release_second, gate) = tokio::sync::oneshot::channel();
    hooked.hold_settles.lock().unwrap().push_back(gate);
    let broker: SharedBroker = hooked.clone();
    let second = Arc::new(tokio::sync::Semaphore::new(0));
    let last = Arc::new(tokio::sync::Semaphore::new(0));
    let payloads = ["\"first\"", "\"second\"", "\"last\"", "\"last\""]
        .into_iter()
        .chain(["\"next\""; 4]);
    let mut ids = Vec::new();
    for p in payloads {
        ids.push(broker.enqueue(NewJob::new("t", "q", p)).await.unwrap().id);
    }
    let metrics = Metrics::new();
    let next = Arc::new(tokio::sync::Semaphore::new(0));
    let runtime = gated_runtime(
        &broker,
        vec![
            ("second", second.clone()),
            ("last", last.clone()),
            ("next", next.clone()),
        ],
        &metrics,
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let worker = tokio::spawn(runtime.run_until_stopped(async {
        let _ = stopped.await;
    }));
    let held = |what: &'static str| {
        let hooked = hooked.clone();
        async move {
            tokio::time::timeout(Duration::from_secs(10), hooked.held.notified())
                .await
                .expect(what);
        }
    };
    held("the first job's settle call").await;
    second.add_permits(1);
    // Its call goes while the first is still held.
    held("the second job's settle call, beside the first").await;
    last.add_permits(2);
    eventually(Duration::from_secs(10), "the last two to end", || async {
        metrics.running.with_label_values(&["q", "t"]).get() == 0
            && metrics.started.with_label_values(&["q", "t"]).get() == 4
    })
    .await;
    assert_eq!(
        *hooked.batches.lock().unwrap(),
        [1, 1],
        "no third call while two are on the wire"
    );
    let _ = release_first.send(());
    let _ = release_second.send(());
    // The next jobs end only once the third call has gone, so it carries
    // exactly the last two.
    eventually(Duration::from_secs(10), "the third settle call", || async {
        hooked.batches.lock().unwrap().len() >= 3
    })
    .await;
    next.add_permits(4);
    for id in &ids {
        let info = job_ended(&broker, id, Duration::from_secs(10)).await;
        assert_eq!(info.state, JobState::Succeeded, "{id}");
    }
    let batches = hooked.batches.lock().unwrap().clone();
    assert_eq!(
        batches.get(..3),
        Some([1, 1, 2].as_slice()),
        "the two attempts that ended while both calls were held went in one: {batches:?}"
    );
    assert_eq!(batches.iter().sum::<usize>(), 8, "{batches:?}");
    let _ = stop.send(());
    worker.await.unwrap().unwrap();
}
