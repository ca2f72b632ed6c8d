-- The site's IPNS record, kept with the snapshot it names (src/ipfs/ipns.rs). ipns_sequence
-- only grows, whichever node signs and whatever the key, so resolvers always prefer the newest.
ALTER TABLE site_snapshot ADD COLUMN ipns_name TEXT;
ALTER TABLE site_snapshot ADD COLUMN ipns_sequence BIGINT;
ALTER TABLE site_snapshot ADD COLUMN ipns_valid_until BIGINT;
ALTER TABLE site_snapshot ADD COLUMN ipns_record BYTEA;
