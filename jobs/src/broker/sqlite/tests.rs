//! Checks of this engine's own statements and schema: index use, the
//! one-statement ack-and-lease, reclaim by kind, and schema upgrades
//! (replaced indexes, added columns). What both engines promise is in the
//! conformance suite (`jobs/tests/`).

use sqlx::Row;

use super::admin::{PURGE_QUEUED, PURGE_WAITING, STATS};
use super::lease::TAKE;
use super::maintain::{SWEEP_DEAD, SWEEP_DONE};
use super::settle::ACK_AND_TAKE;
use super::*;
use crate::broker::{JobState, Settled};
use crate::policy::{JobPolicy, RetryPolicy};

async fn open(dir: &tempfile::TempDir) -> SqliteBroker {
    SqliteBroker::open(&dir.path().join("jobs.sqlite3"), BrokerConfig::default())
        .await
        .unwrap()
}

/// A partial index only serves a query that repeats its WHERE; a query
/// that drifts from it (a state as a parameter, `=` where the index says
/// `IN`) silently scans every job kept for its retention.
#[tokio::test]
async fn hot_statements_use_an_index_not_a_scan() {
    let dir = tempfile::tempdir().unwrap();
    let b = open(&dir).await;
    for sql in [
        TAKE,
        ACK_AND_TAKE,
        SWEEP_DONE,
        SWEEP_DEAD,
        PURGE_QUEUED,
        PURGE_WAITING,
        STATS,
    ] {
        let plan: Vec<String> = sqlx::query(&format!("EXPLAIN QUERY PLAN {sql}"))
            .fetch_all(b.pool())
            .await
            .unwrap()
            .iter()
            .map(|r| r.try_get::<String, _>("detail").unwrap())
            .collect();
        assert!(
            plan.iter()
                .all(|step| !step.starts_with("SCAN jobs") && !step.contains("TEMP B-TREE")),
            "{sql}\n{plan:#?}"
        );
    }
}

#[tokio::test]
async fn ack_and_lease_takes_several_in_order_with_tokens_of_their_own() {
    let dir = tempfile::tempdir().unwrap();
    let b = open(&dir).await;
    let q = vec!["q".to_owned()];
    let ids: Vec<JobId> = b
        .enqueue_many(
            (0..5)
                .map(|i| NewJob::new("t", "q", i.to_string()))
                .collect(),
        )
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.id)
        .collect();
    let first = b.lease(&q, 1, "w").await.unwrap().remove(0);
    let (settled, next) = b
        .ack_and_lease(&first.lease_ref(), Some("1"), 3, "w")
        .await
        .unwrap();
    assert_eq!(settled, Settled::Done);
    assert_eq!(
        next.iter().map(|l| l.id.clone()).collect::<Vec<_>>(),
        ids[1..4]
    );
    let tokens: HashSet<&str> = next.iter().map(|l| l.token.as_str()).collect();
    assert_eq!(tokens.len(), 3);
    assert!(!tokens.contains(first.token.as_str()));
    assert!(next.iter().all(|l| l.attempt == 1));
    let acked = b.job(&first.id).await.unwrap().unwrap();
    assert_eq!(
        (acked.state, acked.result.as_deref(), acked.attempts),
        (JobState::Succeeded, Some("1"), 1)
    );
    for l in &next {
        let info = b.job(&l.id).await.unwrap().unwrap();
        assert_eq!(
            (info.state, info.worker.as_deref()),
            (JobState::Running, Some("w"))
        );
    }
}

/// Reclaim handles a chunk of expired leases per round with three
/// statements (cancel, dead, requeue); each must take only its own kind,
/// or a requeue whose window slid past the others' would run a job an
/// operator cancelled, or give a job one attempt more than allowed.
#[tokio::test]
async fn reclaim_treats_every_expired_lease_by_its_kind_beyond_one_chunk() {
    let dir = tempfile::tempdir().unwrap();
    let config = BrokerConfig::default();
    let clock = config.clock.clone();
    let b = SqliteBroker::open(&dir.path().join("jobs.sqlite3"), config)
        .await
        .unwrap();
    let q = vec!["q".to_owned()];
    let policy = |max_attempts| JobPolicy {
        retry: RetryPolicy {
            max_attempts,
            backoff_base_ms: 1000,
            backoff_max_ms: 60_000,
        },
        timeout_ms: 30_000,
    };
    // A full chunk of leases on their last attempt, then, a moment
    // later, one a cancel was asked for and one with attempts left.
    let n = usize::try_from(CHUNK).unwrap();
    b.enqueue_many(
        (0..n)
            .map(|i| NewJob::new("t", "q", i.to_string()).with_policy(policy(1)))
            .collect(),
    )
    .await
    .unwrap();
    assert_eq!(b.lease(&q, n, "w").await.unwrap().len(), n);
    clock.advance(Duration::from_millis(5));
    let cancel = b
        .enqueue(NewJob::new("t", "q", "c").with_policy(policy(5)))
        .await
        .unwrap()
        .id;
    let retry = b
        .enqueue(NewJob::new("t", "q", "r").with_policy(policy(5)))
        .await
        .unwrap()
        .id;
    assert_eq!(b.lease(&q, 2, "w").await.unwrap().len(), 2);
    assert_eq!(b.cancel(&cancel).await.unwrap(), CancelOutcome::Requested);
    clock.advance(Duration::from_secs(60));
    let m = b.maintain(&q).await.unwrap();
    assert_eq!((m.lost_to_dead, m.requeued), (CHUNK as u64, 1));
    let cancel = b.job(&cancel).await.unwrap().unwrap();
    assert_eq!(cancel.state, JobState::Cancelled);
    let retry = b.job(&retry).await.unwrap().unwrap();
    assert_eq!((retry.state, retry.attempts), (JobState::Queued, 1));
}

/// Files made by the first schema carry two indexes since replaced.
#[tokio::test]
async fn opening_a_first_schema_file_replaces_its_indexes() {
    let dir = tempfile::tempdir().unwrap();
    let b = open(&dir).await;
    sqlx::raw_sql(
        "DROP INDEX jobs_queued; DROP INDEX jobs_done; DROP INDEX jobs_dead; \
         CREATE INDEX jobs_ready ON jobs (queue, ready_seq) WHERE state = 'queued'; \
         CREATE INDEX jobs_finished ON jobs (queue, state, finished_at) \
             WHERE state IN ('succeeded', 'cancelled', 'dead');",
    )
    .execute(b.pool())
    .await
    .unwrap();
    b.pool().close().await;
    let b = open(&dir).await;
    let mut names: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'jobs' \
         AND name NOT LIKE 'sqlite_%' ORDER BY name",
    )
    .fetch_all(b.pool())
    .await
    .unwrap();
    names.sort();
    assert_eq!(
        names,
        [
            "jobs_dead",
            "jobs_done",
            "jobs_due",
            "jobs_leases",
            "jobs_queued"
        ]
    );
}

/// A file made before jobs carried a request id: its jobs still load (with
/// none), and the column is added at open so new jobs keep theirs.
#[tokio::test]
async fn opening_a_file_from_before_request_ids_adds_the_column() {
    let dir = tempfile::tempdir().unwrap();
    let b = open(&dir).await;
    let old = b.enqueue(NewJob::new("t", "q", "{}")).await.unwrap().id;
    sqlx::raw_sql("ALTER TABLE jobs DROP COLUMN request_id")
        .execute(b.pool())
        .await
        .unwrap();
    b.pool().close().await;
    let b = open(&dir).await;
    assert_eq!(b.job(&old).await.unwrap().unwrap().request_id, None);
    let new = b
        .enqueue(NewJob::new("t", "q", "{}").with_request_id(Some("req-1".to_owned())))
        .await
        .unwrap()
        .id;
    let leased = b.lease(&["q".to_owned()], 2, "w").await.unwrap();
    let ids: Vec<(JobId, Option<String>)> =
        leased.into_iter().map(|l| (l.id, l.request_id)).collect();
    assert_eq!(ids, [(old, None), (new, Some("req-1".to_owned()))]);
    // Opening again finds the column there and leaves it.
    b.pool().close().await;
    open(&dir).await;
}
