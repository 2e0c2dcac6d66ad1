//! The production key ceremony (`vaxcert keys init`, `keys rotate`), as Boulder's is: one
//! configuration file, keys generated inside the token (sensitive, never extractable), and out
//! of it only what must leave: public keys (the JWKS), certificate requests for an outside CA,
//! and, for a self-contained test deployment, certificates from a root and a CSCA that live on
//! the same token. The symmetric secrets the roles need are generated as files readable by
//! their owner only.
//!
//! ```text
//! out/signing.toml                 backend, iss, key labels (what records serve loads)
//! out/jwks.json                    the SHC issuer keys (kid = RFC 7638 thumbprint)
//! out/shc/<label>.csr.pem|crt.pem  SHC issuer (CSR always; certificate when self-signed)
//! out/icao/<label>.csr.pem|crt.pem VDS-NC barcode signer (under the CSCA)
//! out/pdf/<label>.csr.pem|crt.pem  PDF signer (certificate followed by its root)
//! out/root.crt.pem, out/csca.crt.pem   self-signed only
//! out/secrets/                     challenge-hmac.key, preview-token.key, mynumber-hmac.key,
//!                                  mynumber-aes.key, totp-aes.key, audit-checkpoint.key.pem
//! ```

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::keys::{Backend, KeyError, Manifest};
use crate::clock::{Clock, SystemClock};
use crate::config::KeysConfig;
use crate::pki::pkcs11::{Token, TokenSigner};
use crate::pki::x509::{self, Profile};
use crate::pki::{Error, Signer};

/// Labels of the keys `keys init` makes on the token.
const ROOT: &str = "vaxcert-root";
const CSCA: &str = "vaxcert-csca";
const BSC: &str = "vaxcert-bsc-1";
const PDF: &str = "vaxcert-pdf-signer-1";

fn shc_label(n: usize) -> String {
    format!("vaxcert-shc-issuer-{n}")
}

/// Why the ceremony stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CeremonyError {
    /// The token or a key on it.
    #[error(transparent)]
    Pki(#[from] Error),
    /// The manifest.
    #[error(transparent)]
    Keys(#[from] KeyError),
    /// A file could not be written.
    #[error("{path}: {reason}")]
    Write {
        /// Which file.
        path: String,
        /// Why.
        reason: String,
    },
    /// `keys init` found keys already made (rotate instead), or `rotate` found none.
    #[error("{0}")]
    State(String),
}

impl CeremonyError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            CeremonyError::Pki(e) => e.code(),
            CeremonyError::Keys(e) => e.code(),
            CeremonyError::Write { .. } => "io",
            CeremonyError::State(_) => "ceremony-state",
        }
    }
}

fn write(path: &Path, bytes: &[u8], secret: bool) -> Result<(), CeremonyError> {
    let err = |e: std::io::Error| CeremonyError::Write {
        path: path.display().to_string(),
        reason: e.to_string(),
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(err)?;
    }
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(if secret { 0o600 } else { 0o644 })
        .open(path)
        .map_err(err)?;
    f.write_all(bytes).map_err(err)
}

fn dn(c: &KeysConfig, what: &str) -> String {
    format!(
        "CN={} {what},O={},C={}",
        c.organisation, c.organisation, c.country
    )
}

/// What a ceremony step wrote, for the operator's record.
#[derive(Debug, Default)]
pub struct Written(pub Vec<PathBuf>);

impl Written {
    fn file(&mut self, path: PathBuf, bytes: &[u8], secret: bool) -> Result<(), CeremonyError> {
        write(&path, bytes, secret)?;
        self.0.push(path);
        Ok(())
    }
}

fn hex_secret() -> String {
    let mut k = zeroize::Zeroizing::new([0u8; 32]);
    rand::RngExt::fill(&mut rand::rng(), &mut k[..]);
    format!("{}\n", hex::encode(&k[..]))
}

/// Certify `key` under `issuer` (self-signed mode) with a two-year validity.
fn certify(
    profile: Profile,
    serial: u32,
    key: &p256::PublicKey,
    issuer: &dyn Signer,
    years: i64,
) -> Result<x509_cert::Certificate, Error> {
    let now = SystemClock.now();
    let validity = x509::validity(now.plus(-3600), now.plus(years * 365 * 86_400))?;
    x509::issue_with(profile, serial, validity, x509::spki_of(key)?, issuer)
}

fn serial() -> u32 {
    rand::RngExt::random_range(&mut rand::rng(), 1..u32::MAX)
}

/// The self-signed root and CSCA on the token, made on first use.
struct Anchors {
    root: TokenSigner,
    root_cert: x509_cert::Certificate,
    csca: TokenSigner,
    csca_cert: x509_cert::Certificate,
}

fn shc_profile(c: &KeysConfig, issuer: &x509_cert::name::Name) -> Result<Profile, Error> {
    let mut p = Profile::leaf(issuer, &dn(c, "SHC Issuer"))?;
    p.san_uris.push(c.iss.clone());
    Ok(p)
}

/// `vaxcert keys init`: make every signing key on the token, write what must leave it, and
/// generate the symmetric secrets.
///
/// # Errors
/// [`CeremonyError`]; keys already on the token are never overwritten.
pub fn init(c: &KeysConfig) -> Result<Written, CeremonyError> {
    let token = Token::open(&c.hsm.resolve().map_err(Error::from)?).map_err(Error::from)?;
    let shc_name = shc_label(1);
    for label in [shc_name.as_str(), BSC, PDF, ROOT, CSCA] {
        if token.has_key(label).map_err(Error::from)? {
            return Err(CeremonyError::State(format!(
                "the token already holds {label:?}: keys init runs once (use keys rotate)"
            )));
        }
    }
    let out = &c.out;
    let mut w = Written::default();
    let shc = token.generate_p256(&shc_name).map_err(Error::from)?;
    let bsc = token.generate_p256(BSC).map_err(Error::from)?;
    let pdf = token.generate_p256(PDF).map_err(Error::from)?;
    for (kind, label, key, what) in [
        ("shc", shc_name.as_str(), &shc, "SHC Issuer"),
        ("icao", BSC, &bsc, "Barcode Signer"),
        ("pdf", PDF, &pdf, "PDF Signer"),
    ] {
        let csr = x509::request_with(&dn(c, what), key)?;
        w.file(
            out.join(format!("{kind}/{label}.csr.pem")),
            csr.as_bytes(),
            false,
        )?;
    }
    let mut x5c = Vec::new();
    if c.self_signed {
        let a = anchors(c, &token)?;
        w.file(
            out.join("root.crt.pem"),
            x509::to_pem(&a.root_cert)?.as_bytes(),
            false,
        )?;
        w.file(
            out.join("csca.crt.pem"),
            x509::to_pem(&a.csca_cert)?.as_bytes(),
            false,
        )?;
        let root_name = a.root_cert.tbs_certificate().subject().clone();
        let csca_name = a.csca_cert.tbs_certificate().subject().clone();
        let shc_cert = certify(
            shc_profile(c, &root_name)?,
            serial(),
            shc.public_key(),
            &a.root,
            2,
        )?;
        x5c.push(x509::to_der(&shc_cert)?);
        w.file(
            out.join(format!("shc/{shc_name}.crt.pem")),
            x509::to_pem(&shc_cert)?.as_bytes(),
            false,
        )?;
        let mut bsc_p = Profile::leaf(&csca_name, &dn(c, "Barcode Signer"))?;
        bsc_p.eku = vec![x509::OID_EKU_VDS_NC];
        bsc_p.eku_critical = true;
        bsc_p.document_types = vec!["NV".into()];
        let bsc_cert = certify(bsc_p, serial(), bsc.public_key(), &a.csca, 2)?;
        w.file(
            out.join(format!("icao/{BSC}.crt.pem")),
            x509::to_pem(&bsc_cert)?.as_bytes(),
            false,
        )?;
        let mut pdf_p = Profile::leaf(&root_name, &dn(c, "PDF Signer"))?;
        pdf_p.key_usage = vec![
            x509_cert::ext::pkix::KeyUsages::DigitalSignature,
            x509_cert::ext::pkix::KeyUsages::NonRepudiation,
        ];
        let pdf_cert = certify(pdf_p, serial(), pdf.public_key(), &a.root, 2)?;
        let chain = x509::to_pem(&pdf_cert)? + &x509::to_pem(&a.root_cert)?;
        w.file(
            out.join(format!("pdf/{PDF}.crt.pem")),
            chain.as_bytes(),
            false,
        )?;
    }
    crate::formats::publication::ensure(out, &[(*shc.public_key(), x5c)]).map_err(|e| {
        CeremonyError::Write {
            path: out.join("jwks.json").display().to_string(),
            reason: e.to_string(),
        }
    })?;
    w.0.push(out.join("jwks.json"));
    Manifest {
        iss: c.iss.clone(),
        backend: Backend::Pkcs11,
        shc_keys: vec![shc_name],
        bsc_key: BSC.into(),
        pdf_key: PDF.into(),
    }
    .save(out)?;
    w.0.push(out.join("signing.toml"));
    secrets(&out.join("secrets"), &mut w)?;
    Ok(w)
}

fn anchors(c: &KeysConfig, token: &Arc<Token>) -> Result<Anchors, CeremonyError> {
    let root = token.generate_p256(ROOT).map_err(Error::from)?;
    let csca = token.generate_p256(CSCA).map_err(Error::from)?;
    let root_p = Profile::ca(None, &dn(c, "Root"), Some(1))?;
    let root_cert = certify(root_p, serial(), root.public_key(), &root, 10)?;
    let csca_p = Profile::ca(
        None,
        &format!(
            "CN={} CSCA,O={},C={}",
            c.organisation, c.organisation, c.country
        ),
        Some(0),
    )?;
    let csca_cert = certify(csca_p, serial(), csca.public_key(), &csca, 10)?;
    Ok(Anchors {
        root,
        root_cert,
        csca,
        csca_cert,
    })
}

/// The symmetric secrets and the audit checkpoint key, each readable by its owner only.
fn secrets(dir: &Path, w: &mut Written) -> Result<(), CeremonyError> {
    for name in [
        "challenge-hmac.key",
        "preview-token.key",
        "mynumber-hmac.key",
        "mynumber-aes.key",
        "totp-aes.key",
    ] {
        let path = dir.join(name);
        if path.exists() {
            continue;
        }
        w.file(path, hex_secret().as_bytes(), true)?;
    }
    let key_path = dir.join("audit-checkpoint.key.pem");
    if !key_path.exists() {
        use p256::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
        let sk = <p256::SecretKey as p256::elliptic_curve::Generate>::generate();
        let pem = sk
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|e| Error::Generate(e.to_string()))?;
        w.file(key_path, pem.as_bytes(), true)?;
        let public = sk
            .public_key()
            .to_public_key_pem(LineEnding::LF)
            .map_err(|e| Error::Generate(e.to_string()))?;
        w.file(
            dir.join("audit-checkpoint.pub.pem"),
            public.as_bytes(),
            false,
        )?;
    }
    Ok(())
}

/// `vaxcert keys rotate`: a new SHC issuer key on the token, its CSR (and certificate under the
/// token's root when self-signed), added to `signing.toml` as the signing key and to
/// `jwks.json` beside the old ones. Certificates under an old key keep verifying until it is
/// retired from the JWKS; each key keeps its own CRL.
///
/// # Errors
/// [`CeremonyError`].
pub fn rotate(c: &KeysConfig) -> Result<Written, CeremonyError> {
    let out = &c.out;
    let mut manifest = Manifest::load(out)?;
    let token = Token::open(&c.hsm.resolve().map_err(Error::from)?).map_err(Error::from)?;
    let mut n = manifest.shc_keys.len() + 1;
    while manifest.shc_keys.contains(&shc_label(n))
        || token.has_key(&shc_label(n)).map_err(Error::from)?
    {
        n += 1;
    }
    let label = shc_label(n);
    let key = token.generate_p256(&label).map_err(Error::from)?;
    let mut w = Written::default();
    let csr = x509::request_with(&dn(c, "SHC Issuer"), &key)?;
    w.file(
        out.join(format!("shc/{label}.csr.pem")),
        csr.as_bytes(),
        false,
    )?;
    let mut x5c = Vec::new();
    if c.self_signed {
        let root = token.signer(ROOT).map_err(Error::from)?;
        let root_cert = x509::load(&out.join("root.crt.pem"))?;
        let name = root_cert.tbs_certificate().subject().clone();
        let cert = certify(shc_profile(c, &name)?, serial(), key.public_key(), &root, 2)?;
        x5c.push(x509::to_der(&cert)?);
        w.file(
            out.join(format!("shc/{label}.crt.pem")),
            x509::to_pem(&cert)?.as_bytes(),
            false,
        )?;
    }
    crate::formats::publication::ensure(out, &[(*key.public_key(), x5c)]).map_err(|e| {
        CeremonyError::Write {
            path: out.join("jwks.json").display().to_string(),
            reason: e.to_string(),
        }
    })?;
    w.0.push(out.join("jwks.json"));
    manifest.shc_keys.push(label);
    manifest.save(out)?;
    w.0.push(out.join("signing.toml"));
    Ok(w)
}
