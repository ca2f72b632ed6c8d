-- The admin editor (src/content): autosaves kept apart from the article, so an autosave never
-- publishes anything nor overwrites a published article's live text. One row per article and
-- writer: the newest autosave of each.
CREATE TABLE autosaves (
    article_id BIGINT NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    user_id    BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    title      TEXT NOT NULL,
    excerpt    TEXT NOT NULL,
    body_md    TEXT NOT NULL,
    saved_at   BIGINT NOT NULL,
    PRIMARY KEY (article_id, user_id)
);

-- The admin's article list filters by status and author across every status.
CREATE INDEX articles_by_status ON articles (status, updated_at DESC);
