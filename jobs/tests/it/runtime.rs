//! The worker runtime against both engines: retries, dead set, time limits,
//! panics, concurrency, cancellation, graceful shutdown, metrics, snoozes
//! and fair queues. Each test runs a real `Runtime` in-process on fresh
//! storage (its own Redis key prefix, its own SQLite file), on one Redis,
//! on a Redis Cluster and on SQLite (`runtime_engines.rs`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use paqueteria_jobs::broker::{JobId, JobInfo, JobState, NewJob, SharedBroker};
use paqueteria_jobs::testing::eventually;
use paqueteria_jobs::{
    Handlers, Job, JobContext, JobError, JobPolicy, JobResult, Metrics, QueueSpec, RetryPolicy,
    Runtime, RuntimeConfig,
};
use tokio::sync::oneshot;

pub use crate::runtime_engines::{Engine, RedisClusterEngine, RedisEngine, SqliteEngine};

const Q: &str = "default";

/// A round trip through the broker and a worker.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Ping {}

impl Job for Ping {
    const NAME: &'static str = "system.ping";
    fn policy() -> JobPolicy {
        JobPolicy::new(1, 1, 1, 10)
    }
}

async fn pong(ctx: JobContext, _job: Ping) -> JobResult {
    Ok(Some(serde_json::json!({ "pong": ctx.worker_id })))
}

/// Handlers that answer pings.
fn pinger() -> Handlers {
    let mut h = Handlers::new();
    h.register::<Ping, _, _>(pong);
    h
}

struct TestWorker {
    stop: Option<oneshot::Sender<()>>,
    done: tokio::task::JoinHandle<Result<(), paqueteria_jobs::RuntimeError>>,
}

impl TestWorker {
    fn spawn(
        broker: &SharedBroker,
        handlers: Handlers,
        tweak: impl FnOnce(&mut RuntimeConfig),
    ) -> Self {
        Self::spawn_with_metrics(broker, handlers, Metrics::new(), tweak)
    }

    fn spawn_with_metrics(
        broker: &SharedBroker,
        handlers: Handlers,
        metrics: Metrics,
        tweak: impl FnOnce(&mut RuntimeConfig),
    ) -> Self {
        let mut cfg = RuntimeConfig {
            queues: vec![QueueSpec::new(Q)],
            concurrency: 4,
            grace: Duration::from_secs(5),
            lease: Duration::from_secs(10),
            maintain_every: Duration::from_millis(20),
        };
        tweak(&mut cfg);
        let runtime = Runtime::build(cfg, broker.clone(), handlers, metrics);
        let (tx, rx) = oneshot::channel::<()>();
        let done = tokio::spawn(runtime.run_until_stopped(async move {
            let _ = rx.await;
        }));
        Self {
            stop: Some(tx),
            done,
        }
    }

    async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        tokio::time::timeout(Duration::from_secs(30), self.done)
            .await
            .expect("worker stops within 30 s")
            .unwrap()
            .unwrap();
    }
}

async fn finished(b: &SharedBroker, id: &JobId) -> JobInfo {
    paqueteria_jobs::testing::job_ended(b, id, Duration::from_secs(20)).await
}

/// Handlers with one job, `name`, that sleeps for `d`, and a count of its
/// starts.
fn sleeper(name: &str, d: Duration) -> (Handlers, Arc<AtomicUsize>) {
    let started = Arc::new(AtomicUsize::new(0));
    let mut h = Handlers::new();
    let count = started.clone();
    h.register_raw(name, move |_ctx, _p| {
        let count = count.clone();
        async move {
            count.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(d).await;
            Ok(None)
        }
    });
    (h, started)
}

async fn wait_for_start(started: &Arc<AtomicUsize>) {
    eventually(Duration::from_secs(10), "the job to start", || {
        let s = started.clone();
        async move { (s.load(Ordering::SeqCst) >= 1).then_some(()) }
    })
    .await;
}

fn fast_policy(max_attempts: u32, timeout_ms: u64) -> JobPolicy {
    JobPolicy {
        retry: RetryPolicy {
            max_attempts,
            backoff_base_ms: 10,
            backoff_max_ms: 40,
        },
        timeout_ms,
    }
}

fn counting(
    handlers: &mut Handlers,
    name: &str,
    calls: Arc<AtomicUsize>,
    result: Result<(), JobError>,
) {
    handlers.register_raw(name, move |_ctx, _payload| {
        let calls = calls.clone();
        let result = result.clone();
        async move {
            calls.fetch_add(1, Ordering::SeqCst);
            result.map(|()| None)
        }
    });
}

pub async fn a_ping_runs_and_its_result_is_kept<E: Engine>() {
    let b = E::broker(Duration::from_secs(10)).await;
    let w = TestWorker::spawn(&b, pinger(), |_| {});
    let id = b.enqueue(Ping {}.to_new_job().unwrap()).await.unwrap().id;
    let info = finished(&b, &id).await;
    assert_eq!(info.state, JobState::Succeeded);
    assert!(info.result.unwrap_or_default().contains("pong"));
    w.stop().await;
}

pub async fn a_failing_job_is_retried_then_dead_after_max_attempts<E: Engine>() {
    let b = E::broker(Duration::from_secs(10)).await;
    let calls = Arc::new(AtomicUsize::new(0));
    let mut h = Handlers::new();
    counting(
        &mut h,
        "flaky",
        calls.clone(),
        Err(JobError::retry("gateway 503")),
    );
    let w = TestWorker::spawn(&b, h, |_| {});
    let id = b
        .enqueue(NewJob::new("flaky", Q, "{}").with_policy(fast_policy(3, 5000)))
        .await
        .unwrap()
        .id;
    let info = finished(&b, &id).await;
    assert_eq!((info.state, info.attempts), (JobState::Dead, 3));
    assert_eq!(info.last_error.as_deref(), Some("gateway 503"));
    assert_eq!(
        calls.load(Ordering::SeqCst),
        3,
        "max_attempts is the number of runs"
    );
    w.stop().await;
}

pub async fn an_aborted_job_goes_straight_to_the_dead_set<E: Engine>() {
    let b = E::broker(Duration::from_secs(10)).await;
    let calls = Arc::new(AtomicUsize::new(0));
    let mut h = Handlers::new();
    counting(
        &mut h,
        "rejected",
        calls.clone(),
        Err(JobError::abort("400: bad recipient")),
    );
    let w = TestWorker::spawn(&b, h, |_| {});
    let id = b
        .enqueue(NewJob::new("rejected", Q, "{}").with_policy(fast_policy(5, 5000)))
        .await
        .unwrap()
        .id;
    let info = finished(&b, &id).await;
    assert_eq!((info.state, info.attempts), (JobState::Dead, 1));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    w.stop().await;
}

pub async fn a_payload_that_does_not_decode_is_dead_and_the_worker_keeps_running<E: Engine>() {
    let b = E::broker(Duration::from_secs(10)).await;
    let w = TestWorker::spawn(&b, pinger(), |_| {});
    let poison = b
        .enqueue(NewJob::new(Ping::NAME, Q, "this is not json").with_policy(fast_policy(5, 5000)))
        .await
        .unwrap()
        .id;
    let unknown = b
        .enqueue(NewJob::new("no.such.job", Q, "{}"))
        .await
        .unwrap()
        .id;
    let ping = b.enqueue(Ping {}.to_new_job().unwrap()).await.unwrap().id;
    let p = finished(&b, &poison).await;
    assert_eq!(
        (p.state, p.attempts),
        (JobState::Dead, 1),
        "bad payloads are not retried"
    );
    assert!(p.last_error.unwrap_or_default().contains("does not decode"));
    let u = finished(&b, &unknown).await;
    assert!(u.last_error.unwrap_or_default().contains("no handler"));
    assert_eq!(
        finished(&b, &ping).await.state,
        JobState::Succeeded,
        "the worker kept running"
    );
    w.stop().await;
}

pub async fn a_job_over_its_time_limit_is_stopped_and_counts_as_failed<E: Engine>() {
    let b = E::broker(Duration::from_secs(10)).await;
    let mut h = Handlers::new();
    h.register_raw("slow", |_ctx, _p| async {
        tokio::time::sleep(Duration::from_secs(3600)).await;
        Ok(None)
    });
    let w = TestWorker::spawn(&b, h, |_| {});
    let id = b
        .enqueue(NewJob::new("slow", Q, "{}").with_policy(fast_policy(2, 100)))
        .await
        .unwrap()
        .id;
    let info = finished(&b, &id).await;
    assert_eq!((info.state, info.attempts), (JobState::Dead, 2));
    assert!(info.last_error.unwrap_or_default().contains("time limit"));
    w.stop().await;
}

pub async fn a_panicking_handler_fails_its_attempt_not_the_worker<E: Engine>() {
    let b = E::broker(Duration::from_secs(10)).await;
    let mut h = pinger();
    h.register_raw("panics", |_ctx, _p| async { panic!("boom in handler") });
    let w = TestWorker::spawn(&b, h, |_| {});
    let id = b
        .enqueue(NewJob::new("panics", Q, "{}").with_policy(fast_policy(2, 5000)))
        .await
        .unwrap()
        .id;
    let info = finished(&b, &id).await;
    assert_eq!((info.state, info.attempts), (JobState::Dead, 2));
    assert!(
        info.last_error
            .unwrap_or_default()
            .contains("boom in handler")
    );
    let ping = b.enqueue(Ping {}.to_new_job().unwrap()).await.unwrap().id;
    assert_eq!(finished(&b, &ping).await.state, JobState::Succeeded);
    w.stop().await;
}

pub async fn no_more_jobs_are_leased_than_the_concurrency<E: Engine>() {
    let b = E::broker(Duration::from_secs(10)).await;
    let now = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let mut h = Handlers::new();
    {
        let (now, peak) = (now.clone(), peak.clone());
        h.register_raw("work", move |_ctx, _p| {
            let (now, peak) = (now.clone(), peak.clone());
            async move {
                let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(n, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(20)).await;
                now.fetch_sub(1, Ordering::SeqCst);
                Ok(None)
            }
        });
    }
    let jobs: Vec<NewJob> = (0..60)
        .map(|i| NewJob::new("work", Q, format!("{i}")))
        .collect();
    b.enqueue_many(jobs).await.unwrap();
    let w = TestWorker::spawn(&b, h, |c| c.concurrency = 3);
    let q = vec![Q.to_owned()];
    let max_leased = Arc::new(std::sync::atomic::AtomicU64::new(0));
    eventually(Duration::from_secs(30), "the queue to drain", || {
        let b = b.clone();
        let q = q.clone();
        let max = max_leased.clone();
        async move {
            let s = b.stats(&q).await.unwrap().remove(0);
            max.fetch_max(s.running, Ordering::SeqCst);
            (s.queued == 0 && s.running == 0).then_some(())
        }
    })
    .await;
    let max_leased = max_leased.load(Ordering::SeqCst);
    assert!(
        max_leased <= 3,
        "the broker saw {max_leased} leased jobs at concurrency 3"
    );
    assert_eq!(peak.load(Ordering::SeqCst), 3, "the pool was used in full");
    w.stop().await;
}

pub async fn an_idle_worker_starts_a_new_job_without_waiting_for_a_poll<E: Engine>() {
    let b = E::broker(Duration::from_secs(10)).await;
    let w = TestWorker::spawn(&b, pinger(), |_| {});
    // Let the worker go idle on its wake-up.
    let first = b.enqueue(Ping {}.to_new_job().unwrap()).await.unwrap().id;
    finished(&b, &first).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let t = Instant::now();
    let id = b.enqueue(Ping {}.to_new_job().unwrap()).await.unwrap().id;
    finished(&b, &id).await;
    let info = b.job(&id).await.unwrap().unwrap();
    let wait_ms = info.started_at_ms.unwrap() - info.enqueued_at_ms;
    assert!(
        wait_ms < 500,
        "an idle worker took {wait_ms} ms to start a job ({:?} end to end)",
        t.elapsed()
    );
    w.stop().await;
}

pub async fn shutdown_lets_running_jobs_finish_within_the_grace<E: Engine>() {
    let b = E::broker(Duration::from_secs(10)).await;
    let (h, started) = sleeper("short", Duration::from_millis(300));
    let w = TestWorker::spawn(&b, h, |c| c.grace = Duration::from_secs(10));
    let id = b.enqueue(NewJob::new("short", Q, "{}")).await.unwrap().id;
    wait_for_start(&started).await;
    w.stop().await;
    assert_eq!(
        b.job(&id).await.unwrap().unwrap().state,
        JobState::Succeeded
    );
}

pub async fn shutdown_hands_back_jobs_still_running_after_the_grace<E: Engine>() {
    let b = E::broker(Duration::from_secs(10)).await;
    let (h, started) = sleeper("long", Duration::from_secs(3600));
    let w = TestWorker::spawn(&b, h, |c| c.grace = Duration::from_millis(200));
    let id = b.enqueue(NewJob::new("long", Q, "{}")).await.unwrap().id;
    wait_for_start(&started).await;
    w.stop().await;
    let info = b.job(&id).await.unwrap().unwrap();
    assert_eq!(
        (info.state, info.attempts),
        (JobState::Queued, 0),
        "handed back, attempt not counted"
    );
}

pub async fn cancelling_a_running_job_stops_it<E: Engine>() {
    let b = E::broker(Duration::from_secs(1)).await;
    let (h, started) = sleeper("long", Duration::from_secs(3600));
    let w = TestWorker::spawn(&b, h, |c| c.lease = Duration::from_secs(1));
    let id = b.enqueue(NewJob::new("long", Q, "{}")).await.unwrap().id;
    wait_for_start(&started).await;
    b.cancel(&id).await.unwrap();
    assert_eq!(finished(&b, &id).await.state, JobState::Cancelled);
    w.stop().await;
}

pub async fn metrics_report_jobs_by_queue_job_and_outcome<E: Engine>() {
    let b = E::broker(Duration::from_secs(10)).await;
    let metrics = Metrics::new();
    let mut h = pinger();
    h.register_raw("rejected", |_c, _p| async { Err(JobError::abort("no")) });
    // Fails twice, then dies: two attempts retried, one dead, each counted
    // once.
    counting(
        &mut h,
        "flaky",
        Arc::new(AtomicUsize::new(0)),
        Err(JobError::retry("gateway 503")),
    );
    let w = TestWorker::spawn_with_metrics(&b, h, metrics.clone(), |_| {});
    let ok = b.enqueue(Ping {}.to_new_job().unwrap()).await.unwrap().id;
    let flaky = b
        .enqueue(NewJob::new("flaky", Q, "{}").with_policy(fast_policy(3, 5000)))
        .await
        .unwrap()
        .id;
    let bad = b
        .enqueue(NewJob::new("rejected", Q, "{}"))
        .await
        .unwrap()
        .id;
    let stray = b
        .enqueue(NewJob::new("made.up.by.a.producer", Q, "{}"))
        .await
        .unwrap()
        .id;
    finished(&b, &ok).await;
    finished(&b, &bad).await;
    finished(&b, &stray).await;
    finished(&b, &flaky).await;

    metrics.set_queue_stats(&b.stats(&[Q.to_owned()]).await.unwrap());
    let body = metrics.render();
    for want in [
        r#"paqueteria_jobs_finished_total{job="system.ping",outcome="succeeded",queue="default"} 1"#,
        r#"paqueteria_jobs_finished_total{job="rejected",outcome="dead",queue="default"} 1"#,
        r#"paqueteria_jobs_finished_total{job="unknown",outcome="dead",queue="default"} 1"#,
        r#"paqueteria_jobs_started_total{job="system.ping",queue="default"} 1"#,
        r#"paqueteria_queue_depth{queue="default",state="dead"} 3"#,
        "paqueteria_job_wait_seconds_bucket",
        "paqueteria_job_duration_seconds_bucket",
        "paqueteria_worker_up 1",
        "paqueteria_worker_concurrency 4",
        r#"paqueteria_jobs_finished_total{job="flaky",outcome="retried",queue="default"} 2"#,
        r#"paqueteria_jobs_finished_total{job="flaky",outcome="dead",queue="default"} 1"#,
        r#"paqueteria_jobs_started_total{job="flaky",queue="default"} 3"#,
        r#"paqueteria_job_duration_seconds_bucket{job="system.ping",queue="default",le="3600"} 1"#,
    ] {
        assert!(body.contains(want), "/metrics lacks {want}\n{body}");
    }
    assert!(
        !body.contains(r#"outcome="failed""#),
        "a retried attempt is counted once, as retried\n{body}"
    );
    w.stop().await;
}

/// Start times of jobs, by job name.
type Starts = Arc<std::sync::Mutex<std::collections::HashMap<String, Instant>>>;

/// A handler for `name` that notes when it starts, then finishes at once.
fn noting(h: &mut Handlers, name: &'static str, starts: &Starts) {
    let starts = starts.clone();
    h.register_raw(name, move |_ctx, _payload| {
        let starts = starts.clone();
        async move {
            starts
                .lock()
                .unwrap()
                .entry(name.to_owned())
                .or_insert_with(Instant::now);
            Ok(None)
        }
    });
}

/// Paquetería's default worker: one report at a time, two SMS calls.
const PAQUETERIA_QUEUES: &str = "reports@1,sms@2,files,maintenance,default";

/// With 40 SMS jobs queued whose sends block (a gateway that hangs) or are
/// rate-limited (they snooze), a job of every other queue starts within 1 s
/// of its enqueue: the SMS queue never holds more than its cap, and a
/// snoozed job gives its slot back.
async fn other_queues_start_within_a_second_while_sms_is_stuck<E: Engine>(snooze: bool) {
    let b = E::broker(Duration::from_secs(10)).await;
    let starts: Starts = Arc::default();
    let release = Arc::new(tokio::sync::Notify::new());
    let limited = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let sms_running = Arc::new(AtomicUsize::new(0));
    let mut h = Handlers::new();
    {
        let (release, sms_running) = (release.clone(), sms_running.clone());
        let limited = limited.clone();
        h.register_raw("sms.send", move |_ctx, _payload| {
            let (release, sms_running) = (release.clone(), sms_running.clone());
            let limited = limited.clone();
            async move {
                sms_running.fetch_add(1, Ordering::SeqCst);
                let out = if snooze {
                    if limited.load(Ordering::SeqCst) {
                        Err(JobError::snooze(Duration::from_millis(100)))
                    } else {
                        Ok(None)
                    }
                } else {
                    release.notified().await;
                    Ok(None)
                };
                sms_running.fetch_sub(1, Ordering::SeqCst);
                out
            }
        });
    }
    for name in ["reports.job", "files.job", "maintenance.job", "default.job"] {
        noting(&mut h, name, &starts);
    }
    let w = TestWorker::spawn(&b, h, |c| {
        c.queues = QueueSpec::parse_list(PAQUETERIA_QUEUES).unwrap();
        c.concurrency = 4;
    });
    let policy = fast_policy(3, 60_000);
    let sms: Vec<NewJob> = (0..40)
        .map(|i| NewJob::new("sms.send", "sms", format!("{{\"n\":{i}}}")).with_policy(policy))
        .collect();
    let sms_ids: Vec<JobId> = b
        .enqueue_many(sms)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.id)
        .collect();
    eventually(Duration::from_secs(10), "the SMS queue to be busy", || {
        let n = sms_running.clone();
        async move { (snooze || n.load(Ordering::SeqCst) == 2).then_some(()) }
    })
    .await;
    if snooze {
        // Let the snoozes get going: every SMS job bounces.
        eventually(Duration::from_secs(10), "SMS jobs to snooze", || {
            let b = b.clone();
            async move {
                let s = b.stats(&["sms".to_owned()]).await.unwrap();
                (s[0].scheduled > 0).then_some(())
            }
        })
        .await;
    }
    let enqueued = Instant::now();
    for (name, queue) in [
        ("reports.job", "reports"),
        ("files.job", "files"),
        ("maintenance.job", "maintenance"),
        ("default.job", "default"),
    ] {
        b.enqueue(NewJob::new(name, queue, "{}").with_policy(policy))
            .await
            .unwrap();
    }
    eventually(
        Duration::from_secs(10),
        "every other queue's job to start",
        || {
            let starts = starts.clone();
            async move { (starts.lock().unwrap().len() == 4).then_some(()) }
        },
    )
    .await;
    for (name, at) in starts.lock().unwrap().iter() {
        let waited = at.duration_since(enqueued);
        assert!(
            waited < Duration::from_secs(1),
            "{name} started {waited:?} after its enqueue"
        );
    }
    assert!(
        sms_running.load(Ordering::SeqCst) <= 2,
        "the SMS queue stayed within its cap"
    );
    if snooze {
        // The rate limit lifts: every SMS is sent, on its first counted
        // attempt however often it snoozed (3 attempts allowed).
        limited.store(false, Ordering::SeqCst);
        for id in &sms_ids {
            let info = finished(&b, id).await;
            assert_eq!(
                (info.state, info.attempts),
                (JobState::Succeeded, 1),
                "{id}"
            );
        }
    } else {
        release.notify_waiters();
    }
    w.stop().await;
}

pub async fn other_queues_start_within_a_second_while_sms_sends_hang<E: Engine>() {
    other_queues_start_within_a_second_while_sms_is_stuck::<E>(false).await;
}

pub async fn other_queues_start_within_a_second_while_sms_is_rate_limited<E: Engine>() {
    other_queues_start_within_a_second_while_sms_is_stuck::<E>(true).await;
}

/// Without caps, a queue with a backlog of slow jobs holds every slot only
/// while no other queue waits: the next free slot goes to the queue owed
/// it, ahead of the backlog.
pub async fn a_backlog_does_not_starve_a_queue_that_is_owed_a_slot<E: Engine>() {
    let b = E::broker(Duration::from_secs(10)).await;
    let starts: Starts = Arc::default();
    // How many backlog jobs have started, and how many had when the urgent
    // job started.
    let slow_started = Arc::new(AtomicUsize::new(0));
    let slow_before_urgent = Arc::new(AtomicUsize::new(usize::MAX));
    let mut h = Handlers::new();
    {
        let slow_started = slow_started.clone();
        h.register_raw("slow", move |_ctx, _p| {
            slow_started.fetch_add(1, Ordering::SeqCst);
            async {
                tokio::time::sleep(Duration::from_millis(150)).await;
                Ok(None)
            }
        });
    }
    {
        let (slow_started, before) = (slow_started.clone(), slow_before_urgent.clone());
        let starts = starts.clone();
        h.register_raw("urgent", move |_ctx, _p| {
            before.store(slow_started.load(Ordering::SeqCst), Ordering::SeqCst);
            starts
                .lock()
                .unwrap()
                .entry("urgent".to_owned())
                .or_insert_with(Instant::now);
            async { Ok(None) }
        });
    }
    let w = TestWorker::spawn(&b, h, |c| {
        c.queues = QueueSpec::parse_list("bulk,urgent").unwrap();
        c.concurrency = 4;
    });
    let slow: Vec<NewJob> = (0..200)
        .map(|_| NewJob::new("slow", "bulk", "{}"))
        .collect();
    b.enqueue_many(slow).await.unwrap();
    eventually(
        Duration::from_secs(10),
        "the backlog to fill every slot",
        || {
            let b = b.clone();
            async move {
                let s = b.stats(&["bulk".to_owned()]).await.unwrap();
                (s[0].running == 4).then_some(())
            }
        },
    )
    .await;
    let slow_at_enqueue = slow_started.load(Ordering::SeqCst);
    b.enqueue(NewJob::new("urgent", "urgent", "{}"))
        .await
        .unwrap();
    eventually(Duration::from_secs(10), "the urgent job to start", || {
        let starts = starts.clone();
        async move { starts.lock().unwrap().get("urgent").copied() }
    })
    .await;
    // Counted in jobs, not milliseconds: the urgent job takes one of the
    // next slots to free up, so at most one backlog job a slot (4) starts
    // between its enqueue and its start, however slow the machine.
    let overtaken = slow_before_urgent.load(Ordering::SeqCst) - slow_at_enqueue;
    assert!(
        overtaken <= 4,
        "{overtaken} backlog jobs started ahead of the urgent job"
    );
    w.stop().await;
}

macro_rules! runtime_suite {
    ($engine:ty; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                super::$case::<$engine>().await;
            }
        )*
    };
}

macro_rules! every_runtime_case {
    ($engine:ty) => {
        runtime_suite!($engine; a_ping_runs_and_its_result_is_kept, a_failing_job_is_retried_then_dead_after_max_attempts, an_aborted_job_goes_straight_to_the_dead_set, a_payload_that_does_not_decode_is_dead_and_the_worker_keeps_running, a_job_over_its_time_limit_is_stopped_and_counts_as_failed, a_panicking_handler_fails_its_attempt_not_the_worker, no_more_jobs_are_leased_than_the_concurrency, an_idle_worker_starts_a_new_job_without_waiting_for_a_poll, shutdown_lets_running_jobs_finish_within_the_grace, shutdown_hands_back_jobs_still_running_after_the_grace, cancelling_a_running_job_stops_it, metrics_report_jobs_by_queue_job_and_outcome, other_queues_start_within_a_second_while_sms_sends_hang, other_queues_start_within_a_second_while_sms_is_rate_limited, a_backlog_does_not_starve_a_queue_that_is_owed_a_slot);
    };
}

mod redis_engine {
    every_runtime_case!(super::RedisEngine);
}

mod redis_cluster_engine {
    every_runtime_case!(super::RedisClusterEngine);
}

mod sqlite_engine {
    every_runtime_case!(super::SqliteEngine);
}

/// A CPU-heavy test job.
#[derive(serde::Serialize, serde::Deserialize)]
struct Burn {}

impl Job for Burn {
    const NAME: &'static str = "test.burn";
    const QUEUE: &'static str = Q;
    fn policy() -> JobPolicy {
        fast_policy(1, 30_000)
    }
}

/// On a single-threaded runtime, a blocking handler that spins until told to
/// stop would starve every other job if it ran on the async thread; the ping
/// finishing while it spins shows it runs on the blocking pool.
#[tokio::test(flavor = "current_thread")]
async fn blocking_handlers_run_off_the_async_threads() {
    let b = RedisEngine::broker(Duration::from_secs(10)).await;
    let release = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let spinning = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut h = pinger();
    {
        let (release, spinning) = (release.clone(), spinning.clone());
        h.register_blocking::<Burn, _>(move |_ctx, _job| {
            spinning.store(true, Ordering::SeqCst);
            let deadline = Instant::now() + Duration::from_secs(60);
            while !release.load(Ordering::SeqCst) && Instant::now() < deadline {
                std::hint::spin_loop();
            }
            Ok(None)
        });
    }
    let w = TestWorker::spawn(&b, h, |_| {});
    let burn = b.enqueue(Burn {}.to_new_job().unwrap()).await.unwrap().id;
    eventually(Duration::from_secs(10), "the blocking job to start", || {
        let s = spinning.clone();
        async move { s.load(Ordering::SeqCst).then_some(()) }
    })
    .await;
    let ping = b.enqueue(Ping {}.to_new_job().unwrap()).await.unwrap().id;
    assert_eq!(finished(&b, &ping).await.state, JobState::Succeeded);
    assert_eq!(
        b.job(&burn).await.unwrap().map(|j| j.state),
        Some(JobState::Running),
        "the ping must finish while the blocking job still spins"
    );
    release.store(true, Ordering::SeqCst);
    assert_eq!(finished(&b, &burn).await.state, JobState::Succeeded);
    w.stop().await;
}
