-- Mail outbox (src/mail) and email subscriptions (src/subscriptions). Times are Unix seconds.
CREATE TABLE IF NOT EXISTS site_secrets (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- One row per mail to send. `kind` names who composes it ('mail.raw' carries the message in
-- `payload`; 'subscriptions.*' are composed at delivery), `topic` what it is about
-- ('article:42', 'digest:daily:2026-11-26', 'confirm:<time>'). (topic, subscriber_id) is unique,
-- so a fan-out that runs twice queues each subscriber's mail once.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    kind            TEXT NOT NULL,
    topic           TEXT NOT NULL,
    subscriber_id   BIGINT,
    recipient       TEXT NOT NULL,
    payload         TEXT,
    -- 1 = newsletter mail: never sent to a suppressed address.
    bulk            BIGINT NOT NULL DEFAULT 0,
    -- queued | sent | failed | cancelled
    state           TEXT NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    locked_by       TEXT,
    locked_until    BIGINT,
    last_error      TEXT,
    created_at      BIGINT NOT NULL,
    sent_at         BIGINT
);
CREATE UNIQUE INDEX outbox_once ON outbox (topic, subscriber_id);
CREATE INDEX outbox_due ON outbox (next_attempt_at, id) WHERE state = 'queued';
CREATE INDEX outbox_by_subscriber ON outbox (subscriber_id, state);
CREATE INDEX outbox_by_recipient ON outbox (recipient, state);

-- Addresses that bounced permanently or unsubscribed: no newsletter mail until they confirm anew.
CREATE TABLE mail_suppressions (
    email      TEXT PRIMARY KEY,
    -- bounced | unsubscribed
    reason     TEXT NOT NULL,
    detail     TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL
);

-- Permanent failures (5xx) per address; `mail.bounce_threshold` of them suppress it.
CREATE TABLE mail_bounces (
    email      TEXT PRIMARY KEY,
    count      BIGINT NOT NULL,
    last_error TEXT NOT NULL,
    last_at    BIGINT NOT NULL
);

CREATE TABLE subscribers (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    -- Lowercased, domain in ASCII (IDNA).
    email           TEXT NOT NULL UNIQUE,
    -- pending | confirmed | unsubscribed
    status          TEXT NOT NULL,
    -- instant | daily | weekly
    frequency       TEXT NOT NULL,
    -- 1 = every category; 0 = only those in subscriber_categories.
    all_categories  BIGINT NOT NULL DEFAULT 1,
    -- form | import | cli
    source          TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    confirmed_at    BIGINT,
    unsubscribed_at BIGINT,
    -- When the last confirmation mail was queued (one per `subscriptions.confirm_resend_secs`).
    confirm_sent_at BIGINT
);
CREATE INDEX subscribers_fanout ON subscribers (status, frequency);

CREATE TABLE subscriber_categories (
    subscriber_id BIGINT NOT NULL REFERENCES subscribers(id) ON DELETE CASCADE,
    category_id   BIGINT NOT NULL REFERENCES categories(id) ON DELETE CASCADE,
    PRIMARY KEY (subscriber_id, category_id)
);
CREATE INDEX subscriber_categories_by_category ON subscriber_categories (category_id, subscriber_id);

-- The one notification decision per article: 'sent' (fanned out; digests include it) or
-- 'skipped' (not a fresh publication, e.g. an imported back-catalogue article).
CREATE TABLE article_mailings (
    article_id  BIGINT PRIMARY KEY REFERENCES articles(id) ON DELETE CASCADE,
    category_id BIGINT,
    state       TEXT NOT NULL,
    recipients  BIGINT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX article_mailings_by_time ON article_mailings (state, created_at);
