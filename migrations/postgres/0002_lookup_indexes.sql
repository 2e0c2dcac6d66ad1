-- Expired challenges and preview tokens are purged by expiry; without this index every purge
-- scanned the whole used set.
CREATE INDEX used_challenge_expiry ON used_challenge (expires_at);

-- The last passport data of a resident (kiosk overseas issuance, previews): only issuances that
-- carry passport data, newest first, without walking every domestic issuance.
CREATE INDEX issuance_passport ON issuance (municipality, atena, issued_at) WHERE passport IS NOT NULL;
