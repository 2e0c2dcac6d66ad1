//! EU Digital COVID Certificate (eHealth Network hcert spec 1.3): `HC1:` + base45 → zlib →
//! COSE_Sign1 (optionally inside CWT tag 61) → CWT claims → hcert (claim -260, key 1).
//! Signatures: ES256 (raw R‖S) and PS256. The `kid` (first 8 bytes of SHA-256 of the DSC) is
//! taken from the protected header, else the unprotected one. The DSC's key-usage OIDs
//! (`1.3.6.1.4.1.1847.2021.1.1/2/3` for test, vaccination, recovery) limit what it may sign;
//! `exp` and `iat` are checked against the verification time.

use std::io::Read;

use ciborium::Value as Cbor;
use ring::signature::{ECDSA_P256_SHA256_FIXED, RSA_PSS_2048_8192_SHA256, UnparsedPublicKey};

use super::error::Error;
use super::x509::PublicKey;
use super::{Decoded, Dose, Format, Issuer, MAX_INFLATED, Person, Report, TrustStore};
use crate::clock::UnixTime;

const BASE45: &[u8; 45] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";
/// Key-usage OIDs for test, vaccination and recovery, in the spec's form and in the
/// `1.3.6.1.4.1.0.1847…` form that the EU test DSCs (and several member states) use.
const EKU: [(&str, char); 6] = [
    ("1.3.6.1.4.1.1847.2021.1.1", 't'),
    ("1.3.6.1.4.1.1847.2021.1.2", 'v'),
    ("1.3.6.1.4.1.1847.2021.1.3", 'r'),
    ("1.3.6.1.4.1.0.1847.2021.1.1", 't'),
    ("1.3.6.1.4.1.0.1847.2021.1.2", 'v'),
    ("1.3.6.1.4.1.0.1847.2021.1.3", 'r'),
];
/// CBOR nesting allowed (an hcert needs about 6 levels).
const CBOR_DEPTH: usize = 32;

pub(crate) fn is_base45(s: &str) -> bool {
    s.bytes().all(|b| BASE45.contains(&b))
}

pub(crate) fn verify(text: &str, trust: &TrustStore, at: UnixTime) -> Report {
    let mut d = Decoded {
        format: Some(Format::EuDcc),
        ..Decoded::default()
    };
    let r = check(text, trust, at, &mut d);
    Report::new(r, d, at)
}

/// base45 (RFC 9285).
pub(crate) fn base45_decode(s: &str) -> Result<Vec<u8>, Error> {
    let vals: Vec<u32> = s
        .bytes()
        .map(|b| {
            BASE45
                .iter()
                .position(|&c| c == b)
                .map(|p| p as u32)
                .ok_or(Error::Base45)
        })
        .collect::<Result<_, _>>()?;
    let mut out = Vec::with_capacity(vals.len() * 2 / 3 + 1);
    for chunk in vals.chunks(3) {
        match *chunk {
            [a, b, c] => {
                let n = a + b * 45 + c * 45 * 45;
                if n > 0xffff {
                    return Err(Error::Base45);
                }
                out.push((n >> 8) as u8);
                out.push((n & 0xff) as u8);
            }
            [a, b] => {
                let n = a + b * 45;
                if n > 0xff {
                    return Err(Error::Base45);
                }
                out.push(n as u8);
            }
            _ => return Err(Error::Base45),
        }
    }
    Ok(out)
}

fn inflate_zlib(data: &[u8]) -> Result<Vec<u8>, Error> {
    if data.first() != Some(&0x78) {
        return Err(Error::Inflate);
    }
    let mut out = Vec::new();
    flate2::read::ZlibDecoder::new(data)
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

fn cbor(bytes: &[u8]) -> Result<Cbor, Error> {
    ciborium::de::from_reader_with_recursion_limit(bytes, CBOR_DEPTH).map_err(|_| Error::Cbor)
}

fn map_get(m: &Cbor, key: i64) -> Option<&Cbor> {
    m.as_map()?.iter().find_map(|(k, v)| {
        let k: i128 = k.as_integer()?.into();
        (k == key as i128).then_some(v)
    })
}

fn map_text<'a>(m: &'a Cbor, key: &str) -> Option<&'a Cbor> {
    m.as_map()?
        .iter()
        .find_map(|(k, v)| (k.as_text()? == key).then_some(v))
}

fn int(v: &Cbor) -> Option<i64> {
    match v {
        Cbor::Integer(i) => i64::try_from(i128::from(*i)).ok(),
        Cbor::Float(f) if f.is_finite() => Some(*f as i64),
        _ => None,
    }
}

fn check(text: &str, trust: &TrustStore, at: UnixTime, d: &mut Decoded) -> Result<(), Error> {
    let body = text.strip_prefix("HC1:").ok_or(Error::Hc1Prefix)?;
    let compressed = base45_decode(body)?;
    let raw = inflate_zlib(&compressed)?;
    let mut cose = cbor(&raw)?;
    // CWT tag 61 around COSE_Sign1 tag 18 (CO28), or either alone, or untagged.
    for _ in 0..2 {
        if let Cbor::Tag(t, inner) = cose {
            if t != 61 && t != 18 {
                return Err(Error::Cose("unexpected tag"));
            }
            cose = *inner;
        }
    }
    let Cbor::Array(parts) = cose else {
        return Err(Error::Cose("not an array"));
    };
    let [protected, unprotected, payload, signature] = parts.as_slice() else {
        return Err(Error::Cose("not four elements"));
    };
    let (Some(protected_bytes), Some(payload_bytes), Some(sig)) = (
        protected.as_bytes(),
        payload.as_bytes(),
        signature.as_bytes(),
    ) else {
        return Err(Error::Cose("element types"));
    };
    let protected_map = if protected_bytes.is_empty() {
        Cbor::Map(vec![])
    } else {
        cbor(protected_bytes)?
    };
    if unprotected.as_map().is_none() {
        return Err(Error::Cose("unprotected header is not a map"));
    }
    // The algorithm counts only where the signature covers it (RFC 9052 §3.1): an `alg` in
    // the unprotected header could be swapped by anyone, so it is never read. Without a
    // protected one, the DSC's key type decides (P-256: ES256, RSA: PS256), which is what the
    // EU's own vectors (CO20) expect to verify.
    let alg = map_get(&protected_map, 1).map(|a| int(a).ok_or(Error::Cose("alg")));
    let alg = alg.transpose()?;
    let kid = map_get(&protected_map, 4)
        .or_else(|| map_get(unprotected, 4))
        .and_then(|k| k.as_bytes())
        .ok_or(Error::Cose("no kid"))?
        .clone();

    let claims = cbor(payload_bytes)?;
    if claims.as_map().is_none() {
        return Err(Error::Cose("CWT payload is not a map"));
    }
    let iss = map_get(&claims, 1).and_then(|v| v.as_text()).unwrap_or("");
    d.issuer = Some(Issuer {
        id: iss.to_string(),
        trusted_as: None,
    });
    let hcert = map_get(&claims, -260)
        .and_then(|h| map_get(h, 1))
        .ok_or(Error::Schema("no hcert claim"))?;
    let kind = read_hcert(hcert, d)?;

    // Signature under a trusted DSC with this kid.
    let candidates: Vec<_> = trust.dscs_by_kid(&kid).collect();
    if candidates.is_empty() {
        return Err(Error::UnknownIssuer);
    }
    let sig_structure = Cbor::Array(vec![
        Cbor::Text("Signature1".into()),
        Cbor::Bytes(protected_bytes.clone()),
        Cbor::Bytes(vec![]),
        Cbor::Bytes(payload_bytes.clone()),
    ]);
    let mut to_be_signed = Vec::new();
    ciborium::ser::into_writer(&sig_structure, &mut to_be_signed)
        .map_err(|_| Error::Cose("Sig_structure"))?;
    if alg.is_some_and(|a| !matches!(a, -7 | -37)) {
        return Err(Error::UnsupportedAlgorithm("COSE alg"));
    }
    // Several DSCs may share a kid (8 bytes): try each, skipping keys of another type.
    let mut signer = None;
    let mut fitting = 0;
    for a in &candidates {
        let Ok(key) = a.cert.public_key() else {
            continue;
        };
        let ok = match (alg, &key) {
            (Some(-7) | None, PublicKey::P256(p)) => {
                UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, p)
                    .verify(&to_be_signed, sig)
                    .is_ok()
            }
            (Some(-37) | None, PublicKey::Rsa(k)) => {
                UnparsedPublicKey::new(&RSA_PSS_2048_8192_SHA256, k)
                    .verify(&to_be_signed, sig)
                    .is_ok()
            }
            _ => continue,
        };
        fitting += 1;
        if ok {
            signer = Some(*a);
            break;
        }
    }
    let signer = match signer {
        Some(s) => s,
        None if fitting == 0 => {
            return Err(Error::KeyUnusable("alg does not fit the DSC key"));
        }
        None => return Err(Error::SignatureInvalid),
    };
    if let Some(i) = d.issuer.as_mut() {
        i.trusted_as = Some(signer.label().to_owned());
    }

    // Key usage.
    if let Some(eku) = signer.cert.extended_key_usage() {
        let allowed: Vec<char> = eku
            .iter()
            .filter_map(|o| EKU.iter().find(|(oid, _)| oid == o).map(|(_, k)| *k))
            .collect();
        if !allowed.is_empty() && !allowed.contains(&kind) {
            return Err(Error::KeyUsage);
        }
    }

    // Time.
    if map_get(&claims, 6)
        .and_then(int)
        .is_some_and(|iat| iat > at.0.saturating_add(60))
    {
        return Err(Error::NotYetValid);
    }
    match map_get(&claims, 4).and_then(int) {
        Some(exp) if exp < at.0 => return Err(Error::Expired),
        None => d.warnings.push("exp-missing".into()),
        _ => {}
    }
    // A document signer outside its validity signs nothing valid at this time.
    if !signer.cert.valid_at(at.0) {
        return Err(Error::CertificateNotValidAt);
    }
    Ok(())
}

/// Read and structurally check the hcert (schema 1.x essentials): one of `v`, `t`, `r` with
/// exactly one entry. Returns which.
fn read_hcert(h: &Cbor, d: &mut Decoded) -> Result<char, Error> {
    if h.as_map().is_none() {
        return Err(Error::Schema("hcert is not a map"));
    }
    // Texts, also when tagged (SE sends `sc` as tag 0, a date-time string).
    let text = |m: &Cbor, k: &str| {
        map_text(m, k)
            .and_then(|v| match v {
                Cbor::Tag(0, inner) => inner.as_text(),
                v => v.as_text(),
            })
            .map(str::to_string)
    };
    if text(h, "ver").is_none() {
        return Err(Error::Schema("no ver"));
    }
    let nam = map_text(h, "nam").ok_or(Error::Schema("no nam"))?;
    let fnt = text(nam, "fnt").ok_or(Error::Schema("no nam.fnt"))?;
    let family = text(nam, "fn").unwrap_or(fnt);
    let given = text(nam, "gn").or_else(|| text(nam, "gnt"));
    let dob = text(h, "dob").ok_or(Error::Schema("no dob"))?;
    if !dob_matches_schema(&dob) {
        return Err(Error::Schema("dob outside the schema's pattern"));
    }
    d.person = Some(Person {
        name: match given {
            Some(g) => format!("{family} {g}"),
            None => family,
        },
        birth_date: Some(dob),
        document_number: None,
    });
    let groups: Vec<(char, &Cbor)> = ['v', 't', 'r']
        .into_iter()
        .filter_map(|c| map_text(h, &c.to_string()).map(|v| (c, v)))
        .collect();
    let [(kind, list)] = groups.as_slice() else {
        return Err(Error::Schema("not exactly one of v, t, r"));
    };
    let entries = list.as_array().ok_or(Error::Schema("entry list"))?;
    let [e] = entries.as_slice() else {
        return Err(Error::Schema("not exactly one entry"));
    };
    if e.as_map().is_none() {
        return Err(Error::Schema("entry is not a map"));
    }
    let need = |k: &'static str| text(e, k).ok_or(Error::Schema(k));
    need("ci")?;
    need("co")?;
    let dose = match kind {
        'v' => Dose {
            date: need("dt")?,
            product: text(e, "mp"),
            product_name: None,
            lot: None,
            dose_number: map_text(e, "dn").and_then(int).map(|n| n as u64),
            kind: "vaccination".into(),
        },
        't' => Dose {
            date: need("sc")?,
            product: Some(need("tt")?),
            product_name: None,
            lot: None,
            dose_number: None,
            kind: "test".into(),
        },
        _ => Dose {
            date: need("fr")?,
            product: None,
            product_name: None,
            lot: None,
            dose_number: None,
            kind: "recovery".into(),
        },
    };
    d.doses.push(dose);
    Ok(*kind)
}

/// The schema's `dob` pattern: `^((19|20)\d\d(-\d\d){0,2}){0,1}$`.
fn dob_matches_schema(dob: &str) -> bool {
    if dob.is_empty() {
        return true;
    }
    let b = dob.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    let ok_year = b.len() >= 4 && (b.starts_with(b"19") || b.starts_with(b"20")) && digits(0..4);
    ok_year
        && match b.len() {
            4 => true,
            7 => b[4] == b'-' && digits(5..7),
            10 => b[4] == b'-' && digits(5..7) && b[7] == b'-' && digits(8..10),
            _ => false,
        }
}

/// Parse an RFC 3339 time (`2021-05-03T18:00:00Z`, fractional seconds and offsets allowed; no
/// offset means UTC), a date (`2021-05-03`), or Unix seconds (`1620064800`).
pub(crate) fn parse_time(s: &str) -> Option<i64> {
    // 9999-12-31T23:59:59Z: no later time is asked for, and no arithmetic on it overflows.
    const LATEST: i64 = 253_402_300_799;
    let s = s.trim();
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return s.parse().ok().filter(|t| (0..=LATEST).contains(t));
    }
    let num = |t: &str| -> Option<i64> {
        (!t.is_empty() && t.len() <= 4 && t.bytes().all(|b| b.is_ascii_digit()))
            .then(|| t.parse().ok())
            .flatten()
    };
    let (date, time) = match s.split_once(['T', ' ']) {
        Some((d, t)) => (d, Some(t)),
        None => (s, None),
    };
    let mut dp = date.split('-');
    let (y, m, d) = (num(dp.next()?)?, num(dp.next()?)?, num(dp.next()?)?);
    if dp.next().is_some() || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let mut secs = crate::date::midnight_utc(crate::date::real(y, m, d)?);
    if let Some(t) = time {
        let (clock, offset) = if let Some(c) = t.strip_suffix(['Z', 'z']) {
            (c, 0)
        } else if let Some(p) = t.rfind(['+', '-']) {
            let (c, o) = t.split_at(p);
            let sign = if o.starts_with('-') { -1 } else { 1 };
            let (oh, om) = o[1..].split_once(':').unwrap_or((&o[1..], "0"));
            (c, sign * (num(oh)? * 3600 + num(om)? * 60))
        } else {
            (t, 0)
        };
        let clock = clock.split('.').next()?;
        let mut cp = clock.split(':');
        let (h, mi) = (num(cp.next()?)?, num(cp.next()?)?);
        let sec = cp.next().map(num).unwrap_or(Some(0))?;
        if h > 23 || mi > 59 || sec > 60 {
            return None;
        }
        if offset.abs() > 14 * 3600 {
            return None;
        }
        secs += h * 3600 + mi * 60 + sec - offset;
    }
    Some(secs).filter(|t| (0..=LATEST).contains(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        assert_eq!(parse_time("2021-05-03T18:00:00Z"), Some(1_620_064_800));
        assert_eq!(parse_time("2021-05-03T20:00:00+02:00"), Some(1_620_064_800));
        assert_eq!(
            parse_time("2021-05-03T18:00:00.123456"),
            Some(1_620_064_800)
        );
        assert_eq!(parse_time("1620064800"), Some(1_620_064_800));
        assert_eq!(parse_time("2021-13-01"), None);
        assert_eq!(parse_time("nonsense"), None);
    }

    #[test]
    fn base45_rfc9285() {
        assert_eq!(base45_decode("BB8").unwrap(), b"AB");
        assert_eq!(base45_decode("%69 VD92EX0").unwrap(), b"Hello!!");
        assert!(base45_decode("GGW").is_err());
        assert!(base45_decode("a").is_err());
    }
}
