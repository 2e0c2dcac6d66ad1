//! From raw inputs to certificates: images are decoded to QR texts, texts are classified, and
//! legacy chunked `shc:/C/N/…` codes are joined. Classification never panics; anything not
//! recognised becomes an `invalid` report with a reason.

use super::error::Error;
use super::{Decoded, MAX_INPUT, Report, TrustStore, dcc, qr, shc, vdsnc};
use crate::clock::UnixTime;

/// A text, and the QR version it was read from (images only).
struct Text {
    text: String,
    qr_version: Option<usize>,
}

/// One chunk of a legacy multi-QR SHC.
struct Chunk {
    index: usize,
    total: usize,
    digits: String,
}

pub(crate) fn verify_all(inputs: &[Vec<u8>], trust: &TrustStore, at: UnixTime) -> Vec<Report> {
    let mut reports = Vec::new();
    let mut chunks: Vec<Chunk> = Vec::new();
    if inputs.is_empty() {
        return vec![Report::failed(Error::Empty, at)];
    }
    for bytes in inputs {
        let texts = match to_texts(bytes) {
            Ok(t) => t,
            Err(e) => {
                reports.push(Report::failed(e, at));
                continue;
            }
        };
        for t in texts {
            classify(t, trust, at, &mut reports, &mut chunks);
        }
    }
    if !chunks.is_empty() {
        reports.push(join_chunks(chunks, trust, at));
    }
    if reports.is_empty() {
        reports.push(Report::failed(Error::Empty, at));
    }
    reports
}

fn to_texts(bytes: &[u8]) -> Result<Vec<Text>, Error> {
    if bytes.len() > MAX_INPUT {
        return Err(Error::TooLarge { limit: MAX_INPUT });
    }
    if qr::is_image(bytes) || qr::is_svg(bytes) {
        let codes = if qr::is_svg(bytes) {
            qr::decode_svg(bytes)?
        } else {
            qr::decode(bytes)?
        };
        return Ok(codes
            .into_iter()
            .map(|c| Text {
                text: c.text,
                qr_version: Some(c.version),
            })
            .collect());
    }
    if bytes.first() == Some(&0x30) && super::x509::Cert::from_der(bytes).is_ok() {
        return Err(Error::NotACertificate(
            "an X.509 certificate (a trust anchor or signer)",
        ));
    }
    let text = std::str::from_utf8(bytes).map_err(|_| Error::Unrecognised("not UTF-8 text"))?;
    Ok(vec![Text {
        text: text.to_string(),
        qr_version: None,
    }])
}

fn classify(
    t: Text,
    trust: &TrustStore,
    at: UnixTime,
    reports: &mut Vec<Report>,
    chunks: &mut Vec<Chunk>,
) {
    let raw = t.text.as_str();
    let trimmed = raw.trim_start_matches('\u{feff}').trim();
    let mut warnings = Vec::new();
    let only_newline = matches!(&raw[raw.trim_end().len()..], "" | "\n" | "\r\n");
    if trimmed.len() != raw.len() && !(raw.starts_with(trimmed) && only_newline) {
        warnings.push("input-trimmed".to_string());
    }
    if trimmed.is_empty() {
        reports.push(Report::failed(Error::Empty, at));
        return;
    }
    let finish = |mut r: Report, w: &[String]| {
        let mut all = w.to_vec();
        all.append(&mut r.warnings);
        r.warnings = all;
        r
    };
    if let Some(rest) = strip_prefix_ci(trimmed, "shc:/") {
        if let Err(e) = shc::check_qr_version(t.qr_version) {
            let d = Decoded {
                format: Some(super::Format::Shc),
                ..Decoded::default()
            };
            reports.push(finish(Report::new(Err(e), d, at), &warnings));
            return;
        }
        match parse_chunk_header(rest) {
            Ok(Some((index, total, digits))) => chunks.push(Chunk {
                index,
                total,
                digits: digits.to_string(),
            }),
            Ok(None) => {
                let r = shc::verify_numeric(rest, trust, at);
                reports.push(finish(r, &warnings));
            }
            Err(e) => reports.push(finish(shc_failed(e, at), &warnings)),
        }
        return;
    }
    if strip_prefix_ci(trimmed, "shc:").is_some() {
        reports.push(finish(
            Report::failed(Error::Unrecognised("shc: must be followed by /"), at),
            &warnings,
        ));
        return;
    }
    if strip_prefix_ci(trimmed, "shlink:/").is_some() || trimmed.contains("#shlink:/") {
        reports.push(finish(
            Report::failed(
                Error::NotACertificate("a SMART Health Link (fetching it needs the network)"),
                at,
            ),
            &warnings,
        ));
        return;
    }
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        let value: serde_json::Value = match serde_json::from_str(trimmed) {
            Ok(v) => v,
            Err(_) => {
                reports.push(finish(
                    Report::failed(Error::Unrecognised("malformed JSON"), at),
                    &warnings,
                ));
                return;
            }
        };
        for r in classify_json(&value, trust, at) {
            reports.push(finish(r, &warnings));
        }
        return;
    }
    if trimmed.len() >= 4 && trimmed.as_bytes()[3] == b':' && trimmed.is_char_boundary(4) {
        // A DCC context identifier such as HC1: (H1–H3 of the EU test data try others).
        reports.push(finish(dcc::verify(trimmed, trust, at), &warnings));
        return;
    }
    if looks_like_jws(trimmed) {
        reports.push(finish(shc::verify_jws(trimmed, trust, at), &warnings));
        return;
    }
    if trimmed.bytes().all(|b| b.is_ascii_digit()) {
        reports.push(finish(
            Report::failed(Error::Unrecognised("digits without the shc:/ prefix"), at),
            &warnings,
        ));
        return;
    }
    if dcc::is_base45(trimmed) {
        reports.push(finish(Report::failed(Error::Hc1Prefix, at), &warnings));
        return;
    }
    reports.push(finish(
        Report::failed(Error::Unrecognised("no known prefix or structure"), at),
        &warnings,
    ));
}

fn classify_json(v: &serde_json::Value, trust: &TrustStore, at: UnixTime) -> Vec<Report> {
    if let Some(list) = v.as_array() {
        // A JSON array of documents (KDE's VDS-NC sample wraps its seal in one).
        if list.is_empty() || list.len() > 16 {
            return vec![Report::failed(Error::Unrecognised("JSON array"), at)];
        }
        return list
            .iter()
            .flat_map(|e| classify_json(e, trust, at))
            .collect();
    }
    if let Some(list) = v.get("verifiableCredential") {
        // A .smart-health-card file.
        let Some(list) = list.as_array() else {
            return vec![Report::failed(
                Error::PayloadMalformed("verifiableCredential is not an array"),
                at,
            )];
        };
        if list.is_empty() {
            return vec![Report::failed(Error::Empty, at)];
        }
        return list
            .iter()
            .map(|j| match j.as_str() {
                Some(jws) => shc::verify_jws(jws, trust, at),
                None => Report::failed(Error::JwsMalformed("not a string"), at),
            })
            .collect();
    }
    if v.get("data").is_some() && v.get("sig").is_some() {
        return vec![vdsnc::verify(v, trust, at)];
    }
    if v["resourceType"] == "Parameters" {
        // FHIR $health-cards-issue output: the cards are valueString parameters.
        let jws: Vec<&str> = v["parameter"]
            .as_array()
            .map(|ps| {
                ps.iter()
                    .filter(|p| p["name"] == "verifiableCredential")
                    .filter_map(|p| p["valueString"].as_str())
                    .collect()
            })
            .unwrap_or_default();
        if !jws.is_empty() {
            return jws.iter().map(|j| shc::verify_jws(j, trust, at)).collect();
        }
    }
    let what = if v.get("resourceType").is_some() {
        "a FHIR resource without a signature"
    } else if v.get("keys").is_some() {
        "a key set (JWKS)"
    } else if v.get("kty").is_some() {
        "a key (JWK)"
    } else if v.get("secret").is_some() {
        "a secret key"
    } else if v.get("rids").is_some() {
        "a revocation list"
    } else if v.get("iss").is_some() && v.get("vc").is_some() {
        "an unsigned SHC payload"
    } else if v["files"][0].get("contentType").is_some()
        || v.get("link").is_some()
        || v.get("location").is_some()
        || (v.get("url").is_some() && v.get("key").is_some())
    {
        "SMART Health Link data (manifest or payload)"
    } else if v.get("participating_issuers").is_some()
        || v.get("issuerInfo").is_some()
        || v.get("issuer_metadata").is_some()
    {
        "an issuer directory"
    } else {
        return vec![Report::failed(
            Error::Unrecognised("unknown JSON document"),
            at,
        )];
    };
    vec![Report::failed(Error::NotACertificate(what), at)]
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

/// `C/N/digits` → Some((C, N, digits)); plain digits → None.
fn parse_chunk_header(rest: &str) -> Result<Option<(usize, usize, &str)>, Error> {
    if !rest.contains('/') {
        return Ok(None);
    }
    let mut parts = rest.splitn(3, '/');
    let (Some(c), Some(n), Some(digits)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(Error::ShcChunks("header is not C/N/"));
    };
    let parse = |s: &str| -> Result<usize, Error> {
        if s.is_empty() || s.len() > 3 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Error::ShcChunks("header is not C/N/"));
        }
        s.parse()
            .map_err(|_| Error::ShcChunks("header is not C/N/"))
    };
    let (c, n) = (parse(c)?, parse(n)?);
    if n < 1 || c < 1 || c > n {
        return Err(Error::ShcChunks("chunk index out of range"));
    }
    Ok(Some((c, n, digits)))
}

fn shc_failed(e: Error, at: UnixTime) -> Report {
    let d = Decoded {
        format: Some(super::Format::Shc),
        ..Decoded::default()
    };
    Report::new(Err(e), d, at)
}

fn join_chunks(mut chunks: Vec<Chunk>, trust: &TrustStore, at: UnixTime) -> Report {
    chunks.sort_by_key(|c| c.index);
    let total = chunks[0].total;
    if chunks.iter().any(|c| c.total != total) {
        return Report::failed(Error::ShcChunks("chunks disagree on the count"), at);
    }
    for (i, c) in chunks.iter().enumerate() {
        if c.index != i + 1 {
            return shc_failed(Error::ShcChunks("a chunk is missing or repeated"), at);
        }
    }
    if chunks.len() != total {
        return shc_failed(Error::ShcChunks("a chunk is missing"), at);
    }
    let digits: String = chunks.iter().map(|c| c.digits.as_str()).collect();
    let mut r = shc::verify_numeric(&digits, trust, at);
    r.warnings.insert(0, "shc-chunked-legacy".to_string());
    r
}

fn looks_like_jws(s: &str) -> bool {
    s.split('.').count() == 3
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'='))
}
