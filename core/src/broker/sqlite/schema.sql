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
    result           TEXT
);

CREATE INDEX IF NOT EXISTS jobs_ready ON jobs (queue, ready_seq) WHERE state = 'queued';
CREATE INDEX IF NOT EXISTS jobs_due ON jobs (queue, run_at) WHERE state IN ('scheduled', 'retrying');
CREATE INDEX IF NOT EXISTS jobs_leases ON jobs (queue, lease_until) WHERE state = 'running';
CREATE INDEX IF NOT EXISTS jobs_finished ON jobs (queue, state, finished_at)
    WHERE state IN ('succeeded', 'cancelled', 'dead');

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
