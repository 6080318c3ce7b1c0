//! The scheduler against a real broker with a moved clock (no sleeping
//! through real minutes): restarts, catch-up policies, broken state files,
//! two schedulers sharing one Redis, and daylight saving.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::DateTime;
use paqueteria_jobs::broker::redis::RedisBroker;
use paqueteria_jobs::broker::sqlite::SqliteBroker;
use paqueteria_jobs::broker::{BrokerConfig, SharedBroker};
use paqueteria_jobs::scheduler::SchedulerMetrics;
use paqueteria_jobs::scheduler::{Entry, FileLock, Leadership, RedisLease, Scheduler, Step};
use paqueteria_scheduler::schedule::parse;

const LEASE: Duration = Duration::from_secs(10);

pub(crate) fn ms(s: &str) -> i64 {
    DateTime::parse_from_rfc3339(s).unwrap().timestamp_millis()
}

fn entries(text: &str) -> Vec<Entry> {
    parse(text, chrono_tz::America::Bogota).unwrap()
}

fn hourly(policy: &str, name: &str) -> String {
    format!(
        "[[entry]]\nname = \"{name}\"\ncron = \"0 * * * *\"\njob = \"system.ping\"\ncatch_up = \"{policy}\"\n"
    )
}

pub(crate) async fn sqlite_broker(dir: &Path) -> SharedBroker {
    Arc::new(
        SqliteBroker::open(&dir.join("jobs.sqlite3"), BrokerConfig::default())
            .await
            .unwrap(),
    )
}

fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/0".to_owned())
}

pub(crate) fn scheduler(
    schedule: &str,
    dir: &Path,
    broker: &SharedBroker,
    leadership: Leadership,
    now: i64,
) -> Scheduler {
    Scheduler::new(
        entries(schedule),
        &dir.join("state.json"),
        broker.clone(),
        leadership,
        SchedulerMetrics::new(),
        now,
        LEASE,
    )
    .unwrap()
}

pub(crate) fn file_lock(dir: &Path) -> Leadership {
    Leadership::File(FileLock::new(dir.join("state.json.lock")))
}

async fn fired(s: &mut Scheduler, now: i64) -> Vec<String> {
    let step: Step = s.step(now).await.unwrap();
    assert!(step.leader);
    step.fired
}

#[tokio::test]
async fn a_restart_never_fires_a_tick_twice() {
    let dir = tempfile::tempdir().unwrap();
    let broker = sqlite_broker(dir.path()).await;
    let t0 = ms("2026-11-23T10:30:00Z");
    let mut s = scheduler(
        &hourly("once", "h"),
        dir.path(),
        &broker,
        file_lock(dir.path()),
        t0,
    );
    assert!(
        fired(&mut s, t0).await.is_empty(),
        "a fresh start fires nothing"
    );
    let t1 = ms("2026-11-23T12:00:30Z");
    assert_eq!(
        fired(&mut s, t1).await,
        ["h:2026-11-23T11:00:00Z", "h:2026-11-23T12:00:00Z"]
    );
    drop(s);
    // Restarted at the same moment: nothing is due again.
    let mut s = scheduler(
        &hourly("once", "h"),
        dir.path(),
        &broker,
        file_lock(dir.path()),
        t1,
    );
    assert!(fired(&mut s, t1).await.is_empty());
    assert_eq!(
        fired(&mut s, ms("2026-11-23T13:00:00Z")).await,
        ["h:2026-11-23T13:00:00Z"]
    );
    drop(s);

    // A crash after the enqueue and before the record: the state still says
    // 13:00, but 14:00 is already in the broker. The restart re-enqueues
    // 14:00 under the same id, which the broker answers "already there".
    let e = entries(&hourly("once", "h")).remove(0);
    let early = e.new_job(ms("2026-11-23T14:00:00Z")).unwrap();
    assert!(broker.enqueue(early).await.unwrap().created);
    let mut s = scheduler(
        &hourly("once", "h"),
        dir.path(),
        &broker,
        file_lock(dir.path()),
        t1,
    );
    let step = s.step(ms("2026-11-23T14:00:10Z")).await.unwrap();
    assert!(step.fired.is_empty());
    assert_eq!(step.fenced, ["h:2026-11-23T14:00:00Z"]);
    let stats = broker.stats(&["default".to_owned()]).await.unwrap();
    assert_eq!(
        stats[0].queued, 4,
        "11:00, 12:00, 13:00 and 14:00, once each"
    );
}

#[tokio::test]
async fn each_catch_up_policy_after_downtime() {
    let dir = tempfile::tempdir().unwrap();
    let broker = sqlite_broker(dir.path()).await;
    let schedule = [
        hourly("skip", "skip"),
        hourly("once", "once"),
        hourly("backfill:3", "back"),
    ]
    .concat();
    let t0 = ms("2026-11-23T10:30:00Z");
    let mut s = scheduler(&schedule, dir.path(), &broker, file_lock(dir.path()), t0);
    assert!(fired(&mut s, t0).await.is_empty());
    drop(s);
    // Down for ten hours: 11:00 … 20:00 were missed.
    let back = ms("2026-11-23T20:40:00Z");
    let mut s = scheduler(&schedule, dir.path(), &broker, file_lock(dir.path()), back);
    let step = s.step(back).await.unwrap();
    assert_eq!(
        step.fired,
        [
            "once:2026-11-23T20:00:00Z",
            "back:2026-11-23T18:00:00Z",
            "back:2026-11-23T19:00:00Z",
            "back:2026-11-23T20:00:00Z",
        ]
    );
    assert_eq!(step.skipped, 10 + 9 + 7);
    // After catching up, every entry fires its next tick normally.
    let next = fired(&mut s, ms("2026-11-23T21:00:05Z")).await;
    assert_eq!(
        next,
        [
            "skip:2026-11-23T21:00:00Z",
            "once:2026-11-23T21:00:00Z",
            "back:2026-11-23T21:00:00Z"
        ]
    );
}

#[tokio::test]
async fn missing_and_corrupt_state_files_restart_from_now() {
    let dir = tempfile::tempdir().unwrap();
    let broker = sqlite_broker(dir.path()).await;
    let t0 = ms("2026-11-23T10:30:00Z");
    let mut s = scheduler(
        &hourly("backfill:5", "h"),
        dir.path(),
        &broker,
        file_lock(dir.path()),
        t0,
    );
    fired(&mut s, t0).await;
    drop(s);
    std::fs::write(dir.path().join("state.json"), b"\x00\x01 not json").unwrap();
    // Even with backfill, a rebuilt state does not fire the past.
    let later = ms("2026-11-23T15:10:00Z");
    let mut s = scheduler(
        &hourly("backfill:5", "h"),
        dir.path(),
        &broker,
        file_lock(dir.path()),
        later,
    );
    assert!(fired(&mut s, later).await.is_empty());
    let aside: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("state.json.corrupt-"))
        .collect();
    assert_eq!(aside.len(), 1, "the bad file is kept aside for a look");
    assert_eq!(
        fired(&mut s, ms("2026-11-23T16:00:00Z")).await,
        ["h:2026-11-23T16:00:00Z"]
    );
    drop(s);
    std::fs::remove_file(dir.path().join("state.json")).unwrap();
    let mut s = scheduler(
        &hourly("backfill:5", "h"),
        dir.path(),
        &broker,
        file_lock(dir.path()),
        ms("2026-11-23T19:30:00Z"),
    );
    assert!(fired(&mut s, ms("2026-11-23T19:30:00Z")).await.is_empty());
}

#[tokio::test]
async fn entries_removed_from_the_file_leave_the_state_and_new_ones_start_now() {
    let dir = tempfile::tempdir().unwrap();
    let broker = sqlite_broker(dir.path()).await;
    let t0 = ms("2026-11-23T10:30:00Z");
    let s = scheduler(
        &hourly("once", "old"),
        dir.path(),
        &broker,
        file_lock(dir.path()),
        t0,
    );
    assert!(s.state().get("old").is_some());
    drop(s);
    let t1 = ms("2026-11-23T14:30:00Z");
    let mut s = scheduler(
        &hourly("backfill:9", "new"),
        dir.path(),
        &broker,
        file_lock(dir.path()),
        t1,
    );
    assert!(s.state().get("old").is_none());
    assert!(
        fired(&mut s, t1).await.is_empty(),
        "a new entry's past never fires"
    );
}

#[tokio::test]
async fn only_the_lock_holder_enqueues_when_embedded() {
    let dir = tempfile::tempdir().unwrap();
    let broker = sqlite_broker(dir.path()).await;
    let t0 = ms("2026-11-23T10:30:00Z");
    let a_dir = dir.path();
    let mut a = scheduler(&hourly("once", "h"), a_dir, &broker, file_lock(a_dir), t0);
    let b_state = tempfile::tempdir().unwrap();
    let mut b = Scheduler::new(
        entries(&hourly("once", "h")),
        &b_state.path().join("state.json"),
        broker.clone(),
        file_lock(a_dir),
        SchedulerMetrics::new(),
        t0,
        LEASE,
    )
    .unwrap();
    assert!(a.step(t0).await.unwrap().leader);
    let at = ms("2026-11-23T11:00:01Z");
    assert!(!b.step(at).await.unwrap().leader);
    assert_eq!(a.step(at).await.unwrap().fired.len(), 1);
    drop(a);
    // The lock goes with its holder; the standby takes over.
    let step = b.step(ms("2026-11-23T12:00:01Z")).await.unwrap();
    assert!(step.leader);
    assert_eq!(step.fired, ["h:2026-11-23T12:00:00Z"]);
}

/// Two schedulers, one Redis, 1,000 ticks of a one-minute entry. They step
/// in a random order; now and then the leader "dies" (stops stepping, never
/// releases) and comes back later with the state file it had. Every tick
/// must be enqueued exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_schedulers_on_one_redis_fire_every_tick_once() {
    let prefix = paqueteria_testkit::unique_prefix();
    let broker: SharedBroker =
        Arc::new(RedisBroker::connect(&redis_url(), &prefix, BrokerConfig::default()).unwrap());
    let schedule = "[[entry]]\nname = \"m\"\ncron = \"* * * * *\"\njob = \"system.ping\"\ncatch_up = \"once\"\n";
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let t0 = ms("2026-11-23T00:00:30Z");
    let lease = || async {
        Leadership::Redis(Box::new(
            RedisLease::connect(&redis_url(), &prefix, LEASE)
                .await
                .unwrap(),
        ))
    };
    let mut nodes: Vec<Option<Scheduler>> = Vec::new();
    for d in &dirs {
        nodes.push(Some(scheduler(
            schedule,
            d.path(),
            &broker,
            lease().await,
            t0,
        )));
    }
    let mut rng = fastrand::Rng::with_seed(7);
    let (mut created, mut fenced, mut takeovers) = (0usize, 0usize, 0usize);
    let mut down: [usize; 2] = [0, 0];
    let mut last_leader = None;
    let mut now = t0;
    for _ in 0..1_000 {
        now += 60_000;
        // Sometimes a node dies for a few ticks, then restarts from its file.
        let victim = rng.usize(0..2);
        if down.iter().all(|d| *d == 0) && rng.u8(0..20) == 0 {
            nodes[victim] = None;
            down[victim] = rng.usize(1..5);
        }
        let mut order = [0, 1];
        rng.shuffle(&mut order);
        for i in order {
            if down[i] > 0 {
                down[i] -= 1;
                if down[i] == 0 {
                    nodes[i] = Some(scheduler(
                        schedule,
                        dirs[i].path(),
                        &broker,
                        lease().await,
                        now,
                    ));
                }
                continue;
            }
            let Some(node) = nodes[i].as_mut() else {
                continue;
            };
            let step = node.step(now + rng.i64(0..5_000)).await.unwrap();
            if step.leader {
                if last_leader.is_some_and(|l| l != i) {
                    takeovers += 1;
                }
                last_leader = Some(i);
            }
            created += step.fired.len();
            fenced += step.fenced.len();
        }
    }
    // The last ticks: whoever is up finishes them.
    for node in nodes.iter_mut().flatten() {
        let step = node.step(now + 6_000).await.unwrap();
        created += step.fired.len();
        fenced += step.fenced.len();
    }
    assert!(takeovers >= 3, "the lead moved {takeovers} times");
    assert_eq!(created, 1_000, "{fenced} fenced");
    let e = entries(schedule).remove(0);
    let mut missing = Vec::new();
    for k in 1..=1_000 {
        let tick = ms("2026-11-23T00:00:00Z") + k * 60_000;
        let id = e.new_job(tick).unwrap().id;
        if broker.job(&id).await.unwrap().is_none() {
            missing.push(id);
        }
    }
    assert!(missing.is_empty(), "missed {missing:?}");
    let stats = broker.stats(&["default".to_owned()]).await.unwrap();
    assert_eq!(stats[0].queued, 1_000, "no duplicates");
}

/// Stepping minute by minute through both DST changes of Madrid: the
/// skipped 02:30 fires once at 03:00, the repeated 02:30 fires once.
#[tokio::test]
async fn dst_changes_fire_each_daily_tick_once() {
    let dir = tempfile::tempdir().unwrap();
    let broker = sqlite_broker(dir.path()).await;
    let schedule = "[[entry]]\nname = \"d\"\ncron = \"30 2 * * *\"\njob = \"system.ping\"\ntz = \"Europe/Madrid\"\n";
    for (start, expected) in [
        (
            "2026-03-28T12:00:00Z",
            ["d:2026-03-29T01:00:00Z", "d:2026-03-30T00:30:00Z"],
        ),
        (
            "2026-10-24T12:00:00Z",
            ["d:2026-10-25T00:30:00Z", "d:2026-10-26T01:30:00Z"],
        ),
    ] {
        let _ = std::fs::remove_file(dir.path().join("state.json"));
        let t0 = ms(start);
        let mut s = scheduler(schedule, dir.path(), &broker, file_lock(dir.path()), t0);
        let mut all = Vec::new();
        let mut now = t0;
        while now < t0 + 2 * 86_400_000 {
            now += 60_000;
            all.extend(fired(&mut s, now).await);
        }
        assert_eq!(all, expected);
    }
}
