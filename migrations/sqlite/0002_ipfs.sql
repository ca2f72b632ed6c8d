-- Content-addressed blocks (UnixFS/dag-pb and raw), keyed by their CIDv1 in base32.
CREATE TABLE blocks (
    cid        TEXT PRIMARY KEY,
    data       BLOB NOT NULL,
    size       BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);

-- Every published version of an article's IPFS bundle, newest last.
CREATE TABLE article_bundles (
    id         INTEGER PRIMARY KEY,
    article_id BIGINT NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    root_cid   TEXT NOT NULL,
    -- The bundle's cumulative DAG size (its Tsize when linked from the site snapshot).
    dag_size   BIGINT NOT NULL,
    -- The bundle this one replaced (also named in its meta.json).
    previous_cid TEXT,
    created_at BIGINT NOT NULL,
    UNIQUE (article_id, root_cid)
);
CREATE INDEX article_bundles_by_article ON article_bundles (article_id, id);

-- The whole-site snapshot's current root (one row).
CREATE TABLE site_snapshot (
    id       BIGINT PRIMARY KEY,
    root_cid TEXT NOT NULL,
    built_at BIGINT NOT NULL
);

-- Pin state per article bundle and pinning target.
CREATE TABLE pins (
    article_id BIGINT NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    target     TEXT NOT NULL,
    root_cid   TEXT NOT NULL,
    state      TEXT NOT NULL,
    last_error TEXT,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (article_id, target)
);
