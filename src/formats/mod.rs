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
