-- ActivityPub, the write side (src/activitypub): who follows the site actor, what remote
-- actors said of themselves, what the newsroom blocked, the reactions its articles got, the
-- activities it sends and how remote instances answer. Times are Unix seconds.

-- Remote actors as last fetched (to verify their signatures and to deliver to them). A
-- signature that fails with the kept key fetches the actor again once (keys rotate).
CREATE TABLE ap_actors (
    actor_id       TEXT PRIMARY KEY,
    key_id         TEXT NOT NULL,
    public_key_pem TEXT NOT NULL,
    inbox          TEXT NOT NULL,
    -- NULL when the actor's instance has none.
    shared_inbox   TEXT,
    -- `preferredUsername@host`, and the display name, for the desk and for comments.
    handle         TEXT NOT NULL,
    name           TEXT NOT NULL,
    -- The actor's profile page (`url`), else its id.
    profile_url    TEXT NOT NULL,
    fetched_at     BIGINT NOT NULL
);
CREATE INDEX ap_actors_key ON ap_actors (key_id);

-- Accounts following the site actor: a row per accepted `Follow`, removed by `Undo`, by the
-- actor's `Delete`, or by a block.
CREATE TABLE ap_followers (
    actor_id    TEXT PRIMARY KEY,
    -- Lowercased host of actor_id: blocks and the desk's per-instance counts.
    host        TEXT NOT NULL,
    -- Where deliveries go: the shared inbox when the actor has one, else its own.
    inbox       TEXT NOT NULL,
    -- The Follow activity's id, which an `Undo` names.
    follow_id   TEXT NOT NULL,
    followed_at BIGINT NOT NULL
);
CREATE INDEX ap_followers_host ON ap_followers (host);
CREATE INDEX ap_followers_inbox ON ap_followers (inbox);
CREATE INDEX ap_followers_recent ON ap_followers (followed_at);

-- Blocked instances (a host, `example.social`) and actors (an actor URL): their requests change
-- nothing and nothing is delivered to them.
CREATE TABLE ap_blocks (
    target     TEXT PRIMARY KEY,
    created_at BIGINT NOT NULL
);

-- Likes and boosts (`Like`, `Announce`) of articles, a row per actor and kind, removed by
-- `Undo`; the counts are these rows.
CREATE TABLE ap_reactions (
    activity_id TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    article_id  BIGINT NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    actor_id    TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE UNIQUE INDEX ap_reactions_once ON ap_reactions (article_id, kind, actor_id);

-- Activities the site sends (Create, Update, Delete of articles; Accept of follows), kept once
-- and named by the delivery jobs, which carry only this row's id and their inboxes.
CREATE TABLE ap_activities (
    id          INTEGER PRIMARY KEY,
    activity_id TEXT NOT NULL UNIQUE,
    body        TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

-- Articles as the fediverse was told of them: `object_id` is the `Article`'s id (its URL when
-- sent, kept for the `Delete` after the article is gone), `sent_version` a hash of the
-- `Article` object last sent (two saves in one second share an `updated_at`), `deleted_at` set
-- once a `Delete` went out. No foreign key: the row
-- outlives its article.
CREATE TABLE ap_articles (
    article_id   BIGINT PRIMARY KEY,
    object_id    TEXT NOT NULL,
    sent_version BIGINT NOT NULL,
    deleted_at   BIGINT
);

-- Remote instances that failed deliveries: `failing_since` is the first failure since the last
-- success; deliveries to an instance failing for longer than
-- `activitypub.give_up_after_hours` are dropped, and the next success clears the row.
CREATE TABLE ap_instances (
    host          TEXT PRIMARY KEY,
    failing_since BIGINT NOT NULL,
    last_error    TEXT NOT NULL
);

-- Replies from the fediverse are comments: `remote_id` is the `Note`'s id (a `Delete` of it
-- deletes the comment), `remote_actor` its author's actor id.
ALTER TABLE comments ADD COLUMN remote_id TEXT;
ALTER TABLE comments ADD COLUMN remote_actor TEXT;
CREATE UNIQUE INDEX comments_remote ON comments (remote_id);
-- Replies from the fediverse: "held when first" and the flood check look up an actor's
-- comments (`comments::queries::remote_facts`), as the form's checks use `comments_by_email`.
-- Rows from the form have no remote actor and are left out of the index.
CREATE INDEX comments_by_remote_actor ON comments (remote_actor, created_at) WHERE remote_actor IS NOT NULL;
