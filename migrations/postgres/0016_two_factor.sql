-- Two-factor sign-in with a TOTP app (RFC 6238). `secret` is the shared key (hex); a row
-- without `confirmed_at` is a setup begun and not yet proven with a code. `last_step` is the
-- newest 30-second step a code was accepted for: a code is good once.
CREATE TABLE user_totp (
    user_id      BIGINT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    secret       TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    confirmed_at BIGINT,
    last_step    BIGINT NOT NULL
);

-- One-time recovery codes, as SHA-256 (they are random, 50 bits each); a used one is deleted.
CREATE TABLE recovery_codes (
    user_id   BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL,
    PRIMARY KEY (user_id, code_hash)
);

-- A sign-in whose password was right and whose second factor is awaited: the browser holds a
-- random id for a few minutes, the table its SHA-256.
CREATE TABLE login_challenges (
    id_hash    TEXT PRIMARY KEY,
    user_id    BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    remember   BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    failures   BIGINT NOT NULL
);

-- What the sessions screen shows of each session.
ALTER TABLE sessions ADD COLUMN user_agent TEXT NOT NULL DEFAULT '';
