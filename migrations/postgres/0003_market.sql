-- Market prices (src/market). Times are Unix seconds; flags are 0/1 BIGINT on both backends.

-- The last good value per coin, written by the market.poll job.
CREATE TABLE market_quotes (
    coin_id             TEXT PRIMARY KEY,
    usd                 DOUBLE PRECISION NOT NULL,
    change_24h          DOUBLE PRECISION,
    -- The provider flagged the price as stale (CoinGecko: usd_24h_change null).
    provider_stale      BIGINT NOT NULL DEFAULT 0,
    -- Shown as stale: provider_stale, or older than market.stale_after_secs at the last poll.
    stale               BIGINT NOT NULL DEFAULT 0,
    source              TEXT NOT NULL,
    observed_at         BIGINT NOT NULL,
    provider_updated_at BIGINT
);

-- Price history for sparklines and charts: one point per coin and hour, pruned after 31 days.
CREATE TABLE market_points (
    coin_id TEXT NOT NULL,
    at      BIGINT NOT NULL,
    usd     DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (coin_id, at)
);
CREATE INDEX market_points_by_time ON market_points (at);

-- When each coin's history was last fetched from a provider (refreshed daily).
CREATE TABLE market_history_sync (
    coin_id   TEXT PRIMARY KEY,
    synced_at BIGINT NOT NULL,
    source    TEXT NOT NULL
);

-- Per-provider back-off after 429/5xx/timeouts, honouring Retry-After, shared by every node.
CREATE TABLE market_providers (
    name            TEXT PRIMARY KEY,
    failures        BIGINT NOT NULL DEFAULT 0,
    blocked_until   BIGINT NOT NULL DEFAULT 0,
    last_error      TEXT,
    last_success_at BIGINT
);
