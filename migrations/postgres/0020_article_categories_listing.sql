-- `article_categories.listed_at` follows the article (0019), whichever statement changes the
-- article or its categories. Apart from 0019 so that a test can make 0019's tables before
-- 0011 rebuilds `articles` (a trigger naming `articles` would stop that rebuild); the rows
-- written between the two are brought up to date here.

UPDATE article_categories ac
SET listed_at = CASE WHEN a.kind = 'post' AND a.status = 'published' THEN a.published_at END
FROM articles a
WHERE a.id = ac.article_id;

CREATE FUNCTION article_categories_listed_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    SELECT CASE WHEN a.kind = 'post' AND a.status = 'published' THEN a.published_at END
    INTO NEW.listed_at
    FROM articles a WHERE a.id = NEW.article_id;
    RETURN NEW;
END
$$;

CREATE TRIGGER article_categories_listed_on_insert BEFORE INSERT ON article_categories
    FOR EACH ROW EXECUTE FUNCTION article_categories_listed_at();

CREATE FUNCTION article_categories_follow_article() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE article_categories
    SET listed_at = CASE WHEN NEW.kind = 'post' AND NEW.status = 'published' THEN NEW.published_at END
    WHERE article_id = NEW.id;
    RETURN NULL;
END
$$;

CREATE TRIGGER article_categories_follow_article AFTER UPDATE OF kind, status, published_at ON articles
    FOR EACH ROW
    WHEN (OLD.kind IS DISTINCT FROM NEW.kind OR OLD.status IS DISTINCT FROM NEW.status
          OR OLD.published_at IS DISTINCT FROM NEW.published_at)
    EXECUTE FUNCTION article_categories_follow_article();
