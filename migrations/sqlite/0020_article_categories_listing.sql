-- `article_categories.listed_at` follows the article (0019), whichever statement changes the
-- article or its categories. Apart from 0019 so that a test can make 0019's tables before
-- 0011 rebuilds `articles` (a trigger naming `articles` would stop that rebuild); the rows
-- written between the two are brought up to date here.

UPDATE article_categories SET listed_at = (
    SELECT CASE WHEN a.kind = 'post' AND a.status = 'published' THEN a.published_at END
    FROM articles a WHERE a.id = article_categories.article_id
);

CREATE TRIGGER article_categories_listed_on_insert AFTER INSERT ON article_categories BEGIN
    UPDATE article_categories SET listed_at = (
        SELECT CASE WHEN a.kind = 'post' AND a.status = 'published' THEN a.published_at END
        FROM articles a WHERE a.id = new.article_id
    )
    WHERE article_id = new.article_id AND category_id = new.category_id;
END;

CREATE TRIGGER article_categories_follow_article AFTER UPDATE OF kind, status, published_at ON articles BEGIN
    UPDATE article_categories
    SET listed_at = CASE WHEN new.kind = 'post' AND new.status = 'published' THEN new.published_at END
    WHERE article_id = new.id;
END;
