//! The Redis engine on a Redis Cluster (`TEST_REDIS_CLUSTER_URL`, which
//! `scripts/test` sets after starting a local one): helpers, a wake-up
//! across nodes, and the scheduler's leader lease; and, on a cluster of its
//! own, a wake-up subscription that outlives its node.
//!
//! The conformance suite (`redis_cluster_conformance.rs`) and the runtime
//! tests (`runtime.rs`) run on the cluster too.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use paqueteria_jobs::broker::redis::{RedisBroker, RedisTarget};
use paqueteria_jobs::broker::{BrokerConfig, NewJob, SharedBroker};
use paqueteria_jobs::scheduler::{Leadership, RedisLease};
use paqueteria_jobs::{Handlers, Metrics, QueueSpec, Runtime, RuntimeConfig};

/// The cluster's URL. Unset is a failure, never a silent pass.
pub fn cluster_url() -> String {
    std::env::var("TEST_REDIS_CLUSTER_URL").unwrap_or_else(|_| {
        panic!(
            "TEST_REDIS_CLUSTER_URL is unset: run scripts/test, which starts a local \
             Redis Cluster, or set it to a cluster's URL (redis+cluster://host:port,...)"
        )
    })
}

/// One node as `CLUSTER NODES` lists it.
#[derive(Clone, Debug)]
pub struct Node {
    /// `host:port`.
    pub addr: String,
    /// A master (else a replica).
    pub master: bool,
    /// The slot ranges a master serves.
    pub slots: Vec<(u16, u16)>,
}

/// The seed node URLs of `url`.
fn seeds(url: &str) -> Vec<String> {
    match RedisTarget::parse(url).unwrap() {
        RedisTarget::Cluster { nodes } => nodes,
        other => panic!("TEST_REDIS_CLUSTER_URL is not a cluster URL: {other:?}"),
    }
}

/// `seed` (`scheme://[auth@]host:port`) pointed at `addr`.
fn node_url(seed: &str, addr: &str) -> String {
    match seed.rsplit_once('@') {
        Some((head, _)) => format!("{head}@{addr}"),
        None => format!("redis://{addr}"),
    }
}

fn sync_conn(node_url: &str) -> redis::Connection {
    redis::Client::open(node_url)
        .unwrap()
        .get_connection()
        .unwrap()
}

/// Every live node of the cluster at `url`.
pub fn nodes(url: &str) -> Vec<Node> {
    let seed = seeds(url).remove(0);
    let text: String = redis::cmd("CLUSTER")
        .arg("NODES")
        .query(&mut sync_conn(&seed))
        .unwrap();
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 8 || f[2].contains("fail") || f[2].contains("noaddr") {
                return None;
            }
            let slots = f[8..]
                .iter()
                .filter(|r| !r.starts_with('['))
                .filter_map(|r| {
                    let (a, b) = r.split_once('-').unwrap_or((r, r));
                    Some((a.parse().ok()?, b.parse().ok()?))
                })
                .collect();
            Some(Node {
                addr: f[1].split(['@', ',']).next()?.to_owned(),
                master: f[2].contains("master"),
                slots,
            })
        })
        .collect()
}

/// A `redis+cluster://` URL with `addr` as its only seed.
pub fn url_via(url: &str, addr: &str) -> String {
    let seed = seeds(url).remove(0);
    node_url(&seed, addr).replacen("redis://", "redis+cluster://", 1)
}

/// The slot of `key`.
pub fn slot(url: &str, key: &str) -> u16 {
    redis::cmd("CLUSTER")
        .arg("KEYSLOT")
        .arg(key)
        .query(&mut sync_conn(&seeds(url)[0]))
        .unwrap()
}

/// Deletes every key under `prefix` on every master of the cluster.
pub fn delete_prefix(url: &str, prefix: &str) {
    let seed = seeds(url).remove(0);
    for node in nodes(url).iter().filter(|n| n.master) {
        let Ok(mut c) =
            redis::Client::open(node_url(&seed, &node.addr)).and_then(|c| c.get_connection())
        else {
            continue;
        };
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{prefix}:*"))
            .query(&mut c)
            .unwrap_or_default();
        for chunk in keys.chunks(1000) {
            // Keys of one node may sit in several slots: one UNLINK each.
            let mut pipe = redis::pipe();
            for k in chunk {
                pipe.unlink(k).ignore();
            }
            let _: redis::RedisResult<()> = pipe.query(&mut c);
        }
    }
}

/// A queue name whose slot `node` serves.
pub fn queue_on(url: &str, node: &Node) -> String {
    (0..10_000)
        .map(|i| format!("wake{i}"))
        .find(|q| {
            let s = slot(url, &format!("{{{q}}}"));
            node.slots.iter().any(|&(a, b)| (a..=b).contains(&s))
        })
        .expect("a queue name on the node")
}

/// A real runtime with one slot on one queue, whose jobs do nothing.
struct IdleWorker {
    stop: tokio::sync::oneshot::Sender<()>,
    done: tokio::task::JoinHandle<Result<(), paqueteria_jobs::RuntimeError>>,
}

impl IdleWorker {
    fn start(broker: SharedBroker, queue: &str) -> Self {
        let mut h = Handlers::new();
        h.register_raw("wake.job", |_ctx, _p| async { Ok(None) });
        let runtime = Runtime::build(
            RuntimeConfig {
                queues: vec![QueueSpec::new(queue)],
                concurrency: 1,
                grace: Duration::from_secs(5),
                lease: Duration::from_secs(10),
                maintain_every: Duration::from_secs(60),
            },
            broker,
            h,
            Metrics::new(),
        );
        let (stop, rx) = tokio::sync::oneshot::channel::<()>();
        let done = tokio::spawn(runtime.run_until_stopped(async move {
            let _ = rx.await;
        }));
        Self { stop, done }
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        self.done.await.unwrap().unwrap();
    }
}

/// Five jobs, each enqueued right after the previous one ended (when the
/// worker has just gone idle), each started well within the runtime's
/// one-second safety poll: a lost wake-up would show as that poll.
async fn five_prompt_wake_ups(producer: &SharedBroker, queue: &str) {
    for _ in 0..5 {
        let id = producer
            .enqueue(NewJob::new("wake.job", queue, "{}"))
            .await
            .unwrap()
            .id;
        let info =
            paqueteria_jobs::testing::job_ended(producer, &id, Duration::from_secs(20)).await;
        let wait_ms = info.started_at_ms.unwrap() - info.enqueued_at_ms;
        assert!(
            wait_ms < 400,
            "the idle worker took {wait_ms} ms to start a job enqueued through another node"
        );
    }
}

/// An idle worker whose broker knows only node C waits on a queue whose
/// slot node A serves; jobs enqueued through a broker that knows only node
/// B start at once: the scripts' PUBLISH on A reaches the subscription on
/// C.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_worker_wakes_when_a_job_is_enqueued_through_another_node() {
    let url = cluster_url();
    let nodes = nodes(&url);
    let a = nodes
        .iter()
        .find(|n| n.master && !n.slots.is_empty())
        .unwrap();
    let b = nodes.iter().find(|n| n.addr != a.addr).unwrap();
    let c = nodes
        .iter()
        .find(|n| n.addr != a.addr && n.addr != b.addr)
        .unwrap_or(b);
    let queue = queue_on(&url, a);
    let prefix = format!("test:{}", uuid::Uuid::now_v7().simple());
    let worker_side: SharedBroker = Arc::new(
        RedisBroker::connect(&url_via(&url, &c.addr), &prefix, BrokerConfig::default()).unwrap(),
    );
    let producer: SharedBroker = Arc::new(
        RedisBroker::connect(&url_via(&url, &b.addr), &prefix, BrokerConfig::default()).unwrap(),
    );
    let worker = IdleWorker::start(worker_side, &queue);
    let t = Instant::now();
    five_prompt_wake_ups(&producer, &queue).await;
    worker.stop().await;
    delete_prefix(&url, &prefix);
    eprintln!("five cross-node wake-ups in {:?}", t.elapsed());
}

/// The scheduler's leader lease on the cluster: one holder at a time, a
/// standby takes over after a release, and the shared tick state reads
/// back.
#[tokio::test]
async fn the_leader_lease_works_on_the_cluster() {
    let url = cluster_url();
    let prefix = format!("test:{}", uuid::Uuid::now_v7().simple());
    let lease = Duration::from_secs(10);
    let mut one = Leadership::Redis(Box::new(
        RedisLease::connect(&url, &prefix, lease).await.unwrap(),
    ));
    let mut two = Leadership::Redis(Box::new(
        RedisLease::connect(&url_via(&url, &nodes(&url)[1].addr), &prefix, lease)
            .await
            .unwrap(),
    ));
    let now = paqueteria_jobs::Clock::system().now_ms();
    assert!(one.hold(now).await, "the first contender takes the lease");
    assert!(!two.hold(now).await, "the second stands by");
    assert!(one.hold(now + 1000).await, "the holder renews");
    one.share_tick("daily", 1234).await;
    one.release().await;
    assert!(
        two.hold(now + 2000).await,
        "the standby takes over after a release"
    );
    assert_eq!(two.shared_ticks().await.get("daily"), Some(&1234));
    delete_prefix(&url, &prefix);
}

/// On a three-master cluster of its own: the worker's broker knows only
/// node V, so its wake-up subscription starts there. V is killed; the
/// subscription moves to another node and idle wake-ups stay prompt. (V
/// holds neither the queue nor `P:queues` and `P:workers`: without a
/// replica its slots are gone with it.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wake_up_subscription_moves_on_when_its_node_is_lost() {
    use crate::servers::Servers;

    let mut servers = Servers::new();
    let (url, _) = servers.start_cluster(3, 0);
    let masters = nodes(&url);
    let owner = |key: &str| {
        let s = slot(&url, key);
        masters
            .iter()
            .find(|n| n.slots.iter().any(|&(a, b)| (a..=b).contains(&s)))
            .unwrap()
            .addr
            .clone()
    };
    let (prefix, victim) = (0..100)
        .find_map(|_| {
            let prefix = format!("test:{}", uuid::Uuid::now_v7().simple());
            let busy = [
                owner(&format!("{prefix}:queues")),
                owner(&format!("{prefix}:workers")),
            ];
            let v = masters.iter().find(|n| !busy.contains(&n.addr))?;
            Some((prefix, v.clone()))
        })
        .unwrap();
    let other = masters.iter().find(|n| n.addr != victim.addr).unwrap();
    let queue = queue_on(&url, other);
    let worker_side: SharedBroker = Arc::new(
        RedisBroker::connect(
            &url_via(&url, &victim.addr),
            &prefix,
            BrokerConfig::default(),
        )
        .unwrap(),
    );
    let producer: SharedBroker = Arc::new(
        RedisBroker::connect(
            &url_via(&url, &other.addr),
            &prefix,
            BrokerConfig::default(),
        )
        .unwrap(),
    );
    let worker = IdleWorker::start(worker_side, &queue);
    five_prompt_wake_ups(&producer, &queue).await;
    let victim_port: u16 = victim.addr.rsplit(':').next().unwrap().parse().unwrap();
    servers.kill(victim_port);
    five_prompt_wake_ups(&producer, &queue).await;
    worker.stop().await;
}
