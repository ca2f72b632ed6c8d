-- What each content write changed, by the content epoch it moved to, so a node's page cache
-- drops only the pages that show it (a comment approved on one article leaves every other
-- article's page cached). A node catching up reads the rows past the epoch it last saw; where
-- rows are missing (pruned, or written before this table) it drops every page, as before.
--
-- scope: 'everything'; 'article' (the article's text, status or place in listings changed);
-- 'extras' (what shows only on the article's own page: comments, IPFS links).
-- article_id: NULL for 'everything'; no foreign key, as a deleted article's change still counts.
CREATE TABLE content_changes (
    epoch BIGINT NOT NULL,
    scope TEXT NOT NULL,
    article_id BIGINT
);

CREATE INDEX content_changes_by_epoch ON content_changes (epoch);
