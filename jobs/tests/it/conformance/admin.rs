//! The dead set, cancelling and releasing, draining a large backlog,
//! promoting due jobs, retention, purge and stats, on both engines.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use paqueteria_jobs::broker::{Beat, CancelOutcome, JobId, JobState, Settled};

use super::{Engine, Q, WORKER, config, job, lease_one, queues, state};

pub async fn dead_jobs_keep_payload_and_error_and_can_be_rerun_or_discarded<E: Engine>() {
    let e = E::fresh().await;
    let b = e.open(config()).await;
    let a = b.enqueue(job(r#"{"a":1}"#)).await.unwrap().id;
    let c = b.enqueue(job(r#"{"c":1}"#)).await.unwrap().id;
    for _ in 0..2 {
        let l = lease_one(&b).await;
        b.dead(&l.lease_ref(), "recipient rejected").await.unwrap();
    }
    let dead = b.dead_jobs(None, 10).await.unwrap();
    assert_eq!(dead.len(), 2);
    let da = dead.iter().find(|j| j.id == a).unwrap();
    assert_eq!(
        (da.payload.as_str(), da.last_error.as_deref(), da.attempts),
        (r#"{"a":1}"#, Some("recipient rejected"), 1)
    );
    assert!(da.finished_at_ms.is_some());
    assert!(b.rerun_dead(&a).await.unwrap());
    assert!(
        !b.rerun_dead(&a).await.unwrap(),
        "only dead jobs can be re-run"
    );
    let l = lease_one(&b).await;
    assert_eq!(
        (l.id.clone(), l.attempt),
        (a, 1),
        "a re-run starts with fresh attempts"
    );
    assert!(b.discard(&c).await.unwrap());
    assert_eq!(b.job(&c).await.unwrap(), None);
    assert!(b.dead_jobs(None, 10).await.unwrap().is_empty());
}

pub async fn rerun_all_dead_requeues_every_dead_job<E: Engine>() {
    let e = E::fresh().await;
    let b = e.open(config()).await;
    for i in 0..1200 {
        b.enqueue(job(&format!("{i}"))).await.unwrap();
    }
    loop {
        let got = b.lease(&queues(&[Q]), 500, WORKER).await.unwrap();
        if got.is_empty() {
            break;
        }
        for l in got {
            b.dead(&l.lease_ref(), "boom").await.unwrap();
        }
    }
    assert_eq!(b.stats(&queues(&[Q])).await.unwrap()[0].dead, 1200);
    assert_eq!(b.rerun_all_dead(Some(Q)).await.unwrap(), 1200);
    let s = &b.stats(&queues(&[Q])).await.unwrap()[0];
    assert_eq!((s.dead, s.queued), (0, 1200));
}

pub async fn cancel_stops_waiting_jobs_and_flags_running_ones<E: Engine>() {
    let e = E::fresh().await;
    let cfg = config();
    let clock = cfg.clock.clone();
    let b = e.open(cfg).await;
    let running = b.enqueue(job("run")).await.unwrap().id;
    let l = lease_one(&b).await;
    let orphan = b.enqueue(job("orphan")).await.unwrap().id;
    let _orphan_lease = lease_one(&b).await;
    let queued = b.enqueue(job("queued")).await.unwrap().id;
    let scheduled = b
        .enqueue(job("later").at(clock.now_ms() + 60_000))
        .await
        .unwrap()
        .id;
    assert_eq!(b.cancel(&queued).await.unwrap(), CancelOutcome::Cancelled);
    assert_eq!(
        b.cancel(&scheduled).await.unwrap(),
        CancelOutcome::Cancelled
    );
    assert_eq!(b.cancel(&running).await.unwrap(), CancelOutcome::Requested);
    assert_eq!(b.cancel(&orphan).await.unwrap(), CancelOutcome::Requested);
    assert_eq!(
        b.cancel(&JobId::parse("nope").unwrap()).await.unwrap(),
        CancelOutcome::Unknown
    );
    assert_eq!(
        b.heartbeat(&[l.lease_ref()]).await.unwrap(),
        vec![Beat::CancelRequested]
    );
    assert_eq!(b.cancelled(&l.lease_ref()).await.unwrap(), Settled::Done);
    // The orphan's worker died: its lease runs out and it ends cancelled.
    clock.advance(Duration::from_secs(61));
    b.maintain(&queues(&[Q])).await.unwrap();
    assert!(
        b.lease(&queues(&[Q]), 10, WORKER).await.unwrap().is_empty(),
        "cancelled jobs never run"
    );
    for id in [&running, &orphan, &queued, &scheduled] {
        assert_eq!(state(&b, id).await, Some(JobState::Cancelled), "{id}");
    }
    assert_eq!(
        b.cancel(&running).await.unwrap(),
        CancelOutcome::AlreadyFinished(JobState::Cancelled)
    );
}

pub async fn release_hands_a_job_back_first_in_line_without_using_an_attempt<E: Engine>() {
    let e = E::fresh().await;
    let b = e.open(config()).await;
    let first = b.enqueue(job("1")).await.unwrap().id;
    b.enqueue(job("2")).await.unwrap();
    let l = lease_one(&b).await;
    assert_eq!(b.release(&l.lease_ref()).await.unwrap(), Settled::Done);
    let again = lease_one(&b).await;
    assert_eq!((again.id, again.attempt), (first, 1));
}

pub async fn a_backlog_far_over_eight_thousand_jobs_drains<E: Engine>() {
    let e = E::fresh().await;
    let b = e.open(config()).await;
    let n = 20_000;
    for chunk in (0..n).collect::<Vec<_>>().chunks(2000) {
        b.enqueue_many(chunk.iter().map(|i| job(&i.to_string())).collect())
            .await
            .unwrap();
    }
    let mut seen = HashSet::new();
    loop {
        b.maintain(&queues(&[Q])).await.unwrap();
        let got = b.lease(&queues(&[Q]), 500, WORKER).await.unwrap();
        if got.is_empty() {
            break;
        }
        for l in got {
            assert!(seen.insert(l.id.clone()), "job leased twice");
            b.ack(&l.lease_ref(), None).await.unwrap();
        }
    }
    assert_eq!(seen.len(), n);
}

pub async fn due_jobs_are_promoted_in_bounded_chunks_without_losing_any<E: Engine>() {
    let e = E::fresh().await;
    let cfg = config();
    let clock = cfg.clock.clone();
    let b = e.open(cfg).await;
    let at = clock.now_ms() + 1000;
    let n = 12_000u64;
    for chunk in (0..n).collect::<Vec<_>>().chunks(3000) {
        b.enqueue_many(chunk.iter().map(|i| job(&i.to_string()).at(at)).collect())
            .await
            .unwrap();
    }
    clock.advance(Duration::from_secs(2));
    let mut promoted = 0;
    for _ in 0..100 {
        let m = b.maintain(&queues(&[Q])).await.unwrap();
        promoted += m.promoted;
        if m.promoted == 0 {
            break;
        }
    }
    assert_eq!(promoted, n);
    assert_eq!(b.stats(&queues(&[Q])).await.unwrap()[0].queued, n);
}

pub async fn dead_jobs_are_deleted_after_the_dead_retention<E: Engine>() {
    let e = E::fresh().await;
    let cfg = config();
    let clock = cfg.clock.clone();
    let b = e.open(cfg).await;
    let id = b.enqueue(job("{}")).await.unwrap().id;
    let l = lease_one(&b).await;
    b.dead(&l.lease_ref(), "boom").await.unwrap();
    clock.advance(Duration::from_secs(6 * 24 * 3600));
    b.maintain(&queues(&[Q])).await.unwrap();
    assert_eq!(
        state(&b, &id).await,
        Some(JobState::Dead),
        "kept within the retention"
    );
    clock.advance(Duration::from_secs(2 * 24 * 3600));
    assert_eq!(b.maintain(&queues(&[Q])).await.unwrap().swept, 1);
    assert_eq!(b.job(&id).await.unwrap(), None);
    assert_eq!(b.stats(&queues(&[Q])).await.unwrap()[0].dead, 0);
}

pub async fn succeeded_jobs_are_deleted_after_the_succeeded_retention<E: Engine>() {
    let e = E::fresh().await;
    let mut cfg = config();
    cfg.retention.succeeded = Duration::from_millis(300);
    let b = e.open(cfg).await;
    let id = b.enqueue(job("{}")).await.unwrap().id;
    let l = lease_one(&b).await;
    b.ack(&l.lease_ref(), None).await.unwrap();
    assert_eq!(state(&b, &id).await, Some(JobState::Succeeded));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        b.maintain(&queues(&[Q])).await.unwrap();
        if b.job(&id).await.unwrap().is_none() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "a succeeded job outlived its retention by 10 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub async fn purge_deletes_waiting_jobs_only<E: Engine>() {
    let e = E::fresh().await;
    let cfg = config();
    let clock = cfg.clock.clone();
    let b = e.open(cfg).await;
    let running = b.enqueue(job("r")).await.unwrap().id;
    let l = lease_one(&b).await;
    let dead = b.enqueue(job("d")).await.unwrap().id;
    let ld = lease_one(&b).await;
    b.dead(&ld.lease_ref(), "x").await.unwrap();
    for i in 0..2500 {
        b.enqueue(job(&i.to_string())).await.unwrap();
    }
    b.enqueue(job("later").at(clock.now_ms() + 60_000))
        .await
        .unwrap();
    assert_eq!(b.purge(Q).await.unwrap(), 2501);
    let s = &b.stats(&queues(&[Q])).await.unwrap()[0];
    assert_eq!((s.queued, s.scheduled, s.running, s.dead), (0, 0, 1, 1));
    assert_eq!(state(&b, &running).await, Some(JobState::Running));
    assert_eq!(state(&b, &dead).await, Some(JobState::Dead));
    assert_eq!(b.ack(&l.lease_ref(), None).await.unwrap(), Settled::Done);
}

pub async fn stats_count_every_state_and_the_oldest_wait<E: Engine>() {
    let e = E::fresh().await;
    let cfg = config();
    let clock = cfg.clock.clone();
    let b = e.open(cfg).await;
    b.enqueue(job("a")).await.unwrap();
    b.enqueue(job("b")).await.unwrap();
    b.enqueue(job("c")).await.unwrap();
    b.enqueue(job("s").at(clock.now_ms() + 60_000))
        .await
        .unwrap();
    let l = lease_one(&b).await;
    b.dead(&l.lease_ref(), "x").await.unwrap();
    let _running = lease_one(&b).await;
    clock.advance(Duration::from_secs(30));
    let s = &b.stats(&queues(&[Q])).await.unwrap()[0];
    assert_eq!((s.queued, s.scheduled, s.running, s.dead), (1, 1, 1, 1));
    assert!(
        (29.0..40.0).contains(&s.oldest_age_s),
        "oldest age {}",
        s.oldest_age_s
    );
    let all = b.stats(&[]).await.unwrap();
    assert!(
        all.iter().any(|s| s.queue == Q),
        "an empty list means every known queue"
    );
    assert!(b.queues().await.unwrap().contains(&Q.to_owned()));
}
