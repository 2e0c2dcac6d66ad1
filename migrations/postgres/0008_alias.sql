-- A foreign resident's registered 通称 (alias), beside the legal name: imported from the target
-- file's optional 11th column, matched against the card's name, searched at the counter and
-- printed on the certificate. Empty text means none.
ALTER TABLE resident ADD COLUMN alias TEXT;
