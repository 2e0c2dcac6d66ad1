-- What a certificate said (name, birth date, doses), as a SHA-256 digest: a later import that
-- changes those, or a resident marked 転出/死亡, shows which certificates were issued from data
-- since changed (records stale-certificates).
ALTER TABLE issuance ADD COLUMN content_digest BLOB;
