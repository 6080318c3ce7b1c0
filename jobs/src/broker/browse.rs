//! What the jobs console reads and does beyond one job: browsing a state of
//! the queues page by page ([`JobFilter`], [`JobPage`]), bulk actions on the
//! dead set ([`DeadAction`]), and the per-queue throughput counts.
//!
//! Both engines answer a listing the same way: each queue gives its first
//! `offset + limit + 1` matches, newest first, with a sort key (the time the
//! listing is ordered by), and [`merge`] takes the page from those lists
//! without reordering any queue's own list.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{BrokerError, BrokerResult, JobId, JobInfo};

/// How deep a listing reaches: a name or text filter looks at no more than
/// the newest `SEARCH_LIMIT` jobs of the listed state in each queue, and a
/// page may end no further than `SEARCH_LIMIT` jobs from the start. Bulk
/// actions on "every dead job the filter matches" act on at most this many.
/// It keeps a search of a huge dead set from holding the broker: a job
/// beyond it is still found by its id.
pub const SEARCH_LIMIT: usize = 10_000;

/// The states a listing shows: the ones a job waits or runs in, and the
/// dead set. (Succeeded and cancelled jobs are found by id.)
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ListState {
    /// Due and waiting in its queue, newest enqueued first (the reverse of
    /// the order they run in).
    Queued,
    /// Waiting for its run-at time or a retry's backoff, latest due first.
    Scheduled,
    /// Leased by a worker, latest lease expiry first.
    Running,
    /// In the dead set, latest death first.
    Dead,
}

impl ListState {
    /// The state's name, as in [`super::JobState`].
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Scheduled => "scheduled",
            Self::Running => "running",
            Self::Dead => "dead",
        }
    }

    /// Parses `queued`, `scheduled`, `running` or `dead`.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "queued" => Self::Queued,
            "scheduled" => Self::Scheduled,
            "running" => Self::Running,
            "dead" => Self::Dead,
            _ => return None,
        })
    }
}

impl fmt::Display for ListState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which jobs a listing shows, and which page of them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobFilter {
    /// Only this queue; every known queue when `None`.
    pub queue: Option<String>,
    /// The state listed.
    pub state: ListState,
    /// Only jobs of this name (exact).
    pub name: Option<String>,
    /// Only jobs whose payload, last error or request id holds this text
    /// (ASCII letters match in any case). Searches at most
    /// [`SEARCH_LIMIT`] jobs per queue.
    pub text: Option<String>,
    /// Matches to skip (the page's start).
    pub offset: usize,
    /// Matches to return, at most.
    pub limit: usize,
}

impl JobFilter {
    /// The first `limit` jobs in `state`, of every queue, unfiltered.
    pub fn new(state: ListState, limit: usize) -> Self {
        Self {
            queue: None,
            state,
            name: None,
            text: None,
            offset: 0,
            limit,
        }
    }

    /// Whether a name or a text filter is set (then [`SEARCH_LIMIT`] bounds
    /// the search). An empty name or text is no filter.
    pub fn is_search(&self) -> bool {
        self.name_filter().is_some() || self.folded_text().is_some()
    }

    /// The name filter, `None` when empty.
    pub fn name_filter(&self) -> Option<&str> {
        self.name.as_deref().filter(|n| !n.is_empty())
    }

    /// How many matches each queue must give for the page and the "more"
    /// flag: `offset + limit + 1`. Refuses a page past [`SEARCH_LIMIT`].
    pub fn wanted(&self) -> BrokerResult<usize> {
        let end = self.offset.saturating_add(self.limit);
        if end > SEARCH_LIMIT {
            return Err(BrokerError::Invalid(format!(
                "a page may end at most {SEARCH_LIMIT} jobs deep (offset {} + limit {}); \
                 narrow the listing or find the job by id",
                self.offset, self.limit
            )));
        }
        Ok(end + 1)
    }

    /// The text filter as both engines compare it: ASCII-lowercased, `None`
    /// when empty.
    pub fn folded_text(&self) -> Option<String> {
        self.text
            .as_deref()
            .filter(|t| !t.is_empty())
            .map(str::to_ascii_lowercase)
    }
}

/// One page of a listing.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct JobPage {
    /// The jobs, newest first.
    pub jobs: Vec<JobInfo>,
    /// Whether more jobs match after this page.
    pub more: bool,
}

/// What a bulk action does to dead jobs.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeadAction {
    /// Queue them again with fresh attempts.
    Retry,
    /// Delete them.
    Discard,
}

impl DeadAction {
    /// `retry` or `discard`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Retry => "retry",
            Self::Discard => "discard",
        }
    }
}

/// One queue's matches as an engine lists them: `(sort key, id)`, newest
/// first.
pub(crate) type QueueMatches = (String, Vec<(i64, JobId)>);

/// One queue's list being merged: its matches not yet taken.
type Cursor = std::iter::Peekable<std::vec::IntoIter<(i64, JobId)>>;

/// The page `[offset, offset + limit)` of the queues' lists merged newest
/// first (the greater key first; on a tie, the earlier queue), and whether
/// more follow. Each list keeps its own order: the merge only interleaves.
pub(crate) fn merge(
    lists: Vec<QueueMatches>,
    offset: usize,
    limit: usize,
) -> (Vec<(String, JobId)>, bool) {
    let mut lists: Vec<(String, Cursor)> = lists
        .into_iter()
        .map(|(q, l)| (q, l.into_iter().peekable()))
        .collect();
    let mut out = Vec::new();
    let mut seen = 0usize;
    loop {
        // The list whose head is newest; the earlier list on a tie.
        let mut best: Option<(usize, i64)> = None;
        for (i, (_, list)) in lists.iter_mut().enumerate() {
            if let Some(&(key, _)) = list.peek()
                && best.is_none_or(|(_, k)| key > k)
            {
                best = Some((i, key));
            }
        }
        let Some((i, _)) = best else {
            return (out, false);
        };
        let (queue, list) = &mut lists[i];
        let Some((_, id)) = list.next() else {
            return (out, false);
        };
        if seen >= offset.saturating_add(limit) {
            return (out, true);
        }
        if seen >= offset {
            out.push((queue.clone(), id));
        }
        seen += 1;
    }
}

/// The ids the bulk action on a filter acts on: every match, up to
/// [`SEARCH_LIMIT`] in all, grouped by queue.
pub(crate) fn bulk_targets(lists: Vec<QueueMatches>) -> Vec<(String, Vec<JobId>)> {
    let (ids, _) = merge(lists, 0, SEARCH_LIMIT);
    let mut by_queue: Vec<(String, Vec<JobId>)> = Vec::new();
    for (q, id) in ids {
        match by_queue.iter_mut().find(|(name, _)| *name == q) {
            Some((_, list)) => list.push(id),
            None => by_queue.push((q, vec![id])),
        }
    }
    by_queue
}

/// Jobs succeeded and failed in one queue lately, counted by the broker in
/// 10-second buckets, so "the last minute" spans the last 50 to 60 seconds
/// and "the last hour" the last 59 minutes 50 seconds to an hour. A failed
/// attempt is one that ended in a retry or in the dead set (a lost lease on
/// the last attempt included).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Throughput {
    /// Jobs that succeeded in the last minute.
    pub succeeded_1m: u64,
    /// Attempts that failed in the last minute.
    pub failed_1m: u64,
    /// Jobs that succeeded in the last hour.
    pub succeeded_1h: u64,
    /// Attempts that failed in the last hour.
    pub failed_1h: u64,
}

/// One step of a throughput series: the jobs that succeeded and the
/// attempts that failed in the minute that ended at `end_ms`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThroughputPoint {
    /// The end of the step (Unix ms, exclusive).
    pub end_ms: i64,
    /// Jobs that succeeded in the step.
    pub succeeded: u64,
    /// Attempts that failed in the step.
    pub failed: u64,
}

/// Steps in a throughput series: the last hour, minute by minute.
pub const SERIES_STEPS: usize = 60;

/// Buckets per step of a series (a minute).
const BUCKETS_PER_STEP: i64 = 6;

/// Folds 10-second buckets `(bucket, succeeded, failed)` into the series of
/// the hour up to bucket `now_bucket`, oldest step first; its last step is
/// the last minute of [`Throughput`], and its sum the last hour.
pub(crate) fn fold_series(
    now_bucket: i64,
    buckets: impl IntoIterator<Item = (i64, u64, u64)>,
) -> Vec<ThroughputPoint> {
    let steps = SERIES_STEPS as i64;
    let mut out: Vec<ThroughputPoint> = (0..steps)
        .map(|i| ThroughputPoint {
            end_ms: (now_bucket + 1 - (steps - 1 - i) * BUCKETS_PER_STEP) * BUCKET_MS,
            ..ThroughputPoint::default()
        })
        .collect();
    for (bucket, succeeded, failed) in buckets {
        let age = now_bucket - bucket;
        if !(0..steps * BUCKETS_PER_STEP).contains(&age) {
            continue;
        }
        let Ok(i) = usize::try_from(steps - 1 - age / BUCKETS_PER_STEP) else {
            continue;
        };
        if let Some(p) = out.get_mut(i) {
            p.succeeded += succeeded;
            p.failed += failed;
        }
    }
    out
}

/// The length of a throughput bucket, ms: the last minute is 6 buckets and
/// the last hour 360 (the scripts and statements that count and read them
/// say so too).
pub(crate) const BUCKET_MS: i64 = 10_000;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_series_folds_buckets_into_minutes_ending_now() {
        let now = 1_000;
        let s = fold_series(
            now,
            [
                (now, 1, 0),
                (now - 5, 2, 1),
                (now - 6, 4, 0),
                (now - 359, 8, 2),
                (now - 360, 16, 16),
                (now + 1, 32, 32),
            ],
        );
        assert_eq!(s.len(), SERIES_STEPS);
        assert_eq!((s[59].succeeded, s[59].failed), (3, 1), "the last minute");
        assert_eq!(s[59].end_ms, (now + 1) * BUCKET_MS);
        assert_eq!(s[58].succeeded, 4);
        assert_eq!(
            (s[0].succeeded, s[0].failed),
            (8, 2),
            "the hour's first minute"
        );
        assert_eq!(s[0].end_ms, (now + 1 - 59 * 6) * BUCKET_MS);
        assert_eq!(
            s.iter().map(|p| p.succeeded).sum::<u64>(),
            15,
            "older and future buckets left out"
        );
    }

    fn ids(list: &[(i64, &str)]) -> Vec<(i64, JobId)> {
        list.iter()
            .map(|(k, id)| (*k, JobId((*id).to_owned())))
            .collect()
    }

    #[test]
    fn merge_interleaves_newest_first_and_says_whether_more_follow() {
        let lists = vec![
            ("a".to_owned(), ids(&[(9, "a9"), (5, "a5"), (1, "a1")])),
            ("b".to_owned(), ids(&[(7, "b7"), (5, "b5")])),
        ];
        let (page, more) = merge(lists.clone(), 0, 3);
        let got: Vec<&str> = page.iter().map(|(_, id)| id.as_str()).collect();
        assert_eq!((got, more), (vec!["a9", "b7", "a5"], true));
        let (page, more) = merge(lists, 3, 3);
        let got: Vec<&str> = page.iter().map(|(_, id)| id.as_str()).collect();
        assert_eq!((got, more), (vec!["b5", "a1"], false));
    }

    #[test]
    fn a_page_past_the_search_limit_is_refused() {
        let mut f = JobFilter::new(ListState::Dead, 50);
        f.offset = SEARCH_LIMIT - 50;
        assert_eq!(f.wanted().ok(), Some(SEARCH_LIMIT + 1));
        f.offset += 1;
        assert!(matches!(f.wanted(), Err(BrokerError::Invalid(_))));
    }
}
