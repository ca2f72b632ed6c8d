-- Admin desk accounts (src/accounts): sessions, login throttling, password resets.
-- Times are Unix seconds. Session ids and reset tokens are stored only as SHA-256 hashes, so a
-- copy of the database cannot be used to sign in.

-- A disabled account keeps its byline but cannot sign in (its sessions are deleted).
ALTER TABLE users ADD COLUMN disabled_at BIGINT;

CREATE TABLE sessions (
    id_hash      TEXT PRIMARY KEY,
    user_id      BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    -- The session's CSRF secret: every admin form carries it back.
    csrf         TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    -- Sliding: pushed forward on use, never past created_at + accounts.session_max_secs.
    expires_at   BIGINT NOT NULL
);
CREATE INDEX sessions_by_user ON sessions (user_id);
CREATE INDEX sessions_by_expiry ON sessions (expires_at);

-- Failed logins per key ('account:<name as typed>' or 'ip:<keyed hash>') in the current window;
-- reaching the limit sets locked_until. Shared by every node.
CREATE TABLE login_throttle (
    key          TEXT PRIMARY KEY,
    failures     BIGINT NOT NULL,
    window_start BIGINT NOT NULL,
    locked_until BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE password_resets (
    token_hash TEXT PRIMARY KEY,
    user_id    BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT
);
CREATE INDEX password_resets_by_user ON password_resets (user_id, created_at);
