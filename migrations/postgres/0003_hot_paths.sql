-- An issuance reserves its certificate ID in the unpartitioned certificate_id table within the
-- same statement, so recording an issuance is one INSERT (one round trip) and an ID taken in any
-- municipality fails that INSERT as a whole.
CREATE FUNCTION issuance_reserves_certificate_id() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO certificate_id (id, municipality) VALUES (NEW.certificate_id, NEW.municipality);
    RETURN NULL;
END
$$;

CREATE TRIGGER issuance_reserves_certificate_id AFTER INSERT ON issuance
    FOR EACH ROW EXECUTE FUNCTION issuance_reserves_certificate_id();

-- The used set is purged at most every 30 s (records::Records::claim); a scan then costs far
-- less than keeping an expiry index up to date on every claim.
DROP INDEX used_challenge_expiry;
