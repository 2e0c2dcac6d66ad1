//! SMART Health Cards 1.4 (DESIGN §5): a minimised FHIR Bundle in a verifiable credential,
//! minified, raw-DEFLATEd, signed ES256 (raw R‖S) as a compact JWS with the RFC 7638 `kid`,
//! and carried in one QR as `shc:/` plus digits.
//!
//! [`Draft::new`] checks that the card will fit one version-22 QR *before* anything is signed;
//! [`Draft::sign`] consumes the draft.

use std::cell::RefCell;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::Dose;
use super::Error;
use crate::clock::UnixTime;
use crate::domain::BirthDate;
use crate::pki::Signer;

/// The longest JWS one version-22 QR holds at level L (the dev-tools' 1195-byte limit case).
pub const MAX_JWS_LEN: usize = 1195;
/// `vc.type`: `#health-card`, plus `#immunization` and `#covid19` as Japan's real card carries
/// them, for the verifiers of 2021 that filter on them (the SMART validator warns without them).
pub const VC_TYPES: [&str; 3] = [
    "https://smarthealth.cards#health-card",
    "https://smarthealth.cards#immunization",
    "https://smarthealth.cards#covid19",
];

/// `performer[0].actor.display` on every Japanese Immunization.
pub const PERFORMER: &str = "MHLW_Gov_of_JAPAN";

/// A FHIR HumanName: family plus given names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HumanName {
    /// Family name.
    pub family: String,
    /// Given names.
    pub given: Vec<String>,
}

impl HumanName {
    /// Split a card-style name (`山田　太郎`, family and given separated by U+3000 or a space;
    /// a parenthesised 旧姓 after it is dropped).
    pub fn from_card_name(name: &str) -> Self {
        let base = name.split(['(', '（']).next().unwrap_or(name).trim();
        let (family, given) = base
            .split_once(['\u{3000}', ' '])
            .map(|(f, g)| (f.trim(), g.trim()))
            .unwrap_or((base, ""));
        HumanName {
            family: family.to_owned(),
            given: if given.is_empty() {
                vec![]
            } else {
                vec![given.to_owned()]
            },
        }
    }

    fn to_json(&self) -> Value {
        let mut v = json!({ "family": self.family });
        if !self.given.is_empty() {
            v["given"] = json!(self.given);
        }
        v
    }
}

/// What the card says.
#[derive(Debug, Clone)]
pub struct Content<'a> {
    /// The kanji name first; the overseas kind adds the romanised name second.
    pub names: Vec<HumanName>,
    /// Birth date.
    pub birth_date: BirthDate,
    /// The doses, in order.
    pub doses: &'a [Dose],
}

/// The revocation ID for a certificate: base64url of the first 12 bytes of
/// SHA-256("vaxcert-rid" ‖ certificate ID), so the rid reveals nothing about the record.
pub fn rid_for(certificate_id: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"vaxcert-rid\0");
    h.update(certificate_id.as_bytes());
    URL_SAFE_NO_PAD.encode(&h.finalize()[..12])
}

/// The minimised Bundle (`resource:N` references; no id, meta or text).
pub fn bundle(c: &Content) -> Value {
    let mut entries = vec![json!({
        "fullUrl": "resource:0",
        "resource": {
            "resourceType": "Patient",
            "name": c.names.iter().map(HumanName::to_json).collect::<Vec<_>>(),
            "birthDate": c.birth_date.iso(),
        }
    })];
    for (i, d) in c.doses.iter().enumerate() {
        entries.push(json!({
            "fullUrl": format!("resource:{}", i + 1),
            "resource": {
                "resourceType": "Immunization",
                "status": "completed",
                "vaccineCode": {"coding": [{"system": "http://hl7.org/fhir/sid/cvx", "code": d.product.cvx}]},
                "patient": {"reference": "resource:0"},
                "occurrenceDateTime": d.date.iso(),
                "performer": [{"actor": {"display": PERFORMER}}],
                "lotNumber": d.lot,
            }
        }));
    }
    json!({"resourceType": "Bundle", "type": "collection", "entry": entries})
}

/// A card checked to fit, not yet signed.
#[derive(Debug, Clone)]
pub struct Draft {
    header_b64: String,
    payload_b64: String,
}

impl Draft {
    /// Build the credential from a Bundle (see [`bundle`]).
    ///
    /// # Errors
    /// [`Error::TooLargeForQr`] when the signed card would exceed one version-22 QR.
    pub fn from_bundle(
        iss: &str,
        nbf: UnixTime,
        fhir_bundle: Value,
        rid: &str,
        kid: &str,
    ) -> Result<Self, Error> {
        let vc = json!({
            "iss": iss,
            "nbf": nbf.0,
            "vc": {
                "type": VC_TYPES,
                "credentialSubject": {"fhirVersion": "4.0.1", "fhirBundle": fhir_bundle},
                "rid": rid,
            }
        });
        let payload = serde_json::to_vec(&vc).map_err(|e| Error::Encoding(e.to_string()))?;
        let deflated = deflate(&payload)?;
        let header = format!(r#"{{"alg":"ES256","zip":"DEF","kid":"{kid}"}}"#);
        let draft = Draft {
            header_b64: URL_SAFE_NO_PAD.encode(header),
            payload_b64: URL_SAFE_NO_PAD.encode(deflated),
        };
        let len = draft.header_b64.len() + draft.payload_b64.len() + 2 + 86;
        if len > MAX_JWS_LEN {
            return Err(Error::TooLargeForQr {
                len,
                max: MAX_JWS_LEN,
            });
        }
        Ok(draft)
    }

    /// Build from content.
    ///
    /// # Errors
    /// [`Error::NoDoses`] or [`Error::TooLargeForQr`].
    pub fn new(
        iss: &str,
        nbf: UnixTime,
        content: &Content,
        rid: &str,
        kid: &str,
    ) -> Result<Self, Error> {
        if content.doses.is_empty() {
            return Err(Error::NoDoses);
        }
        Self::from_bundle(iss, nbf, bundle(content), rid, kid)
    }

    /// Sign once.
    ///
    /// # Errors
    /// Signer failures.
    pub fn sign(self, signer: &dyn Signer) -> Result<Shc, Error> {
        let signing_input = format!("{}.{}", self.header_b64, self.payload_b64);
        let sig = signer.sign_es256(signing_input.as_bytes())?;
        Ok(Shc {
            jws: format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig)),
        })
    }
}

/// A signed SMART Health Card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shc {
    jws: String,
}

impl Shc {
    /// The compact JWS.
    pub fn jws(&self) -> &str {
        &self.jws
    }

    /// The QR text: `shc:/` then two digits per JWS character (`ord(c) - 45`).
    pub fn qr_text(&self) -> String {
        format!("shc:/{}", numeric(&self.jws))
    }

    /// The QR code: `shc:/` in byte mode, the digits in numeric mode, level L, version ≤ 22.
    ///
    /// # Errors
    /// [`Error::Qr`] if it does not fit (the draft check makes that a bug).
    pub fn qr(&self) -> Result<super::qr::Matrix, Error> {
        super::qr::shc(&numeric(&self.jws))
    }

    /// The `.smart-health-card` file body.
    pub fn file_json(&self) -> String {
        json!({"verifiableCredential": [self.jws]}).to_string()
    }
}

thread_local! {
    /// One raw-DEFLATE compressor per thread at the best level, reset between cards: a new
    /// one allocates and zeroes about 300 KB of tables, which (page faults included) cost
    /// more than compressing a card.
    static DEFLATER: RefCell<flate2::Compress> =
        RefCell::new(flate2::Compress::new(flate2::Compression::best(), false));
}

/// The raw DEFLATE (RFC 1951, no zlib header) of a card's JWS payload, at the best level:
/// every byte saved keeps the QR a version smaller.
///
/// # Errors
/// [`Error::Encoding`] if the encoder fails.
pub fn deflate(payload: &[u8]) -> Result<Vec<u8>, Error> {
    // Stored blocks bound the output: 5 bytes per 64 KiB block, and a little for the end.
    let bound = payload.len() + 5 * (payload.len() / 65_535 + 1) + 64;
    DEFLATER.with_borrow_mut(|z| {
        z.reset();
        let mut out = Vec::with_capacity(payload.len() / 2 + 64);
        loop {
            let consumed = usize::try_from(z.total_in()).unwrap_or(usize::MAX);
            let rest = payload.get(consumed..).unwrap_or_default();
            match z.compress_vec(rest, &mut out, flate2::FlushCompress::Finish) {
                Ok(flate2::Status::StreamEnd) => return Ok(out),
                Ok(flate2::Status::Ok | flate2::Status::BufError) if out.capacity() < bound => {
                    out.reserve(out.capacity());
                }
                Ok(_) => return Err(Error::Encoding("DEFLATE did not finish".into())),
                Err(e) => return Err(Error::Encoding(e.to_string())),
            }
        }
    })
}

/// SHC numeric encoding of a JWS.
pub fn numeric(jws: &str) -> String {
    let mut out = String::with_capacity(jws.len() * 2);
    for b in jws.bytes() {
        let n = b.saturating_sub(45);
        out.push((b'0' + n / 10) as char);
        out.push((b'0' + n % 10) as char);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn card_names_split_on_the_ideographic_space_and_drop_the_kyusei() {
        assert_eq!(
            HumanName::from_card_name("佐藤　美咲（高橋）"),
            HumanName {
                family: "佐藤".into(),
                given: vec!["美咲".into()]
            }
        );
        assert_eq!(HumanName::from_card_name("YAMADA TARO").family, "YAMADA");
        assert_eq!(HumanName::from_card_name("𠮷田　一郎").family, "𠮷田");
    }

    /// The encoder the cards used before the compressor was kept per thread.
    fn deflate_fresh(payload: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut z = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
        z.write_all(payload).unwrap();
        z.finish().unwrap()
    }

    #[test]
    fn the_reused_compressor_gives_the_fresh_encoders_bytes() {
        use std::io::Read;
        let card = serde_json::to_vec(&bundle(&Content {
            names: vec![HumanName::from_card_name("山田　太郎")],
            birth_date: BirthDate::parse("19850401").unwrap(),
            doses: &[],
        }))
        .unwrap();
        // Incompressible bytes make the output outgrow its first buffer.
        let mut x = 0x2545_f491_u32;
        let noise: Vec<u8> = (0..200_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect();
        for payload in [&b""[..], b"a", &card, &noise, &card] {
            let ours = deflate(payload).unwrap();
            assert_eq!(ours, deflate_fresh(payload), "{} bytes", payload.len());
            let mut back = Vec::new();
            flate2::read::DeflateDecoder::new(&ours[..])
                .read_to_end(&mut back)
                .unwrap();
            assert_eq!(back, payload);
        }
    }

    #[test]
    fn numeric_encoding_matches_the_spec() {
        // '-' is 45 → "00"; 'z' is 122 → "77"
        assert_eq!(numeric("-z."), "007701");
    }
}
