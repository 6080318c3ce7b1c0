-- The embedded engine's schema. Run at every open; every statement is
-- idempotent.
--
-- One row per job. `state` is the job's state; the partial indexes hold only
-- the rows each hot query reads, so a table full of finished jobs kept for
-- their retention costs the hot path nothing.
CREATE TABLE IF NOT EXISTS jobs (
    id               TEXT PRIMARY KEY,
    queue            TEXT NOT NULL,
    name             TEXT NOT NULL,
    payload          TEXT NOT NULL,
    state            TEXT NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    max_attempts     INTEGER NOT NULL,
    timeout_ms       INTEGER NOT NULL,
    backoff_base_ms  INTEGER NOT NULL,
    backoff_max_ms   INTEGER NOT NULL,
    enqueued_at      INTEGER NOT NULL,
    -- when the job is (or was) due, Unix ms
    run_at           INTEGER NOT NULL,
    -- place in the ready queue: lower runs first; reclaimed and released
    -- jobs go below the minimum, new ones above the maximum
    ready_seq        INTEGER NOT NULL DEFAULT 0,
    started_at       INTEGER,
    finished_at      INTEGER,
    lease_until      INTEGER,
    -- the fencing token of the running attempt
    token            TEXT,
    worker           TEXT,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    last_error       TEXT,
    result           TEXT,
    -- the id of the request that caused the job (NULL: none given). Files
    -- made before it was added get it at open (`ADDED_COLUMNS` in mod.rs).
    request_id       TEXT
);

-- A partial index serves a query only when the query's WHERE repeats the
-- index's WHERE term for term (SQLite does not reason that state = 'dead'
-- implies state IN (..., 'dead'), nor look inside a bound parameter): every
-- query on `jobs` spells its states as literals matching one of these.
--
-- Ready order, tie-broken by due time: lease, tail/head place, oldest wait.
-- run_at is in the key because promote, reclaim and re-run give a whole
-- chunk the same ready_seq; without it a lease of 7 would sort that chunk.
CREATE INDEX IF NOT EXISTS jobs_queued ON jobs (queue, ready_seq, run_at) WHERE state = 'queued';
-- Promotion of due scheduled and retrying jobs.
CREATE INDEX IF NOT EXISTS jobs_due ON jobs (queue, run_at) WHERE state IN ('scheduled', 'retrying');
-- Reclaim of expired leases.
CREATE INDEX IF NOT EXISTS jobs_leases ON jobs (queue, lease_until) WHERE state = 'running';
-- Retention sweeps, the dead set and its counts.
CREATE INDEX IF NOT EXISTS jobs_done ON jobs (queue, finished_at) WHERE state IN ('succeeded', 'cancelled');
CREATE INDEX IF NOT EXISTS jobs_dead ON jobs (queue, finished_at) WHERE state = 'dead';

-- Indexes of the first schema, replaced by the ones above (a no-op once gone).
DROP INDEX IF EXISTS jobs_ready;
DROP INDEX IF EXISTS jobs_finished;

-- Every queue ever used, with its count of settlements the fence rejected.
CREATE TABLE IF NOT EXISTS queues (
    name       TEXT PRIMARY KEY,
    stale_acks INTEGER NOT NULL DEFAULT 0
);

-- Live worker processes, one row per incarnation.
CREATE TABLE IF NOT EXISTS workers (
    id        TEXT PRIMARY KEY,
    info      TEXT NOT NULL,
    last_seen INTEGER NOT NULL
);

-- Paused queues: nothing is leased from a queue listed here (TAKE and
-- ACK_AND_TAKE look it up by name).
CREATE TABLE IF NOT EXISTS paused_queues (
    name      TEXT PRIMARY KEY,
    paused_at INTEGER NOT NULL
);

-- Throughput: attempts that succeeded and failed (ended retrying or dead)
-- per queue and 10-second bucket of the broker's clock. The trigger counts
-- every attempt that leaves `running` that way, whichever statement settles
-- it (ack, ack-and-lease, retry, dead, a lost lease's reclaim); a retried
-- attempt has no finish time and counts at its start. Maintenance deletes
-- buckets older than an hour.
CREATE TABLE IF NOT EXISTS throughput (
    queue     TEXT NOT NULL,
    bucket    INTEGER NOT NULL,
    succeeded INTEGER NOT NULL DEFAULT 0,
    failed    INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (queue, bucket)
) WITHOUT ROWID;

CREATE TRIGGER IF NOT EXISTS jobs_throughput AFTER UPDATE OF state ON jobs
WHEN OLD.state = 'running' AND NEW.state IN ('succeeded', 'retrying', 'dead')
BEGIN
    INSERT INTO throughput (queue, bucket, succeeded, failed)
    VALUES (NEW.queue, COALESCE(NEW.finished_at, NEW.started_at, 0) / 10000,
            NEW.state = 'succeeded', NEW.state <> 'succeeded')
    ON CONFLICT (queue, bucket) DO UPDATE
        SET succeeded = succeeded + excluded.succeeded, failed = failed + excluded.failed;
END;
