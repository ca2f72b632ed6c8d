-- API tokens for /api/v1: a bearer token `ov_…` is shown once and stored only as its SHA-256 hash
-- (the token carries 256 random bits, so a fast hash is enough: no preimage can be guessed).
-- `role` is the token's scope, at most its user's role when created; effective rights are the
-- lower of the two at each request.
CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY,
    user_id      BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    role         TEXT NOT NULL,
    token_hash   TEXT NOT NULL UNIQUE,
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at   BIGINT
);
CREATE INDEX api_tokens_by_user ON api_tokens (user_id, id);
