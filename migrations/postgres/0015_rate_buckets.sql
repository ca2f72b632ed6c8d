-- Token buckets that every node shares (the comment and subscribe forms, search): one row per
-- limit and client, the client as a keyed hash of its address. `tokens` as of `at_ms`; `taken`
-- says whether the last request took one.
CREATE TABLE rate_buckets (
    scope  TEXT NOT NULL,
    client TEXT NOT NULL,
    tokens DOUBLE PRECISION NOT NULL,
    taken  BIGINT NOT NULL,
    at_ms  BIGINT NOT NULL,
    PRIMARY KEY (scope, client)
);
CREATE INDEX rate_buckets_by_time ON rate_buckets (scope, at_ms);
