-- A tag's archive, newest first, read from one index. Without it a page of a tag looked up
-- every article of the tag and sorted them.
--
-- `article_tags.listed_at` is the article's `published_at` while it is a published post, else
-- NULL. Triggers keep it so, whichever statement changes the article or its tags.

ALTER TABLE article_tags ADD COLUMN listed_at BIGINT;

UPDATE article_tags t SET listed_at = a.published_at
FROM articles a
WHERE a.id = t.article_id AND a.kind = 'post' AND a.status = 'published';

CREATE INDEX article_tags_listing ON article_tags (tag_id, listed_at DESC, article_id DESC)
    WHERE listed_at IS NOT NULL;

CREATE FUNCTION article_tags_listed_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    SELECT CASE WHEN a.kind = 'post' AND a.status = 'published' THEN a.published_at END
    INTO NEW.listed_at
    FROM articles a WHERE a.id = NEW.article_id;
    RETURN NEW;
END
$$;

CREATE TRIGGER article_tags_listed_on_insert BEFORE INSERT ON article_tags
    FOR EACH ROW EXECUTE FUNCTION article_tags_listed_at();

CREATE FUNCTION article_tags_follow_article() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE article_tags
    SET listed_at = CASE WHEN NEW.kind = 'post' AND NEW.status = 'published' THEN NEW.published_at END
    WHERE article_id = NEW.id;
    RETURN NULL;
END
$$;

CREATE TRIGGER article_tags_follow_article AFTER UPDATE OF kind, status, published_at ON articles
    FOR EACH ROW
    WHEN (OLD.kind IS DISTINCT FROM NEW.kind OR OLD.status IS DISTINCT FROM NEW.status
          OR OLD.published_at IS DISTINCT FROM NEW.published_at)
    EXECUTE FUNCTION article_tags_follow_article();
