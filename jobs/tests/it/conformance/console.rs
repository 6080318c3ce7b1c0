//! The console's promises, on both engines: pausing a queue, listing jobs
//! page by page with filters (and the search bound), running a waiting job
//! now, bulk actions on the dead set, and the throughput counts and series.

use std::collections::HashSet;
use std::time::Duration;

use paqueteria_jobs::broker::{
    BrokerError, DeadAction, JobFilter, JobId, JobState, ListState, NewJob, SEARCH_LIMIT,
    SERIES_STEPS, Settled, SharedBroker, Throughput,
};

use super::{Engine, Q, WORKER, config, job, lease_one, policy, queues, state};

const MAIL: &str = "mail";
const OTHER: &str = "other";

async fn stats_of(b: &SharedBroker, q: &str) -> paqueteria_jobs::broker::QueueStats {
    b.stats(&queues(&[q])).await.unwrap().remove(0)
}

fn ids_of(page: &paqueteria_jobs::broker::JobPage) -> Vec<JobId> {
    page.jobs.iter().map(|j| j.id.clone()).collect()
}

fn filter(state: ListState) -> JobFilter {
    JobFilter::new(state, 50)
}

pub async fn a_paused_queue_leases_nothing_while_another_keeps_leasing<E: Engine>() {
    let e = E::fresh().await;
    let cfg = config();
    let clock = cfg.clock.clone();
    let b = e.open(cfg).await;
    let both = queues(&[MAIL, OTHER]);
    let mut mail = Vec::new();
    for i in 0..4 {
        mail.push(
            b.enqueue(NewJob::new("t", MAIL, format!("{i}")))
                .await
                .unwrap()
                .id,
        );
    }
    // One mail job is running when the pause comes: it may finish, but its
    // ack leases nothing more from the paused queue.
    let running = b
        .lease(&queues(&[MAIL]), 1, WORKER)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(running.id, mail[0]);
    assert!(
        b.pause_queue(MAIL).await.unwrap(),
        "the first pause changes the state"
    );
    assert!(
        !b.pause_queue(MAIL).await.unwrap(),
        "pausing twice is harmless"
    );
    assert!(stats_of(&b, MAIL).await.paused);
    assert!(!stats_of(&b, OTHER).await.paused);

    let other = b.enqueue(NewJob::new("t", OTHER, "o")).await.unwrap().id;
    let later = b.enqueue(NewJob::new("t", MAIL, "new")).await.unwrap();
    assert!(later.created, "a paused queue still takes jobs");
    mail.push(later.id);
    let due = b
        .enqueue(NewJob::new("t", MAIL, "due").at(clock.now_ms() + 1000))
        .await
        .unwrap()
        .id;
    mail.push(due.clone());
    clock.advance(Duration::from_secs(2));
    assert_eq!(
        b.maintain(&queues(&[MAIL])).await.unwrap().promoted,
        1,
        "scheduled jobs of a paused queue still become due"
    );
    assert_eq!(state(&b, &due).await, Some(JobState::Queued));

    let got = b.lease(&both, 10, WORKER).await.unwrap();
    assert_eq!(
        got.iter().map(|l| l.id.clone()).collect::<Vec<_>>(),
        vec![other],
        "only the other queue is leased from"
    );
    let (settled, next) = b
        .ack_and_lease(&running.lease_ref(), None, 5, WORKER)
        .await
        .unwrap();
    assert_eq!((settled, next.len()), (Settled::Done, 0));
    let s = stats_of(&b, MAIL).await;
    assert_eq!((s.queued, s.running), (5, 0), "its jobs stay queued");

    assert!(b.resume_queue(MAIL).await.unwrap());
    assert!(
        !b.resume_queue(MAIL).await.unwrap(),
        "resuming twice is harmless"
    );
    assert!(!stats_of(&b, MAIL).await.paused);
    let mut seen = HashSet::new();
    loop {
        let got = b.lease(&both, 2, WORKER).await.unwrap();
        if got.is_empty() {
            break;
        }
        for l in got {
            assert!(seen.insert(l.id.clone()), "{} leased twice", l.id);
            assert_eq!(b.ack(&l.lease_ref(), None).await.unwrap(), Settled::Done);
        }
    }
    let want: HashSet<JobId> = mail[1..].iter().cloned().collect();
    assert_eq!(seen, want, "after the resume every waiting job runs once");
}

pub async fn a_pause_survives_a_new_broker_on_the_same_storage<E: Engine>() {
    let e = E::fresh().await;
    let first = e.open(config()).await;
    first.enqueue(NewJob::new("t", MAIL, "1")).await.unwrap();
    first.pause_queue(MAIL).await.unwrap();
    drop(first);
    let second = e.open(config()).await;
    assert!(stats_of(&second, MAIL).await.paused);
    assert!(
        second
            .lease(&queues(&[MAIL]), 5, WORKER)
            .await
            .unwrap()
            .is_empty()
    );
    let third = e.open(config()).await;
    assert!(third.resume_queue(MAIL).await.unwrap());
    assert_eq!(
        second
            .lease(&queues(&[MAIL]), 5, WORKER)
            .await
            .unwrap()
            .len(),
        1
    );
}

pub async fn resuming_a_queue_wakes_an_idle_worker<E: Engine>() {
    let e = E::fresh().await;
    let waiter = e.open(config()).await;
    let operator = e.open(config()).await;
    operator.pause_queue(Q).await.unwrap();
    operator.enqueue(job("{}")).await.unwrap();
    let wait = super::idle_waiter(&waiter).await;
    operator.resume_queue(Q).await.unwrap();
    let waited = wait.await.unwrap();
    assert!(
        waited < Duration::from_secs(5),
        "woke only after {waited:?}"
    );
    assert_eq!(
        waiter.lease(&queues(&[Q]), 1, WORKER).await.unwrap().len(),
        1
    );
}

pub async fn jobs_are_listed_by_state_newest_first_a_page_at_a_time<E: Engine>() {
    let e = E::fresh().await;
    let cfg = config();
    let clock = cfg.clock.clone();
    let b = e.open(cfg).await;
    let tick = || clock.advance(Duration::from_secs(1));
    // Running: two leases, the second later.
    let r1 = b.enqueue(job("r1")).await.unwrap().id;
    let r2 = b.enqueue(job("r2")).await.unwrap().id;
    lease_one(&b).await;
    tick();
    lease_one(&b).await;
    // Dead: two, the second later.
    let d1 = b.enqueue(job("d1")).await.unwrap().id;
    let l = lease_one(&b).await;
    b.dead(&l.lease_ref(), "boom 1").await.unwrap();
    tick();
    let d2 = b.enqueue(job("d2")).await.unwrap().id;
    let l = lease_one(&b).await;
    b.dead(&l.lease_ref(), "boom 2").await.unwrap();
    // Scheduled and retrying, by due time.
    let now = clock.now_ms();
    let s60 = b.enqueue(job("s60").at(now + 60_000)).await.unwrap().id;
    let s120 = b.enqueue(job("s120").at(now + 120_000)).await.unwrap().id;
    let x = b.enqueue(job("x")).await.unwrap().id;
    let l = lease_one(&b).await;
    b.retry(&l.lease_ref(), now + 30_000, "503").await.unwrap();
    // Queued, one after the other; then one in another queue, newest of all.
    let mut queued = Vec::new();
    for p in ["a", "b", "c"] {
        tick();
        queued.push(b.enqueue(job(p)).await.unwrap().id);
    }
    tick();
    let z = b.enqueue(NewJob::new("t", OTHER, "z")).await.unwrap().id;

    let mut f = filter(ListState::Queued);
    f.queue = Some(Q.to_owned());
    let page = b.list_jobs(&f).await.unwrap();
    assert_eq!(
        ids_of(&page),
        vec![queued[2].clone(), queued[1].clone(), queued[0].clone()]
    );
    assert!(!page.more);
    assert_eq!(page.jobs[0].payload, "c");
    assert_eq!(page.jobs[0].state, JobState::Queued);
    let all = b.list_jobs(&filter(ListState::Queued)).await.unwrap();
    assert_eq!(
        ids_of(&all)[..2],
        [z.clone(), queued[2].clone()],
        "every queue, newest first"
    );
    assert_eq!(all.jobs[0].queue, OTHER);
    assert_eq!(all.jobs.len(), 4);

    f.limit = 2;
    let first = b.list_jobs(&f).await.unwrap();
    assert_eq!(
        (ids_of(&first), first.more),
        (vec![queued[2].clone(), queued[1].clone()], true)
    );
    f.offset = 2;
    let second = b.list_jobs(&f).await.unwrap();
    assert_eq!(
        (ids_of(&second), second.more),
        (vec![queued[0].clone()], false)
    );

    let sched = b.list_jobs(&filter(ListState::Scheduled)).await.unwrap();
    assert_eq!(
        ids_of(&sched),
        vec![s120, s60, x.clone()],
        "latest due first, retries included"
    );
    assert_eq!(sched.jobs[2].state, JobState::Retrying);
    let running = b.list_jobs(&filter(ListState::Running)).await.unwrap();
    assert_eq!(ids_of(&running), vec![r2, r1]);
    assert_eq!(running.jobs[0].worker.as_deref(), Some(WORKER));
    let dead = b.list_jobs(&filter(ListState::Dead)).await.unwrap();
    assert_eq!(ids_of(&dead), vec![d2, d1]);
    assert_eq!(dead.jobs[0].last_error.as_deref(), Some("boom 2"));
    let mut f = filter(ListState::Dead);
    f.queue = Some(OTHER.to_owned());
    assert!(b.list_jobs(&f).await.unwrap().jobs.is_empty());
}

pub async fn listings_filter_by_name_and_by_text_in_the_payload_or_the_error<E: Engine>() {
    let e = E::fresh().await;
    let cfg = config();
    let clock = cfg.clock.clone();
    let b = e.open(cfg).await;
    let mut dead = Vec::new();
    for (name, payload, error) in [
        ("sms.send", r#"{"phone":"+573001"}"#, "gateway 503"),
        ("email.send", r#"{"to":"Ana@Example.com"}"#, "SMTP refused"),
        ("sms.send", "{}", "Bad Number"),
    ] {
        clock.advance(Duration::from_secs(1));
        b.enqueue(NewJob::new(name, Q, payload)).await.unwrap();
        let l = lease_one(&b).await;
        b.dead(&l.lease_ref(), error).await.unwrap();
        dead.push(l.id);
    }
    let waiting = b
        .enqueue(NewJob::new("report.pdf", Q, r#"{"needle":1}"#))
        .await
        .unwrap()
        .id;
    let list = |name: Option<&str>, text: Option<&str>, state: ListState| {
        let mut f = filter(state);
        f.name = name.map(str::to_owned);
        f.text = text.map(str::to_owned);
        let b = b.clone();
        async move { ids_of(&b.list_jobs(&f).await.unwrap()) }
    };
    let dead_state = ListState::Dead;
    assert_eq!(
        list(Some("sms.send"), None, dead_state).await,
        vec![dead[2].clone(), dead[0].clone()]
    );
    assert_eq!(
        list(None, Some("ana@example"), dead_state).await,
        vec![dead[1].clone()],
        "payload, any case"
    );
    assert_eq!(
        list(None, Some("bad number"), dead_state).await,
        vec![dead[2].clone()],
        "error, any case"
    );
    assert_eq!(
        list(Some("sms.send"), Some("503"), dead_state).await,
        vec![dead[0].clone()]
    );
    assert!(list(None, Some("nowhere"), dead_state).await.is_empty());
    assert!(
        list(Some("sms"), None, dead_state).await.is_empty(),
        "names match exactly"
    );
    assert_eq!(
        list(Some(""), Some(""), dead_state).await.len(),
        3,
        "empty filters are none"
    );
    assert_eq!(
        list(None, Some("NEEDLE"), ListState::Queued).await,
        vec![waiting]
    );
    assert!(
        list(Some("sms.send"), None, ListState::Queued)
            .await
            .is_empty()
    );
}

pub async fn a_search_looks_at_the_newest_ten_thousand_dead_jobs_only<E: Engine>() {
    let e = E::fresh().await;
    let cfg = config();
    let clock = cfg.clock.clone();
    let b = e.open(cfg).await;
    let kill_all = || async {
        loop {
            let got = b.lease(&queues(&[Q]), 500, WORKER).await.unwrap();
            if got.is_empty() {
                break;
            }
            for l in got {
                b.dead(&l.lease_ref(), "boom").await.unwrap();
            }
        }
    };
    let old = b.enqueue(job("needle-old")).await.unwrap().id;
    kill_all().await;
    clock.advance(Duration::from_secs(1));
    let filler = SEARCH_LIMIT - 1;
    for chunk in (0..filler).collect::<Vec<_>>().chunks(2000) {
        b.enqueue_many(chunk.iter().map(|i| job(&i.to_string())).collect())
            .await
            .unwrap();
    }
    kill_all().await;
    clock.advance(Duration::from_secs(1));
    let new = b.enqueue(job("needle-new")).await.unwrap().id;
    kill_all().await;
    assert_eq!(stats_of(&b, Q).await.dead, SEARCH_LIMIT as u64 + 1);

    let mut f = filter(ListState::Dead);
    f.text = Some("needle".to_owned());
    let page = b.list_jobs(&f).await.unwrap();
    assert_eq!(
        (ids_of(&page), page.more),
        (vec![new.clone()], false),
        "the oldest dead job is past the search bound"
    );
    let mut deep = filter(ListState::Dead);
    deep.limit = 10;
    deep.offset = SEARCH_LIMIT - 10;
    let page = b.list_jobs(&deep).await.unwrap();
    assert_eq!((page.jobs.len(), page.more), (10, true));
    deep.offset += 1;
    assert!(matches!(
        b.list_jobs(&deep).await,
        Err(BrokerError::Invalid(_))
    ));

    let mut every = filter(ListState::Dead);
    every.name = Some("test.job".to_owned());
    assert_eq!(
        b.bulk_dead_matching(DeadAction::Retry, &every)
            .await
            .unwrap(),
        SEARCH_LIMIT as u64,
        "a bulk action on a filter stops at the bound"
    );
    let s = stats_of(&b, Q).await;
    assert_eq!((s.dead, s.queued), (1, SEARCH_LIMIT as u64));
    assert_eq!(
        state(&b, &old).await,
        Some(JobState::Dead),
        "the oldest is left"
    );
    assert_eq!(state(&b, &new).await, Some(JobState::Queued));
}

pub async fn run_now_makes_a_scheduled_or_retrying_job_due_at_once<E: Engine>() {
    let e = E::fresh().await;
    let cfg = config();
    let clock = cfg.clock.clone();
    let b = e.open(cfg).await;
    let hour = clock.now_ms() + 3_600_000;
    let retrying = b
        .enqueue(job("retrying").with_policy(policy(3)))
        .await
        .unwrap()
        .id;
    let l = lease_one(&b).await;
    b.retry(&l.lease_ref(), hour, "503").await.unwrap();
    let scheduled = b.enqueue(job("scheduled").at(hour)).await.unwrap().id;
    let queued = b.enqueue(job("queued")).await.unwrap().id;
    let dead = b.enqueue(NewJob::new("t", OTHER, "dead")).await.unwrap().id;
    let l = b
        .lease(&queues(&[OTHER]), 1, WORKER)
        .await
        .unwrap()
        .remove(0);
    b.dead(&l.lease_ref(), "x").await.unwrap();

    assert!(b.run_now(&scheduled).await.unwrap());
    assert!(b.run_now(&retrying).await.unwrap());
    assert!(
        !b.run_now(&scheduled).await.unwrap(),
        "queued now: nothing to do"
    );
    assert!(!b.run_now(&queued).await.unwrap());
    assert!(
        !b.run_now(&dead).await.unwrap(),
        "a dead job is retried, not run now"
    );
    assert!(!b.run_now(&JobId::parse("nope").unwrap()).await.unwrap());
    let info = b.job(&scheduled).await.unwrap().unwrap();
    assert_eq!(info.state, JobState::Queued);
    assert!(info.run_at_ms <= clock.now_ms(), "due now, not in an hour");
    // Without any maintenance round: they join the tail of the queue.
    let got: Vec<(JobId, u32)> = b
        .lease(&queues(&[Q]), 10, WORKER)
        .await
        .unwrap()
        .into_iter()
        .map(|l| (l.id, l.attempt))
        .collect();
    assert_eq!(got, vec![(queued, 1), (scheduled, 1), (retrying, 2)]);
}

pub async fn bulk_actions_retry_or_discard_the_dead_jobs_among_the_ids<E: Engine>() {
    let e = E::fresh().await;
    let b = e.open(config()).await;
    let mut dead = Vec::new();
    for (q, p) in [(Q, "1"), (OTHER, "2"), (Q, "3")] {
        b.enqueue(NewJob::new("t", q, p).with_policy(policy(1)))
            .await
            .unwrap();
        let l = b.lease(&queues(&[q]), 1, WORKER).await.unwrap().remove(0);
        b.dead(&l.lease_ref(), "boom").await.unwrap();
        dead.push(l.id);
    }
    let waiting = b.enqueue(job("waiting")).await.unwrap().id;
    let unknown = JobId::parse("nope").unwrap();
    assert_eq!(
        b.bulk_dead(
            DeadAction::Retry,
            &[
                dead[0].clone(),
                dead[1].clone(),
                waiting.clone(),
                unknown.clone()
            ]
        )
        .await
        .unwrap(),
        2,
        "only dead jobs are retried"
    );
    for id in &dead[..2] {
        let info = b.job(id).await.unwrap().unwrap();
        assert_eq!((info.state, info.attempts), (JobState::Queued, 0), "{id}");
    }
    assert_eq!(
        b.bulk_dead(
            DeadAction::Discard,
            &[dead[2].clone(), dead[0].clone(), waiting.clone()]
        )
        .await
        .unwrap(),
        1
    );
    assert_eq!(b.job(&dead[2]).await.unwrap(), None);
    assert_eq!(state(&b, &dead[0]).await, Some(JobState::Queued));
    assert_eq!(state(&b, &waiting).await, Some(JobState::Queued));
    assert!(matches!(
        b.bulk_dead_matching(DeadAction::Retry, &filter(ListState::Queued))
            .await,
        Err(BrokerError::Invalid(_))
    ));
    // Retried jobs run, each once.
    let got = b.lease(&queues(&[Q, OTHER]), 10, WORKER).await.unwrap();
    let ids: HashSet<JobId> = got.iter().map(|l| l.id.clone()).collect();
    assert_eq!(
        ids,
        HashSet::from([dead[0].clone(), dead[1].clone(), waiting])
    );
}

pub async fn discarding_every_dead_job_a_filter_matches_leaves_the_others<E: Engine>() {
    let e = E::fresh().await;
    let b = e.open(config()).await;
    for (name, q) in [("sms.send", Q), ("sms.send", OTHER), ("email.send", Q)] {
        b.enqueue(NewJob::new(name, q, "{}")).await.unwrap();
        let l = b.lease(&queues(&[q]), 1, WORKER).await.unwrap().remove(0);
        b.dead(&l.lease_ref(), "boom").await.unwrap();
    }
    let mut f = filter(ListState::Dead);
    f.name = Some("sms.send".to_owned());
    assert_eq!(
        b.bulk_dead_matching(DeadAction::Discard, &f).await.unwrap(),
        2
    );
    let left = b.list_jobs(&filter(ListState::Dead)).await.unwrap();
    assert_eq!(
        left.jobs
            .iter()
            .map(|j| j.name.as_str())
            .collect::<Vec<_>>(),
        ["email.send"]
    );
}

pub async fn throughput_counts_the_last_minute_and_hour_and_survives_a_restart<E: Engine>() {
    let e = E::fresh().await;
    let cfg = config();
    let clock = cfg.clock.clone();
    let b = e.open(cfg.clone()).await;
    for i in 0..5 {
        b.enqueue(job(&i.to_string()).with_policy(policy(3)))
            .await
            .unwrap();
    }
    let l = lease_one(&b).await;
    let (_, next) = b
        .ack_and_lease(&l.lease_ref(), None, 1, WORKER)
        .await
        .unwrap();
    b.ack(&next[0].lease_ref(), Some("{}")).await.unwrap();
    let l = lease_one(&b).await;
    b.retry(&l.lease_ref(), clock.now_ms() + 3_600_000, "503")
        .await
        .unwrap();
    let l = lease_one(&b).await;
    b.dead(&l.lease_ref(), "bad").await.unwrap();
    let l = lease_one(&b).await;
    b.release(&l.lease_ref()).await.unwrap();
    let stale = b.ack(&l.lease_ref(), None).await.unwrap();
    assert_eq!(stale, Settled::Stale, "a stale ack counts nothing");
    let fresh = Throughput {
        succeeded_1m: 2,
        failed_1m: 2,
        succeeded_1h: 2,
        failed_1h: 2,
    };
    assert_eq!(stats_of(&b, Q).await.throughput, fresh);
    assert_eq!(stats_of(&b, OTHER).await.throughput, Throughput::default());
    drop(b);
    let b = e.open(cfg).await;
    assert_eq!(
        stats_of(&b, Q).await.throughput,
        fresh,
        "kept by the broker"
    );
    // The series: the same counts, minute by minute, the last minute last.
    let series = b.throughput_series(&queues(&[Q, OTHER])).await.unwrap();
    assert_eq!(series.len(), SERIES_STEPS);
    let last = series[SERIES_STEPS - 1];
    assert_eq!((last.succeeded, last.failed), (2, 2));
    assert!(last.end_ms > clock.now_ms() && last.end_ms - 60_000 <= clock.now_ms());
    let every = b.throughput_series(&[]).await.unwrap();
    assert_eq!(every, series, "every known queue when none is named");
    clock.advance(Duration::from_secs(61));
    b.maintain(&queues(&[Q])).await.unwrap();
    let series = b.throughput_series(&queues(&[Q])).await.unwrap();
    let at = |i: usize| (series[i].succeeded, series[i].failed);
    assert_eq!(
        (at(SERIES_STEPS - 1), at(SERIES_STEPS - 2)),
        ((0, 0), (2, 2)),
        "a minute on, the counts moved one step back"
    );
    let t = stats_of(&b, Q).await.throughput;
    assert_eq!(
        (t.succeeded_1m, t.failed_1m, t.succeeded_1h, t.failed_1h),
        (0, 0, 2, 2)
    );
    clock.advance(Duration::from_secs(3600));
    b.maintain(&queues(&[Q])).await.unwrap();
    assert_eq!(stats_of(&b, Q).await.throughput, Throughput::default());
    let series = b.throughput_series(&queues(&[Q])).await.unwrap();
    assert!(
        series.iter().all(|p| p.succeeded == 0 && p.failed == 0),
        "an hour on, nothing is left"
    );
}
