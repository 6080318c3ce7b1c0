//! What the jobs console does beyond one job: pause and resume a queue,
//! list a state page by page ([`browse_sql`]), run a waiting job now, and
//! retry or discard many dead jobs.

use sqlx::Row;

use super::decode::{INFO_COLUMNS, info_from};
use super::{SqliteBroker, map_err};
use crate::broker::browse::{QueueMatches, bulk_targets, merge};
use crate::broker::{
    BrokerError, BrokerResult, DeadAction, JobFilter, JobId, JobInfo, JobPage, ListState,
    SEARCH_LIMIT,
};

/// Ids per statement in a bulk action or a page's lookup.
const CHUNK_IDS: usize = 500;

/// The listing of one state of queue `?1`: the first `?2` rows, newest
/// first, as `(id, k)` with `k` the time it is ordered by. With `filtered`,
/// only the newest `?3` rows are searched for name `?4` (NULL: any) and
/// text `?5` (NULL: any; ASCII-lowercase, found in the payload, the last
/// error or the request id, lowercased alike). The order and the key match the Redis engine's
/// structures: the ready list from its tail, the zsets by score, ties by id.
pub(super) fn browse_sql(state: ListState, filtered: bool) -> String {
    let (states, key, order) = match state {
        ListState::Queued => (
            "state = 'queued'",
            "run_at",
            "ready_seq DESC, run_at DESC, id DESC",
        ),
        ListState::Scheduled => (
            "state IN ('scheduled', 'retrying')",
            "run_at",
            "run_at DESC, id DESC",
        ),
        ListState::Running => (
            "state = 'running'",
            "lease_until",
            "lease_until DESC, id DESC",
        ),
        ListState::Dead => ("state = 'dead'", "finished_at", "finished_at DESC, id DESC"),
    };
    if !filtered {
        return format!(
            "SELECT id, {key} AS k FROM jobs WHERE queue = ?1 AND {states} ORDER BY {order} LIMIT ?2"
        );
    }
    format!(
        "SELECT id, k FROM (SELECT id, {key} AS k, ready_seq, run_at, lease_until, finished_at, \
         name, payload, last_error, request_id FROM jobs WHERE queue = ?1 AND {states} \
         ORDER BY {order} LIMIT ?3) \
         WHERE (?4 IS NULL OR name = ?4) \
         AND (?5 IS NULL OR instr(lower(payload), ?5) > 0 OR instr(lower(COALESCE(last_error, '')), ?5) > 0 \
              OR instr(lower(COALESCE(request_id, '')), ?5) > 0) \
         ORDER BY {order} LIMIT ?2"
    )
}

fn placeholders(n: usize) -> String {
    vec!["?"; n].join(", ")
}

impl SqliteBroker {
    pub(super) async fn pause_impl(&self, queue: &str, pause: bool) -> BrokerResult<bool> {
        let changed = if pause {
            self.register_queue(queue).await?;
            sqlx::query("INSERT OR IGNORE INTO paused_queues (name, paused_at) VALUES (?1, ?2)")
                .bind(queue)
                .bind(self.now())
                .execute(self.pool())
                .await
        } else {
            sqlx::query("DELETE FROM paused_queues WHERE name = ?1")
                .bind(queue)
                .execute(self.pool())
                .await
        }
        .map_err(map_err)?
        .rows_affected()
            == 1;
        if changed && !pause {
            self.wake();
        }
        Ok(changed)
    }

    pub(super) async fn list_jobs_impl(&self, filter: &JobFilter) -> BrokerResult<JobPage> {
        let want = filter.wanted()?;
        let lists = self.matches(filter, want).await?;
        let (page, more) = merge(lists, filter.offset, filter.limit);
        let ids: Vec<&str> = page.iter().map(|(_, id)| id.as_str()).collect();
        let mut found: Vec<JobInfo> = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(CHUNK_IDS) {
            let sql = format!(
                "SELECT {INFO_COLUMNS} FROM jobs WHERE id IN ({})",
                placeholders(chunk.len())
            );
            let mut q = sqlx::query(&sql);
            for id in chunk {
                q = q.bind(*id);
            }
            for row in q.fetch_all(self.pool()).await.map_err(map_err)? {
                found.push(info_from(&row).map_err(map_err)?);
            }
        }
        // In the page's order; a job deleted since the listing is left out.
        let jobs = ids
            .iter()
            .filter_map(|id| {
                let i = found.iter().position(|j| j.id.as_str() == *id)?;
                Some(found.swap_remove(i))
            })
            .collect();
        Ok(JobPage { jobs, more })
    }

    pub(super) async fn run_now_impl(&self, id: &JobId) -> BrokerResult<bool> {
        let done = sqlx::query(
            "UPDATE jobs SET state = 'queued', run_at = ?2, \
             ready_seq = (SELECT COALESCE(MAX(j.ready_seq), 0) + 1 FROM jobs j \
                          WHERE j.queue = jobs.queue AND j.state = 'queued') \
             WHERE id = ?1 AND state IN ('scheduled', 'retrying')",
        )
        .bind(id.as_str())
        .bind(self.now())
        .execute(self.pool())
        .await
        .map_err(map_err)?
        .rows_affected()
            == 1;
        if done {
            self.wake();
        }
        Ok(done)
    }

    pub(super) async fn bulk_dead_impl(
        &self,
        action: DeadAction,
        ids: &[JobId],
    ) -> BrokerResult<u64> {
        let mut n = 0;
        for chunk in ids.chunks(CHUNK_IDS) {
            let list = placeholders(chunk.len());
            let sql = match action {
                DeadAction::Retry => format!(
                    "UPDATE jobs SET state = 'queued', attempts = 0, finished_at = NULL, \
                     ready_seq = (SELECT COALESCE(MAX(j.ready_seq), 0) + 1 FROM jobs j \
                                  WHERE j.queue = jobs.queue AND j.state = 'queued') \
                     WHERE state = 'dead' AND id IN ({list})"
                ),
                DeadAction::Discard => {
                    format!("DELETE FROM jobs WHERE state = 'dead' AND id IN ({list})")
                }
            };
            let mut q = sqlx::query(&sql);
            for id in chunk {
                q = q.bind(id.as_str());
            }
            n += q
                .execute(self.pool())
                .await
                .map_err(map_err)?
                .rows_affected();
        }
        if n > 0 && action == DeadAction::Retry {
            self.wake();
        }
        Ok(n)
    }

    pub(super) async fn bulk_dead_matching_impl(
        &self,
        action: DeadAction,
        filter: &JobFilter,
    ) -> BrokerResult<u64> {
        if filter.state != ListState::Dead {
            return Err(BrokerError::Invalid(format!(
                "bulk {} acts on the dead set, not on {} jobs",
                action.as_str(),
                filter.state
            )));
        }
        let lists = self.matches(filter, SEARCH_LIMIT).await?;
        let mut n = 0;
        for (_, ids) in bulk_targets(lists) {
            n += self.bulk_dead_impl(action, &ids).await?;
        }
        Ok(n)
    }

    /// The first `want` matches of `filter` in each of its queues, newest
    /// first, with their sort keys.
    async fn matches(&self, filter: &JobFilter, want: usize) -> BrokerResult<Vec<QueueMatches>> {
        let sql = browse_sql(filter.state, filter.is_search());
        let text = filter.folded_text();
        let mut lists = Vec::new();
        for queue in self.queue_list(filter.queue.as_deref()).await? {
            let mut q = sqlx::query(&sql)
                .bind(&queue)
                .bind(i64::try_from(want).unwrap_or(i64::MAX));
            if filter.is_search() {
                q = q
                    .bind(i64::try_from(SEARCH_LIMIT).unwrap_or(i64::MAX))
                    .bind(filter.name_filter())
                    .bind(text.as_deref());
            }
            let rows = q.fetch_all(self.pool()).await.map_err(map_err)?;
            let found = rows
                .iter()
                .map(|r| {
                    Ok((
                        r.try_get::<Option<i64>, _>("k")?.unwrap_or(0),
                        JobId(r.try_get("id")?),
                    ))
                })
                .collect::<Result<Vec<_>, sqlx::Error>>()
                .map_err(map_err)?;
            lists.push((queue, found));
        }
        Ok(lists)
    }
}
