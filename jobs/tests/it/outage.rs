//! The runtime through a broker that fails or waits at a chosen moment
//! ([`Hooked`]): lease calls that fail while every queue is at its cap must
//! neither wedge the worker nor make it spin; attempts that end while
//! every settle call the engine allows is on the wire go together in the
//! next one, and with two calls allowed an attempt does not wait for the
//! other call's round trip.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use paqueteria_jobs::testing::{eventually, job_ended};
use paqueteria_jobs::{
    BrokerConfig, EngineConfig, Handlers, JobId, JobState, Metrics, NewJob, QueueSpec, Runtime,
    RuntimeConfig, RuntimeError, SharedBroker, connect,
};
use tokio::sync::{Semaphore, oneshot};

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
    let (stop, stopped) = oneshot::channel::<()>();
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

/// Jobs `t` of queue `q` enqueued in order, one per payload name, run by a
/// runtime at concurrency 4 in which a job named after a gate waits for a
/// permit of that gate; the others end at once.
struct Gated {
    ids: Vec<JobId>,
    gates: HashMap<&'static str, Arc<Semaphore>>,
    metrics: Metrics,
    stop: oneshot::Sender<()>,
    worker: tokio::task::JoinHandle<Result<(), RuntimeError>>,
}

impl Gated {
    async fn start(broker: &SharedBroker, jobs: &[&str], gates: &[&'static str]) -> Self {
        let mut ids = Vec::new();
        for name in jobs {
            let payload = format!("\"{name}\"");
            ids.push(
                broker
                    .enqueue(NewJob::new("t", "q", payload))
                    .await
                    .unwrap()
                    .id,
            );
        }
        let gates: HashMap<&'static str, Arc<Semaphore>> = gates
            .iter()
            .map(|&g| (g, Arc::new(Semaphore::new(0))))
            .collect();
        let mut h = Handlers::new();
        let by_name = gates.clone();
        h.register_raw("t", move |_ctx, payload| {
            let gate = by_name.get(payload.trim_matches('"')).cloned();
            async move {
                if let Some(gate) = gate {
                    gate.acquire().await.unwrap().forget();
                }
                Ok(None)
            }
        });
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
        let (stop, stopped) = oneshot::channel::<()>();
        let worker = tokio::spawn(runtime.run_until_stopped(async {
            let _ = stopped.await;
        }));
        Self {
            ids,
            gates,
            metrics,
            stop,
            worker,
        }
    }

    /// Lets `n` more jobs named `gate` end.
    fn open(&self, gate: &str, n: usize) {
        self.gates[gate].add_permits(n);
    }

    /// Waits until the four slots' attempts have ended and handed over
    /// their settlements (an attempt leaves the running gauge then).
    async fn four_ended(&self, what: &str) {
        eventually(Duration::from_secs(10), what, || async {
            self.metrics.running.with_label_values(&["q", "t"]).get() == 0
                && self.metrics.started.with_label_values(&["q", "t"]).get() == 4
        })
        .await;
    }

    /// Asserts that every job ended succeeded, then stops the worker.
    async fn finish(self, broker: &SharedBroker) {
        for id in &self.ids {
            let info = job_ended(broker, id, Duration::from_secs(10)).await;
            assert_eq!(info.state, JobState::Succeeded, "{id}");
        }
        let _ = self.stop.send(());
        self.worker.await.unwrap().unwrap();
    }
}

/// Waits until `hooked` has seen `n` settle calls.
async fn settle_calls(hooked: &Hooked, n: usize, what: &str) {
    eventually(Duration::from_secs(10), what, || async {
        hooked.batches.lock().unwrap().len() >= n
    })
    .await;
}

/// Three slots finish while the first one's settle call is held on the
/// wire: they go together in the next call, which also leases their slots'
/// next jobs; every job still ends succeeded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attempts_that_end_during_a_settle_call_go_together_in_the_next() {
    let dir = tempfile::tempdir().unwrap();
    let hooked = Arc::new(Hooked::new(sqlite_broker(&dir).await));
    let (release, gate) = oneshot::channel();
    hooked.hold_settles.lock().unwrap().push_back(gate);
    hooked.settle_calls.store(1, Ordering::SeqCst);
    let broker: SharedBroker = hooked.clone();
    // One job ends at once; three more end only once its settle call is
    // held on the wire; the next four (the refills) once the second call
    // has gone, so it carries exactly the three.
    let mut jobs = vec!["first"];
    jobs.extend(["later"; 3]);
    jobs.extend(["next"; 4]);
    let run = Gated::start(&broker, &jobs, &["later", "next"]).await;
    tokio::time::timeout(Duration::from_secs(10), hooked.held.notified())
        .await
        .expect("the first settle call");
    run.open("later", 3);
    run.four_ended("the three to end").await;
    let _ = release.send(());
    settle_calls(&hooked, 2, "the second settle call").await;
    run.open("next", 4);
    run.finish(&broker).await;
    let batches = hooked.batches.lock().unwrap().clone();
    assert_eq!(
        batches.get(..2),
        Some([1, 3].as_slice()),
        "the three attempts that ended during the first call went in one: {batches:?}"
    );
    assert_eq!(batches.iter().sum::<usize>(), 8, "{batches:?}");
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
    let (release_first, gate) = oneshot::channel();
    hooked.hold_settles.lock().unwrap().push_back(gate);
    let (release_second, gate) = oneshot::channel();
    hooked.hold_settles.lock().unwrap().push_back(gate);
    let broker: SharedBroker = hooked.clone();
    let mut jobs = vec!["first", "second", "last", "last"];
    jobs.extend(["next"; 4]);
    let run = Gated::start(&broker, &jobs, &["second", "last", "next"]).await;
    let held = |what: &'static str| {
        let hooked = hooked.clone();
        async move {
            tokio::time::timeout(Duration::from_secs(10), hooked.held.notified())
                .await
                .expect(what);
        }
    };
    held("the first job's settle call").await;
    run.open("second", 1);
    // Its call goes while the first is still held.
    held("the second job's settle call, beside the first").await;
    run.open("last", 2);
    run.four_ended("the last two to end").await;
    assert_eq!(
        *hooked.batches.lock().unwrap(),
        [1, 1],
        "no third call while two are on the wire"
    );
    let _ = release_first.send(());
    let _ = release_second.send(());
    // The next jobs end only once the third call has gone, so it carries
    // exactly the last two.
    settle_calls(&hooked, 3, "the third settle call").await;
    run.open("next", 4);
    run.finish(&broker).await;
    let batches = hooked.batches.lock().unwrap().clone();
    assert_eq!(
        batches.get(..3),
        Some([1, 1, 2].as_slice()),
        "the two attempts that ended while both calls were held went in one: {batches:?}"
    );
    assert_eq!(batches.iter().sum::<usize>(), 8, "{batches:?}");
}
