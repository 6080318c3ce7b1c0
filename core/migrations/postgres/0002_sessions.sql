-- Sign-in sessions: the API's bearer tokens and the browser's session
-- cookies. Only a SHA-256 of each token is stored, so a copy of the
-- database signs nobody in.
CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id    BIGINT NOT NULL REFERENCES users (id),
    expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
