//! DEV ONLY: the committed dev material under `certs/dev/`, its ceremony (`vaxcert keys dev`)
//! and its loaders. Only dev-only code reaches this module: `keys dev`, `demo`, `card-sim`,
//! `issue`, the load tool, a role's `--dev` switch, and tests. Production paths take what they
//! use from their settings, so a review can grep for `dev::`.
//!
//! ```text
//! certs/dev/jlis/ca.key.pem          dev J-LIS CA (RSA-2048), 証明者鍵ID 9000033
//! certs/dev/jlis/ca.modulus.hex      its public modulus (what `--trust dev` loads)
//! certs/dev/jlis/issuer.key.pem      card-issuer key: signs EF0003 and EF0007 (DF52)
//! certs/dev/jlis/issuer.cvc.bin      EF0004: the issuer key's CVC, signed by the dev CA
//! certs/dev/personas/*.toml          synthetic residents; *.card-key.pem their DF51 keys
//! certs/dev/challenge-hmac.key       HMAC key for challenges (hex)
//! certs/dev/records/                 record keys: MyNumber HMAC + AES, TOTP AES, audit P-256
//! certs/dev/{shc,icao,pdf}/          signing keys and their certificates (see ceremony)
//! certs/dev/tls/                     TLS CAs and every role's certificates
//! ```
//!
//! ```text
//! dev
//!   ├ ceremony   `vaxcert keys dev`: makes what is missing
//!   └ card       the dev card issuer (DF33/DF52 signing, EF0004), persona card keys
//! ```

pub mod card;
pub mod ceremony;

use std::path::{Path, PathBuf};

use crate::card::challenge::ChallengeKey;
use crate::card::{CaKey, RsaKey, TrustError, TrustSet};
use crate::issuance::SigningKeyFiles;
use crate::pki::{Error, read};
use crate::records::KeyPaths;

pub use crate::pki::DEV_ORG;

/// The fixed dev SHC `iss`, also the dev issuer certificate's SAN URI.
pub const SHC_ISS: &str = "https://dev.vaxcert.invalid/issuer";

/// The dev folder: `certs/dev` under the working directory, else under the source tree.
pub fn dir() -> PathBuf {
    let local = PathBuf::from("certs/dev");
    if local.is_dir() {
        local
    } else {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("certs/dev")
    }
}

/// The dev TLS folder: every role's certificates, in the file names the roles expect.
pub fn tls_dir() -> PathBuf {
    dir().join("tls")
}

/// The record system's dev keys.
pub fn record_keys() -> KeyPaths {
    KeyPaths::in_dir(&dir().join("records"))
}

/// The dev signing keys (SHC issuer, VDS-NC BSC, PDF signer) and their certificates.
pub fn signing_keys() -> SigningKeyFiles {
    SigningKeyFiles::in_dir(&dir(), SHC_ISS)
}

/// The dev SHC and VDS-NC issuer.
///
/// # Errors
/// Missing dev keys: run `vaxcert keys dev`.
pub fn issuer() -> Result<crate::issuance::certificate::Issuer, Error> {
    use std::sync::Arc;
    Ok(crate::issuance::certificate::Issuer::new(
        SHC_ISS.into(),
        Arc::new(shc_signer()?),
        Arc::new(bsc_signer()?),
        bsc_der()?,
    ))
}

/// The issuance service with the dev signing keys and the bundled PDF layout; the challenge
/// key, the trust set and the settings stay the caller's.
///
/// # Errors
/// Unreadable dev keys or publication I/O.
pub fn issuance_service(
    records: std::sync::Arc<crate::records::Records>,
    challenges: crate::card::challenge::Challenges,
    trust: TrustSet,
    clock: std::sync::Arc<dyn crate::clock::Clock>,
    settings: crate::issuance::IssuanceSettings,
) -> Result<crate::issuance::IssuanceService, crate::issuance::Error> {
    let keys = crate::issuance::SigningKeys::load(&signing_keys())?;
    let renderer = crate::formats::pdf::PdfRenderer::bundled()?;
    let token_key = token_key().map_err(|e| crate::issuance::Error::Worker(e.to_string()))?;
    Ok(crate::issuance::IssuanceService::new(
        records,
        keys,
        std::sync::Arc::new(renderer),
        challenges,
        trust,
        clock,
        settings,
    )?
    .with_token_key(token_key))
}

/// The dev J-LIS CA public key, for `--trust dev`.
///
/// # Errors
/// Missing or malformed `ca.modulus.hex`.
pub fn jlis_ca_public() -> Result<CaKey, Error> {
    let path = dir().join("jlis/ca.modulus.hex");
    let text = String::from_utf8(read(&path)?).unwrap_or_default();
    let key = RsaKey::from_modulus_hex(&text).ok_or_else(|| Error::Format {
        path,
        what: "not a hex modulus".into(),
    })?;
    Ok(CaKey {
        key_id: "9000033".into(),
        key,
    })
}

/// A `--trust` list that may name `dev`: the dev J-LIS CA key is loaded only when named.
///
/// # Errors
/// [`TrustError`] as [`TrustSet::parse_with_dev`].
pub fn trust_set(spec: &str) -> Result<TrustSet, TrustError> {
    let names_dev = spec.split(',').any(|s| s.trim() == "dev");
    let dev = if names_dev {
        Some(jlis_ca_public().map_err(|e| TrustError::Dev(e.to_string()))?)
    } else {
        None
    };
    TrustSet::parse_with_dev(spec, dev)
}

/// The dev challenge HMAC key.
///
/// # Errors
/// Missing or malformed key file.
pub fn challenge_key() -> Result<ChallengeKey, Error> {
    let path = dir().join("challenge-hmac.key");
    let text = String::from_utf8(read(&path)?).unwrap_or_default();
    ChallengeKey::from_hex(&text).ok_or(Error::Format {
        path,
        what: "not 64 hex digits".into(),
    })
}

/// The committed dev preview-token sealing key: every dev records replica seals with it.
///
/// # Errors
/// Missing or malformed key file.
pub fn token_key() -> Result<crate::issuance::TokenKey, Error> {
    let path = dir().join("preview-token.key");
    let text = String::from_utf8(read(&path)?).unwrap_or_default();
    crate::issuance::TokenKey::from_hex(&text).ok_or(Error::Format {
        path,
        what: "not 64 hex digits".into(),
    })
}

/// Load a dev P-256 key (PKCS#8 PEM).
///
/// # Errors
/// Missing or malformed file.
pub fn load_p256(path: &Path) -> Result<p256::ecdsa::SigningKey, Error> {
    use p256::pkcs8::DecodePrivateKey;
    let pem = String::from_utf8(read(path)?).unwrap_or_default();
    p256::ecdsa::SigningKey::from_pkcs8_pem(&pem).map_err(|e| Error::Format {
        path: path.to_owned(),
        what: format!("not a PKCS#8 P-256 key ({e}); run `vaxcert keys dev`"),
    })
}

/// The dev SHC issuer's signing key.
///
/// # Errors
/// Missing keys: run `vaxcert keys dev`.
pub fn shc_signer() -> Result<crate::pki::FileSigner, Error> {
    crate::pki::FileSigner::load(&dir().join("shc/issuer.key.pem"), true)
}

/// The dev barcode signer's key.
///
/// # Errors
/// Missing keys: run `vaxcert keys dev`.
pub fn bsc_signer() -> Result<crate::pki::FileSigner, Error> {
    crate::pki::FileSigner::load(&dir().join("icao/bsc.key.pem"), true)
}

/// The dev BSC certificate, DER (VDS-NC `cer`).
///
/// # Errors
/// Missing file.
pub fn bsc_der() -> Result<Vec<u8>, Error> {
    crate::pki::x509::to_der(&crate::pki::x509::load(&dir().join("icao/bsc.crt.pem"))?)
}
