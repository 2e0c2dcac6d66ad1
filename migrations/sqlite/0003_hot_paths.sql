-- An issuance reserves its certificate ID in the unpartitioned certificate_id table within the
-- same statement, so recording an issuance is one INSERT (one round trip on the issuance hot
-- path) and an ID taken in any municipality fails that INSERT as a whole.
CREATE TRIGGER issuance_reserves_certificate_id AFTER INSERT ON issuance
BEGIN
    INSERT INTO certificate_id (id, municipality) VALUES (NEW.certificate_id, NEW.municipality);
END;

-- The used set is purged at most every 30 s (records::Records::claim); a scan then costs far
-- less than keeping an expiry index up to date on every claim.
DROP INDEX used_challenge_expiry;

