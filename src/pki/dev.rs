//! DEV ONLY. The dev key ceremony (`vaxcert keys dev`) and loaders for what it made, all under
//! `certs/dev/`. Tests and the demo use these keys; production never does.
//!
//! ```text
//! certs/dev/jlis/ca.key.pem          dev J-LIS CA (RSA-2048), 証明者鍵ID 9000033
//! certs/dev/jlis/ca.modulus.hex      its public modulus (what `--trust dev` loads)
//! certs/dev/jlis/issuer.key.pem      card-issuer key: signs EF0003 and EF0007 (DF52)
//! certs/dev/jlis/issuer.cvc.bin      EF0004: the issuer key's CVC, signed by the dev CA
//! certs/dev/personas/*.toml          synthetic residents; *.card-key.pem their DF51 keys
//! certs/dev/challenge-hmac.key       HMAC key for challenges (hex)
//! certs/dev/records/                 record keys: MyNumber HMAC + AES, TOTP AES, audit P-256
//! ```

use std::io::Write;
use std::path::{Path, PathBuf};

use rsa::RsaPrivateKey;
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use rsa::traits::PublicKeyParts;

use super::{Error, read, write};
use crate::card::challenge::ChallengeKey;
use crate::card::tlv::encode;
use crate::card::{CaKey, RsaKey};
use crate::card_sim::image::{public_key_tlvs, sign_sha256};

/// 証明者鍵ID of the dev J-LIS CA: the test layout with a `9` hierarchy no real card uses.
pub const CA_KEY_ID: [u8; 16] = *b"9000033\x08\x05001\0\0\0\0";
/// 被証明者鍵ID of the dev card-issuer key.
pub const ISSUER_KEY_ID: [u8; 16] = *b"9322131\x08\x05000\0\0\0\0";

/// The dev folder: `certs/dev` under the working directory, else under the source tree.
pub fn dir() -> PathBuf {
    let local = PathBuf::from("certs/dev");
    if local.is_dir() {
        local
    } else {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("certs/dev")
    }
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

    /// The issuer's private key (signs DF33 and DF52).
    pub fn key(&self) -> &RsaPrivateKey {
        &self.key
    }

    /// EF0004.
    pub fn cvc(&self) -> &[u8] {
        &self.cvc
    }

    /// The issuer's 被証明者鍵ID.
    pub fn key_id(&self) -> &[u8; 16] {
        &ISSUER_KEY_ID
    }
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

fn generate() -> Result<RsaPrivateKey, Error> {
    RsaPrivateKey::new(&mut rand::rng(), 2048).map_err(|e| Error::Generate(e.to_string()))
}

fn write_key(path: &Path, key: &RsaPrivateKey) -> Result<(), Error> {
    let pem = key
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| Error::Generate(e.to_string()))?;
    write(path, pem.as_bytes())
}

/// The ceremony: make whatever dev key is missing (everything with `force`), and say what was
/// made. Existing keys are kept, so committed test data stays stable.
///
/// # Errors
/// I/O or generation failures.
pub fn make(force: bool, out: &mut dyn Write) -> Result<(), Error> {
    let d = dir();
    let jlis = d.join("jlis");
    let say = |out: &mut dyn Write, what: &str| {
        let _ = writeln!(out, "{what}");
    };
    let jlis_files = [
        "ca.key.pem",
        "ca.modulus.hex",
        "issuer.key.pem",
        "issuer.cvc.bin",
    ];
    if force || jlis_files.iter().any(|f| !jlis.join(f).exists()) {
        say(
            out,
            "making the dev J-LIS CA (9000033) and card-issuer keys (RSA-2048)…",
        );
        let ca = generate()?;
        let issuer = generate()?;
        write_key(&jlis.join("ca.key.pem"), &ca)?;
        write(
            &jlis.join("ca.modulus.hex"),
            format!("{}\n", hex::encode(ca.n_bytes())).as_bytes(),
        )?;
        write_key(&jlis.join("issuer.key.pem"), &issuer)?;
        write(
            &jlis.join("issuer.cvc.bin"),
            &make_cvc(&ca, &CA_KEY_ID, &issuer, &ISSUER_KEY_ID),
        )?;
    }
    let hmac = d.join("challenge-hmac.key");
    if force || !hmac.exists() {
        say(out, "making the challenge HMAC key…");
        let mut k = [0u8; 32];
        rand::RngExt::fill(&mut rand::rng(), &mut k[..]);
        write(&hmac, format!("{}\n", hex::encode(k)).as_bytes())?;
    }
    make_records_keys(&d.join("records"), force, out)?;
    let personas = d.join("personas");
    let mut entries: Vec<PathBuf> = std::fs::read_dir(&personas)
        .map_err(|source| Error::Io {
            path: personas.clone(),
            source,
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    entries.sort();
    for p in entries {
        let key_path = crate::card_sim::persona::card_key_path(&p);
        if force || !key_path.exists() {
            say(out, &format!("making the card key for {}…", p.display()));
            write_key(&key_path, &generate()?)?;
        }
    }
    say(
        out,
        &format!("dev keys are in {} (DEV ONLY: never deploy)", d.display()),
    );
    Ok(())
}

/// The record system's dev keys: MyNumber HMAC and AES-256-GCM keys, the staff TOTP-secret key
/// (64 hex digits each), and the audit checkpoint signing key (P-256, PKCS#8 PEM, with its
/// public half beside it).
fn make_records_keys(dir: &Path, force: bool, out: &mut dyn Write) -> Result<(), Error> {
    for name in ["mynumber-hmac.key", "mynumber-aes.key", "totp-aes.key"] {
        let path = dir.join(name);
        if force || !path.exists() {
            let _ = writeln!(out, "making the record key {name}…");
            let mut k = zeroize::Zeroizing::new([0u8; 32]);
            rand::RngExt::fill(&mut rand::rng(), &mut k[..]);
            write(&path, format!("{}\n", hex::encode(&k[..])).as_bytes())?;
        }
    }
    let key_path = dir.join("audit-checkpoint.key.pem");
    if force || !key_path.exists() {
        use p256::pkcs8::{EncodePrivateKey, EncodePublicKey};
        let _ = writeln!(out, "making the audit checkpoint key (P-256)…");
        let sk = <p256::SecretKey as p256::elliptic_curve::Generate>::generate();
        let pem = sk
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|e| Error::Generate(e.to_string()))?;
        write(&key_path, pem.as_bytes())?;
        let public = sk
            .public_key()
            .to_public_key_pem(LineEnding::LF)
            .map_err(|e| Error::Generate(e.to_string()))?;
        write(&dir.join("audit-checkpoint.pub.pem"), public.as_bytes())?;
    }
    Ok(())
}
