//! Settling an attempt (`take.lua` + `settle.lua`): ack, retry, dead,
//! release, snooze and cancelled, each fenced by the attempt's token; and
//! ack_and_lease, whose ack leases the next jobs in the same script call.

use redis::Value;

use super::decode::{as_int, parse_leased};
use super::{RedisBroker, map_err};
use crate::broker::{BrokerResult, LeaseRef, Leased, Settled};

impl RedisBroker {
    pub(super) async fn ack_impl(
        &self,
        lease: &LeaseRef,
        result: Option<&str>,
    ) -> BrokerResult<Settled> {
        let expiry = Self::keep_ms(self.inner.config.retention.succeeded);
        self.settle(lease, "ack", result.unwrap_or(""), expiry)
            .await
    }

    pub(super) async fn ack_and_lease_impl(
        &self,
        lease: &LeaseRef,
        result: Option<&str>,
        next: usize,
        worker: &str,
    ) -> BrokerResult<(Settled, Vec<Leased>)> {
        let keep = Self::keep_ms(self.inner.config.retention.succeeded);
        self.settle_then_lease(lease, "ack", result.unwrap_or(""), keep, next, worker)
            .await
    }

    pub(super) async fn retry_impl(
        &self,
        lease: &LeaseRef,
        run_at_ms: i64,
        error: &str,
    ) -> BrokerResult<Settled> {
        self.settle(lease, "retry", error, run_at_ms).await
    }

    pub(super) async fn dead_impl(&self, lease: &LeaseRef, error: &str) -> BrokerResult<Settled> {
        self.settle(lease, "dead", error, 0).await
    }

    pub(super) async fn release_impl(&self, lease: &LeaseRef) -> BrokerResult<Settled> {
        self.settle(lease, "release", "", 0).await
    }

    pub(super) async fn snooze_impl(
        &self,
        lease: &LeaseRef,
        run_at_ms: i64,
    ) -> BrokerResult<Settled> {
        self.settle(lease, "snooze", "", run_at_ms).await
    }

    pub(super) async fn cancelled_impl(&self, lease: &LeaseRef) -> BrokerResult<Settled> {
        let expiry = Self::keep_ms(self.inner.config.retention.succeeded);
        self.settle(lease, "cancelled", "", expiry).await
    }

    async fn settle(
        &self,
        lease: &LeaseRef,
        outcome: &str,
        text: &str,
        at: i64,
    ) -> BrokerResult<Settled> {
        Ok(self
            .settle_then_lease(lease, outcome, text, at, 0, "")
            .await?
            .0)
    }

    /// Settles one attempt and, after an ack, leases up to `next` jobs of
    /// the same queue in the same script call.
    async fn settle_then_lease(
        &self,
        lease: &LeaseRef,
        outcome: &str,
        text: &str,
        at: i64,
        next: usize,
        worker: &str,
    ) -> BrokerResult<(Settled, Vec<Leased>)> {
        let k = self.keys(&lease.queue);
        let now = self.now();
        let token_prefix = self.token_prefix();
        let vals: Vec<Value> = self
            .inner
            .scripts
            .settle
            .key(&k.run)
            .key(&k.sched)
            .key(&k.dead)
            .key(&k.ready)
            .key(&k.stats)
            .key(&k.paused)
            .key(&k.tp)
            .arg(&k.job_prefix)
            .arg(lease.id.as_str())
            .arg(&lease.token)
            .arg(now)
            .arg(outcome)
            .arg(text)
            .arg(at)
            .arg(&k.wake)
            .arg(next)
            .arg(self.lease_ms())
            .arg(worker)
            .arg(&token_prefix)
            .arg(now.div_euclid(crate::broker::browse::BUCKET_MS))
            .invoke_async(&mut self.conn())
            .await
            .map_err(map_err)?;
        let settled = if vals.first().map(as_int) == Some(1) {
            Settled::Done
        } else {
            Settled::Stale
        };
        let leased = vals
            .get(1..)
            .map(|rest| parse_leased(rest, &lease.queue, &token_prefix))
            .unwrap_or_default();
        Ok((settled, leased))
    }
}
