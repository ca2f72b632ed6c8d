-- Private analytics: views per UTC day (`day`, days since 1970-01-01) and path, and per day and
-- referring site. Each node adds its counts in batches; no visitor is recorded.
CREATE TABLE page_views (
    day   BIGINT NOT NULL,
    path  TEXT NOT NULL,
    views BIGINT NOT NULL,
    PRIMARY KEY (day, path)
);
CREATE INDEX page_views_by_path ON page_views (path, day);

CREATE TABLE referrer_views (
    day    BIGINT NOT NULL,
    host   TEXT NOT NULL,
    views  BIGINT NOT NULL,
    PRIMARY KEY (day, host)
);
