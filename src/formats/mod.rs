//! Certificate formats: values in, bytes out, signing through `&dyn pki::Signer`. No I/O except
//! [`publication`], which writes the JWKS and CRL files records publishes.
//!
//! - [`shc`]: SMART Health Cards 1.4 (JWS, raw DEFLATE, ES256, `shc:/` numeric QR)
//! - [`vdsnc`]: ICAO VDS-NC `icao.vacc` v1 (JCS canonical `data`, ES256, BSC in `cer`)
//! - [`qr`]: QR segments and PNG rendering
//! - [`mrz`]: passport TD3 MRZ with every check digit
//! - [`pdf`]: the signed A4 certificate (PAdES baseline B)
//! - [`publication`]: `jwks.json` and `crl/<kid>.json`

pub mod mrz;
pub mod pdf;
pub mod publication;
pub mod qr;
pub mod shc;
pub mod vdsnc;

use serde::{Deserialize, Serialize};

use crate::catalogue::Product;
use crate::domain::BirthDate;

/// One administered dose, as every certificate format states it. Built once from the record
/// (the product already looked up in the catalogue), sealed into the preview token, and read
/// as it is by the SHC, the VDS-NC and the PDF.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dose {
    /// Dose number (接種回数), 1 for the first.
    pub seq: u8,
    /// Date given (接種日).
    pub date: BirthDate,
    /// The product from the shared catalogue; serialised as its code.
    #[serde(serialize_with = "product_code", deserialize_with = "product_by_code")]
    pub product: &'static Product,
    /// Lot number.
    pub lot: String,
}

fn product_code<S: serde::Serializer>(p: &&'static Product, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(p.code)
}

fn product_by_code<'de, D: serde::Deserializer<'de>>(d: D) -> Result<&'static Product, D::Error> {
    let code = String::deserialize(d)?;
    crate::catalogue::product(&code)
        .ok_or_else(|| serde::de::Error::custom(format!("unknown product {code:?}")))
}

/// Why a certificate could not be produced.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The SHC JWS is longer than one version-22 QR holds (1195 characters).
    #[error("the SMART Health Card is {len} characters; one QR (version 22) holds at most {max}")]
    TooLargeForQr {
        /// JWS length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The QR encoder refused the data.
    #[error("QR encoding failed: {0}")]
    Qr(String),
    /// Signing failed.
    #[error(transparent)]
    Sign(#[from] crate::pki::Error),
    /// A certificate needs at least one dose.
    #[error("no doses to certify")]
    NoDoses,
    /// JSON or compression failed (a bug, not an input problem).
    #[error("encoding failed: {0}")]
    Encoding(String),
    /// A passport MRZ is malformed or a check digit is wrong.
    #[error(transparent)]
    Mrz(#[from] mrz::MrzError),
    /// Publication files could not be read or written.
    #[error("publication: {0}")]
    Publication(String),
}

impl Error {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Error::TooLargeForQr { .. } => "shc-too-large",
            Error::Qr(_) => "qr",
            Error::Sign(e) => e.code(),
            Error::NoDoses => "no-doses",
            Error::Encoding(_) => "internal",
            Error::Mrz(e) => e.code(),
            Error::Publication(_) => "publication",
        }
    }
}
