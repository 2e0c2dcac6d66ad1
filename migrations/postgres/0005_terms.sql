-- The terms-of-use version the resident accepted before the card was read (app and kiosk
-- issuances; the counter's have none).
ALTER TABLE issuance ADD COLUMN terms_version TEXT;
