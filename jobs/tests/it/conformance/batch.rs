//! Group-committed settlement: a batch of attempts settled in one call,
//! each fenced by its own token, and the refill that leases the freed
//! slots' next jobs in the same call.

use std::time::Duration;

use paqueteria_jobs::broker::{JobState, Outcome, Refill, Settled, Settlement};

use super::{Engine, Q, WORKER, config, job, lease_one, policy, queues, state};

fn ack(l: &paqueteria_jobs::broker::Leased, result: Option<&str>) -> Settlement {
    Settlement::new(
        l.lease_ref(),
        Outcome::Ack {
            result: result.map(str::to_owned),
        },
    )
}

pub async fn a_batch_with_one_stale_token_settles_the_others_and_rejects_only_that_one<
    E: Engine,
>() {
    let e = E::fresh().await;
    let cfg = config();
    let clock = cfg.clock.clone();
    let b = e.open(cfg).await;
    // `x`'s first attempt is reclaimed and leased again: its first token
    // is stale.
    let x = b.enqueue(job("x").with_policy(policy(5))).await.unwrap().id;
    let x1 = lease_one(&b).await;
    clock.advance(Duration::from_secs(11));
    assert_eq!(b.maintain(&queues(&[Q])).await.unwrap().requeued, 1);
    let x2 = lease_one(&b).await;
    assert_eq!(x2.id, x);
    let ids: Vec<_> = ["a", "r", "d", "n1", "n2", "n3", "n4"]
        .iter()
        .map(|p| id_of(p))
        .collect();
    for (p, id) in ["a", "r", "d", "n1", "n2", "n3", "n4"].iter().zip(&ids) {
        b.enqueue(job(p).with_id(id.clone()).with_policy(policy(5)))
            .await
            .unwrap();
    }
    let leased = b.lease(&queues(&[Q]), 3, WORKER).await.unwrap();
    assert_eq!(leased.len(), 3);
    let (a, r, d) = (&leased[0], &leased[1], &leased[2]);
    assert_eq!(
        [&a.id, &r.id, &d.id],
        [&ids[0], &ids[1], &ids[2]],
        "leased in order"
    );
    let before = b.stats(&queues(&[Q])).await.unwrap()[0].stale_acks;

    let batch = [
        ack(&x1, Some(r#"{"late":true}"#)),
        ack(a, Some(r#"{"n":1}"#)),
        Settlement::new(
            r.lease_ref(),
            Outcome::Retry {
                run_at_ms: clock.now_ms() + 60_000,
                error: "gateway timeout".to_owned(),
            },
        ),
        Settlement::new(
            d.lease_ref(),
            Outcome::Dead {
                error: "bad payload".to_owned(),
            },
        ),
    ];
    let refill = Refill {
        queue: Q,
        max: 4,
        worker: WORKER,
    };
    let done = b.settle_many(&batch, Some(refill)).await.unwrap();
    assert_eq!(
        done.settled,
        vec![Settled::Stale, Settled::Done, Settled::Done, Settled::Done],
        "one verdict per attempt, in order"
    );
    // The stale attempt changed nothing: `x` still runs under its second
    // token, which still settles it.
    let xi = b.job(&x).await.unwrap().unwrap();
    assert_eq!((xi.state, xi.result), (JobState::Running, None));
    let ai = b.job(&ids[0]).await.unwrap().unwrap();
    assert_eq!(
        (ai.state, ai.result.as_deref()),
        (JobState::Succeeded, Some(r#"{"n":1}"#))
    );
    let ri = b.job(&ids[1]).await.unwrap().unwrap();
    assert_eq!(
        (ri.state, ri.last_error.as_deref()),
        (JobState::Retrying, Some("gateway timeout"))
    );
    let di = b.job(&ids[2]).await.unwrap().unwrap();
    assert_eq!(
        (di.state, di.last_error.as_deref()),
        (JobState::Dead, Some("bad payload"))
    );
    assert_eq!(
        b.stats(&queues(&[Q])).await.unwrap()[0].stale_acks,
        before + 1,
        "the stale attempt is counted"
    );
    // The refill takes no more jobs than the batch settled (3 of 4), the
    // oldest first, each a fresh attempt.
    assert_eq!(
        done.leased
            .iter()
            .map(|l| (l.id.clone(), l.attempt))
            .collect::<Vec<_>>(),
        vec![
            (ids[3].clone(), 1),
            (ids[4].clone(), 1),
            (ids[5].clone(), 1)
        ]
    );
    assert_eq!(state(&b, &ids[6]).await, Some(JobState::Queued));
    assert_eq!(b.ack(&x2.lease_ref(), None).await.unwrap(), Settled::Done);
}

pub async fn a_batch_split_across_queues_settles_each_queue_and_refills_one<E: Engine>() {
    let e = E::fresh().await;
    let b = e.open(config()).await;
    let on = |q: &str, p: &str| paqueteria_jobs::broker::NewJob::new("test.job", q, p);
    let a1 = b.enqueue(on("qa", "a1")).await.unwrap().id;
    let a2 = b.enqueue(on("qa", "a2")).await.unwrap().id;
    let b1 = b.enqueue(on("qb", "b1")).await.unwrap().id;
    let b2 = b.enqueue(on("qb", "b2")).await.unwrap().id;
    let la = b.lease(&queues(&["qa"]), 1, WORKER).await.unwrap();
    let lb = b.lease(&queues(&["qb"]), 1, WORKER).await.unwrap();
    assert_eq!(
        (la[0].id.clone(), lb[0].id.clone()),
        (a1.clone(), b1.clone())
    );

    // Both queues in one batch; the refill is for qb: at most 2, qb has 1.
    let batch = [
        ack(&la[0], None),
        Settlement::new(
            lb[0].lease_ref(),
            Outcome::Snooze {
                run_at_ms: b.clock().now_ms() + 60_000,
            },
        ),
    ];
    let refill = Refill {
        queue: "qb",
        max: 2,
        worker: WORKER,
    };
    let done = b.settle_many(&batch, Some(refill)).await.unwrap();
    assert_eq!(done.settled, vec![Settled::Done, Settled::Done]);
    assert_eq!(state(&b, &a1).await, Some(JobState::Succeeded));
    let snoozed = b.job(&b1).await.unwrap().unwrap();
    assert_eq!(
        (snoozed.state, snoozed.attempts),
        (JobState::Scheduled, 0),
        "a snooze does not count"
    );
    assert_eq!(
        done.leased.iter().map(|l| &l.id).collect::<Vec<_>>(),
        vec![&b2],
        "the refill leases from its own queue only"
    );
    assert_eq!(state(&b, &a2).await, Some(JobState::Queued));

    // A refill for a queue the batch does not touch still takes one job
    // per settled attempt.
    let done = b
        .settle_many(
            &[ack(&done.leased[0], None)],
            Some(Refill {
                queue: "qa",
                max: 3,
                worker: WORKER,
            }),
        )
        .await
        .unwrap();
    assert_eq!(done.settled, vec![Settled::Done]);
    assert_eq!(
        done.leased.iter().map(|l| &l.id).collect::<Vec<_>>(),
        vec![&a2]
    );
    // A batch of stale tokens takes nothing.
    let done = b
        .settle_many(
            &[ack(&la[0], None)],
            Some(Refill {
                queue: "qa",
                max: 1,
                worker: WORKER,
            }),
        )
        .await
        .unwrap();
    assert_eq!((done.settled, done.leased.len()), (vec![Settled::Stale], 0));
}

/// An id the test picks, so it can name each job.
fn id_of(tag: &str) -> paqueteria_jobs::broker::JobId {
    paqueteria_jobs::broker::JobId::parse(format!("test.job:{tag}")).unwrap()
}
