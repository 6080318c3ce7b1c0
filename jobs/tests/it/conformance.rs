//! The broker conformance suite: every promise of DESIGN.md §3, and every
//! defect that made us write our own Redis storage, as a test that fails if
//! it comes back. It runs unchanged against both engines
//! (`redis_conformance.rs`, `sqlite_conformance.rs`), each test on its own
//! storage (a fresh key prefix, a fresh SQLite file).
//!
//! Time moves with [`Clock::advance`], never by sleeping; the only waits are
//! bounded polls on a condition.

#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::collections::HashSet;
use std::time::{Duration, Instant};

use paqueteria_jobs::Retention;
use paqueteria_jobs::broker::{
    Beat, BrokerConfig, JobId, JobState, Leased, NewJob, Settled, SharedBroker, WorkerInfo,
};
use paqueteria_jobs::clock::Clock;
use paqueteria_jobs::{JobPolicy, RetryPolicy};

mod admin;
mod batch;
mod console;
pub use admin::*;
pub use batch::*;
pub use console::*;

/// One engine under test.
pub trait Engine: Sized {
    /// Fresh, empty storage.
    async fn fresh() -> Self;
    /// A broker on that storage; calling it twice gives two processes' view
    /// of the same storage.
    async fn open(&self, config: BrokerConfig) -> SharedBroker;
}

pub const Q: &str = "default";
pub const WORKER: &str = "w-test";

pub fn config() -> BrokerConfig {
    BrokerConfig {
        lease: Duration::from_secs(10),
        retention: Retention::default(),
        clock: Clock::system(),
    }
}

pub fn job(payload: &str) -> NewJob {
    NewJob::new("test.job", Q, payload)
}

pub fn policy(max_attempts: u32) -> JobPolicy {
    JobPolicy {
        retry: RetryPolicy {
            max_attempts,
            backoff_base_ms: 1000,
            backoff_max_ms: 60_000,
        },
        timeout_ms: 30_000,
    }
}

pub fn queues(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| (*s).to_owned()).collect()
}

async fn lease_one(b: &SharedBroker) -> Leased {
    let mut got = b.lease(&queues(&[Q]), 1, WORKER).await.unwrap();
    assert_eq!(got.len(), 1, "expected one job to lease");
    got.remove(0)
}

async fn state(b: &SharedBroker, id: &JobId) -> Option<JobState> {
    b.job(id).await.unwrap().map(|j| j.state)
}

pub async fn enqueued_job_is_leased_with_its_payload_and_attempt_one<E: Engine>() {
    let e = E::fresh().await;
    let b = e.open(config()).await;
    let id = b.enqueue(job(r#"{"n":1}"#)).await.unwrap().id;
    assert_eq!(state(&b, &id).await, Some(JobState::Queued));
    let l = lease_one(&b).await;
    assert_eq!(
        (l.id.clone(), l.payload.as_str(), l.attempt, l.name.as_str()),
        (id.clone(), r#"{"n":1}"#, 1, "test.job")
    );
    assert_eq!(state(&b, &id).await, Some(JobState::Running));
    assert!(
        b.lease(&queues(&[Q]), 5, WORKER).await.unwrap().is_empty(),
        "a leased job must not be leased twice"
    );
    assert_eq!(
        b.ack(&l.lease_ref(), Some(r#"{"ok":true}"#)).await.unwrap(),
        Settled::Done
    );
    let info = b.job(&id).await.unwrap().unwrap();
    assert_eq!(info.state, JobState::Succeeded);
    assert_eq!(info.result.as_deref(), Some(r#"{"ok":true}"#));
    assert_eq!(info.attempts, 1);
    assert!(info.started_at_ms.is_some() && info.finished_at_ms.is_some());
}

pub async fn unknown_id_is_distinct_from_queued<E: Engine>() {
    let e = E::fresh().await;
    let b = e.open(config()).await;
    b.enqueue(job("{}")).await.unwrap();
    assert_eq!(
        b.job(&JobId::parse("no-such-job").unwrap()).await.unwrap(),
        None
    );
}

pub async fn jobs_are_leased_in_fifo_order_and_never_more_than_asked<E: Engine>() {
    let e = E::fresh().await;
    let b = e.open(config()).await;
    let mut ids = Vec::new();
    for i in 0..10 {
        ids.push(b.enqueue(job(&format!("{i}"))).await.unwrap().id);
    }
    let first = b.lease(&queues(&[Q]), 3, WORKER).await.unwrap();
    assert_eq!(first.len(), 3);
    let rest = b.lease(&queues(&[Q]), 100, WORKER).await.unwrap();
    assert_eq!(rest.len(), 7);
    let order: Vec<JobId> = first
        .iter()
        .chain(rest.iter())
        .map(|l| l.id.clone())
        .collect();
    assert_eq!(order, ids);
}

pub async fn earlier_queues_are_served_first<E: Engine>() {
    let e = E::fresh().await;
    let b = e.open(config()).await;
    b.enqueue(NewJob::new("a", "low", "{}")).await.unwrap();
    b.enqueue(NewJob::new("b", "high", "{}")).await.unwrap();
    let got = b.lease(&queues(&["high", "low"]), 1, WORKER).await.unwrap();
    assert_eq!(got[0].queue, "high");
    let got = b.lease(&queues(&["high", "low"]), 1, WORKER).await.unwrap();
    assert_eq!(got[0].queue, "low");
}

pub async fn enqueue_with_an_existing_id_gives_one_job<E: Engine>() {
    let e = E::fresh().await;
    let b = e.open(config()).await;
    let id = JobId::parse("sms.send:42").unwrap();
    let first = b.enqueue(job("{}").with_id(id.clone())).await.unwrap();
    let second = b.enqueue(job("{}").with_id(id.clone())).await.unwrap();
    assert!(first.created && !second.created);
    assert_eq!(b.lease(&queues(&[Q]), 10, WORKER).await.unwrap().len(), 1);
}

pub async fn idempotency_holds_after_success_without_any_ttl_setting<E: Engine>() {
    let e = E::fresh().await;
    let b = e.open(config()).await;
    let id = JobId::parse("report.pdf:7").unwrap();
    b.enqueue(job("{}").with_id(id.clone())).await.unwrap();
    let l = lease_one(&b).await;
    b.ack(&l.lease_ref(), None).await.unwrap();
    let again = b.enqueue(job("{}").with_id(id.clone())).await.unwrap();
    assert!(
        !again.created,
        "a succeeded job's id must still deduplicate within the retention"
    );
    assert!(b.lease(&queues(&[Q]), 10, WORKER).await.unwrap().is_empty());
}

pub async fn enqueue_many_returns_ids_in_order<E: Engine>() {
    let e = E::fresh().await;
    let b = e.open(config()).await;
    let jobs: Vec<NewJob> = (0..50)
        .map(|i| NewJob::new("t", if i % 2 == 0 { "even" } else { "odd" }, format!("{i}")))
        .collect();
    let want: Vec<JobId> = jobs.iter().map(|j| j.id.clone()).collect();
    let got = b.enqueue_many(jobs).await.unwrap();
    assert_eq!(got.iter().map(|e| e.id.clone()).collect::<Vec<_>>(), want);
    assert!(got.iter().all(|e| e.created));
    let stats = b.stats(&queues(&["even", "odd"])).await.unwrap();
    assert_eq!(
        stats.iter().map(|s| s.queued).collect::<Vec<_>>(),
        vec![25, 25]
    );
}

pub async fn ack_with_a_reclaimed_token_is_rejected_and_counted<E: Engine>() {
    let e = E::fresh().await;
    let cfg = config();
    let clock = cfg.clock.clone();
    let b = e.open(cfg).await;
    let id = b
        .enqueue(job("{}").with_policy(policy(5)))
        .await
        .unwrap()
        .id;
    let first = lease_one(&b).await;
    clock.advance(Duration::from_secs(11));
    let m = b.maintain(&queues(&[Q])).await.unwrap();
    assert_eq!(m.requeued, 1);
    let second = lease_one(&b).await;
    assert_eq!(second.attempt, 2, "the lost attempt counts");
    assert_ne!(first.token, second.token);
    assert_eq!(
        b.ack(&first.lease_ref(), None).await.unwrap(),
        Settled::Stale
    );
    assert_eq!(
        b.retry(&first.lease_ref(), 0, "late").await.unwrap(),
        Settled::Stale
    );
    assert_eq!(
        b.dead(&first.lease_ref(), "late").await.unwrap(),
        Settled::Stale
    );
    assert_eq!(
        state(&b, &id).await,
        Some(JobState::Running),
        "a stale settle must not touch the job"
    );
    assert_eq!(
        b.ack(&second.lease_ref(), None).await.unwrap(),
        Settled::Done
    );
    assert_eq!(
        b.ack(&second.lease_ref(), None).await.unwrap(),
        Settled::Stale,
        "acking twice is stale"
    );
    let s = b.stats(&queues(&[Q])).await.unwrap();
    assert_eq!(s[0].stale_acks, 4);
}

pub async fn a_job_of_a_dead_worker_runs_again_after_the_lease<E: Engine>() {
    let e = E::fresh().await;
    let cfg = config();
    let clock = cfg.clock.clone();
    let b = e.open(cfg).await;
    let id = b.enqueue(job("{}")).await.unwrap().id;
    let _lost = lease_one(&b).await;
    clock.advance(Duration::from_secs(5));
    assert_eq!(
        b.maintain(&queues(&[Q])).await.unwrap().requeued,
        0,
        "not before the lease ends"
    );
    clock.advance(Duration::from_secs(6));
    assert_eq!(b.maintain(&queues(&[Q])).await.unwrap().requeued, 1);
    let info = b.job(&id).await.unwrap().unwrap();
    assert_eq!(info.state, JobState::Queued);
    assert!(
        info.last_error
            .unwrap_or_default()
            .contains("lease expired")
    );
}

pub async fn heartbeats_keep_a_lease_and_report_lost_ones<E: Engine>() {
    let e = E::fresh().await;
    let cfg = config();
    let clock = cfg.clock.clone();
    let b = e.open(cfg).await;
    b.enqueue(job("{}")).await.unwrap();
    let l = lease_one(&b).await;
    for _ in 0..3 {
        clock.advance(Duration::from_secs(8));
        assert_eq!(
            b.heartbeat(&[l.lease_ref()]).await.unwrap(),
            vec![Beat::Extended]
        );
        assert_eq!(b.maintain(&queues(&[Q])).await.unwrap().requeued, 0);
    }
    let mut forged = l.lease_ref();
    forged.token = "not-the-token".to_owned();
    assert_eq!(
        b.heartbeat(&[forged, l.lease_ref()]).await.unwrap(),
        vec![Beat::Lost, Beat::Extended]
    );
}

pub async fn a_crash_on_the_last_attempt_goes_to_the_dead_set<E: Engine>() {
    let e = E::fresh().await;
    let cfg = config();
    let clock = cfg.clock.clone();
    let b = e.open(cfg).await;
    let id = b
        .enqueue(job("{}").with_policy(policy(2)))
        .await
        .unwrap()
        .id;
    for _ in 0..2 {
        let _crashed = lease_one(&b).await;
        clock.advance(Duration::from_secs(11));
        b.maintain(&queues(&[Q])).await.unwrap();
    }
    let info = b.job(&id).await.unwrap().unwrap();
    assert_eq!((info.state, info.attempts), (JobState::Dead, 2));
    assert!(
        b.lease(&queues(&[Q]), 10, WORKER).await.unwrap().is_empty(),
        "a job that kills its worker must not loop"
    );
    assert_eq!(b.dead_jobs(Some(Q), 10).await.unwrap().len(), 1);
}

pub async fn a_retry_waits_for_its_backoff<E: Engine>() {
    let e = E::fresh().await;
    let cfg = config();
    let clock = cfg.clock.clone();
    let b = e.open(cfg).await;
    let id = b.enqueue(job("{}")).await.unwrap().id;
    let l = lease_one(&b).await;
    let due = clock.now_ms() + 60_000;
    assert_eq!(
        b.retry(&l.lease_ref(), due, "gateway 503").await.unwrap(),
        Settled::Done
    );
    let info = b.job(&id).await.unwrap().unwrap();
    assert_eq!(
        (info.state, info.last_error.as_deref()),
        (JobState::Retrying, Some("gateway 503"))
    );
    b.maintain(&queues(&[Q])).await.unwrap();
    assert!(
        b.lease(&queues(&[Q]), 10, WORKER).await.unwrap().is_empty(),
        "not before its backoff"
    );
    assert_eq!(b.stats(&queues(&[Q])).await.unwrap()[0].scheduled, 1);
    clock.advance(Duration::from_secs(61));
    assert_eq!(b.maintain(&queues(&[Q])).await.unwrap().promoted, 1);
    assert_eq!(lease_one(&b).await.attempt, 2);
}

pub async fn a_snoozed_job_waits_without_using_an_attempt<E: Engine>() {
    let e = E::fresh().await;
    let cfg = config();
    let clock = cfg.clock.clone();
    let b = e.open(cfg).await;
    // One attempt allowed: a snooze that counted would leave none.
    let id = b
        .enqueue(job("{}").with_policy(policy(1)))
        .await
        .unwrap()
        .id;
    let l = lease_one(&b).await;
    assert_eq!(l.attempt, 1);
    let due = clock.now_ms() + 60_000;
    assert_eq!(b.snooze(&l.lease_ref(), due).await.unwrap(), Settled::Done);
    let info = b.job(&id).await.unwrap().unwrap();
    assert_eq!((info.state, info.attempts), (JobState::Scheduled, 0));
    assert_eq!(
        b.snooze(&l.lease_ref(), due).await.unwrap(),
        Settled::Stale,
        "the token of a settled attempt no longer holds the job"
    );
    b.maintain(&queues(&[Q])).await.unwrap();
    assert!(
        b.lease(&queues(&[Q]), 10, WORKER).await.unwrap().is_empty(),
        "not before its time"
    );
    clock.advance(Duration::from_secs(61));
    assert_eq!(b.maintain(&queues(&[Q])).await.unwrap().promoted, 1);
    let again = lease_one(&b).await;
    assert_eq!(again.attempt, 1, "the snoozed attempt did not count");
    assert_eq!(
        b.ack(&again.lease_ref(), None).await.unwrap(),
        Settled::Done
    );
}

pub async fn a_scheduled_job_waits_for_its_time<E: Engine>() {
    let e = E::fresh().await;
    let cfg = config();
    let clock = cfg.clock.clone();
    let b = e.open(cfg).await;
    let id = b
        .enqueue(job("{}").at(clock.now_ms() + 3_600_000))
        .await
        .unwrap()
        .id;
    assert_eq!(state(&b, &id).await, Some(JobState::Scheduled));
    b.maintain(&queues(&[Q])).await.unwrap();
    assert!(b.lease(&queues(&[Q]), 10, WORKER).await.unwrap().is_empty());
    clock.advance(Duration::from_secs(3601));
    b.maintain(&queues(&[Q])).await.unwrap();
    assert_eq!(lease_one(&b).await.id, id);
}

/// `waiter` with nothing to lease on [`Q`], then waiting (at most 30 s) in
/// a task of its own: how long it waited once it wakes. (Its first wait
/// sets up the subscription and may return early.)
pub async fn idle_waiter(waiter: &SharedBroker) -> tokio::task::JoinHandle<Duration> {
    waiter
        .wait_for_work(&queues(&[Q]), Duration::from_millis(200))
        .await;
    assert!(
        waiter
            .lease(&queues(&[Q]), 1, WORKER)
            .await
            .unwrap()
            .is_empty()
    );
    let wait = {
        let waiter = waiter.clone();
        tokio::spawn(async move {
            let t = Instant::now();
            waiter
                .wait_for_work(&queues(&[Q]), Duration::from_secs(30))
                .await;
            t.elapsed()
        })
    };
    tokio::task::yield_now().await;
    wait
}

pub async fn an_idle_waiter_wakes_when_another_process_enqueues<E: Engine>() {
    let e = E::fresh().await;
    let waiter = e.open(config()).await;
    let producer = e.open(config()).await;
    let wait = idle_waiter(&waiter).await;
    producer.enqueue(job("{}")).await.unwrap();
    let waited = wait.await.unwrap();
    assert!(
        waited < Duration::from_secs(5),
        "woke only after {waited:?}: wake-ups are missed"
    );
    assert_eq!(
        waiter.lease(&queues(&[Q]), 1, WORKER).await.unwrap().len(),
        1
    );
}

pub async fn workers_are_tracked_per_incarnation_not_per_name<E: Engine>() {
    let e = E::fresh().await;
    let cfg = config();
    let clock = cfg.clock.clone();
    let b = e.open(cfg).await;
    let mk = |id: &str| WorkerInfo {
        id: id.to_owned(),
        hostname: "same-host".to_owned(),
        pid: 1,
        queues: vec![Q.to_owned()],
        concurrency: 4,
        started_at_ms: clock.now_ms(),
        last_seen_ms: clock.now_ms(),
    };
    b.register_worker(&mk("old-incarnation")).await.unwrap();
    b.register_worker(&mk("new-incarnation")).await.unwrap();
    let ids: HashSet<String> = b
        .workers()
        .await
        .unwrap()
        .into_iter()
        .map(|w| w.id)
        .collect();
    assert_eq!(
        ids.len(),
        2,
        "a restart under the same host name is never refused"
    );
    b.unregister_worker("old-incarnation").await.unwrap();
    assert_eq!(b.workers().await.unwrap().len(), 1);
    clock.advance(Duration::from_secs(60));
    assert!(
        b.workers().await.unwrap().is_empty(),
        "silent workers age out"
    );
}

pub async fn jobs_survive_reopening_the_broker<E: Engine>() {
    let e = E::fresh().await;
    let id = {
        let b = e.open(config()).await;
        b.enqueue(job(r#"{"keep":1}"#)).await.unwrap().id
    };
    let b = e.open(config()).await;
    let l = lease_one(&b).await;
    assert_eq!((l.id, l.payload.as_str()), (id, r#"{"keep":1}"#));
}

pub async fn concurrent_leases_never_hand_out_a_job_twice<E: Engine>() {
    let e = E::fresh().await;
    let b = e.open(config()).await;
    let n = 2000;
    b.enqueue_many((0..n).map(|i| job(&i.to_string())).collect())
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for w in 0..4 {
        let b = e.open(config()).await;
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let got = b.lease(&queues(&[Q]), 7, &format!("w{w}")).await.unwrap();
                if got.is_empty() {
                    return mine;
                }
                for l in got {
                    b.ack(&l.lease_ref(), None).await.unwrap();
                    mine.push(l.id);
                }
            }
        }));
    }
    let mut all = HashSet::new();
    for t in tasks {
        for id in t.await.unwrap() {
            assert!(all.insert(id), "a job was leased twice");
        }
    }
    assert_eq!(all.len(), n);
}

pub async fn ack_and_lease_settles_and_takes_the_next_job_in_one_step<E: Engine>() {
    let e = E::fresh().await;
    let b = e.open(config()).await;
    let first = b.enqueue(job("1")).await.unwrap().id;
    let second = b.enqueue(job("2")).await.unwrap().id;
    let l = lease_one(&b).await;
    let (settled, next) = b
        .ack_and_lease(&l.lease_ref(), Some("{}"), 1, WORKER)
        .await
        .unwrap();
    assert_eq!(settled, Settled::Done);
    assert_eq!(
        next.iter()
            .map(|n| (n.id.clone(), n.attempt))
            .collect::<Vec<_>>(),
        vec![(second.clone(), 1)]
    );
    assert_eq!(state(&b, &first).await, Some(JobState::Succeeded));
    assert_eq!(state(&b, &second).await, Some(JobState::Running));
    let third = b.enqueue(job("3")).await.unwrap().id;
    let (settled, none) = b
        .ack_and_lease(&l.lease_ref(), None, 1, WORKER)
        .await
        .unwrap();
    assert_eq!(
        (settled, none.len()),
        (Settled::Stale, 0),
        "a stale ack takes nothing"
    );
    let (settled, none) = b
        .ack_and_lease(&next[0].lease_ref(), None, 0, WORKER)
        .await
        .unwrap();
    assert_eq!(
        (settled, none.len()),
        (Settled::Done, 0),
        "asking for none takes none"
    );
    assert_eq!(state(&b, &third).await, Some(JobState::Queued));
    let l3 = lease_one(&b).await;
    let (settled, none) = b
        .ack_and_lease(&l3.lease_ref(), None, 5, WORKER)
        .await
        .unwrap();
    assert_eq!(
        (settled, none.len()),
        (Settled::Done, 0),
        "an empty queue gives nothing"
    );
}

pub async fn policy_is_stored_with_the_job<E: Engine>() {
    let e = E::fresh().await;
    let b = e.open(config()).await;
    let p = JobPolicy {
        retry: RetryPolicy {
            max_attempts: 7,
            backoff_base_ms: 1234,
            backoff_max_ms: 98_765,
        },
        timeout_ms: 4321,
    };
    b.enqueue(job("{}").with_policy(p)).await.unwrap();
    assert_eq!(lease_one(&b).await.policy, p);
}

/// The request that caused a job travels with it: stored at enqueue, shown
/// by `job()` and listings, handed to the worker with the lease (whose
/// attempt logs it) and kept once the job ends. A job without one has
/// none, and an id the engines could not log safely is refused.
pub async fn request_id_travels_from_enqueue_to_job_and_lease<E: Engine>() {
    let e = E::fresh().await;
    let b = e.open(config()).await;
    let rid = "0198c0de-7a1b-7c3e-9f00-abcdef012345";
    let with = b
        .enqueue(job("{}").with_request_id(Some(rid.to_owned())))
        .await
        .unwrap()
        .id;
    let without = b.enqueue(job("{}")).await.unwrap().id;
    let info = |id: JobId| {
        let b = b.clone();
        async move { b.job(&id).await.unwrap().unwrap() }
    };
    assert_eq!(info(with.clone()).await.request_id.as_deref(), Some(rid));
    assert_eq!(info(without.clone()).await.request_id, None);
    let listed = b
        .list_jobs(&paqueteria_jobs::broker::JobFilter::new(
            paqueteria_jobs::broker::ListState::Queued,
            10,
        ))
        .await
        .unwrap();
    let found = listed.jobs.iter().find(|j| j.id == with).unwrap();
    assert_eq!(found.request_id.as_deref(), Some(rid));
    // An operator holding the id of a request finds its jobs.
    let mut search =
        paqueteria_jobs::broker::JobFilter::new(paqueteria_jobs::broker::ListState::Queued, 10);
    search.text = Some("7A1B-7C3E".to_owned());
    let searched = b.list_jobs(&search).await.unwrap();
    assert_eq!(
        searched.jobs.iter().map(|j| &j.id).collect::<Vec<_>>(),
        [&with]
    );

    let leased = b.lease(&queues(&[Q]), 2, WORKER).await.unwrap();
    let by_id = |id: &JobId| leased.iter().find(|l| &l.id == id).unwrap();
    assert_eq!(by_id(&with).request_id.as_deref(), Some(rid));
    assert_eq!(by_id(&without).request_id, None);
    // Through ack-and-lease too, and kept once the job succeeded.
    let next = b
        .enqueue(job("{}").with_request_id(Some("next-request".to_owned())))
        .await
        .unwrap()
        .id;
    let (_, taken) = b
        .ack_and_lease(&by_id(&with).lease_ref(), None, 1, WORKER)
        .await
        .unwrap();
    assert_eq!(
        taken
            .iter()
            .map(|l| (&l.id, l.request_id.as_deref()))
            .collect::<Vec<_>>(),
        [(&next, Some("next-request"))]
    );
    let done = info(with).await;
    assert_eq!(
        (done.state, done.request_id.as_deref()),
        (JobState::Succeeded, Some(rid))
    );

    for bad in [String::new(), "a\nb".to_owned(), "x".repeat(201)] {
        let refused = b
            .enqueue(job("{}").with_request_id(Some(bad.clone())))
            .await;
        assert!(
            matches!(refused, Err(paqueteria_jobs::BrokerError::Invalid(_))),
            "{bad:?}: {refused:?}"
        );
    }
}

/// Instantiates every case for one engine.
#[macro_export]
macro_rules! conformance_suite {
    ($engine:ty) => {
        $crate::conformance_suite!(@cases $engine;
            enqueued_job_is_leased_with_its_payload_and_attempt_one,
            unknown_id_is_distinct_from_queued,
            jobs_are_leased_in_fifo_order_and_never_more_than_asked,
            earlier_queues_are_served_first,
            enqueue_with_an_existing_id_gives_one_job,
            idempotency_holds_after_success_without_any_ttl_setting,
            enqueue_many_returns_ids_in_order,
            ack_with_a_reclaimed_token_is_rejected_and_counted,
            a_job_of_a_dead_worker_runs_again_after_the_lease,
            heartbeats_keep_a_lease_and_report_lost_ones,
            a_crash_on_the_last_attempt_goes_to_the_dead_set,
            a_retry_waits_for_its_backoff,
            a_snoozed_job_waits_without_using_an_attempt,
            a_scheduled_job_waits_for_its_time,
            dead_jobs_keep_payload_and_error_and_can_be_rerun_or_discarded,
            rerun_all_dead_requeues_every_dead_job,
            cancel_stops_waiting_jobs_and_flags_running_ones,
            release_hands_a_job_back_first_in_line_without_using_an_attempt,
            a_backlog_far_over_eight_thousand_jobs_drains,
            due_jobs_are_promoted_in_bounded_chunks_without_losing_any,
            dead_jobs_are_deleted_after_the_dead_retention,
            succeeded_jobs_are_deleted_after_the_succeeded_retention,
            purge_deletes_waiting_jobs_only,
            stats_count_every_state_and_the_oldest_wait,
            an_idle_waiter_wakes_when_another_process_enqueues,
            workers_are_tracked_per_incarnation_not_per_name,
            jobs_survive_reopening_the_broker,
            concurrent_leases_never_hand_out_a_job_twice,
            ack_and_lease_settles_and_takes_the_next_job_in_one_step,
            a_batch_with_one_stale_token_settles_the_others_and_rejects_only_that_one,
            a_batch_split_across_queues_settles_each_queue_and_refills_one,
            policy_is_stored_with_the_job,
            request_id_travels_from_enqueue_to_job_and_lease,
            a_paused_queue_leases_nothing_while_another_keeps_leasing,
            a_pause_survives_a_new_broker_on_the_same_storage,
            resuming_a_queue_wakes_an_idle_worker,
            jobs_are_listed_by_state_newest_first_a_page_at_a_time,
            listings_filter_by_name_and_by_text_in_the_payload_or_the_error,
            a_search_looks_at_the_newest_ten_thousand_dead_jobs_only,
            run_now_makes_a_scheduled_or_retrying_job_due_at_once,
            bulk_actions_retry_or_discard_the_dead_jobs_among_the_ids,
            discarding_every_dead_job_a_filter_matches_leaves_the_others,
            throughput_counts_the_last_minute_and_hour_and_survives_a_restart
        );
    };
    (@cases $engine:ty; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                $crate::conformance::$case::<$engine>().await;
            }
        )*
    };
}
