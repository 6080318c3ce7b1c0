//! Group-committed settlement: the finished attempts of several slots, and
//! their next jobs, in one broker call.
//!
//! Each attempt's end goes to one settler task through a channel. The task
//! keeps at most [`Broker::settle_calls_in_flight`] settle calls on the
//! wire (two on Redis, one on SQLite). An attempt that ends while a call
//! may still start goes at once, with every other attempt waiting, so when
//! idle a lone attempt is settled with no timer in the way; attempts that
//! end while every call is busy wait in the channel and all go together in
//! the next call, so under load a call carries the ends of many slots. With
//! two calls, the slots that one call refills run while the other call is
//! on its round trip, and a slot never waits for a round trip that is not
//! its own. Each attempt keeps its own fence, result and error, and its own
//! verdict.
//!
//! A busy worker of one queue asks for the freed slots' next jobs in the
//! same call (the refill): never more jobs than slots the call frees, and
//! the leased jobs are counted as held before those slots are released,
//! so the fetcher never sees a slot free twice.
//!
//! While the broker is unavailable a failed call's attempts wait with
//! backoff and go again with whatever ended meanwhile; an attempt that
//! cannot be settled within a minute is given up on: its lease runs out and
//! the job runs again elsewhere (at least once), which is the safe way to
//! fail. A batch the broker rejects for another reason is settled one
//! attempt at a time, so one bad settlement cannot fail the others.
//!
//! [`Broker::settle_calls_in_flight`]: crate::Broker::settle_calls_in_flight

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;
use tokio::sync::{mpsc, oneshot};

use super::Shared;
use crate::broker::{BrokerError, Refill, Settled, SettledMany, Settlement};

/// How long an attempt's settlement is retried while the broker is down.
const GIVE_UP_AFTER: Duration = Duration::from_secs(60);

/// One attempt waiting to be settled.
pub(super) struct Pending {
    pub(super) settlement: Settlement,
    /// The slot takes its next job in the same call.
    pub(super) refill: bool,
    pub(super) reply: oneshot::Sender<Result<Settled, BrokerError>>,
}

/// A waiter of a batch being settled.
struct Waiter {
    refill: bool,
    deadline: Instant,
    reply: oneshot::Sender<Result<Settled, BrokerError>>,
}

/// Attempts waiting for a call, or carried by one: settlements and their
/// waiters, in the same order.
#[derive(Default)]
struct Batch {
    settlements: Vec<Settlement>,
    waiters: Vec<Waiter>,
}

impl Batch {
    fn add(&mut self, p: Pending) {
        self.settlements.push(p.settlement);
        self.waiters.push(Waiter {
            refill: p.refill,
            deadline: Instant::now() + GIVE_UP_AFTER,
            reply: p.reply,
        });
    }

    fn is_empty(&self) -> bool {
        self.settlements.is_empty()
    }

    /// Puts `earlier` (a failed call's attempts) ahead of what waits now.
    fn put_back(&mut self, mut earlier: Batch) {
        earlier.settlements.append(&mut self.settlements);
        earlier.waiters.append(&mut self.waiters);
        *self = earlier;
    }
}

/// A settle call that came back: its attempts and what the broker said.
struct Call {
    batch: Batch,
    result: Result<SettledMany, BrokerError>,
}

/// Sends one settle call for `batch`, with the refill of its slots.
async fn call(shared: Arc<Shared>, batch: Batch) -> Call {
    let wanted = batch.waiters.iter().filter(|w| w.refill).count();
    let refill = match shared.queues.first() {
        Some(queue) if wanted > 0 => Some(Refill {
            queue,
            max: wanted,
            worker: &shared.worker_id,
        }),
        _ => None,
    };
    let result = shared.broker.settle_many(&batch.settlements, refill).await;
    Call { batch, result }
}

/// Settles what arrives on `rx` until every sender is gone and every call
/// has come back.
pub(super) async fn settler(shared: Arc<Shared>, mut rx: mpsc::UnboundedReceiver<Pending>) {
    let most = shared.broker.settle_calls_in_flight().max(1);
    let mut waiting = Batch::default();
    let mut calls: FuturesUnordered<BoxFuture<'static, Call>> = FuturesUnordered::new();
    let mut open = true;
    let mut backoff = Duration::from_millis(50);
    // Set while the broker is failing: no call starts before it.
    let mut retry_at: Option<tokio::time::Instant> = None;
    loop {
        while let Ok(p) = rx.try_recv() {
            waiting.add(p);
        }
        let may_call = retry_at.is_none_or(|at| tokio::time::Instant::now() >= at);
        if !waiting.is_empty() && calls.len() < most && may_call {
            retry_at = None;
            calls.push(Box::pin(call(shared.clone(), std::mem::take(&mut waiting))));
            continue;
        }
        if !open && waiting.is_empty() && calls.is_empty() {
            return;
        }
        tokio::select! {
            p = rx.recv(), if open => match p {
                Some(p) => waiting.add(p),
                None => open = false,
            },
            Some(done) = calls.next(), if !calls.is_empty() => {
                match done.result {
                    Ok(settled) => {
                        shared.outage.ok();
                        backoff = Duration::from_millis(50);
                        shared.hand_to_runtime(settled.leased).await;
                        for (w, v) in done.batch.waiters.into_iter().zip(settled.settled) {
                            let _ = w.reply.send(Ok(v));
                        }
                    }
                    Err(e) if e.is_transient() => {
                        shared.outage.failed("settle", &e);
                        waiting.put_back(give_up_overdue(done.batch, &e));
                        retry_at = Some(tokio::time::Instant::now() + backoff);
                        backoff = (backoff * 2).min(Duration::from_secs(2));
                    }
                    Err(e) => one_by_one(&shared, done.batch, &e).await,
                }
            }
            () = sleep_until(retry_at), if retry_at.is_some() && !waiting.is_empty() && calls.len() < most => {}
        }
    }
}

async fn sleep_until(at: Option<tokio::time::Instant>) {
    if let Some(at) = at {
        tokio::time::sleep_until(at).await;
    }
}

/// Answers `e` to the attempts of `batch` past their deadline; returns the
/// others.
fn give_up_overdue(batch: Batch, e: &BrokerError) -> Batch {
    let now = Instant::now();
    let mut kept = Batch::default();
    for (s, w) in batch.settlements.into_iter().zip(batch.waiters) {
        if w.deadline <= now {
            let _ = w.reply.send(Err(e.clone()));
        } else {
            kept.settlements.push(s);
            kept.waiters.push(w);
        }
    }
    kept
}

/// A batch the broker rejected for a reason other than an outage: each
/// attempt on its own (without a refill), so one bad settlement cannot
/// fail the others.
async fn one_by_one(shared: &Shared, batch: Batch, e: &BrokerError) {
    if batch.settlements.len() == 1 {
        for w in batch.waiters {
            let _ = w.reply.send(Err(e.clone()));
        }
        return;
    }
    tracing::warn!(error = %e, attempts = batch.settlements.len(), "a batch settle failed; settling its attempts one by one");
    for (s, w) in batch.settlements.into_iter().zip(batch.waiters) {
        let verdict = shared.broker.settle_many(&[s], None).await;
        let _ = w
            .reply
            .send(verdict.map(|d| d.settled.first().copied().unwrap_or(Settled::Stale)));
    }
}
