//! The record system's secrets: the MyNumber lookup HMAC key and encryption key, the staff
//! TOTP-secret encryption key, and the audit checkpoint signing key. Hashing and encryption
//! happen here, in Rust, before anything reaches the database: no plaintext MyNumber ever
//! reaches SQL, a WAL, a log or a COPY buffer.

use std::fmt;
use std::path::Path;

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use hmac::Mac;
use p256::ecdsa::signature::{Signer, Verifier};
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use p256::pkcs8::DecodePrivateKey;
use rand::RngExt;
use sha2::Sha256;
use zeroize::Zeroizing;

use super::config::KeyPaths;
use super::error::{Error, Result};
use crate::card::MyNumber;
use crate::domain::MunicipalityCode;

type HmacSha256 = hmac::Hmac<Sha256>;

const NONCE_LEN: usize = 12;

/// The record system's keys, loaded once from the files named in the configuration.
#[derive(Clone)]
pub struct RecordKeys {
    mynumber_hmac: Zeroizing<[u8; 32]>,
    mynumber_aes: Aes256Gcm,
    totp_aes: Aes256Gcm,
    audit: SigningKey,
}

impl fmt::Debug for RecordKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RecordKeys(..)")
    }
}

fn read_hex32(path: &Path) -> Result<Zeroizing<[u8; 32]>> {
    let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.display().to_string(),
        source,
    })?);
    let bytes = Zeroizing::new(
        hex::decode(text.trim())
            .map_err(|_| Error::Config(format!("{}: not hex", path.display())))?,
    );
    let arr: [u8; 32] = bytes
        .as_slice()
        .try_into()
        .map_err(|_| Error::Config(format!("{}: not 32 bytes", path.display())))?;
    Ok(Zeroizing::new(arr))
}

impl RecordKeys {
    /// Load every key.
    ///
    /// # Errors
    /// [`Error::Io`] or [`Error::Config`] naming the file.
    pub fn load(paths: &KeyPaths) -> Result<Self> {
        let aes = |p: &Path| -> Result<Aes256Gcm> {
            let k = read_hex32(p)?;
            Aes256Gcm::new_from_slice(&k[..]).map_err(|_| Error::Crypto("AES key"))
        };
        let pem = Zeroizing::new(std::fs::read_to_string(&paths.audit_signing).map_err(
            |source| Error::Io {
                path: paths.audit_signing.display().to_string(),
                source,
            },
        )?);
        let audit = SigningKey::from_pkcs8_pem(&pem).map_err(|_| {
            Error::Config(format!(
                "{}: not a PKCS#8 P-256 key",
                paths.audit_signing.display()
            ))
        })?;
        Ok(RecordKeys {
            mynumber_hmac: read_hex32(&paths.mynumber_hmac)?,
            mynumber_aes: aes(&paths.mynumber_aes)?,
            totp_aes: aes(&paths.totp_aes)?,
            audit,
        })
    }

    fn hmac(&self, domain: &[u8], data: &[u8]) -> [u8; 32] {
        let mut m =
            HmacSha256::new_from_slice(&self.mynumber_hmac[..]).expect("HMAC takes any key");
        m.update(domain);
        m.update(data);
        m.finalize().into_bytes().into()
    }

    /// The lookup hash of a MyNumber: HMAC-SHA-256 under the MyNumber key.
    pub(in crate::records) fn mynumber_hash(&self, n: &MyNumber) -> [u8; 32] {
        self.hmac(b"vaxcert mynumber v1\0", n.expose_digits())
    }

    /// The keyed hash of a card's DF51 key digest, kept with each issuance.
    pub(in crate::records) fn card_key_hash(&self, digest: &[u8; 32]) -> [u8; 32] {
        self.hmac(b"vaxcert card key v1\0", digest)
    }

    fn seal(cipher: &Aes256Gcm, plain: &[u8], aad: &[u8]) -> Result<Vec<u8>> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill(&mut nonce[..]);
        let n = aes_gcm::aead::Nonce::<Aes256Gcm>::try_from(&nonce[..])
            .map_err(|_| Error::Crypto("nonce"))?;
        let ct = cipher
            .encrypt(&n, Payload { msg: plain, aad })
            .map_err(|_| Error::Crypto("encryption failed"))?;
        let mut out = nonce.to_vec();
        out.extend(ct);
        Ok(out)
    }

    fn open(cipher: &Aes256Gcm, sealed: &[u8], aad: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        if sealed.len() < NONCE_LEN {
            return Err(Error::Crypto("ciphertext too short"));
        }
        let n = aes_gcm::aead::Nonce::<Aes256Gcm>::try_from(&sealed[..NONCE_LEN])
            .map_err(|_| Error::Crypto("nonce"))?;
        cipher
            .decrypt(
                &n,
                Payload {
                    msg: &sealed[NONCE_LEN..],
                    aad,
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| Error::Crypto("ciphertext does not open (wrong key or tampered)"))
    }

    fn mynumber_aad(municipality: &MunicipalityCode, atena: &str) -> Vec<u8> {
        format!("{}/{}", municipality.as_str(), atena).into_bytes()
    }

    /// `nonce ‖ AES-256-GCM(MyNumber)` with the municipality code and 宛名番号 as associated
    /// data, so a ciphertext moved to another record does not open.
    pub(in crate::records) fn encrypt_mynumber(
        &self,
        n: &MyNumber,
        municipality: &MunicipalityCode,
        atena: &str,
    ) -> Result<Vec<u8>> {
        Self::seal(
            &self.mynumber_aes,
            n.expose_digits(),
            &Self::mynumber_aad(municipality, atena),
        )
    }

    /// Open a stored MyNumber (for the counter's masked display).
    pub(in crate::records) fn decrypt_mynumber(
        &self,
        sealed: &[u8],
        municipality: &MunicipalityCode,
        atena: &str,
    ) -> Result<MyNumber> {
        let plain = Self::open(
            &self.mynumber_aes,
            sealed,
            &Self::mynumber_aad(municipality, atena),
        )?;
        MyNumber::parse(&plain).map_err(|_| Error::Crypto("stored MyNumber is malformed"))
    }

    /// Encrypt a staff TOTP secret, bound to its municipality and login.
    pub(in crate::records) fn encrypt_totp(&self, secret: &[u8], aad: &str) -> Result<Vec<u8>> {
        Self::seal(&self.totp_aes, secret, aad.as_bytes())
    }

    /// Decrypt a staff TOTP secret.
    pub(in crate::records) fn decrypt_totp(
        &self,
        sealed: &[u8],
        aad: &str,
    ) -> Result<Zeroizing<Vec<u8>>> {
        Self::open(&self.totp_aes, sealed, aad.as_bytes())
    }

    /// Sign an audit checkpoint message (ES256, raw R‖S).
    pub(in crate::records) fn sign_checkpoint(&self, msg: &[u8]) -> Vec<u8> {
        let sig: Signature = self.audit.sign(msg);
        sig.to_bytes().to_vec()
    }

    /// The public half of the checkpoint key.
    pub(in crate::records) fn checkpoint_verifier(&self) -> VerifyingKey {
        *self.audit.verifying_key()
    }

    /// Check a checkpoint signature.
    pub(in crate::records) fn verify_checkpoint(&self, msg: &[u8], sig: &[u8]) -> bool {
        Signature::from_slice(sig)
            .map(|s| self.checkpoint_verifier().verify(msg, &s).is_ok())
            .unwrap_or(false)
    }
}
