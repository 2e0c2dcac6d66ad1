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
    make_shc(&d.join("shc"), force, out)?;
    make_icao(&d.join("icao"), force, out)?;
    make_pdf(&d.join("pdf"), force, out)?;
    make_tls(&d.join("tls"), force, out)?;
    say(
        out,
        &format!("dev keys are in {} (DEV ONLY: never deploy)", d.display()),
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The certificate hierarchy: SHC issuer, ICAO CSCA/BSC, PDF signer, TLS (DESIGN §5).

use p256::pkcs8::LineEnding as Pkcs8LineEnding;
use x509_cert::certificate::Certificate;

use super::x509::{self, Profile};
use crate::clock::UnixTime;

/// The fixed dev SHC `iss`, also the dev issuer certificate's SAN URI.
pub const SHC_ISS: &str = "https://dev.vaxcert.invalid/issuer";
/// The organisation every dev certificate names; `vaxcert issue` refuses anything else.
pub const DEV_ORG: &str = "vaxcert DEV";

const CLIENT_AUTH: const_oid::ObjectIdentifier =
    const_oid::ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.2");
const SERVER_AUTH: const_oid::ObjectIdentifier =
    const_oid::ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.1");

/// 2025-01-01 to 2045-01-01: fixed, so committed dev certificates stay valid for the tests.
fn dev_validity() -> Result<x509_cert::time::Validity, Error> {
    x509::validity(UnixTime(1_735_689_600), UnixTime(2_366_841_600))
}

fn new_p256() -> p256::ecdsa::SigningKey {
    use p256::elliptic_curve::Generate;
    p256::ecdsa::SigningKey::generate_from_rng(&mut rand::rng())
}

fn new_p384() -> p384::ecdsa::SigningKey {
    use p384::elliptic_curve::Generate;
    p384::ecdsa::SigningKey::generate_from_rng(&mut rand::rng())
}

fn write_pkcs8(
    path: &Path,
    der: Result<p256::pkcs8::SecretDocument, p256::pkcs8::Error>,
) -> Result<(), Error> {
    let doc = der.map_err(|e| Error::Generate(e.to_string()))?;
    let pem = doc
        .to_pem("PRIVATE KEY", Pkcs8LineEnding::LF)
        .map_err(|e| Error::Generate(e.to_string()))?;
    write(path, pem.as_bytes())
}

fn write_cert(path: &Path, cert: &Certificate) -> Result<(), Error> {
    write(path, x509::to_pem(cert)?.as_bytes())
}

fn spki_p256(k: &p256::ecdsa::SigningKey) -> Result<spki::SubjectPublicKeyInfoOwned, Error> {
    spki::SubjectPublicKeyInfoOwned::from_key(k.verifying_key())
        .map_err(|e| Error::Generate(e.to_string()))
}

/// Load a dev P-256 key (PKCS#8 PEM).
///
/// # Errors
/// Missing or malformed file.
pub fn load_p256(path: &Path) -> Result<p256::ecdsa::SigningKey, Error> {
    let pem = String::from_utf8(read(path)?).unwrap_or_default();
    p256::ecdsa::SigningKey::from_pkcs8_pem(&pem).map_err(|e| Error::Format {
        path: path.to_owned(),
        what: format!("not a PKCS#8 P-256 key ({e}); run `vaxcert keys dev`"),
    })
}

fn missing(dir: &Path, files: &[&str]) -> bool {
    files.iter().any(|f| !dir.join(f).exists())
}

fn dn(cn: &str) -> String {
    format!("CN={cn},O={DEV_ORG},C=JP")
}

/// SHC issuer: root → CA → issuer (SAN URI = `iss`), `jwks.json` with `x5c`, an empty CRL.
fn make_shc(d: &Path, force: bool, out: &mut dyn Write) -> Result<(), Error> {
    let files = [
        "root.key.pem",
        "root.crt.pem",
        "ca.key.pem",
        "ca.crt.pem",
        "issuer.key.pem",
        "issuer.crt.pem",
        "jwks.json",
    ];
    if !force && !missing(d, &files) {
        return Ok(());
    }
    let _ = writeln!(
        out,
        "making the dev SHC issuer (root → CA → issuer, P-256)…"
    );
    let v = dev_validity()?;
    let root_key = new_p256();
    let root_p = Profile::ca(None, &dn("vaxcert DEV SHC Root"), Some(1))?;
    let root_name = root_p.subject.clone();
    let root = x509::issue_p256(root_p, 1, v, spki_p256(&root_key)?, &root_key)?;
    let ca_key = new_p256();
    let ca_p = Profile::ca(Some(&root_name), &dn("vaxcert DEV SHC CA"), Some(0))?;
    let ca_name = ca_p.subject.clone();
    let ca = x509::issue_p256(ca_p, 2, v, spki_p256(&ca_key)?, &root_key)?;
    let issuer_key = new_p256();
    let mut leaf = Profile::leaf(&ca_name, &dn("vaxcert DEV SHC Issuer"))?;
    leaf.san_uris.push(SHC_ISS.into());
    let issuer = x509::issue_p256(leaf, 3, v, spki_p256(&issuer_key)?, &ca_key)?;
    write_pkcs8(&d.join("root.key.pem"), root_key.to_pkcs8_der())?;
    write_cert(&d.join("root.crt.pem"), &root)?;
    write_pkcs8(&d.join("ca.key.pem"), ca_key.to_pkcs8_der())?;
    write_cert(&d.join("ca.crt.pem"), &ca)?;
    write_pkcs8(&d.join("issuer.key.pem"), issuer_key.to_pkcs8_der())?;
    write_cert(&d.join("issuer.crt.pem"), &issuer)?;
    let public = p256::PublicKey::from(issuer_key.verifying_key());
    let chain = vec![
        x509::to_der(&issuer)?,
        x509::to_der(&ca)?,
        x509::to_der(&root)?,
    ];
    crate::formats::publication::write_initial(d, &public, &chain)
        .map_err(|e| Error::Generate(e.to_string()))?;
    Ok(())
}

/// ICAO: a P-384 CSCA and a P-256 BSC with EKU 2.23.136.1.1.14.2 (critical) and
/// DocumentTypeList {"NV"}; the BSC's AKI is the CSCA's SKI.
fn make_icao(d: &Path, force: bool, out: &mut dyn Write) -> Result<(), Error> {
    let files = ["csca.key.pem", "csca.crt.pem", "bsc.key.pem", "bsc.crt.pem"];
    if !force && !missing(d, &files) {
        return Ok(());
    }
    let _ = writeln!(
        out,
        "making the dev CSCA (P-384) and barcode signer (P-256)…"
    );
    let v = dev_validity()?;
    let csca_key = new_p384();
    let csca_p = Profile::ca(None, &dn("vaxcert DEV CSCA"), Some(0))?;
    let csca_name = csca_p.subject.clone();
    let csca_spki = spki::SubjectPublicKeyInfoOwned::from_key(csca_key.verifying_key())
        .map_err(|e| Error::Generate(e.to_string()))?;
    let csca = x509::issue_p384(csca_p, 1, v, csca_spki, &csca_key)?;
    let bsc_key = new_p256();
    let mut bsc_p = Profile::leaf(&csca_name, &dn("vaxcert DEV BSC"))?;
    bsc_p.eku = vec![x509::OID_EKU_VDS_NC];
    bsc_p.eku_critical = true;
    bsc_p.document_types = vec!["NV".into()];
    let bsc = x509::issue_p384(bsc_p, 2, v, spki_p256(&bsc_key)?, &csca_key)?;
    let csca_pem = csca_key
        .to_pkcs8_der()
        .map_err(|e| Error::Generate(e.to_string()))?
        .to_pem("PRIVATE KEY", Pkcs8LineEnding::LF)
        .map_err(|e| Error::Generate(e.to_string()))?;
    write(&d.join("csca.key.pem"), csca_pem.as_bytes())?;
    write_cert(&d.join("csca.crt.pem"), &csca)?;
    write_pkcs8(&d.join("bsc.key.pem"), bsc_key.to_pkcs8_der())?;
    write_cert(&d.join("bsc.crt.pem"), &bsc)?;
    Ok(())
}

/// PDF: a root and a signer (digitalSignature + nonRepudiation).
fn make_pdf(d: &Path, force: bool, out: &mut dyn Write) -> Result<(), Error> {
    let files = [
        "root.key.pem",
        "root.crt.pem",
        "signer.key.pem",
        "signer.crt.pem",
    ];
    if !force && !missing(d, &files) {
        return Ok(());
    }
    let _ = writeln!(out, "making the dev PDF-signing root and signer (P-256)…");
    let v = dev_validity()?;
    let root_key = new_p256();
    let root_p = Profile::ca(None, &dn("vaxcert DEV PDF Root"), Some(0))?;
    let root_name = root_p.subject.clone();
    let root = x509::issue_p256(root_p, 1, v, spki_p256(&root_key)?, &root_key)?;
    let key = new_p256();
    let mut p = Profile::leaf(&root_name, &dn("vaxcert DEV PDF signer"))?;
    p.key_usage = vec![
        x509_cert::ext::pkix::KeyUsages::DigitalSignature,
        x509_cert::ext::pkix::KeyUsages::NonRepudiation,
    ];
    let cert = x509::issue_p256(p, 2, v, spki_p256(&key)?, &root_key)?;
    write_pkcs8(&d.join("root.key.pem"), root_key.to_pkcs8_der())?;
    write_cert(&d.join("root.crt.pem"), &root)?;
    write_pkcs8(&d.join("signer.key.pem"), key.to_pkcs8_der())?;
    write_cert(&d.join("signer.crt.pem"), &cert)?;
    Ok(())
}

/// TLS: three CAs, so a kiosk certificate can never pass as a gateway's.
/// `kiosk-ca` → kiosk-01, kiosk-02 (client); `gateway-ca` → app-gateway, center (client);
/// `server-ca` → records, center-server, app-server (server, for localhost and 127.0.0.1).
fn make_tls(d: &Path, force: bool, out: &mut dyn Write) -> Result<(), Error> {
    let groups: [(&str, &[&str], bool); 3] = [
        ("kiosk-ca", &["kiosk-01", "kiosk-02"], false),
        ("gateway-ca", &["app-gateway", "center"], false),
        (
            "server-ca",
            &["records", "center-server", "app-server"],
            true,
        ),
    ];
    for (ca_name, leaves, server) in groups {
        let mut files = vec![format!("{ca_name}.crt.pem"), format!("{ca_name}.key.pem")];
        for l in leaves {
            files.push(format!("{l}.crt.pem"));
            files.push(format!("{l}.key.pem"));
        }
        let names: Vec<&str> = files.iter().map(String::as_str).collect();
        if !force && !missing(d, &names) {
            continue;
        }
        let _ = writeln!(out, "making the dev TLS {ca_name} and its certificates…");
        let v = dev_validity()?;
        let ca_key = new_p256();
        let ca_p = Profile::ca(None, &dn(&format!("vaxcert DEV {ca_name}")), Some(0))?;
        let issuer = ca_p.subject.clone();
        let ca = x509::issue_p256(ca_p, 1, v, spki_p256(&ca_key)?, &ca_key)?;
        write_pkcs8(&d.join(format!("{ca_name}.key.pem")), ca_key.to_pkcs8_der())?;
        write_cert(&d.join(format!("{ca_name}.crt.pem")), &ca)?;
        for (i, leaf) in leaves.iter().enumerate() {
            let key = new_p256();
            let mut p = Profile::leaf(&issuer, &dn(leaf))?;
            p.key_usage
                .push(x509_cert::ext::pkix::KeyUsages::KeyEncipherment);
            if server {
                p.eku = vec![SERVER_AUTH];
                p.san_dns = vec!["localhost".into()];
                p.san_ips = vec![[127, 0, 0, 1]];
            } else {
                p.eku = vec![CLIENT_AUTH];
                p.san_dns = vec![(*leaf).into()];
            }
            let cert = x509::issue_p256(p, 10 + i as u32, v, spki_p256(&key)?, &ca_key)?;
            write_pkcs8(&d.join(format!("{leaf}.key.pem")), key.to_pkcs8_der())?;
            write_cert(&d.join(format!("{leaf}.crt.pem")), &cert)?;
        }
    }
    Ok(())
}

/// The dev SHC issuer's signing key.
///
/// # Errors
/// Missing keys: run `vaxcert keys dev`.
pub fn shc_signer() -> Result<super::FileSigner, Error> {
    super::FileSigner::load(&dir().join("shc/issuer.key.pem"), true)
}

/// The dev barcode signer's key.
///
/// # Errors
/// Missing keys: run `vaxcert keys dev`.
pub fn bsc_signer() -> Result<super::FileSigner, Error> {
    super::FileSigner::load(&dir().join("icao/bsc.key.pem"), true)
}

/// The dev BSC certificate, DER (VDS-NC `cer`).
///
/// # Errors
/// Missing file.
pub fn bsc_der() -> Result<Vec<u8>, Error> {
    x509::to_der(&x509::load(&dir().join("icao/bsc.crt.pem"))?)
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
