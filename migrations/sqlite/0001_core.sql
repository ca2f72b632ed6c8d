-- Core schema: accounts, content, jobs, site state. Times are Unix seconds (BIGINT) on both backends.
CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    email         TEXT NOT NULL UNIQUE,
    display_name  TEXT NOT NULL,
    role          TEXT NOT NULL,
    password_hash TEXT,
    created_at    BIGINT NOT NULL
);

CREATE TABLE categories (
    id          INTEGER PRIMARY KEY,
    slug        TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    created_at  BIGINT NOT NULL
);

CREATE TABLE tags (
    id   INTEGER PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL
);

CREATE TABLE articles (
    id              INTEGER PRIMARY KEY,
    kind            TEXT NOT NULL,
    slug            TEXT NOT NULL UNIQUE,
    title           TEXT NOT NULL,
    excerpt         TEXT NOT NULL,
    body_md         TEXT NOT NULL,
    body_html       TEXT NOT NULL,
    body_text       TEXT NOT NULL,
    reading_minutes BIGINT NOT NULL,
    status          TEXT NOT NULL,
    author_id       BIGINT NOT NULL REFERENCES users(id),
    category_id     BIGINT REFERENCES categories(id),
    featured_image  TEXT,
    published_at    BIGINT,
    scheduled_at    BIGINT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX articles_listing ON articles (kind, status, published_at DESC, id DESC);
CREATE INDEX articles_by_category ON articles (category_id, kind, status, published_at DESC);
CREATE INDEX articles_by_author ON articles (author_id, kind, status, published_at DESC);

CREATE TABLE article_tags (
    article_id BIGINT NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    tag_id     BIGINT NOT NULL REFERENCES tags(id),
    PRIMARY KEY (article_id, tag_id)
);
CREATE INDEX article_tags_by_tag ON article_tags (tag_id, article_id);

CREATE TABLE revisions (
    id         INTEGER PRIMARY KEY,
    article_id BIGINT NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    title      TEXT NOT NULL,
    excerpt    TEXT NOT NULL,
    body_md    TEXT NOT NULL,
    saved_at   BIGINT NOT NULL
);
CREATE INDEX revisions_by_article ON revisions (article_id, id);

-- Full-text index over published and unpublished articles; queries filter by status.
CREATE VIRTUAL TABLE articles_fts USING fts5(
    title, body_text, content='articles', content_rowid='id', tokenize='porter unicode61'
);
CREATE TRIGGER articles_fts_insert AFTER INSERT ON articles BEGIN
    INSERT INTO articles_fts(rowid, title, body_text) VALUES (new.id, new.title, new.body_text);
END;
CREATE TRIGGER articles_fts_delete AFTER DELETE ON articles BEGIN
    INSERT INTO articles_fts(articles_fts, rowid, title, body_text) VALUES ('delete', old.id, old.title, old.body_text);
END;
CREATE TRIGGER articles_fts_update AFTER UPDATE OF title, body_text ON articles BEGIN
    INSERT INTO articles_fts(articles_fts, rowid, title, body_text) VALUES ('delete', old.id, old.title, old.body_text);
    INSERT INTO articles_fts(rowid, title, body_text) VALUES (new.id, new.title, new.body_text);
END;

CREATE TABLE jobs (
    id           INTEGER PRIMARY KEY,
    kind         TEXT NOT NULL,
    payload      TEXT NOT NULL,
    unique_key   TEXT UNIQUE,
    state        TEXT NOT NULL DEFAULT 'queued',
    run_at       BIGINT NOT NULL,
    attempts     BIGINT NOT NULL DEFAULT 0,
    max_attempts BIGINT NOT NULL,
    locked_by    TEXT,
    locked_until BIGINT,
    last_error   TEXT,
    created_at   BIGINT NOT NULL,
    finished_at  BIGINT
);
CREATE INDEX jobs_due ON jobs (state, run_at);

-- What happened, for the dashboard and for proving a job ran once.
CREATE TABLE activity (
    id         INTEGER PRIMARY KEY,
    kind       TEXT NOT NULL,
    subject_id BIGINT,
    detail     TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- Small shared counters. content_epoch changes on every content write; page caches key on it.
CREATE TABLE site_state (
    key   TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);
INSERT INTO site_state (key, value) VALUES ('content_epoch', 1);
