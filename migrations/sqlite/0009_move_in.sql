-- 転入照会 (the move-in record query). When a resident's new municipality imports them and takes
-- their 個人番号 over, the former municipality keeps the hash here, so it can still match a query
-- about the resident who moved out; and doses provided by a former municipality are stored with
-- their provenance (which municipality, which query, when).
CREATE TABLE former_mynumber (
    municipality TEXT NOT NULL,
    atena        TEXT NOT NULL,
    hash         BLOB NOT NULL,
    PRIMARY KEY (municipality, atena)
);
CREATE INDEX former_mynumber_hash ON former_mynumber (hash);
ALTER TABLE vaccination ADD COLUMN from_municipality TEXT;
ALTER TABLE vaccination ADD COLUMN from_query TEXT;
ALTER TABLE vaccination ADD COLUMN from_at INTEGER;
