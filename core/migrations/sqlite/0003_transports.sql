-- What the real transports need: send states that make a redelivered send
-- job a no-op, an outbox for the embedded mode, the dashboard cache, and
-- the keys of stored files. The PostgreSQL migration of the same number
-- makes the same changes.

-- Notifications: SQLite cannot change a CHECK constraint in place, so the
-- table is rebuilt. New states: `sending` (claimed by a send attempt whose
-- outcome is not yet recorded) and `unknown` (that attempt's worker died
-- during the gateway call; it is not sent again, so nobody gets it twice).
CREATE TABLE notifications_v3 (
    id                  INTEGER PRIMARY KEY,
    parcel_id           BIGINT REFERENCES parcels (id),
    channel             TEXT NOT NULL CHECK (channel IN ('sms', 'email')),
    recipient           TEXT NOT NULL,
    template            TEXT NOT NULL,
    body                TEXT NOT NULL,
    state               TEXT NOT NULL DEFAULT 'pending'
                        CHECK (state IN ('pending', 'enqueued', 'sending', 'sent', 'failed', 'unknown')),
    job_id              TEXT,
    provider_message_id TEXT,
    error               TEXT,
    created_at          BIGINT NOT NULL,
    enqueued_at         BIGINT,
    sent_at             BIGINT,
    -- a domain key that makes the row unique (a reminder: parcel + day)
    dedupe_key          TEXT UNIQUE,
    -- JSON values the email template fills in
    context             TEXT NOT NULL DEFAULT '{}',
    -- `liwa`, `smtp` or `outbox`: how it left
    transport           TEXT,
    attempted_at        BIGINT
);
INSERT INTO notifications_v3 (id, parcel_id, channel, recipient, template, body, state, job_id,
                              provider_message_id, error, created_at, enqueued_at, sent_at)
SELECT id, parcel_id, channel, recipient, template, body, state, job_id,
       provider_message_id, error, created_at, enqueued_at, sent_at
FROM notifications;
DROP TABLE notifications;
ALTER TABLE notifications_v3 RENAME TO notifications;
CREATE INDEX notifications_pending ON notifications (created_at) WHERE state = 'pending';
CREATE INDEX notifications_parcel ON notifications (parcel_id);
CREATE INDEX notifications_failed ON notifications (created_at) WHERE state IN ('failed', 'unknown');

-- Messages "sent" while no SMTP server or SMS gateway is configured.
CREATE TABLE outbox_messages (
    id              INTEGER PRIMARY KEY,
    notification_id BIGINT NOT NULL UNIQUE REFERENCES notifications (id),
    channel         TEXT NOT NULL,
    recipient       TEXT NOT NULL,
    subject         TEXT,
    text_body       TEXT NOT NULL,
    html_body       TEXT,
    created_at      BIGINT NOT NULL
);

-- Figures the dashboard shows, recomputed by maintenance.refresh_dashboard.
CREATE TABLE dashboard_cache (
    key          TEXT PRIMARY KEY,
    value        TEXT NOT NULL,
    refreshed_at BIGINT NOT NULL
);

-- Attachments: where the upload waits (`upload_key`) until file.store moves
-- it to `storage_key`, and the thumbnail's key.
ALTER TABLE attachments ADD COLUMN upload_key TEXT;
ALTER TABLE attachments ADD COLUMN thumb_key TEXT;
ALTER TABLE attachments ADD COLUMN uploaded_by BIGINT REFERENCES users (id);
ALTER TABLE attachments ADD COLUMN processed_at BIGINT;

-- Reports: size of the stored file.
ALTER TABLE reports ADD COLUMN size_bytes BIGINT;
CREATE INDEX reports_finished ON reports (finished_at);

-- Parcels: the expiry job looks for old registrations.
CREATE INDEX parcels_registered ON parcels (created_at) WHERE status = 'REGISTERED';
