-- The parcel store (SQLite). Times are Unix milliseconds; flags are 0/1; money is integer
-- minor units; weights are grams; lengths are millimetres. The PostgreSQL
-- migration of the same number creates the same tables.

CREATE TABLE branches (
    id         INTEGER PRIMARY KEY,
    code       TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL,
    city       TEXT NOT NULL,
    address    TEXT NOT NULL DEFAULT '',
    phone      TEXT,
    active     BIGINT NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL
);

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('admin', 'supervisor', 'operator', 'courier')),
    branch_id     BIGINT REFERENCES branches (id),
    active        BIGINT NOT NULL DEFAULT 1,
    created_at    BIGINT NOT NULL
);

CREATE TABLE customers (
    id         INTEGER PRIMARY KEY,
    phone      TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL,
    email      TEXT,
    document   TEXT,
    address    TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL
);
CREATE INDEX customers_name ON customers (name);

CREATE TABLE tariffs (
    id                  INTEGER PRIMARY KEY,
    package_type        TEXT NOT NULL,
    zone                TEXT NOT NULL,
    min_grams           BIGINT NOT NULL,
    max_grams           BIGINT NOT NULL,
    base_price          BIGINT NOT NULL,
    per_kg_price        BIGINT NOT NULL,
    storage_grace_hours BIGINT NOT NULL,
    storage_fee_per_day BIGINT NOT NULL,
    cod_fee             BIGINT NOT NULL,
    valid_from          BIGINT NOT NULL,
    valid_to            BIGINT,
    created_at          BIGINT NOT NULL,
    CHECK (min_grams <= max_grams)
);
CREATE INDEX tariffs_lookup ON tariffs (package_type, zone, min_grams);

CREATE TABLE parcels (
    id                    INTEGER PRIMARY KEY,
    tracking_code         TEXT NOT NULL UNIQUE,
    pickup_pin_hash       TEXT NOT NULL,
    sender_id             BIGINT NOT NULL REFERENCES customers (id),
    recipient_id          BIGINT NOT NULL REFERENCES customers (id),
    origin_branch_id      BIGINT NOT NULL REFERENCES branches (id),
    destination_branch_id BIGINT NOT NULL REFERENCES branches (id),
    service               TEXT NOT NULL CHECK (service IN ('branch_pickup', 'home_delivery')),
    delivery_address      TEXT NOT NULL DEFAULT '',
    package_type          TEXT NOT NULL,
    weight_grams          BIGINT NOT NULL,
    length_mm             BIGINT NOT NULL DEFAULT 0,
    width_mm              BIGINT NOT NULL DEFAULT 0,
    height_mm             BIGINT NOT NULL DEFAULT 0,
    declared_value        BIGINT NOT NULL DEFAULT 0,
    cod_amount            BIGINT NOT NULL DEFAULT 0,
    -- the fee snapshot: copied from the tariff at registration, never
    -- rewritten by a later tariff edit
    tariff_id             BIGINT REFERENCES tariffs (id),
    quoted_amount         BIGINT NOT NULL,
    storage_grace_hours   BIGINT NOT NULL,
    storage_fee_per_day   BIGINT NOT NULL,
    cod_fee               BIGINT NOT NULL,
    condition             TEXT NOT NULL DEFAULT 'good',
    shelf                 TEXT,
    status                TEXT NOT NULL,
    failed_attempts       BIGINT NOT NULL DEFAULT 0,
    -- optimistic lock: every update checks and bumps it
    version               BIGINT NOT NULL DEFAULT 1,
    arrived_at            BIGINT,
    delivered_at          BIGINT,
    created_at            BIGINT NOT NULL,
    updated_at            BIGINT NOT NULL
);
CREATE INDEX parcels_status ON parcels (status, destination_branch_id);
CREATE INDEX parcels_sender ON parcels (sender_id);
CREATE INDEX parcels_recipient ON parcels (recipient_id);
CREATE INDEX parcels_created ON parcels (created_at);

-- Append-only history of every status change.
CREATE TABLE parcel_events (
    id          INTEGER PRIMARY KEY,
    parcel_id   BIGINT NOT NULL REFERENCES parcels (id),
    event       TEXT NOT NULL,
    from_status TEXT,
    to_status   TEXT NOT NULL,
    actor_id    BIGINT REFERENCES users (id),
    branch_id   BIGINT REFERENCES branches (id),
    reason      TEXT,
    created_at  BIGINT NOT NULL
);
CREATE INDEX parcel_events_parcel ON parcel_events (parcel_id, id);

CREATE TABLE payments (
    id          INTEGER PRIMARY KEY,
    parcel_id   BIGINT NOT NULL REFERENCES parcels (id),
    kind        TEXT NOT NULL CHECK (kind IN ('shipping', 'storage', 'cod')),
    amount      BIGINT NOT NULL,
    method      TEXT NOT NULL DEFAULT 'cash',
    received_by BIGINT REFERENCES users (id),
    voided_at   BIGINT,
    voided_by   BIGINT REFERENCES users (id),
    void_reason TEXT,
    created_at  BIGINT NOT NULL,
    CHECK (voided_at IS NULL OR (void_reason IS NOT NULL AND void_reason <> ''))
);
CREATE INDEX payments_parcel ON payments (parcel_id);

CREATE TABLE attachments (
    id           INTEGER PRIMARY KEY,
    parcel_id    BIGINT NOT NULL REFERENCES parcels (id),
    kind         TEXT NOT NULL DEFAULT 'photo',
    filename     TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size_bytes   BIGINT NOT NULL,
    storage_key  TEXT NOT NULL,
    state        TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'stored', 'processed', 'failed')),
    error        TEXT,
    created_at   BIGINT NOT NULL
);
CREATE INDEX attachments_parcel ON attachments (parcel_id);

-- One row per outbound message. Its id is the send job's idempotency key
-- (job id `sms.send:<id>`); rows are written in the transaction of the change
-- that causes them (the outbox) and enqueued once committed.
CREATE TABLE notifications (
    id                  INTEGER PRIMARY KEY,
    parcel_id           BIGINT REFERENCES parcels (id),
    channel             TEXT NOT NULL CHECK (channel IN ('sms', 'email')),
    recipient           TEXT NOT NULL,
    template            TEXT NOT NULL,
    body                TEXT NOT NULL,
    state               TEXT NOT NULL DEFAULT 'pending'
                        CHECK (state IN ('pending', 'enqueued', 'sent', 'failed')),
    job_id              TEXT,
    provider_message_id TEXT,
    error               TEXT,
    created_at          BIGINT NOT NULL,
    enqueued_at         BIGINT,
    sent_at             BIGINT
);
CREATE INDEX notifications_pending ON notifications (created_at) WHERE state = 'pending';
CREATE INDEX notifications_parcel ON notifications (parcel_id);

CREATE TABLE reports (
    id           INTEGER PRIMARY KEY,
    kind         TEXT NOT NULL CHECK (kind IN ('pdf', 'xlsx')),
    filters      TEXT NOT NULL,
    requested_by BIGINT REFERENCES users (id),
    state        TEXT NOT NULL DEFAULT 'pending'
                 CHECK (state IN ('pending', 'running', 'done', 'failed')),
    progress     BIGINT NOT NULL DEFAULT 0,
    file_key     TEXT,
    error        TEXT,
    job_id       TEXT,
    created_at   BIGINT NOT NULL,
    finished_at  BIGINT
);
