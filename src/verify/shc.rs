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
    // Typed, so the parts nobody reads are skipped rather than built (the hot path).
    let payload: Payload =
        serde_json::from_slice(json).map_err(|_| Error::PayloadMalformed("payload JSON"))?;
    let iss = payload.iss.ok_or(Error::PayloadMalformed("no iss"))?;
    d.issuer = Some(Issuer {
        id: iss.clone(),
        trusted_as: None,
    });
    let vc = payload.vc.unwrap_or_default();
    let bundle = vc.subject.and_then(|s| s.bundle);
    if let Some(b) = &bundle {
        read_bundle(b, d);
    }
    let types = vc.types.ok_or(Error::PayloadMalformed("no vc.type"))?;
    if !types
        .iter()
        .any(|t| t == "https://smarthealth.cards#health-card")
    {
        return Err(Error::PayloadMalformed("vc.type lacks #health-card"));
    }
    if bundle.and_then(|b| b.resource_type).as_deref() != Some("Bundle") {
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
        i.trusted_as = Some(issuer.label().to_owned());
    }

    // nbf may be fractional (Japan's cards).
    let nbf = payload.nbf;
    // Revocation.
    // A key that says it has a CRL (crlVersion > 0) is verified against exactly that CRL:
    // without it, or with another version of it, revocation cannot be ruled out.
    if let Some(version) = key.crl_version.filter(|v| *v > 0) {
        match issuer.crls.get(&kid) {
            None => return Err(Error::CrlMissing),
            Some(crl) => {
                if crl.unusable.is_some() {
                    return Err(Error::CrlUnusable);
                }
                if crl.ignored > 0 {
                    d.warnings.push("crl-entries-ignored".into());
                }
                if crl.ctr != version {
                    return Err(Error::CrlVersionMismatch);
                }
                if let Some(rid) = vc.rid.as_deref() {
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
    if payload.exp.is_some_and(|e| e < at.0 as f64) {
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
    let mut out = Vec::with_capacity(data.len() * 3);
    flate2::bufread::DeflateDecoder::new(data)
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
fn read_bundle(bundle: &Bundle, d: &mut Decoded) {
    for r in bundle.entry.iter().filter_map(|e| e.resource.as_ref()) {
        match r.resource_type.as_deref() {
            Some("Patient") if d.person.is_none() => {
                let n = r.name.first();
                let family = n.and_then(|n| n.family.as_deref()).unwrap_or_default();
                let given: Vec<&str> = n
                    .map(|n| n.given.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                let name = match n.and_then(|n| n.text.as_deref()) {
                    Some(t) => t.to_string(),
                    None if given.is_empty() => family.to_string(),
                    None => format!("{family} {}", given.join(" ")),
                };
                d.person = Some(Person {
                    name: name.trim().to_string(),
                    birth_date: r.birth_date.clone(),
                    document_number: None,
                });
            }
            Some("Immunization") => {
                let coding = r.vaccine_code.as_ref().and_then(|c| c.coding.first());
                let cvx = coding
                    .filter(|c| c.system.as_deref() == Some("http://hl7.org/fhir/sid/cvx"))
                    .and_then(|c| c.code.as_deref());
                d.doses.push(Dose {
                    product_name: cvx
                        .and_then(crate::catalogue::by_cvx)
                        .map(|p| p.name_en.to_string()),
                    date: r.occurrence.clone().unwrap_or_default(),
                    product: coding.and_then(|c| {
                        let code = c.code.as_deref()?;
                        Some(match c.system.as_deref() {
                            Some("http://hl7.org/fhir/sid/cvx") => format!("CVX {code}"),
                            _ => code.to_string(),
                        })
                    }),
                    lot: r.lot.clone(),
                    dose_number: r
                        .protocol_applied
                        .first()
                        .and_then(|p| p["doseNumberPositiveInt"].as_u64()),
                    kind: "vaccination".into(),
                });
            }
            _ => {}
        }
    }
}

/// A string member, or nothing when absent or of another type (never an error).
fn lenient_str<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    use serde::Deserialize;
    Ok(match Value::deserialize(d)? {
        Value::String(s) => Some(s),
        _ => None,
    })
}

/// A number member (fractional allowed), or nothing.
fn lenient_f64<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    use serde::Deserialize;
    Ok(Value::deserialize(d)?.as_f64())
}

/// The parts of an SHC payload the verifier reads; everything else is skipped unparsed.
#[derive(Debug, Default, serde::Deserialize)]
struct Payload {
    #[serde(default, deserialize_with = "lenient_str")]
    iss: Option<String>,
    #[serde(default, deserialize_with = "lenient_f64")]
    nbf: Option<f64>,
    #[serde(default, deserialize_with = "lenient_f64")]
    exp: Option<f64>,
    #[serde(default)]
    vc: Option<Vc>,
}

#[derive(Debug, Default, serde::Deserialize)]
struct Vc {
    #[serde(default, rename = "type")]
    types: Option<Vec<Value>>,
    #[serde(default, deserialize_with = "lenient_str")]
    rid: Option<String>,
    #[serde(default, rename = "credentialSubject")]
    subject: Option<Subject>,
}

#[derive(Debug, Default, serde::Deserialize)]
struct Subject {
    #[serde(default, rename = "fhirBundle")]
    bundle: Option<Bundle>,
}

#[derive(Debug, Default, serde::Deserialize)]
struct Bundle {
    #[serde(default, rename = "resourceType", deserialize_with = "lenient_str")]
    resource_type: Option<String>,
    #[serde(default)]
    entry: Vec<Entry>,
}

#[derive(Debug, Default, serde::Deserialize)]
struct Entry {
    #[serde(default)]
    resource: Option<Resource>,
}

#[derive(Debug, Default, serde::Deserialize)]
struct Resource {
    #[serde(default, rename = "resourceType", deserialize_with = "lenient_str")]
    resource_type: Option<String>,
    #[serde(default)]
    name: Vec<HumanName>,
    #[serde(default, rename = "birthDate", deserialize_with = "lenient_str")]
    birth_date: Option<String>,
    #[serde(default, rename = "vaccineCode")]
    vaccine_code: Option<CodeableConcept>,
    #[serde(
        default,
        rename = "occurrenceDateTime",
        deserialize_with = "lenient_str"
    )]
    occurrence: Option<String>,
    #[serde(default, rename = "lotNumber", deserialize_with = "lenient_str")]
    lot: Option<String>,
    #[serde(default, rename = "protocolApplied")]
    protocol_applied: Vec<Value>,
}

#[derive(Debug, Default, serde::Deserialize)]
struct HumanName {
    #[serde(default, deserialize_with = "lenient_str")]
    family: Option<String>,
    #[serde(default)]
    given: Vec<Value>,
    #[serde(default, deserialize_with = "lenient_str")]
    text: Option<String>,
}

#[derive(Debug, Default, serde::Deserialize)]
struct CodeableConcept {
    #[serde(default)]
    coding: Vec<Coding>,
}

#[derive(Debug, Default, serde::Deserialize)]
struct Coding {
    #[serde(default, deserialize_with = "lenient_str")]
    system: Option<String>,
    #[serde(default, deserialize_with = "lenient_str")]
    code: Option<String>,
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
