//! DEV ONLY. The dev key ceremony, `vaxcert keys dev`: makes whatever dev key under
//! `certs/dev/` is missing. Production keys come from a real ceremony outside this module.

use std::io::Write;
use std::path::{Path, PathBuf};

use p256::pkcs8::LineEnding as Pkcs8LineEnding;
use rsa::RsaPrivateKey;
use rsa::pkcs8::{EncodePrivateKey, LineEnding};
use rsa::traits::PublicKeyParts;
use x509_cert::certificate::Certificate;

use super::card::{CA_KEY_ID, ISSUER_KEY_ID, card_key_path, make_cvc};
use super::{DEV_ORG, SHC_ISS, dir};
use crate::clock::UnixTime;
use crate::pki::x509::{self, Profile};
use crate::pki::{Error, write};

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
    let token = d.join("preview-token.key");
    if force || !token.exists() {
        say(out, "making the preview-token sealing key…");
        let mut k = [0u8; 32];
        rand::RngExt::fill(&mut rand::rng(), &mut k[..]);
        write(&token, format!("{}\n", hex::encode(k)).as_bytes())?;
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
        let key_path = card_key_path(&p);
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

// The certificate hierarchy: SHC issuer, ICAO CSCA/BSC, PDF signer, TLS (DESIGN §5).

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
