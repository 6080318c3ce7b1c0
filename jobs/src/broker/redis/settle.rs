//! Settling attempts (`take.lua` + `settle.lua`): ack, retry, dead,
//! release, snooze and cancelled, each fenced by the attempt's token. A
//! batch is one script call per queue; the refill leases the next jobs in
//! the call of its own queue.

use std::collections::HashMap;

use redis::Value;

use super::decode::{as_int, parse_leased};
use super::{RedisBroker, map_err};
use crate::broker::{BrokerResult, Leased, Outcome, Refill, Settled, SettledMany, Settlement};

impl RedisBroker {
    pub(super) async fn settle_many_impl(
        &self,
        batch: &[Settlement],
        refill: Option<Refill<'_>>,
    ) -> BrokerResult<SettledMany> {
        // The batch's queues in order of first appearance, each with the
        // positions of its settlements: one script call each.
        let mut order: Vec<&str> = Vec::new();
        let mut by_queue: HashMap<&str, Vec<usize>> = HashMap::new();
        for (i, s) in batch.iter().enumerate() {
            let q = s.lease.queue.as_str();
            by_queue
                .entry(q)
                .or_insert_with(|| {
                    order.push(q);
                    Vec::new()
                })
                .push(i);
        }
        let refill = refill.filter(|r| r.max > 0);
        let mut settled = vec![Settled::Stale; batch.len()];
        let mut leased = Vec::new();
        let mut refilled = false;
        for queue in order {
            let idx = &by_queue[queue];
            let take = refill.filter(|r| r.queue == queue);
            let (verdicts, got) = self.settle_queue(queue, batch, idx, take).await?;
            for (&i, v) in idx.iter().zip(verdicts) {
                settled[i] = v;
            }
            refilled |= take.is_some();
            leased.extend(got);
        }
        // A refill of a queue the batch did not touch: its own lease call,
        // still no more jobs than the batch settled.
        if let Some(r) = refill.filter(|_| !refilled) {
            let n = r
                .max
                .min(settled.iter().filter(|s| **s == Settled::Done).count());
            if n > 0 {
                leased = self.lease_impl(&[r.queue.to_owned()], n, r.worker).await?;
            }
        }
        Ok(SettledMany { settled, leased })
    }

    /// One `settle.lua` call: the settlements of `queue` at positions `idx`
    /// of `batch`, then the refill when it is for this queue.
    async fn settle_queue(
        &self,
        queue: &str,
        batch: &[Settlement],
        idx: &[usize],
        refill: Option<Refill<'_>>,
    ) -> BrokerResult<(Vec<Settled>, Vec<Leased>)> {
        let k = self.keys(queue);
        let now = self.now();
        let keep = Self::keep_ms(self.inner.config.retention.succeeded);
        let token_prefix = self.token_prefix();
        let mut inv = self.inner.scripts.settle.prepare_invoke();
        inv.key(&k.run)
            .key(&k.sched)
            .key(&k.dead)
            .key(&k.ready)
            .key(&k.stats)
            .key(&k.paused)
            .key(&k.tp)
            .arg(&k.job_prefix)
            .arg(now)
            .arg(&k.wake)
            .arg(refill.map_or(0, |r| r.max))
            .arg(self.lease_ms())
            .arg(refill.map_or("", |r| r.worker))
            .arg(&token_prefix)
            .arg(now.div_euclid(crate::broker::browse::BUCKET_MS));
        for &i in idx {
            let s = &batch[i];
            let (outcome, text, at) = match &s.outcome {
                Outcome::Ack { result } => ("ack", result.as_deref().unwrap_or(""), keep),
                Outcome::Retry { run_at_ms, error } => ("retry", error.as_str(), *run_at_ms),
                Outcome::Dead { error } => ("dead", error.as_str(), 0),
                Outcome::Release => ("release", "", 0),
                Outcome::Snooze { run_at_ms } => ("snooze", "", *run_at_ms),
                Outcome::Cancelled => ("cancelled", "", keep),
            };
            inv.arg(s.lease.id.as_str())
                .arg(&s.lease.token)
                .arg(outcome)
                .arg(text)
                .arg(at);
        }
        let vals: Vec<Value> = inv.invoke_async(&mut self.conn()).await.map_err(map_err)?;
        let verdicts = vals
            .iter()
            .take(idx.len())
            .map(|v| {
                if as_int(v) == 1 {
                    Settled::Done
                } else {
                    Settled::Stale
                }
            })
            .collect();
        let leased = vals
            .get(idx.len()..)
            .map(|rest| parse_leased(rest, queue, &token_prefix))
            .unwrap_or_default();
        Ok((verdicts, leased))
    }
}
