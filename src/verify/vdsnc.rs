//! ICAO VDS-NC (visible digital seal for non-constrained environments; ICAO TR "VDS-NC", 2021).
//! The seal is JSON `{data, sig: {alg, sigvl, cer}}`; the signature covers the RFC 8785 (JCS)
//! canonical form of `data` (made by `serde_json_canonicalizer`, never by hand). The barcode
//! signer certificate (BSC) in `cer` must chain to a trusted CSCA, carry the VDS-NC EKU
//! `2.23.136.1.1.14.2` and a DocumentTypeList (`2.23.136.1.1.6.2`) naming the document type, and
//! be valid at the verification time. Tolerated: `cer` with `=` padding, `seq` as a number or a
//! string, an explicit NULL in the BSC's ECDSA algorithm parameters.

use ring::signature::{ECDSA_P256_SHA256_FIXED, ECDSA_P384_SHA384_FIXED, UnparsedPublicKey};
use serde_json::Value;

use super::error::Error;
use super::x509::{Cert, PublicKey};
use super::{Decoded, Dose, Format, Issuer, Person, Report, TrustStore, b64};
use crate::clock::UnixTime;

const EKU_VDS_NC: &str = "2.23.136.1.1.14.2";
const DOCUMENT_TYPE_LIST: &str = "2.23.136.1.1.6.2";
const PRIVATE_KEY_USAGE_PERIOD: &str = "2.5.29.16";

pub(crate) fn verify(v: &Value, trust: &TrustStore, at: UnixTime) -> Report {
    let mut d = Decoded {
        format: Some(Format::VdsNc),
        ..Decoded::default()
    };
    let r = check(v, trust, at, &mut d);
    Report::new(r, d, at)
}

fn text<'a>(v: &'a Value, what: &'static str) -> Result<&'a str, Error> {
    v.as_str().ok_or(Error::VdsMalformed(what))
}

fn check(v: &Value, trust: &TrustStore, at: UnixTime, d: &mut Decoded) -> Result<(), Error> {
    let data = v.get("data").ok_or(Error::VdsMalformed("no data"))?;
    let sig = v.get("sig").ok_or(Error::VdsMalformed("no sig"))?;
    let hdr = &data["hdr"];
    let doc_type = match text(&hdr["t"], "hdr.t")? {
        "icao.vacc" => "NV",
        "icao.test" => "NT",
        _ => return Err(Error::VdsMalformed("hdr.t is not icao.vacc or icao.test")),
    };
    if hdr["v"].as_u64() != Some(1) {
        return Err(Error::VdsMalformed("hdr.v is not 1"));
    }
    let country = text(&hdr["is"], "hdr.is")?;
    read_msg(&data["msg"], doc_type, d);

    let alg = text(&sig["alg"], "sig.alg")?;
    let sigvl = b64::url(text(&sig["sigvl"], "sig.sigvl")?)
        .ok_or(Error::VdsMalformed("sig.sigvl base64url"))?;
    let cer =
        b64::url(text(&sig["cer"], "sig.cer")?).ok_or(Error::VdsMalformed("sig.cer base64url"))?;
    let bsc = Cert::from_der(&cer)?;
    d.issuer = Some(Issuer {
        id: format!("{country}: {}", bsc.subject_text()),
        trusted_as: None,
    });

    // The seal's own signature first: a broken seal is invalid whoever signed it.
    let canonical = serde_json_canonicalizer::to_string(data)
        .map_err(|_| Error::VdsMalformed("data cannot be canonicalised"))?;
    let key = bsc.public_key()?;
    let (algorithm, point) = match (alg, &key) {
        ("ES256", PublicKey::P256(p)) => (&ECDSA_P256_SHA256_FIXED, p),
        ("ES384", PublicKey::P384(p)) => (&ECDSA_P384_SHA384_FIXED, p),
        ("ES256" | "ES384", _) => return Err(Error::KeyUnusable("alg does not fit the BSC key")),
        _ => return Err(Error::UnsupportedAlgorithm("VDS-NC sig.alg")),
    };
    UnparsedPublicKey::new(algorithm, point)
        .verify(canonical.as_bytes(), &sigvl)
        .map_err(|_| Error::SignatureInvalid)?;

    // The chain to a trusted CSCA.
    let issuer_name = bsc.issuer_der();
    let aki = bsc.authority_key_id();
    let candidates: Vec<_> = trust
        .cscas()
        .iter()
        .filter(|a| a.cert.subject_der() == issuer_name)
        .filter(|a| match (&aki, a.cert.subject_key_id()) {
            (Some(aki), Some(ski)) => *aki == ski,
            _ => true,
        })
        .collect();
    if candidates.is_empty() {
        return Err(Error::UnknownIssuer);
    }
    let anchor = candidates
        .iter()
        .find(|a| trust.check_signed_by(&bsc, &a.cert).is_ok())
        .ok_or(Error::ChainInvalid)?;
    if let Some(i) = d.issuer.as_mut() {
        i.trusted_as = Some(anchor.label().to_owned());
    }
    // Validity of the very CSCA that verified, not of any namesake.
    if !bsc.valid_at(at.0) || !anchor.cert.valid_at(at.0) {
        return Err(Error::CertificateNotValidAt);
    }
    if !same_country(country, anchor.cert.subject_country().as_deref()) {
        return Err(Error::IssuingCountryMismatch);
    }
    if bsc
        .critical_extensions()
        .iter()
        .any(|oid| !KNOWN_EXTENSIONS.contains(&oid.as_str()))
    {
        return Err(Error::UnknownCriticalExtension);
    }
    let eku = bsc.extended_key_usage().unwrap_or_default();
    if !eku.iter().any(|o| o == EKU_VDS_NC) {
        return Err(Error::KeyUsage);
    }
    let types = bsc
        .extension(DOCUMENT_TYPE_LIST)
        .map(|raw| document_types(&raw))
        .unwrap_or_default();
    if !types.iter().any(|t| t == doc_type) {
        return Err(Error::DocumentType);
    }
    if bsc
        .extension(PRIVATE_KEY_USAGE_PERIOD)
        .is_some_and(|raw| usage_period_ended(&raw, at.0))
    {
        d.warnings.push("bsc-private-key-usage-period-ended".into());
    }
    Ok(())
}

/// The extensions a BSC may mark critical that this verifier understands (RFC 5280 and ICAO
/// 9303-12): basic constraints, key usage, extended key usage, DocumentTypeList, the key
/// identifiers, private key usage period, policies, alternative names, CRL distribution points.
const KNOWN_EXTENSIONS: &[&str] = &[
    "2.5.29.19",
    "2.5.29.15",
    "2.5.29.37",
    DOCUMENT_TYPE_LIST,
    "2.5.29.14",
    "2.5.29.35",
    PRIVATE_KEY_USAGE_PERIOD,
    "2.5.29.32",
    "2.5.29.17",
    "2.5.29.18",
    "2.5.29.31",
];

/// Whether the seal's `hdr.is` (ICAO 9303 three-letter code; Germany is `D`) is the country
/// of the CSCA's subject (ISO 3166 two-letter `C`).
fn same_country(issuing: &str, csca: Option<&str>) -> bool {
    let issuing = issuing.trim_end_matches('<');
    let issuing = if issuing == "D" { "DEU" } else { issuing };
    csca.and_then(|c| isocountry::CountryCode::for_alpha2_caseless(c).ok())
        .is_some_and(|c| c.alpha3().eq_ignore_ascii_case(issuing))
}

/// The two-letter document types of a DocumentTypeList: SEQUENCE { version, SET OF
/// PrintableString }.
fn document_types(raw: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let mut i = 0;
    while i + 4 <= raw.len() {
        if raw[i] == 0x13 && raw[i + 1] == 2 {
            out.push(String::from_utf8_lossy(&raw[i + 2..i + 4]).into_owned());
            i += 4;
        } else {
            i += 1;
        }
    }
    out
}

/// PrivateKeyUsagePeriod `notAfter` ([1] GeneralizedTime) lies before `at`.
fn usage_period_ended(raw: &[u8], at: i64) -> bool {
    // [1] IMPLICIT GeneralizedTime: tag 0x81, 15 bytes YYYYMMDDHHMMSSZ.
    let Some(pos) = raw.windows(2).position(|w| w == [0x81, 15]) else {
        return false;
    };
    let Some(t) = raw.get(pos + 2..pos + 17) else {
        return false;
    };
    if !t[..14].iter().all(u8::is_ascii_digit) {
        return false;
    }
    let s = String::from_utf8_lossy(t);
    super::dcc::parse_time(&format!(
        "{}-{}-{}T{}:{}:{}Z",
        &s[0..4],
        &s[4..6],
        &s[6..8],
        &s[8..10],
        &s[10..12],
        &s[12..14]
    ))
    .is_some_and(|end| end < at)
}

fn read_msg(msg: &Value, doc_type: &str, d: &mut Decoded) {
    let pid = &msg["pid"];
    if let Some(n) = pid["n"].as_str() {
        d.person = Some(Person {
            name: n.split_whitespace().collect::<Vec<_>>().join(" "),
            birth_date: pid["dob"].as_str().map(str::to_string),
            document_number: pid["i"].as_str().map(str::to_string),
        });
    }
    if doc_type == "NT" {
        let dat = &msg["dat"];
        d.doses.push(Dose {
            date: dat["sc"].as_str().unwrap_or_default().to_string(),
            product: msg["tr"]["tc"].as_str().map(str::to_string),
            product_name: None,
            lot: None,
            dose_number: None,
            kind: "test".into(),
        });
        return;
    }
    for ve in msg["ve"].as_array().map(Vec::as_slice).unwrap_or_default() {
        let product = ve["des"]
            .as_str()
            .or(ve["nam"].as_str())
            .map(str::to_string);
        // ICD-11 `des` names a vaccine type shared by several products; `nam` names the product.
        let product_name = ve["nam"].as_str().map(str::to_string);
        for vd in ve["vd"].as_array().map(Vec::as_slice).unwrap_or_default() {
            let seq = match &vd["seq"] {
                Value::Number(n) => n.as_u64(),
                Value::String(s) => s.trim().parse().ok(),
                _ => None,
            };
            d.doses.push(Dose {
                date: vd["dvc"].as_str().unwrap_or_default().to_string(),
                product: product.clone(),
                product_name: product_name.clone(),
                lot: vd["lot"].as_str().map(str::to_string),
                dose_number: seq,
                kind: "vaccination".into(),
            });
        }
    }
}
