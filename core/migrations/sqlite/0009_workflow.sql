-- The pickup PIN's guard and the audit log (SQLite; the PostgreSQL
-- migration 0011 makes the same changes).

-- Wrong PINs given for a parcel since its last delivery or PIN reissue,
-- and until when further tries are refused (Unix ms) after too many.
ALTER TABLE parcels ADD COLUMN pin_failures BIGINT NOT NULL DEFAULT 0;
ALTER TABLE parcels ADD COLUMN pin_locked_until BIGINT;

-- Who did what that a reviewer asks about: sign-ins (failed ones too),
-- role and password changes, payment voids, PIN reissues.
CREATE TABLE audit_log (
    id          INTEGER PRIMARY KEY,
    created_at  BIGINT NOT NULL,
    actor_id    BIGINT REFERENCES users (id),
    action      TEXT NOT NULL,
    subject     TEXT,
    detail      TEXT NOT NULL DEFAULT '',
    client_addr TEXT
);
CREATE INDEX audit_log_created ON audit_log (created_at, id);
CREATE INDEX audit_log_action ON audit_log (action, created_at);
