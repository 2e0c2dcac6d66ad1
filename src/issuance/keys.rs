//! The signing keys the issuance service holds, and where they come from: PEM files, or an HSM
//! over PKCS#11. This is the only place that turns key material into [`Signer`]s; nothing else
//! in vaxcert signs a certificate.
//!
//! A production key folder is what `vaxcert keys init` wrote: a `signing.toml` manifest naming
//! each key (a token label, or a file) and its certificate beside it. The SHC issuer may have
//! several keys after `keys rotate`: the last signs, every one is published in the JWKS.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::certificate::Issuer;
use crate::formats::pdf::PdfSigner;
use crate::pki::pkcs11::{Token, TokenConfig};
use crate::pki::{FileSigner, Signer, x509};

/// A private key: a PEM file, or a label on the configured token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyRef {
    /// PKCS#8 PEM, P-256, readable by its owner only.
    File(PathBuf),
    /// `CKA_LABEL` of a private key on the token.
    Token(String),
}

/// One signing key and its certificate (PEM; the PDF signer's may carry its chain).
#[derive(Debug, Clone)]
pub struct KeyAndCert {
    /// The private key.
    pub key: KeyRef,
    /// Its certificate.
    pub cert: PathBuf,
}

/// Where each signing key and its certificate are: one typed value, so production passes what
/// its key ceremony made and dev passes `certs/dev/`.
#[derive(Debug, Clone)]
pub struct SigningKeyFiles {
    /// The SHC `iss` (the issuer's URL; its certificate's SAN URI).
    pub iss: String,
    /// SHC issuer keys, oldest first: the last signs, all are published.
    pub shc: Vec<KeyAndCert>,
    /// The VDS-NC barcode signer.
    pub bsc: KeyAndCert,
    /// The PDF signer.
    pub pdf: KeyAndCert,
    /// The token holding every [`KeyRef::Token`] key.
    pub token: Option<TokenConfig>,
}

/// `signing.toml`, written by `vaxcert keys init` and `keys rotate` beside the certificates.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// The SHC `iss`.
    pub iss: String,
    /// `pkcs11` (keys on the token, by label) or `files` (keys as `<label>.key.pem`).
    pub backend: Backend,
    /// SHC issuer key labels, oldest first; the last signs.
    pub shc_keys: Vec<String>,
    /// The VDS-NC barcode signer's label.
    pub bsc_key: String,
    /// The PDF signer's label.
    pub pdf_key: String,
}

/// Where a manifest's keys live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// On the token, by label.
    Pkcs11,
    /// In `<folder>/<kind>/<label>.key.pem`.
    Files,
}

impl Manifest {
    /// Read `<dir>/signing.toml`.
    ///
    /// # Errors
    /// [`KeyError::Manifest`].
    pub fn load(dir: &Path) -> Result<Self, KeyError> {
        let path = dir.join("signing.toml");
        let text = std::fs::read_to_string(&path)
            .map_err(|e| KeyError::Manifest(format!("{}: {e}", path.display())))?;
        toml::from_str(&text).map_err(|e| KeyError::Manifest(format!("{}: {e}", path.display())))
    }

    /// Write `<dir>/signing.toml`.
    ///
    /// # Errors
    /// [`KeyError::Manifest`].
    pub fn save(&self, dir: &Path) -> Result<(), KeyError> {
        let path = dir.join("signing.toml");
        let text = toml::to_string(self).map_err(|e| KeyError::Manifest(e.to_string()))?;
        std::fs::write(&path, text)
            .map_err(|e| KeyError::Manifest(format!("{}: {e}", path.display())))
    }

    /// The keys it names, under `dir`, on `token` for the PKCS#11 backend.
    ///
    /// # Errors
    /// [`KeyError::Manifest`] when the backend is `pkcs11` and no token is configured.
    pub fn files(
        &self,
        dir: &Path,
        token: Option<TokenConfig>,
    ) -> Result<SigningKeyFiles, KeyError> {
        if self.backend == Backend::Pkcs11 && token.is_none() {
            return Err(KeyError::Manifest(
                "signing.toml says the keys are on a token: configure the HSM (module, token, PIN)"
                    .into(),
            ));
        }
        let entry = |kind: &str, label: &str| KeyAndCert {
            key: match self.backend {
                Backend::Pkcs11 => KeyRef::Token(label.to_owned()),
                Backend::Files => KeyRef::File(dir.join(format!("{kind}/{label}.key.pem"))),
            },
            cert: dir.join(format!("{kind}/{label}.crt.pem")),
        };
        Ok(SigningKeyFiles {
            iss: self.iss.clone(),
            shc: self.shc_keys.iter().map(|l| entry("shc", l)).collect(),
            bsc: entry("icao", &self.bsc_key),
            pdf: entry("pdf", &self.pdf_key),
            token: if self.backend == Backend::Pkcs11 {
                token
            } else {
                None
            },
        })
    }
}

impl SigningKeyFiles {
    /// The dev layout under one folder: `shc/issuer.*`, `icao/bsc.*`, `pdf/signer.*`.
    pub fn in_dir(dir: &Path, iss: &str) -> Self {
        let file = |kind: &str, name: &str| KeyAndCert {
            key: KeyRef::File(dir.join(format!("{kind}/{name}.key.pem"))),
            cert: dir.join(format!("{kind}/{name}.crt.pem")),
        };
        SigningKeyFiles {
            iss: iss.to_owned(),
            shc: vec![file("shc", "issuer")],
            bsc: file("icao", "bsc"),
            pdf: file("pdf", "signer"),
            token: None,
        }
    }

    /// Every certificate file named, for the dev-material check.
    pub fn certificates(&self) -> Vec<&Path> {
        self.shc
            .iter()
            .chain([&self.bsc, &self.pdf])
            .map(|k| k.cert.as_path())
            .collect()
    }

    /// Every private key file named (token keys have none).
    pub fn key_files(&self) -> Vec<&Path> {
        self.shc
            .iter()
            .chain([&self.bsc, &self.pdf])
            .filter_map(|k| match &k.key {
                KeyRef::File(p) => Some(p.as_path()),
                KeyRef::Token(_) => None,
            })
            .collect()
    }
}

/// Why the signing keys could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// A key or certificate file, or the token.
    #[error(transparent)]
    Pki(#[from] crate::pki::Error),
    /// The PDF signer's certificate.
    #[error(transparent)]
    Pdf(#[from] crate::formats::pdf::Error),
    /// `signing.toml` is missing or malformed.
    #[error("signing keys: {0}")]
    Manifest(String),
}

impl KeyError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            KeyError::Pki(e) => e.code(),
            KeyError::Pdf(e) => e.code(),
            KeyError::Manifest(_) => "config",
        }
    }
}

/// The loaded keys: the SHC/VDS-NC issuer, every published SHC key with its `x5c`, and the
/// PDF signer.
#[derive(Debug)]
pub struct SigningKeys {
    /// SHC and VDS-NC signing (the newest SHC key).
    pub issuer: Issuer,
    /// Every SHC key to publish, oldest first, with its certificate (DER) as `x5c`.
    pub published: Vec<(p256::PublicKey, Vec<Vec<u8>>)>,
    /// The PAdES signer.
    pub pdf: PdfSigner,
}

fn signer(
    key: &KeyRef,
    cert: &x509_cert::Certificate,
    token: Option<&Arc<Token>>,
) -> Result<Arc<dyn Signer>, KeyError> {
    let s: Arc<dyn Signer> = match (key, token) {
        (KeyRef::File(p), _) => Arc::new(FileSigner::load(p, x509::is_dev(cert))?),
        (KeyRef::Token(label), Some(t)) => {
            Arc::new(t.signer(label).map_err(crate::pki::Error::from)?)
        }
        (KeyRef::Token(label), None) => {
            return Err(KeyError::Manifest(format!(
                "key {label:?} is on a token, and no token is configured"
            )));
        }
    };
    let spki = cert
        .tbs_certificate()
        .subject_public_key_info()
        .subject_public_key
        .raw_bytes();
    let ours = p256::ecdsa::VerifyingKey::from(*s.public_key()).to_sec1_point(false);
    if spki != ours.as_bytes() {
        return Err(crate::pki::Error::Format {
            path: PathBuf::from(format!("{key:?}")),
            what: "the certificate is not for this key".into(),
        }
        .into());
    }
    Ok(s)
}

impl SigningKeys {
    /// Load every key (opening the token once) and check each certificate is for its key; a
    /// file key is marked dev when its certificate names the dev organisation.
    ///
    /// # Errors
    /// [`KeyError`] for a missing or malformed file, an unreachable token, a missing label, or
    /// a certificate not for its key.
    pub fn load(files: &SigningKeyFiles) -> Result<Self, KeyError> {
        let token = files
            .token
            .as_ref()
            .map(Token::open)
            .transpose()
            .map_err(crate::pki::Error::from)?;
        let mut published = Vec::new();
        let mut active = None;
        for k in &files.shc {
            let cert = x509::load(&k.cert)?;
            let s = signer(&k.key, &cert, token.as_ref())?;
            published.push((*s.public_key(), vec![x509::to_der(&cert)?]));
            active = Some(s);
        }
        let shc = active.ok_or_else(|| KeyError::Manifest("no SHC issuer key".into()))?;
        let bsc_cert = x509::load(&files.bsc.cert)?;
        let bsc = signer(&files.bsc.key, &bsc_cert, token.as_ref())?;
        let pdf_cert = x509::load(&files.pdf.cert)?;
        let pdf_key = signer(&files.pdf.key, &pdf_cert, token.as_ref())?;
        let pdf = PdfSigner::with_chain_file(pdf_key, &files.pdf.cert)?;
        Ok(SigningKeys {
            issuer: Issuer::new(files.iss.clone(), shc, bsc, x509::to_der(&bsc_cert)?),
            published,
            pdf,
        })
    }
}
