-- Replies from the fediverse: "held when first" and the flood check look up an actor's
-- comments (`comments::queries::remote_facts`), as the form's checks use `comments_by_email`.
-- Rows from the form have no remote actor and are left out of the index.
CREATE INDEX comments_by_remote_actor ON comments (remote_actor, created_at) WHERE remote_actor IS NOT NULL;
