//! SMART Health Cards 1.4: `shc:/` numeric → compact JWS → raw DEFLATE payload → FHIR Bundle.
//! Rules (DESIGN §6): `alg` ES256 with a raw 64-byte R‖S signature (DER is refused), `zip` DEF,
//! the `kid` must be one of the trusted issuer's keys, the CRL is honoured when the key has
//! `crlVersion`; JWKS mode, so an expired `x5c` is only a warning. Tolerated as real issuers do:
//! spaces in the header, non-minified payloads, fractional `nbf`.

use std::io::Read;

use ring::signature::{ECDSA_P256_SHA256_FIXED, UnparsedPublicKey};
use serde_json::Value;

use super::error::Error;
use super::{Decoded, Dose, Format, Issuer, MAX_INFLATED, Person, Report, TrustStore, b64};
use crate::clock::UnixTime;

/// The largest QR version SHC allows.
pub(crate) const MAX_QR_VERSION: usize = 22;
/// Largest JWS accepted (the spec's file form has no limit; this bounds the work).
const MAX_JWS: usize = 1024 * 1024;

pub(crate) fn check_qr_version(v: Option<usize>) -> Result<(), Error> {
    match v {
        Some(version) if version > MAX_QR_VERSION => Err(Error::QrVersionTooHigh { version }),
        _ => Ok(()),
    }
}

/// Decode `shc:/` digits (after the prefix) into the JWS and verify it.
pub(crate) fn verify_numeric(digits: &str, trust: &TrustStore, at: UnixTime) -> Report {
    match numeric_to_jws(digits) {
        Ok(jws) => verify_jws(&jws, trust, at),
        Err(e) => Report::new(
            Err(e),
            Decoded {
                format: Some(Format::Shc),
                ..Decoded::default()
            },
            at,
        ),
    }
}

/// Each pair of digits is a character code minus 45 (SHC 1.4 §QR).
pub(crate) fn numeric_to_jws(digits: &str) -> Result<String, Error> {
    let b = digits.as_bytes();
    if b.is_empty() || !b.len().is_multiple_of(2) || b.len() / 2 > MAX_JWS {
        return Err(Error::ShcNumeric);
    }
    let mut out = String::with_capacity(b.len() / 2);
    for pair in b.chunks(2) {
        let (hi, lo) = (pair[0], pair[1]);
        if !hi.is_ascii_digit() || !lo.is_ascii_digit() {
            return Err(Error::ShcNumeric);
        }
        let n = (hi - b'0') * 10 + (lo - b'0');
        if n > 77 {
            return Err(Error::ShcNumeric);
        }
        out.push((n + 45) as char);
    }
    Ok(out)
}

/// Verify one compact JWS.
pub(crate) fn verify_jws(jws: &str, trust: &TrustStore, at: UnixTime) -> Report {
    let mut d = Decoded {
        format: Some(Format::Shc),
        ..Decoded::default()
    };
    let r = check(jws, trust, at, &mut d);
    Report::new(r, d, at)
}

fn check(jws: &str, trust: &TrustStore, at: UnixTime, d: &mut Decoded) -> Result<(), Error> {
    if jws.len() > MAX_JWS {
        return Err(Error::TooLarge { limit: MAX_JWS });
    }
    let mut parts = jws.split('.');
    let (Some(h64), Some(p64), Some(s64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Error::JwsMalformed("not three parts"));
    };
    let header = b64::url(h64).ok_or(Error::JwsMalformed("header base64url"))?;
    let header: Value =
        serde_json::from_slice(&header).map_err(|_| Error::JwsMalformed("header JSON"))?;
    if header["alg"] != "ES256" {
        return Err(Error::JwsHeader("alg is not ES256"));
    }
    if header["zip"] != "DEF" {
        return Err(Error::JwsHeader("zip is not DEF"));
    }
    let kid = header["kid"]
        .as_str()
        .ok_or(Error::JwsHeader("no kid"))?
        .to_string();
    let sig = b64::url(s64).ok_or(Error::JwsMalformed("signature base64url"))?;
    let compressed = b64::url(p64).ok_or(Error::JwsMalformed("payload base64url"))?;
    let raw = inflate_raw(&compressed)?;
    // A UTF-8 BOM before the JSON is harmless; the signature still covers the bytes as sent.
    let json = match raw.strip_prefix(b"\xef\xbb\xbf") {
        Some(rest) => {
            d.warnings.push("payload-bom".into());
            rest
        }
        None => &raw[..],
    };
    let payload: Value =
        serde_json::from_slice(json).map_err(|_| Error::PayloadMalformed("payload JSON"))?;
    let iss = payload["iss"]
        .as_str()
        .ok_or(Error::PayloadMalformed("no iss"))?
        .to_string();
    d.issuer = Some(Issuer {
        id: iss.clone(),
        trusted_as: None,
    });
    read_bundle(&payload, d);
    let types = payload["vc"]["type"]
        .as_array()
        .ok_or(Error::PayloadMalformed("no vc.type"))?;
    if !types
        .iter()
        .any(|t| t == "https://smarthealth.cards#health-card")
    {
        return Err(Error::PayloadMalformed("vc.type lacks #health-card"));
    }
    if payload["vc"]["credentialSubject"]["fhirBundle"]["resourceType"] != "Bundle" {
        return Err(Error::PayloadMalformed("no FHIR Bundle"));
    }

    let issuer = trust.shc_issuer(&iss).ok_or(Error::UnknownIssuer)?;
    let key = issuer
        .keys
        .iter()
        .find(|k| k.kid == kid)
        .ok_or(Error::KidNotFound)?;
    if sig.len() != 64 {
        return Err(Error::SignatureNotRaw { len: sig.len() });
    }
    let signed_len = h64.len() + 1 + p64.len();
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &key.point)
        .verify(&jws.as_bytes()[..signed_len], &sig)
        .map_err(|_| Error::SignatureInvalid)?;
    if let Some(i) = d.issuer.as_mut() {
        i.trusted_as = Some(issuer.name.clone());
    }

    // nbf may be fractional (Japan's cards).
    let nbf = payload["nbf"].as_f64();
    // Revocation.
    if let Some(version) = key.crl_version {
        match issuer.crls.get(&kid) {
            None => d.warnings.push("crl-unavailable".into()),
            Some(crl) => {
                if crl.unusable.is_some() {
                    return Err(Error::CrlUnusable);
                }
                if crl.ignored > 0 {
                    d.warnings.push("crl-entries-ignored".into());
                }
                if crl.ctr != version {
                    d.warnings.push("crl-version-mismatch".into());
                }
                if let Some(rid) = payload["vc"]["rid"].as_str() {
                    let revoked = crl.rids.iter().any(|(r, until)| {
                        r == rid && until.is_none_or(|t| nbf.is_none_or(|n| n < t as f64))
                    });
                    if revoked {
                        return Err(Error::Revoked);
                    }
                }
            }
        }
    }

    // Time, with a minute of clock skew. Revocation was checked first: it is the stronger news.
    if nbf.is_some_and(|n| n > (at.0 + 60) as f64) {
        return Err(Error::NotYetValid);
    }
    if payload["exp"].as_f64().is_some_and(|e| e < at.0 as f64) {
        return Err(Error::Expired);
    }
    if nbf.is_none() {
        d.warnings.push("nbf-missing".into());
    }

    // JWKS mode: x5c is informative only.
    if let Some(leaf) = &key.leaf {
        let (not_before, not_after) = leaf.validity;
        if at.0 < not_before || at.0 > not_after {
            d.warnings.push("x5c-expired".into());
        }
        if !leaf.san_uris.contains(&iss) {
            d.warnings.push("x5c-san-mismatch".into());
        }
    }
    if header.as_object().is_some_and(|h| h.len() > 3) {
        d.warnings.push("jws-header-extra-members".into());
    }
    Ok(())
}

/// Raw DEFLATE (RFC 1951) with the inflation cap.
pub(crate) fn inflate_raw(data: &[u8]) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    flate2::read::DeflateDecoder::new(data)
        .take(MAX_INFLATED as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|_| Error::Inflate)?;
    if out.len() > MAX_INFLATED {
        return Err(Error::InflateTooLarge {
            limit: MAX_INFLATED,
        });
    }
    Ok(out)
}

/// The holder and the doses from the FHIR Bundle (best effort; absent parts stay empty).
fn read_bundle(payload: &Value, d: &mut Decoded) {
    let entries = payload["vc"]["credentialSubject"]["fhirBundle"]["entry"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    for e in entries {
        let r = &e["resource"];
        match r["resourceType"].as_str() {
            Some("Patient") if d.person.is_none() => {
                let n = &r["name"][0];
                let family = n["family"].as_str().unwrap_or_default();
                let given: Vec<&str> = n["given"]
                    .as_array()
                    .map(|g| g.iter().filter_map(|x| x.as_str()).collect())
                    .unwrap_or_default();
                let name = match n["text"].as_str() {
                    Some(t) => t.to_string(),
                    None if given.is_empty() => family.to_string(),
                    None => format!("{family} {}", given.join(" ")),
                };
                d.person = Some(Person {
                    name: name.trim().to_string(),
                    birth_date: r["birthDate"].as_str().map(str::to_string),
                });
            }
            Some("Immunization") => {
                let coding = &r["vaccineCode"]["coding"][0];
                d.doses.push(Dose {
                    date: r["occurrenceDateTime"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                    product: coding["code"]
                        .as_str()
                        .map(|c| match coding["system"].as_str() {
                            Some("http://hl7.org/fhir/sid/cvx") => format!("CVX {c}"),
                            _ => c.to_string(),
                        }),
                    lot: r["lotNumber"].as_str().map(str::to_string),
                    dose_number: r["protocolApplied"][0]["doseNumberPositiveInt"].as_u64(),
                    kind: "vaccination".into(),
                });
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_pairs() {
        // "ey" = 101-45=56, 121-45=76
        assert_eq!(numeric_to_jws("5676").unwrap(), "ey");
        assert_eq!(numeric_to_jws("78"), Err(Error::ShcNumeric));
        assert_eq!(numeric_to_jws("567"), Err(Error::ShcNumeric));
        assert_eq!(numeric_to_jws(""), Err(Error::ShcNumeric));
        assert_eq!(numeric_to_jws("5a"), Err(Error::ShcNumeric));
    }

    #[test]
    fn qr_version_limit_is_22() {
        assert!(check_qr_version(Some(22)).is_ok());
        assert!(check_qr_version(None).is_ok());
        assert_eq!(
            check_qr_version(Some(23)),
            Err(Error::QrVersionTooHigh { version: 23 })
        );
    }

    #[test]
    fn inflation_is_capped() {
        use std::io::Write;
        let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
        e.write_all(&vec![b'a'; MAX_INFLATED + 1]).unwrap();
        let bomb = e.finish().unwrap();
        assert_eq!(
            inflate_raw(&bomb),
            Err(Error::InflateTooLarge {
                limit: MAX_INFLATED
            })
        );
        assert_eq!(inflate_raw(b"\xff\xff\xff"), Err(Error::Inflate));
    }
}
