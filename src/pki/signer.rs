//! Where signing keys live. The issuing code signs through [`Signer`] and never sees key bytes,
//! so a PKCS#11 token can replace the file later. ES256 runs on ring's assembly P-256
//! (`benches/issue.rs` measured it against `p256`; ring was faster).

use std::path::Path;

use p256::pkcs8::{DecodePrivateKey, EncodePublicKey};
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};

use super::Error;

/// An ES256 signing key somewhere.
pub trait Signer: Send + Sync {
    /// ES256 over `message`: SHA-256, then ECDSA P-256, raw `R ‖ S` (64 bytes), as JWS wants.
    ///
    /// # Errors
    /// [`Error::Sign`] when the key store fails.
    fn sign_es256(&self, message: &[u8]) -> Result<[u8; 64], Error>;
    /// The public key.
    fn public_key(&self) -> &p256::PublicKey;
    /// Whether this is a dev key (made by `vaxcert keys dev`); `vaxcert issue` insists on it.
    fn is_dev(&self) -> bool;
}

/// A P-256 key from a PKCS#8 PEM file.
pub struct FileSigner {
    pair: EcdsaKeyPair,
    public: p256::PublicKey,
    rng: SystemRandom,
    dev: bool,
}

impl FileSigner {
    /// Load a PKCS#8 PEM P-256 key. `dev` records whether it came from the dev ceremony; any
    /// other key file must be readable by its owner only (mode 0600 or stricter).
    ///
    /// # Errors
    /// Unreadable or malformed key file, [`Error::Permissions`].
    pub fn load(path: &Path, dev: bool) -> Result<Self, Error> {
        if !dev {
            check_owner_only(path)?;
        }
        let pem = String::from_utf8(super::read(path)?).unwrap_or_default();
        let key = p256::SecretKey::from_pkcs8_pem(&pem).map_err(|e| Error::Format {
            path: path.to_owned(),
            what: format!("not a PKCS#8 P-256 key ({e})"),
        })?;
        Self::from_secret(&key, dev)
    }

    /// From a p256 secret key.
    ///
    /// # Errors
    /// [`Error::Sign`] if ring refuses the key.
    pub fn from_secret(key: &p256::SecretKey, dev: bool) -> Result<Self, Error> {
        let public = key.public_key();
        let point = public.to_sec1_bytes();
        let rng = SystemRandom::new();
        let pair = EcdsaKeyPair::from_private_key_and_public_key(
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            &key.to_bytes(),
            &point,
            &rng,
        )
        .map_err(|e| Error::Sign(e.to_string()))?;
        Ok(FileSigner {
            pair,
            public,
            rng,
            dev,
        })
    }

    /// The public key as SubjectPublicKeyInfo DER.
    ///
    /// # Errors
    /// Encoding failures.
    pub fn spki_der(&self) -> Result<Vec<u8>, Error> {
        Ok(self
            .public
            .to_public_key_der()
            .map_err(|e| Error::Sign(e.to_string()))?
            .into_vec())
    }
}

impl Signer for FileSigner {
    fn sign_es256(&self, message: &[u8]) -> Result<[u8; 64], Error> {
        let started = std::time::Instant::now();
        let sig = self
            .pair
            .sign(&self.rng, message)
            .map_err(|e| Error::Sign(e.to_string()))?;
        crate::telemetry::metrics::signing("file", started.elapsed());
        sig.as_ref()
            .try_into()
            .map_err(|_| Error::Sign("ES256 signature is not 64 bytes".into()))
    }

    fn public_key(&self) -> &p256::PublicKey {
        &self.public
    }

    fn is_dev(&self) -> bool {
        self.dev
    }
}

impl std::fmt::Debug for FileSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "FileSigner(dev: {}, {:02x?}…)",
            self.dev,
            &self.pair.public_key().as_ref()[1..5]
        )
    }
}

/// Refuse a private key file that its group or others may read or write.
///
/// # Errors
/// [`Error::Io`], [`Error::Permissions`].
pub fn check_owner_only(path: &Path) -> Result<(), Error> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path)
        .map_err(|source| Error::Io {
            path: path.to_owned(),
            source,
        })?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        return Err(Error::Permissions {
            path: path.to_owned(),
        });
    }
    Ok(())
}
