-- Records replicas (any number of `records serve` over one database behave as one).
-- A preview token redeems once: its id goes into the issuance row, unique per municipality,
-- in the statement that records the issuance; a retried request finds that row and gets the
-- same certificate back. Counter issuances have no token (NULLs are distinct).
ALTER TABLE issuance ADD COLUMN token_id BYTEA;
CREATE UNIQUE INDEX issuance_token ON issuance (municipality, token_id);

-- The digest of the evidence a challenge was used with: a preview token redeems only if its
-- sealed (challenge, evidence digest) pair is the one this database recorded at preview.
ALTER TABLE used_challenge ADD COLUMN evidence BYTEA;

-- Periodic chores shared by every replica (the used-set purge): one replica runs each when due.
CREATE TABLE maintenance (
    task     TEXT PRIMARY KEY,
    last_run BIGINT NOT NULL
);
INSERT INTO maintenance (task, last_run) VALUES ('used-challenge-purge', 0);
