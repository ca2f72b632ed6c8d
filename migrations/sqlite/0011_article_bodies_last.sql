-- The article bodies move to the end of the row. SQLite reads a row's columns in order, and
-- the three bodies (Markdown, HTML, plain text) spill into overflow pages: every column after
-- them (status, author, category, dates) cost a walk down that chain. Listings, archive counts
-- and `export static`'s read of the whole site read those columns and never the bodies.
--
-- SQLite cannot reorder columns in place, so the table is rebuilt: a new table, the rows
-- copied with their ids (so the external-content full-text index stays valid), the old table
-- dropped, the new one renamed. `Db::migrate` runs migrations with foreign keys off, so
-- dropping the old table deletes nothing in the tables that refer to `articles`.

CREATE TABLE articles_new (
    id              INTEGER PRIMARY KEY,
    kind            TEXT NOT NULL,
    slug            TEXT NOT NULL UNIQUE,
    title           TEXT NOT NULL,
    excerpt         TEXT NOT NULL,
    reading_minutes BIGINT NOT NULL,
    status          TEXT NOT NULL,
    author_id       BIGINT NOT NULL REFERENCES users(id),
    category_id     BIGINT REFERENCES categories(id),
    featured_image  TEXT,
    published_at    BIGINT,
    scheduled_at    BIGINT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    body_md         TEXT NOT NULL,
    body_html       TEXT NOT NULL,
    body_text       TEXT NOT NULL
);
INSERT INTO articles_new (id, kind, slug, title, excerpt, reading_minutes, status, author_id, category_id,
                      featured_image, published_at, scheduled_at, created_at, updated_at,
                      body_md, body_html, body_text)
SELECT id, kind, slug, title, excerpt, reading_minutes, status, author_id, category_id,
       featured_image, published_at, scheduled_at, created_at, updated_at,
       body_md, body_html, body_text
FROM articles;
DROP TABLE articles;
ALTER TABLE articles_new RENAME TO articles;

CREATE INDEX articles_listing ON articles (kind, status, published_at DESC, id DESC);
CREATE INDEX articles_by_category ON articles (category_id, kind, status, published_at DESC);
CREATE INDEX articles_by_author ON articles (author_id, kind, status, published_at DESC);
CREATE INDEX articles_by_status ON articles (status, updated_at DESC);

CREATE TRIGGER articles_fts_insert AFTER INSERT ON articles BEGIN
    INSERT INTO articles_fts(rowid, title, body_text) VALUES (new.id, new.title, new.body_text);
END;
CREATE TRIGGER articles_fts_delete AFTER DELETE ON articles BEGIN
    INSERT INTO articles_fts(articles_fts, rowid, title, body_text) VALUES ('delete', old.id, old.title, old.body_text);
END;
CREATE TRIGGER articles_fts_update AFTER UPDATE OF title, body_text ON articles BEGIN
    INSERT INTO articles_fts(articles_fts, rowid, title, body_text) VALUES ('delete', old.id, old.title, old.body_text);
    INSERT INTO articles_fts(rowid, title, body_text) VALUES (new.id, new.title, new.body_text);
END;
