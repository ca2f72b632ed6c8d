-- Image files, content-addressed: `cid` is the CIDv1 (raw leaves) that `openvoice cid` prints for
-- `bytes`, so identical files are stored once and every node serves them from the database.
CREATE TABLE media_files (
    cid          TEXT PRIMARY KEY,
    bytes        BLOB NOT NULL,
    content_type TEXT NOT NULL,
    width        BIGINT NOT NULL,
    height       BIGINT NOT NULL,
    size         BIGINT NOT NULL,
    created_at   BIGINT NOT NULL
);

-- The library: one entry per distinct (re-encoded) original.
CREATE TABLE media (
    id            INTEGER PRIMARY KEY,
    cid           TEXT NOT NULL UNIQUE REFERENCES media_files(cid),
    original_name TEXT NOT NULL,
    alt_text      TEXT NOT NULL,
    uploader_id   BIGINT REFERENCES users(id) ON DELETE SET NULL,
    created_at    BIGINT NOT NULL
);
CREATE INDEX media_by_created ON media (created_at, id);

-- The responsive sizes of each entry (narrower than the original only).
CREATE TABLE media_sizes (
    media_id BIGINT NOT NULL REFERENCES media(id) ON DELETE CASCADE,
    width    BIGINT NOT NULL,
    height   BIGINT NOT NULL,
    cid      TEXT NOT NULL REFERENCES media_files(cid),
    PRIMARY KEY (media_id, width)
);
CREATE INDEX media_sizes_by_cid ON media_sizes (cid);

-- Site settings changed in the admin, overriding the configuration file on every node:
-- one row per key (`site.title`, `mail.smtp_port`…), the value as JSON.
CREATE TABLE site_settings (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
