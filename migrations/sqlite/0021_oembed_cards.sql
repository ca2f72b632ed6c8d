-- What oEmbed providers (`content.oembed_endpoints`) said of the links embedded in articles: a
-- title and an author for the click-to-load placeholder, asked by the server once a week at
-- most, never by the reader. `title` NULL: the provider did not answer usably; asked again a
-- day later.
CREATE TABLE oembed_cards (
    url         TEXT PRIMARY KEY,
    title       TEXT,
    author_name TEXT NOT NULL,
    fetched_at  BIGINT NOT NULL
);
