-- Reader comments (src/comments). Times are Unix seconds; statuses pending/approved/spam/trash.
-- A random site secret (form tokens, cookies, avatar and IP hashes) is created here on first use.
CREATE TABLE IF NOT EXISTS site_secrets (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE comments (
    id           INTEGER PRIMARY KEY,
    article_id   BIGINT NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    parent_id    BIGINT REFERENCES comments(id),
    -- The top-level comment of the thread; NULL for a top-level comment.
    thread_id    BIGINT,
    depth        BIGINT NOT NULL,
    status       TEXT NOT NULL,
    author_name  TEXT NOT NULL,
    -- Lowercased; never shown publicly.
    author_email TEXT NOT NULL,
    author_url   TEXT NOT NULL,
    -- Keyed hash of the email: the identicon's name.
    avatar       TEXT NOT NULL,
    -- Keyed hash of the client address, for flood control.
    ip_hash      TEXT NOT NULL,
    user_agent   TEXT NOT NULL,
    content      TEXT NOT NULL,
    content_html TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);
CREATE INDEX comments_thread ON comments (article_id, status, id);
CREATE INDEX comments_queue ON comments (status, id);
CREATE INDEX comments_by_email ON comments (author_email, created_at);
CREATE INDEX comments_by_ip ON comments (ip_hash, created_at);
CREATE INDEX comments_duplicates ON comments (article_id, content_hash);

-- Per-article switch; no row means open, with the site's close_after_days.
CREATE TABLE comment_settings (
    article_id       BIGINT PRIMARY KEY REFERENCES articles(id) ON DELETE CASCADE,
    open             BIGINT NOT NULL DEFAULT 1,
    close_after_days BIGINT
);
