//! Group-committed settlement: the finished attempts of several slots, and
//! their next jobs, in one broker call.
//!
//! Each attempt's end goes to one settler task through a channel. The task
//! keeps one settle call on the wire at a time: attempts that finish while
//! it is in flight wait in the channel and all go together in the next
//! call, so under load a call carries the ends of many slots, and when
//! idle a lone attempt is settled at once, with no timer in the way. Each
//! attempt keeps its own fence, result and error, and its own verdict.
//!
//! A busy worker of one queue asks for the freed slots' next jobs in the
//! same call (the refill): never more jobs than slots the call frees, and
//! the leased jobs are counted as buffered before those slots are released,
//! so the fetcher never sees a slot free twice.
//!
//! While the broker is unavailable the batch is retried with backoff, and
//! attempts that end meanwhile join it; an attempt that cannot be settled
//! within a minute is given up on: its lease runs out and the job runs
//! again elsewhere (at least once), which is the safe way to fail. A batch
//! the broker rejects for another reason is settled one attempt at a time,
//! so one bad settlement cannot fail the others.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

use super::Shared;
use crate::broker::{BrokerError, Refill, Settled, Settlement};

/// How long an attempt's settlement is retried while the broker is down.
const GIVE_UP_AFTER: Duration = Duration::from_secs(60);

/// One attempt waiting to be settled.
pub(super) struct Pending {
    pub(super) settlement: Settlement,
    /// The slot takes its next job in the same call.
    pub(super) refill: bool,
    pub(super) reply: oneshot::Sender<Result<Settled, BrokerError>>,
}

/// A waiter of the batch being settled.
struct Waiter {
    refill: bool,
    deadline: Instant,
    reply: oneshot::Sender<Result<Settled, BrokerError>>,
}

/// Settles what arrives on `rx` until every sender is gone.
pub(super) async fn settler(shared: Arc<Shared>, mut rx: mpsc::UnboundedReceiver<Pending>) {
    let mut batch: Vec<Settlement> = Vec::new();
    let mut waiters: Vec<Waiter> = Vec::new();
    let mut backoff = Duration::from_millis(50);
    loop {
        if batch.is_empty() {
            match rx.recv().await {
                Some(p) => add(&mut batch, &mut waiters, p),
                None => return,
            }
        }
        while let Ok(p) = rx.try_recv() {
            add(&mut batch, &mut waiters, p);
        }
        let wanted = waiters.iter().filter(|w| w.refill).count();
        let refill = match shared.queues.first() {
            Some(queue) if wanted > 0 => Some(Refill {
                queue,
                max: wanted,
                worker: &shared.worker_id,
            }),
            _ => None,
        };
        match shared.broker.settle_many(&batch, refill).await {
            Ok(done) => {
                shared.outage.ok();
                backoff = Duration::from_millis(50);
                shared.hand_to_runtime(done.leased).await;
                for (w, v) in waiters.drain(..).zip(done.settled) {
                    let _ = w.reply.send(Ok(v));
                }
                batch.clear();
            }
            Err(e) if e.is_transient() => {
                shared.outage.failed("settle", &e);
                let now = Instant::now();
                let mut i = 0;
                while i < waiters.len() {
                    if waiters[i].deadline <= now {
                        batch.remove(i);
                        let w = waiters.remove(i);
                        let _ = w.reply.send(Err(e.clone()));
                    } else {
                        i += 1;
                    }
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(2));
            }
            Err(e) if batch.len() > 1 => {
                tracing::warn!(error = %e, attempts = batch.len(), "a batch settle failed; settling its attempts one by one");
                for (s, w) in batch.drain(..).zip(waiters.drain(..)) {
                    let verdict = shared.broker.settle_many(&[s], None).await;
                    let _ = w.reply.send(
                        verdict.map(|d| d.settled.first().copied().unwrap_or(Settled::Stale)),
                    );
                }
            }
            Err(e) => {
                batch.clear();
                for w in waiters.drain(..) {
                    let _ = w.reply.send(Err(e.clone()));
                }
            }
        }
    }
}

fn add(batch: &mut Vec<Settlement>, waiters: &mut Vec<Waiter>, p: Pending) {
    batch.push(p.settlement);
    waiters.push(Waiter {
        refill: p.refill,
        deadline: Instant::now() + GIVE_UP_AFTER,
        reply: p.reply,
    });
}
