//! Leasing (`take.lua` + `lease.lua`), waiting for work, and heartbeats
//! (`heartbeat.lua`). Leasing right after a batch of settlements, in the
//! same script call, is the refill in `settle.rs`.

use std::collections::HashMap;
use std::time::Duration;

use redis::Value;

use super::decode::parse_leased;
use super::{RedisBroker, map_err};
use crate::broker::{Beat, BrokerResult, LeaseRef, Leased};

impl RedisBroker {
    pub(super) async fn lease_impl(
        &self,
        queues: &[String],
        max: usize,
        worker: &str,
    ) -> BrokerResult<Vec<Leased>> {
        let mut out = Vec::new();
        for queue in queues {
            if out.len() >= max {
                break;
            }
            let k = self.keys(queue);
            let token_prefix = self.token_prefix();
            let vals: Vec<Value> = self
                .inner
                .scripts
                .lease
                .key(&k.ready)
                .key(&k.run)
                .key(&k.dead)
                .key(&k.paused)
                .arg(&k.job_prefix)
                .arg(self.now())
                .arg(self.lease_ms())
                .arg(max - out.len())
                .arg(worker)
                .arg(&token_prefix)
                .invoke_async(&mut self.conn())
                .await
                .map_err(map_err)?;
            out.extend(parse_leased(&vals, queue, &token_prefix));
        }
        Ok(out)
    }

    pub(super) async fn wait_for_work_impl(&self, queues: &[String], timeout: Duration) {
        let channels = queues.iter().map(|q| self.keys(q).wake).collect();
        self.inner.wake.wait(channels, timeout).await;
    }

    pub(super) async fn heartbeat_impl(&self, leases: &[LeaseRef]) -> BrokerResult<Vec<Beat>> {
        let mut by_queue: HashMap<&str, Vec<usize>> = HashMap::new();
        for (i, l) in leases.iter().enumerate() {
            by_queue.entry(l.queue.as_str()).or_default().push(i);
        }
        let expiry = self.now() + Self::keep_ms(self.inner.config.lease);
        let mut beats = vec![Beat::Lost; leases.len()];
        for (queue, idx) in by_queue {
            let k = self.keys(queue);
            let mut inv = self.inner.scripts.heartbeat.key(&k.run);
            inv.arg(&k.job_prefix).arg(expiry);
            for &i in &idx {
                inv.arg(leases[i].id.as_str()).arg(&leases[i].token);
            }
            let res: Vec<i64> = inv.invoke_async(&mut self.conn()).await.map_err(map_err)?;
            for (&i, r) in idx.iter().zip(res) {
                beats[i] = match r {
                    1 => Beat::Extended,
                    2 => Beat::CancelRequested,
                    _ => Beat::Lost,
                };
            }
        }
        Ok(beats)
    }
}
