//! ICAO VDS-NC for vaccination (`icao.vacc` v1, issuer `JPN`): the signature covers the RFC 8785
//! canonical form of `data`, made by `serde_json_canonicalizer`; `cer` is the barcode signer's
//! certificate. One `ve` per dose, as Japan's own VDS-NC does.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use super::Dose;
use super::Error;
use super::shc::PERFORMER;
use crate::catalogue::ICD11_COVID19;
use crate::domain::BirthDate;
use crate::pki::Signer;

/// What the seal says.
#[derive(Debug, Clone)]
pub struct Content<'a> {
    /// UVCI: the certificate ID.
    pub uvci: &'a str,
    /// Romanised name as in the passport MRZ, `SURNAME GIVEN`.
    pub name: &'a str,
    /// Birth date.
    pub birth_date: BirthDate,
    /// Passport number.
    pub passport_number: &'a str,
    /// The doses.
    pub doses: &'a [Dose],
}

/// The `data` object.
pub fn data(c: &Content) -> Value {
    let ve: Vec<Value> = c
        .doses
        .iter()
        .map(|d| {
            json!({
                "des": d.product.icd11,
                "nam": d.product.name_en,
                "dis": ICD11_COVID19,
                "vd": [{
                    "dvc": d.date.iso(),
                    "seq": d.seq,
                    "ctr": "JPN",
                    "adm": PERFORMER,
                    "lot": d.lot,
                }]
            })
        })
        .collect();
    json!({
        "hdr": {"t": "icao.vacc", "v": 1, "is": "JPN"},
        "msg": {
            "uvci": c.uvci,
            "pid": {"n": c.name, "dob": c.birth_date.iso(), "i": c.passport_number},
            "ve": ve,
        }
    })
}

/// RFC 8785 canonical bytes of a JSON value.
///
/// # Errors
/// [`Error::Encoding`] for values JCS cannot represent.
pub fn canonical(value: &Value) -> Result<Vec<u8>, Error> {
    serde_json_canonicalizer::to_vec(value).map_err(|e| Error::Encoding(e.to_string()))
}

/// Sign: `{"data": …, "sig": {"alg": "ES256", "sigvl": …, "cer": …}}`, compact JSON.
///
/// # Errors
/// [`Error::NoDoses`], signing or encoding failures.
pub fn sign(c: &Content, signer: &dyn Signer, bsc_der: &[u8]) -> Result<String, Error> {
    if c.doses.is_empty() {
        return Err(Error::NoDoses);
    }
    let data = data(c);
    let sig = signer.sign_es256(&canonical(&data)?)?;
    let doc = json!({
        "data": data,
        "sig": {"alg": "ES256", "sigvl": URL_SAFE_NO_PAD.encode(sig), "cer": URL_SAFE_NO_PAD.encode(bsc_der)},
    });
    serde_json::to_string(&doc).map_err(|e| Error::Encoding(e.to_string()))
}
