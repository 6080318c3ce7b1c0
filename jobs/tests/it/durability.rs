//! What a Redis failover can lose, and `REDIS_ENQUEUE_WAIT`, on servers the
//! tests start and stop by pid:
//! - on a master and a replica: an enqueue under the wait is on the
//!   replica when it is acknowledged; a frozen replica makes it fail, and
//!   the retry of the same job (even from a new connection) fails until the
//!   replica has it;
//! - on a cluster of its own (3 masters, 3 replicas): the master of the
//!   queue is killed (SIGKILL) halfway through enqueueing 10,000 jobs
//!   while a worker drains them; acknowledged jobs that never run are
//!   lost. Run with the wait off and on; with it on none may be lost
//!   (with it off, on loopback, the replica is rarely behind). The
//!   figures are printed (bench/RESULTS.md, "Durability").

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use paqueteria_jobs::broker::redis::{EnqueueWait, RedisBroker};
use paqueteria_jobs::broker::{Broker, BrokerConfig, BrokerError, NewJob, SharedBroker};
use paqueteria_jobs::testing::eventually;
use paqueteria_jobs::{Handlers, Metrics, QueueSpec, Runtime, RuntimeConfig};

use crate::cluster::{nodes, queue_on, url_via};
use crate::servers::{Servers, poll, query};

fn wait(replicas: u32, ms: u64) -> EnqueueWait {
    EnqueueWait::new(replicas, Duration::from_millis(ms)).unwrap()
}

fn waiting_broker(port: u16, prefix: &str, w: EnqueueWait) -> RedisBroker {
    RedisBroker::connect(
        &format!("redis://127.0.0.1:{port}"),
        prefix,
        BrokerConfig::default(),
    )
    .unwrap()
    .with_enqueue_wait(w)
    .unwrap()
}

/// Whether the server on `port` holds job `id` of `queue`.
fn holds(port: u16, prefix: &str, queue: &str, id: &str) -> bool {
    query::<bool>(
        port,
        redis::cmd("EXISTS").arg(format!("{prefix}:{{{queue}}}:j:{id}")),
    ) == Some(true)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_enqueue_under_the_wait_is_on_the_replica_when_acknowledged() {
    let mut servers = Servers::new();
    let (master, replica) = servers.start_master_and_replica();
    let (prefix, queue) = ("durable", "q");

    let one = waiting_broker(master, prefix, wait(1, 300));
    let job = NewJob::new("j", queue, "{}");
    assert!(one.enqueue(job.clone()).await.unwrap().created);
    assert!(
        holds(replica, prefix, queue, job.id.as_str()),
        "acknowledged, so already on the replica"
    );
    let again = one.enqueue(job.clone()).await.unwrap();
    assert!(!again.created, "the same id is one job");

    let two = waiting_broker(master, prefix, wait(2, 200));
    let e = two
        .enqueue(NewJob::new("j", queue, "{}"))
        .await
        .unwrap_err();
    assert!(
        matches!(&e, BrokerError::Unavailable(m) if m.contains("1 of the 2 replicas")),
        "{e}"
    );

    // A frozen replica acknowledges nothing: the enqueue fails, though the
    // master has the job.
    servers.signal(replica, Signal::SIGSTOP);
    let frozen = NewJob::new("j", queue, "{}");
    let e = one.enqueue(frozen.clone()).await.unwrap_err();
    assert!(e.is_transient(), "{e}");
    assert!(holds(master, prefix, queue, frozen.id.as_str()));
    // A retry from a broker of its own (its connection wrote nothing yet)
    // writes nothing either: it must still wait for the replica.
    let fresh = waiting_broker(master, prefix, wait(1, 300));
    let e = fresh.enqueue(frozen.clone()).await.unwrap_err();
    assert!(
        e.is_transient(),
        "the retry was acknowledged without the replica: {e}"
    );
    servers.signal(replica, Signal::SIGCONT);
    let retried = fresh.enqueue(frozen.clone()).await.unwrap();
    assert!(!retried.created, "the retry found the first attempt's job");
    assert!(holds(replica, prefix, queue, frozen.id.as_str()));
}

/// What one failover run saw.
struct Figures {
    acked: usize,
    lost: usize,
    ran_again: u32,
    acked_at_kill: usize,
    enqueue_rate: f64,
    outage: Duration,
    took_over: Duration,
    retries: usize,
}

const JOBS: usize = 10_000;
const PRODUCERS: usize = 8;

/// Enqueues [`JOBS`] jobs from [`PRODUCERS`] tasks, one job per call, each
/// retried (same id) until acknowledged, while a worker at `-c 4` drains
/// them; kills the queue's master halfway; waits until every acknowledged
/// job ran or nothing is left to run.
async fn failover_run(enqueue_wait: Option<EnqueueWait>) -> Figures {
    let mut servers = Servers::new();
    let (url, _) = servers.start_cluster(3, 1);
    let victim = nodes(&url)
        .into_iter()
        .find(|n| n.master && !n.slots.is_empty())
        .unwrap();
    let queue = queue_on(&url, &victim);
    // A node to read the cluster's view from once the victim is gone.
    let live = nodes(&url)
        .into_iter()
        .find(|n| n.addr != victim.addr)
        .unwrap()
        .addr;

    let prefix = "failover";
    let config = BrokerConfig {
        lease: Duration::from_secs(2),
        ..BrokerConfig::default()
    };
    let producer = RedisBroker::connect(&url, prefix, config.clone()).unwrap();
    let producer: SharedBroker = Arc::new(match enqueue_wait {
        Some(w) => producer.with_enqueue_wait(w).unwrap(),
        None => producer,
    });

    let runs: Arc<Mutex<HashMap<String, u32>>> = Arc::default();
    let mut h = Handlers::new();
    {
        let runs = runs.clone();
        h.register_raw("failover.job", move |ctx, _p| {
            *runs.lock().unwrap().entry(ctx.id.to_string()).or_default() += 1;
            async { Ok(None) }
        });
    }
    let runtime = Runtime::build(
        RuntimeConfig {
            queues: vec![QueueSpec::new(&queue)],
            concurrency: 4,
            grace: Duration::from_secs(5),
            lease: Duration::from_secs(2),
            maintain_every: Duration::from_millis(200),
        },
        Arc::new(RedisBroker::connect(&url, prefix, config).unwrap()),
        h,
        Metrics::new(),
    );
    let (stop, rx) = tokio::sync::oneshot::channel::<()>();
    let worker = tokio::spawn(runtime.run_until_stopped(async move {
        let _ = rx.await;
    }));

    let acked: Arc<Mutex<HashSet<String>>> = Arc::default();
    let count = Arc::new(AtomicUsize::new(0));
    let retries = Arc::new(AtomicUsize::new(0));
    let half = Arc::new(tokio::sync::Notify::new());
    let last_outage_end: Arc<Mutex<Option<Instant>>> = Arc::default();
    let t0 = Instant::now();
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|_| {
            let (producer, queue, acked, count, retries, half, outage_end) = (
                producer.clone(),
                queue.clone(),
                acked.clone(),
                count.clone(),
                retries.clone(),
                half.clone(),
                last_outage_end.clone(),
            );
            tokio::spawn(async move {
                for _ in 0..JOBS / PRODUCERS {
                    let job = NewJob::new("failover.job", &queue, "{}");
                    let deadline = Instant::now() + Duration::from_secs(60);
                    let mut failed = false;
                    loop {
                        match producer.enqueue(job.clone()).await {
                            Ok(_) => break,
                            Err(e) => {
                                assert!(Instant::now() < deadline, "no enqueue for 60 s: {e}");
                                failed = true;
                                retries.fetch_add(1, Ordering::Relaxed);
                                tokio::time::sleep(Duration::from_millis(20)).await;
                            }
                        }
                    }
                    if failed {
                        *outage_end.lock().unwrap() = Some(Instant::now());
                    }
                    acked.lock().unwrap().insert(job.id.to_string());
                    if count.fetch_add(1, Ordering::Relaxed) + 1 == JOBS / 2 {
                        half.notify_one();
                    }
                }
            })
        })
        .collect();
    half.notified().await;
    let before_kill = t0.elapsed();
    let acked_at_kill = count.load(Ordering::Relaxed);
    let port: u16 = victim.addr.rsplit(':').next().unwrap().parse().unwrap();
    let killed_at = Instant::now();
    servers.kill(port);
    // A replica takes over; then the dead node comes back (as a restart
    // policy would bring it) and rejoins as the new master's replica.
    tokio::task::block_in_place(|| {
        poll(Duration::from_secs(30), "a replica to take over", || {
            let masters: Vec<_> = nodes(&url_via(&url, &live))
                .into_iter()
                .filter(|n| n.master && !n.slots.is_empty())
                .collect();
            masters.len() == 3 && masters.iter().all(|n| n.addr != victim.addr)
        });
    });
    let took_over = killed_at.elapsed();
    tokio::task::block_in_place(|| servers.restart_cluster_node(port));
    for p in producers {
        p.await.unwrap();
    }

    let acked = acked.lock().unwrap().clone();
    let reader = producer.clone();
    eventually(
        Duration::from_secs(60),
        "every acknowledged job to run, or nothing left to run",
        || {
            let (runs, acked, reader, queue) =
                (runs.clone(), acked.clone(), reader.clone(), queue.clone());
            async move {
                if acked.iter().all(|id| runs.lock().unwrap().contains_key(id)) {
                    return true;
                }
                let s = reader.stats(&[queue]).await;
                s.is_ok_and(|s| s[0].queued + s[0].scheduled + s[0].running == 0)
            }
        },
    )
    .await;
    let _ = stop.send(());
    worker.await.unwrap().unwrap();
    let runs = runs.lock().unwrap().clone();
    let outage = last_outage_end
        .lock()
        .unwrap()
        .map_or(Duration::ZERO, |end| {
            end.saturating_duration_since(killed_at)
        });
    Figures {
        acked: acked.len(),
        lost: acked.iter().filter(|id| !runs.contains_key(*id)).count(),
        ran_again: runs.values().map(|n| n - 1).sum(),
        acked_at_kill,
        enqueue_rate: acked_at_kill as f64 / before_kill.as_secs_f64(),
        outage,
        took_over,
        retries: retries.load(Ordering::Relaxed),
    }
}

fn report(mode: &str, f: &Figures) {
    eprintln!(
        "failover, REDIS_ENQUEUE_WAIT {mode}: {} acknowledged, {} lost, {} ran twice; \
         {:.0} enqueues/s before the kill ({} acknowledged then); a replica took over in \
         {:?}; enqueues failed for {:?} after the kill ({} retries)",
        f.acked,
        f.lost,
        f.ran_again,
        f.enqueue_rate,
        f.acked_at_kill,
        f.took_over,
        f.outage,
        f.retries
    );
}

/// The measurement of docs/internals.md's "Durability": the same failover
/// with the wait off and on. With it on, no acknowledged job may be lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_master_killed_mid_enqueue_loses_no_job_acknowledged_under_the_wait() {
    let off = failover_run(None).await;
    report("off", &off);
    let on = failover_run(Some(wait(1, 1000))).await;
    report("1 (1s)", &on);
    for f in [&off, &on] {
        assert_eq!(f.acked, JOBS);
        assert!(
            f.acked_at_kill < JOBS && f.retries > 0,
            "the kill fell mid-enqueue and the producers saw the outage"
        );
    }
    assert_eq!(on.lost, 0, "jobs acknowledged under the wait were lost");
}
