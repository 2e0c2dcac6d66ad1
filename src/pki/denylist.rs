//! The denylist of dev material, so that production can refuse it (`dev-key-in-production`):
//! certificates naming the dev organisation, and the committed dev secrets, recognised by the
//! SHA-256 of their contents (the bytes are compiled in only to be hashed and compared).

use std::path::Path;

use sha2::{Digest, Sha256};

/// The committed dev secrets (symmetric keys and private keys) that no production file may be.
const DEV_SECRETS: [&[u8]; 17] = [
    include_bytes!("../../certs/dev/challenge-hmac.key"),
    include_bytes!("../../certs/dev/preview-token.key"),
    include_bytes!("../../certs/dev/jlis/ca.modulus.hex"),
    include_bytes!("../../certs/dev/records/mynumber-hmac.key"),
    include_bytes!("../../certs/dev/records/mynumber-aes.key"),
    include_bytes!("../../certs/dev/records/totp-aes.key"),
    include_bytes!("../../certs/dev/records/audit-checkpoint.key.pem"),
    include_bytes!("../../certs/dev/shc/issuer.key.pem"),
    include_bytes!("../../certs/dev/icao/bsc.key.pem"),
    include_bytes!("../../certs/dev/pdf/signer.key.pem"),
    include_bytes!("../../certs/dev/tls/records.key.pem"),
    include_bytes!("../../certs/dev/tls/app-server.key.pem"),
    include_bytes!("../../certs/dev/tls/center-server.key.pem"),
    include_bytes!("../../certs/dev/tls/app-gateway.key.pem"),
    include_bytes!("../../certs/dev/tls/center.key.pem"),
    include_bytes!("../../certs/dev/tls/kiosk-01.key.pem"),
    include_bytes!("../../certs/dev/tls/kiosk-02.key.pem"),
];

fn fingerprint(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(String::from_utf8_lossy(bytes).trim().as_bytes()).into()
}

/// Whether `bytes` are one of the committed dev secrets (whitespace around them ignored).
pub fn is_dev_secret(bytes: &[u8]) -> bool {
    let f = fingerprint(bytes);
    DEV_SECRETS.iter().any(|d| fingerprint(d) == f)
}

/// Why a file was refused as dev material.
#[derive(Debug, thiserror::Error)]
#[error("{path} is dev material (committed to the source tree); production never uses it")]
pub struct DevMaterial {
    /// The file.
    pub path: String,
}

/// [`refuse`] for each file, stopping at the first dev one.
///
/// # Errors
/// [`DevMaterial`] naming the file.
pub fn refuse_all<'a>(paths: impl IntoIterator<Item = &'a Path>) -> Result<(), DevMaterial> {
    paths.into_iter().try_for_each(refuse)
}

/// Refuse a file that is a committed dev secret, or a certificate (chain) naming the dev
/// organisation. Unreadable files pass: whoever loads them reports that.
///
/// # Errors
/// [`DevMaterial`] naming the file.
pub fn refuse(path: &Path) -> Result<(), DevMaterial> {
    let Ok(bytes) = std::fs::read(path) else {
        return Ok(());
    };
    let dev_cert = x509_cert::Certificate::load_pem_chain(&bytes)
        .map(|chain| chain.iter().any(super::x509::is_dev))
        .unwrap_or(false);
    if dev_cert || is_dev_secret(&bytes) {
        return Err(DevMaterial {
            path: path.display().to_string(),
        });
    }
    Ok(())
}
