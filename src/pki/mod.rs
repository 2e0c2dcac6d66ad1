//! Key material: the [`Signer`] every signing key sits behind, JWK thumbprints and X.509.
//! Production keys are loaded from configured files; the dev ones live in `crate::dev`.

pub mod denylist;
pub mod jwk;
pub mod pkcs11;
pub mod signer;
pub mod x509;

pub use signer::{FileSigner, Signer};

use std::path::PathBuf;

/// The organisation every dev certificate names (`O=vaxcert DEV`): what tells dev material
/// apart from a real issuer's, wherever it is found.
pub const DEV_ORG: &str = "vaxcert DEV";

/// Why key material could not be made or loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A key file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// Which file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A key file does not hold what it should.
    #[error("{path}: {what}")]
    Format {
        /// Which file.
        path: PathBuf,
        /// What is wrong.
        what: String,
    },
    /// Key generation failed.
    #[error("key generation failed: {0}")]
    Generate(String),
    /// A certificate could not be built or encoded.
    #[error("certificate: {0}")]
    Certificate(String),
    /// A signature could not be made.
    #[error("signing failed: {0}")]
    Sign(String),
    /// The HSM (PKCS#11) failed.
    #[error(transparent)]
    Hsm(pkcs11::HsmError),
    /// A key file another user may read.
    #[error("{path}: a private key must be readable by its owner only (chmod 600)")]
    Permissions {
        /// Which file.
        path: PathBuf,
    },
    /// A key that is not a dev key was offered to a dev-only command.
    #[error("{0} is not a dev key; this command signs with dev keys only")]
    NotDev(String),
}

impl Error {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Io { .. } => "key-io",
            Error::Format { .. } => "key-format",
            Error::Generate(_) => "key-generate",
            Error::Certificate(_) => "certificate",
            Error::Sign(_) => "sign",
            Error::NotDev(_) => "not-dev-key",
            Error::Hsm(e) => e.code(),
            Error::Permissions { .. } => "key-permissions",
        }
    }
}

pub(crate) fn read(path: &std::path::Path) -> Result<Vec<u8>, Error> {
    std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })
}

pub(crate) fn write(path: &std::path::Path, bytes: &[u8]) -> Result<(), Error> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|source| Error::Io {
            path: parent.to_owned(),
            source,
        })?;
    }
    std::fs::write(path, bytes).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })
}
