-- Passkeys (WebAuthn) a user signs in with as a second factor. `credential` is the passkey as
-- webauthn-rs serialises it (public key, signature counter); `credential_id` is its id in
-- base64url, unique across accounts as WebAuthn asks.
CREATE TABLE passkeys (
    id            INTEGER PRIMARY KEY,
    user_id       BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    credential_id TEXT NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    credential    TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    last_used_at  BIGINT
);
CREATE INDEX passkeys_user ON passkeys (user_id);

-- The server's half of a WebAuthn ceremony under way (webauthn-rs's state, which holds the
-- challenge), where every node sees it; it is taken once. `id` is `register:<user id>` or
-- `sign-in:<login challenge hash>`.
CREATE TABLE webauthn_ceremonies (
    id         TEXT PRIMARY KEY,
    state      TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
