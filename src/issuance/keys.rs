//! The signing keys the issuance service holds, and where they come from. This is the only
//! place that turns key files into [`Signer`]s; nothing else in vaxcert signs a certificate.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::certificate::Issuer;
use crate::formats::pdf::PdfSigner;
use crate::pki::{FileSigner, Signer, x509};

/// Where each signing key and its certificate are: one typed set of paths, so production
/// passes its own and dev passes `certs/dev/`.
#[derive(Debug, Clone)]
pub struct SigningKeyFiles {
    /// The SHC `iss` (the issuer's URL; its certificate's SAN URI).
    pub iss: String,
    /// SHC issuer key (PKCS#8 PEM, P-256).
    pub shc_key: PathBuf,
    /// Its certificate (PEM), published as the JWK's `x5c`.
    pub shc_cert: PathBuf,
    /// VDS-NC barcode signer key (PKCS#8 PEM, P-256).
    pub bsc_key: PathBuf,
    /// Its certificate (PEM), carried in every VDS-NC as `cer`.
    pub bsc_cert: PathBuf,
    /// PDF signer key (PKCS#8 PEM, P-256).
    pub pdf_key: PathBuf,
    /// Its certificate, optionally followed by its chain (PEM, leaf first).
    pub pdf_cert: PathBuf,
}

impl SigningKeyFiles {
    /// The standard layout under one folder: `shc/issuer.*`, `icao/bsc.*`, `pdf/signer.*`.
    pub fn in_dir(dir: &Path, iss: &str) -> Self {
        SigningKeyFiles {
            iss: iss.to_owned(),
            shc_key: dir.join("shc/issuer.key.pem"),
            shc_cert: dir.join("shc/issuer.crt.pem"),
            bsc_key: dir.join("icao/bsc.key.pem"),
            bsc_cert: dir.join("icao/bsc.crt.pem"),
            pdf_key: dir.join("pdf/signer.key.pem"),
            pdf_cert: dir.join("pdf/signer.crt.pem"),
        }
    }
}

/// Why the signing keys could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// A key or certificate file (SHC, VDS-NC).
    #[error(transparent)]
    Pki(#[from] crate::pki::Error),
    /// The PDF signer's key or certificate.
    #[error(transparent)]
    Pdf(#[from] crate::formats::pdf::Error),
}

impl KeyError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            KeyError::Pki(e) => e.code(),
            KeyError::Pdf(e) => e.code(),
        }
    }
}

/// The loaded keys: the SHC/VDS-NC issuer, the published `x5c`, and the PDF signer.
#[derive(Debug)]
pub struct SigningKeys {
    /// SHC and VDS-NC signing.
    pub issuer: Issuer,
    /// The SHC issuer certificate (DER) for the JWKS `x5c`.
    pub x5c: Vec<Vec<u8>>,
    /// The PAdES signer.
    pub pdf: PdfSigner,
}

impl SigningKeys {
    /// Load every key and certificate; a key is marked dev when its certificate names the
    /// dev organisation.
    ///
    /// # Errors
    /// [`KeyError`] for a missing or malformed file, or a certificate not for its key.
    pub fn load(files: &SigningKeyFiles) -> Result<Self, KeyError> {
        let shc_cert = x509::load(&files.shc_cert)?;
        let bsc_cert = x509::load(&files.bsc_cert)?;
        let shc: Arc<dyn Signer> =
            Arc::new(FileSigner::load(&files.shc_key, x509::is_dev(&shc_cert))?);
        let bsc: Arc<dyn Signer> =
            Arc::new(FileSigner::load(&files.bsc_key, x509::is_dev(&bsc_cert))?);
        let pdf = PdfSigner::from_pem_files(&files.pdf_key, &files.pdf_cert)?;
        Ok(SigningKeys {
            issuer: Issuer::new(files.iss.clone(), shc, bsc, x509::to_der(&bsc_cert)?),
            x5c: vec![x509::to_der(&shc_cert)?],
            pdf,
        })
    }
}
