-- Moving in and out (src/migrate): what each imported item became, old URLs, category hierarchy.
-- One row per imported thing, keyed by where it came from (e.g. `wordpress`, the WXR post id),
-- so re-running an import updates instead of duplicating.
CREATE TABLE import_keys (
    source      TEXT NOT NULL,
    kind        TEXT NOT NULL,
    external_id TEXT NOT NULL,
    local_id    BIGINT NOT NULL,
    PRIMARY KEY (source, kind, external_id)
);

-- Old URLs (paths) answered with a 301 to their new place.
CREATE TABLE redirects (
    old_path TEXT PRIMARY KEY,
    new_path TEXT NOT NULL
);

ALTER TABLE categories ADD COLUMN parent_id BIGINT REFERENCES categories(id);
