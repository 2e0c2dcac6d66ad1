//! The J-LIS CA keys a card's CVC may chain to. There is no default: every caller names its set
//! (`--trust 5000033` in production; the dev configuration adds `dev` and `6000033`).

use std::fmt;

use super::Error;
use super::rsa_key::RsaKey;

/// A J-LIS CA public key and the 7-digit 証明者鍵ID that names it.
#[derive(Debug, Clone)]
pub struct CaKey {
    /// 7 ASCII digits, the printable part of the 16-byte key ID.
    pub key_id: String,
    /// The public key.
    pub key: RsaKey,
}

/// A named set of trusted J-LIS CA keys.
#[derive(Debug, Clone)]
pub struct TrustSet {
    keys: Vec<CaKey>,
}

/// Why a `--trust` list was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrustError {
    /// Not a key vaxcert knows.
    #[error(
        "unknown J-LIS CA key {0:?}: known keys are 5000033 (production), 6000033 (JPKI test cards) and dev"
    )]
    UnknownKey(String),
    /// The dev key files could not be read.
    #[error("the dev J-LIS CA key could not be loaded: {0}")]
    Dev(String),
    /// `dev` was named where dev material is not allowed.
    #[error("the dev J-LIS CA key (dev) is for --dev, the demo and tests only")]
    DevOnly,
    /// An empty list trusts nothing.
    #[error("the trusted set is empty")]
    Empty,
}

/// Production J-LIS CA key 5000033; provenance in `certs/trust/jlis/PROVENANCE.md`.
const MODULUS_5000033: &str = include_str!("../../certs/trust/jlis/5000033.modulus.hex");
/// JPKI test-card CA key 6000033; provenance in `certs/trust/jlis/PROVENANCE.md`.
const MODULUS_6000033: &str = include_str!("../../certs/trust/jlis/6000033.modulus.hex");

impl TrustSet {
    /// Parse a comma-separated list of built-in key IDs: `5000033`, `6000033`. `dev` is
    /// refused here: only dev-only code has the dev key ([`TrustSet::parse_with_dev`]).
    ///
    /// # Errors
    /// [`TrustError`] for an unknown ID, `dev`, or an empty list.
    pub fn parse(spec: &str) -> Result<Self, TrustError> {
        Self::parse_with_dev(spec, None)
    }

    /// As [`TrustSet::parse`], with the dev J-LIS CA key standing for `dev` when given.
    ///
    /// # Errors
    /// [`TrustError`] for an unknown ID, `dev` without its key, or an empty list.
    pub fn parse_with_dev(spec: &str, dev: Option<CaKey>) -> Result<Self, TrustError> {
        let mut keys = Vec::new();
        for id in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let key = match id {
                "5000033" => builtin("5000033", MODULUS_5000033),
                "6000033" => builtin("6000033", MODULUS_6000033),
                "dev" => dev.clone().ok_or(TrustError::DevOnly)?,
                other => return Err(TrustError::UnknownKey(other.to_owned())),
            };
            keys.push(key);
        }
        if keys.is_empty() {
            return Err(TrustError::Empty);
        }
        Ok(TrustSet { keys })
    }

    /// Production: key 5000033 only.
    pub fn production() -> Self {
        TrustSet {
            keys: vec![builtin("5000033", MODULUS_5000033)],
        }
    }

    /// This set with further configured keys (a deployment's own card CA).
    pub fn with(mut self, extra: Vec<CaKey>) -> Self {
        self.keys.extend(extra);
        self
    }

    /// Build from explicit keys (tests, and records' configured keys).
    pub fn from_keys(keys: Vec<CaKey>) -> Self {
        TrustSet { keys }
    }

    /// The key named by a CVC's 16-byte 証明者鍵ID.
    pub(crate) fn find(&self, issuer_key_id: &[u8; 16]) -> Result<&CaKey, Error> {
        let id = String::from_utf8_lossy(&issuer_key_id[..7]).into_owned();
        self.keys
            .iter()
            .find(|k| k.key_id == id)
            .ok_or(Error::UntrustedIssuer { key_id: id })
    }
}

impl fmt::Display for TrustSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|k| k.key_id.as_str()).collect();
        f.write_str(&ids.join(","))
    }
}

fn builtin(id: &str, hex_text: &str) -> CaKey {
    CaKey {
        key_id: id.to_owned(),
        key: RsaKey::from_modulus_hex(hex_text).unwrap_or_else(|| RsaKey::new(&[], &[])),
    }
}
