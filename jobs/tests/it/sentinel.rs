//! The Redis engine behind Redis Sentinel: a real master, one replica and
//! three sentinels on loopback ports, started by the test and stopped by
//! pid. A worker drains jobs while the sentinels fail the master over; it
//! follows the new master and every job runs. Once without passwords, once
//! with every server and sentinel requiring one.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use paqueteria_jobs::broker::redis::RedisBroker;
use paqueteria_jobs::broker::{BrokerConfig, JobId, JobState, NewJob, SharedBroker};
use paqueteria_jobs::testing::eventually;
use paqueteria_jobs::{Handlers, Metrics, QueueSpec, Runtime, RuntimeConfig};

use crate::servers::{Servers, free_port, poll};

const MASTER: &str = "main";
const JOBS: usize = 400;

/// What `SENTINEL MASTER` says of one field.
fn sentinel_field(servers: &Servers, port: u16, field: &str) -> Option<String> {
    let m: HashMap<String, String> =
        servers.query(port, redis::cmd("SENTINEL").arg("MASTER").arg(MASTER))?;
    m.get(field).cloned()
}

/// The port of the master the sentinel on `port` names.
fn named_master(servers: &Servers, port: u16) -> Option<u16> {
    let addr: Vec<String> = servers.query(
        port,
        redis::cmd("SENTINEL")
            .arg("GET-MASTER-ADDR-BY-NAME")
            .arg(MASTER),
    )?;
    addr.get(1)?.parse().ok()
}

/// The role (`master` or `slave`) the server on `port` reports.
fn role(servers: &Servers, port: u16) -> Option<String> {
    let r: Vec<redis::Value> = servers.query(port, &redis::cmd("ROLE"))?;
    match r.first()? {
        redis::Value::BulkString(b) => Some(String::from_utf8_lossy(b).into_owned()),
        redis::Value::SimpleString(s) => Some(s.clone()),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_follows_a_sentinel_failover_and_finishes_every_job() {
    failover_drain(None).await;
}

/// The master, its replica and the sentinels each require a password: the
/// URL carries the master's before the `@` and the sentinels' in
/// `sentinel_password`, and the failover is followed as without them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_follows_a_failover_when_the_sentinels_require_a_password() {
    failover_drain(Some("paq-S3cret")).await;
}

async fn failover_drain(password: Option<&str>) {
    let t0 = Instant::now();
    let mut servers = password.map_or_else(Servers::new, Servers::with_password);
    let (old, new) = servers.start_master_and_replica();
    let sentinels: Vec<u16> = (0..3).map(|_| free_port(false)).collect();
    for &s in &sentinels {
        servers.start_sentinel(s, MASTER, old);
    }
    for &s in &sentinels {
        poll(
            Duration::from_secs(30),
            "each sentinel to know the replica and the other two",
            || {
                sentinel_field(&servers, s, "num-slaves").as_deref() == Some("1")
                    && sentinel_field(&servers, s, "num-other-sentinels").as_deref() == Some("2")
            },
        );
    }
    let auth = password.map(|p| format!(":{p}@")).unwrap_or_default();
    let url = format!(
        "redis+sentinel://{auth}{}/{MASTER}{}",
        sentinels
            .iter()
            .map(|p| format!("127.0.0.1:{p}"))
            .collect::<Vec<_>>()
            .join(","),
        password
            .map(|p| format!("?sentinel_password={p}"))
            .unwrap_or_default()
    );
    let config = BrokerConfig {
        lease: Duration::from_secs(2),
        ..BrokerConfig::default()
    };
    let producer: SharedBroker =
        Arc::new(RedisBroker::connect(&url, "sentinel", config.clone()).unwrap());
    let queue = "sentinel";
    let jobs: Vec<NewJob> = (0..JOBS)
        .map(|i| NewJob::new("drain.job", queue, format!("{{\"n\":{i}}}")))
        .collect();
    let ids: Vec<JobId> = producer
        .enqueue_many(jobs)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.id)
        .collect();
    // The jobs reach the replica before the failover, as a real backlog
    // would have long before one.
    let acked: Option<i64> = servers.query(old, redis::cmd("WAIT").arg(1).arg(5000));
    assert_eq!(acked, Some(1), "the replica has the jobs");

    let runs: Arc<Mutex<HashMap<String, u32>>> = Arc::default();
    let mut h = Handlers::new();
    {
        let runs = runs.clone();
        h.register_raw("drain.job", move |ctx, _p| {
            let runs = runs.clone();
            async move {
                // Some work (400 jobs, 4 at a time: about 5 s), so the
                // drain spans the failover.
                tokio::time::sleep(Duration::from_millis(50)).await;
                *runs.lock().unwrap().entry(ctx.id.to_string()).or_default() += 1;
                Ok(None)
            }
        });
    }
    let worker_broker: SharedBroker =
        Arc::new(RedisBroker::connect(&url, "sentinel", config).unwrap());
    let runtime = Runtime::build(
        RuntimeConfig {
            queues: vec![QueueSpec::new(queue)],
            concurrency: 4,
            grace: Duration::from_secs(5),
            lease: Duration::from_secs(2),
            maintain_every: Duration::from_millis(100),
        },
        worker_broker,
        h,
        Metrics::new(),
    );
    let (stop, rx) = tokio::sync::oneshot::channel::<()>();
    let done = tokio::spawn(runtime.run_until_stopped(async move {
        let _ = rx.await;
    }));

    eventually(
        Duration::from_secs(30),
        "a third of the jobs to run",
        || {
            let n = runs.lock().unwrap().len();
            async move { n >= JOBS / 3 }
        },
    )
    .await;
    let ran_before = runs.lock().unwrap().len();
    let answer: Option<String> = servers.query(
        sentinels[0],
        redis::cmd("SENTINEL").arg("FAILOVER").arg(MASTER),
    );
    assert_eq!(
        answer.as_deref(),
        Some("OK"),
        "the sentinel starts a failover"
    );
    let t_failover = Instant::now();
    poll(Duration::from_secs(30), "the failover to end", || {
        sentinels
            .iter()
            .all(|&s| named_master(&servers, s) == Some(new))
            && role(&servers, new).as_deref() == Some("master")
    });
    let failover_took = t_failover.elapsed();
    let left = JOBS - runs.lock().unwrap().len();
    assert!(
        left > 0,
        "the drain ended before the failover did: nothing shows the worker followed it"
    );

    // Read on the new master itself: a worker still on the old one would
    // see its own acks there, which are lost when it becomes a replica.
    let on_new: SharedBroker = Arc::new(
        RedisBroker::connect(
            &format!("redis://{auth}127.0.0.1:{new}"),
            "sentinel",
            BrokerConfig::default(),
        )
        .unwrap(),
    );
    let t_switch = Instant::now();
    eventually(
        Duration::from_secs(60),
        "every job to run and end on the new master",
        || {
            let runs = runs.clone();
            let on_new = on_new.clone();
            async move {
                if runs.lock().unwrap().len() < JOBS {
                    return false;
                }
                let s = on_new.stats(&[queue.to_owned()]).await;
                s.is_ok_and(|s| s[0].queued + s[0].scheduled + s[0].running == 0)
            }
        },
    )
    .await;
    let drain_took = t_switch.elapsed();
    // The rest of the drain is about 2 s of work. A worker that waited for
    // the old master to be demoted (the sentinels do it at their next INFO
    // to it, 10 s later) would take far longer.
    assert!(
        drain_took < Duration::from_secs(8),
        "the worker took {drain_took:?} to finish after the failover"
    );
    let _ = stop.send(());
    done.await.unwrap().unwrap();

    let runs = runs.lock().unwrap().clone();
    let mut again = 0;
    for id in &ids {
        let n = runs.get(id.as_str()).copied().unwrap_or(0);
        assert!(n >= 1, "job {id} never ran");
        again += n - 1;
        let state = on_new.job(id).await.unwrap().map(|j| j.state);
        assert_eq!(state, Some(JobState::Succeeded), "job {id}");
    }
    eprintln!(
        "password {}: {JOBS} jobs, {ran_before} run before the failover, {left} left after it, \
         {again} run again; failover {failover_took:?}, drain after it {drain_took:?}, \
         whole test {:?}",
        password.is_some(),
        t0.elapsed()
    );
}
