-- An article's categories: its primary one (`articles.category_id`, which its page names first)
-- and the further ones a newsroom files it under. Every one of them, the primary included, is a
-- row here, so a category's archive is read from one index as a tag's is: `listed_at` is the
-- article's `published_at` while it is a published post, else NULL, kept so by the triggers of
-- 0020 (as `article_tags.listed_at` is by 0012's).
CREATE TABLE article_categories (
    article_id  BIGINT NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    category_id BIGINT NOT NULL REFERENCES categories(id) ON DELETE CASCADE,
    listed_at   BIGINT,
    PRIMARY KEY (article_id, category_id)
);

INSERT INTO article_categories (article_id, category_id, listed_at)
SELECT id, category_id, CASE WHEN kind = 'post' AND status = 'published' THEN published_at END
FROM articles WHERE category_id IS NOT NULL;

CREATE INDEX article_categories_listing ON article_categories (category_id, listed_at DESC, article_id DESC)
    WHERE listed_at IS NOT NULL;

-- Lead stories (WordPress's sticky posts): shown above the newest posts on the home page and
-- on their categories' first pages. Kept apart from the article row, as WordPress keeps them
-- (its `sticky_posts` option).
CREATE TABLE lead_stories (
    article_id BIGINT PRIMARY KEY REFERENCES articles(id) ON DELETE CASCADE
);
