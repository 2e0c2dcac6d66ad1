//! DEV ONLY. The dev J-LIS side of a card: the card-issuer key and its CVC from the dev CA,
//! and the signing every virtual card's files need. `card_sim` lays the files out with these;
//! this module owns how they are signed.

use std::path::{Path, PathBuf};

use rsa::RsaPrivateKey;
use rsa::pkcs1v15::Pkcs1v15Sign;
use rsa::pkcs8::DecodePrivateKey;
use rsa::traits::PublicKeyParts;
use sha2::{Digest, Sha256};

use super::dir;
use crate::card::tlv::encode;
use crate::pki::{Error, read};

/// 証明者鍵ID of the dev J-LIS CA: the test layout with a `9` hierarchy no real card uses.
pub const CA_KEY_ID: [u8; 16] = *b"9000033\x08\x05001\0\0\0\0";
/// 被証明者鍵ID of the dev card-issuer key.
pub const ISSUER_KEY_ID: [u8; 16] = *b"9322131\x08\x05000\0\0\0\0";

/// Load a PKCS#8 PEM RSA private key.
///
/// # Errors
/// Missing or malformed file.
pub fn load_rsa_key(path: &Path) -> Result<RsaPrivateKey, Error> {
    let pem = String::from_utf8(read(path)?).unwrap_or_default();
    RsaPrivateKey::from_pkcs8_pem(&pem).map_err(|e| Error::Format {
        path: path.to_owned(),
        what: format!("not a PKCS#8 RSA key ({e}); run `vaxcert keys dev`"),
    })
}

/// `<dir>/<stem>.card-key.pem` for the persona `<dir>/<stem>.toml`: where the ceremony puts
/// each persona's card key (DF51).
pub fn card_key_path(persona: &Path) -> PathBuf {
    let stem = persona
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    persona.with_file_name(format!("{stem}.card-key.pem"))
}

/// `90 03 010001 91 82 0100 <modulus>`, the card's key encoding.
pub fn public_key_tlvs(key: &RsaPrivateKey) -> Vec<u8> {
    let mut v = encode(0x90, &key.e_bytes());
    v.extend(encode(0x91, &key.n_bytes()));
    v
}

/// RSASSA-PKCS1-v1_5 / SHA-256, as J-LIS signs.
pub fn sign_sha256(key: &RsaPrivateKey, message: &[u8]) -> Vec<u8> {
    key.sign(Pkcs1v15Sign::new::<Sha256>(), &Sha256::digest(message))
        .expect("a 2048-bit key signs a SHA-256 digest")
}

/// A card-verifiable certificate: `7F21 { 5F4E (issuer id ‖ subject id ‖ key), 5F37 sig }`.
pub fn make_cvc(
    ca: &RsaPrivateKey,
    ca_id: &[u8; 16],
    subject: &RsaPrivateKey,
    subject_id: &[u8; 16],
) -> Vec<u8> {
    let mut body = ca_id.to_vec();
    body.extend_from_slice(subject_id);
    body.extend(public_key_tlvs(subject));
    let mut value = encode(0x5F4E, &body);
    value.extend(encode(0x5F37, &sign_sha256(ca, &body)));
    encode(0x7F21, &value)
}

/// The dev card-issuer: its key and the CVC (EF0004) the dev CA gave it.
pub struct DevIssuer {
    key: RsaPrivateKey,
    cvc: Vec<u8>,
}

impl DevIssuer {
    /// Load from `certs/dev/jlis/`.
    ///
    /// # Errors
    /// Missing or malformed files.
    pub fn load() -> Result<Self, Error> {
        let d = dir().join("jlis");
        Ok(DevIssuer {
            key: load_rsa_key(&d.join("issuer.key.pem"))?,
            cvc: read(&d.join("issuer.cvc.bin"))?,
        })
    }

    /// A card issuer under another CA than the dev one (a test deployment's own): its key and
    /// the CVC that CA gave it.
    pub fn from_parts(key: RsaPrivateKey, cvc: Vec<u8>) -> Self {
        DevIssuer { key, cvc }
    }

    /// The issuer's private key (signs DF33 and DF52).
    pub fn key(&self) -> &RsaPrivateKey {
        &self.key
    }

    /// The CVC (EF0004).
    pub fn cvc(&self) -> &[u8] {
        &self.cvc
    }

    /// The issuer's 被証明者鍵ID.
    pub fn key_id(&self) -> &[u8; 16] {
        &ISSUER_KEY_ID
    }
}
