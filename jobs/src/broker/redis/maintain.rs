//! Housekeeping (`maintain.lua`): due jobs promoted to their queue,
//! expired leases taken back, finished jobs past their retention deleted.

use super::{CHUNK, RedisBroker, map_err};
use crate::broker::{BrokerResult, Maintenance};

impl RedisBroker {
    pub(super) async fn maintain_impl(&self, queues: &[String]) -> BrokerResult<Maintenance> {
        let mut total = Maintenance::default();
        let dead_ms =
            i64::try_from(self.inner.config.retention.dead.as_millis()).unwrap_or(i64::MAX / 2);
        for queue in queues {
            let k = self.keys(queue);
            // Repeat while a step filled its chunk, up to 100 chunks a round.
            for _ in 0..100 {
                let r: Vec<i64> = self
                    .inner
                    .scripts
                    .maintain
                    .key(&k.sched)
                    .key(&k.ready)
                    .key(&k.run)
                    .key(&k.dead)
                    .key(&k.tp)
                    .arg(&k.job_prefix)
                    .arg(self.now())
                    .arg(CHUNK)
                    .arg(dead_ms)
                    .arg(&k.wake)
                    .arg(Self::keep_ms(self.inner.config.retention.succeeded))
                    .arg(self.bucket())
                    .invoke_async(&mut self.conn())
                    .await
                    .map_err(map_err)?;
                let get = |i: usize| u64::try_from(r.get(i).copied().unwrap_or(0)).unwrap_or(0);
                let (p, rq, l, s) = (get(0), get(1), get(2), get(3));
                total.promoted += p;
                total.requeued += rq;
                total.lost_to_dead += l;
                total.swept += s;
                let chunk = CHUNK as u64;
                if p < chunk && rq + l < chunk && s < chunk {
                    break;
                }
            }
        }
        Ok(total)
    }
}
