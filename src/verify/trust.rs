//! The trust store (DESIGN §6): SHC issuers as JWKS keyed by `iss` (with their CRLs), ICAO
//! CSCAs, and EU DSCs. Loaded from a folder (`certs/trust/` by default), plus our dev issuer only
//! when asked (`--trust-dev`); there is no default that trusts dev keys.
//!
//! Layout, one folder per anchor, each with a `PROVENANCE.md`:
//! ```text
//! shc/<name>/iss            the issuer URL, one line
//! shc/<name>/jwks.json      its public JWKS
//! shc/<name>/crl/<kid>.json its revocation lists (optional)
//! icao/<name>/*.der|*.pem   CSCA certificates (and link certificates)
//! dcc/<name>/*.der|*.pem    EU DCC document signer certificates
//! <kind>/<name>/name        the issuer's name for checkers, one line (optional; e.g. デジタル庁)
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::b64;
use super::error::TrustError;
use super::x509::Cert;

/// The dev issuer's fixed `iss` (DESIGN §5).
pub const DEV_ISS: &str = "https://dev.vaxcert.invalid/issuer";

/// One SHC issuer key (a JWKS entry), checked to be an EC P-256 key.
#[derive(Debug, Clone)]
pub struct ShcKey {
    /// The `kid`.
    pub kid: String,
    /// Uncompressed point `04 ‖ x ‖ y`.
    pub point: Vec<u8>,
    /// `crlVersion`, when the issuer publishes a CRL for this key.
    pub crl_version: Option<u64>,
    /// The `x5c` chain, leaf first (parsed where possible).
    pub x5c: Vec<Cert>,
    /// The leaf's validity and SAN URIs, read once at load (the hot path only compares).
    pub leaf: Option<LeafFacts>,
}

/// What the SHC check needs from an `x5c` leaf.
#[derive(Debug, Clone)]
pub struct LeafFacts {
    /// `notBefore`, `notAfter` (Unix seconds).
    pub validity: (i64, i64),
    /// Subject alternative name URIs.
    pub san_uris: Vec<String>,
}

/// An SHC revocation list (SHC 1.4 §revocation).
#[derive(Debug, Clone)]
pub struct Crl {
    /// `ctr`.
    pub ctr: u64,
    /// Revoked `rid`s, each with its optional cut-off time (`rid.timestamp`).
    pub rids: Vec<(String, Option<i64>)>,
    /// Entries skipped because they are not a base64url `rid` of at most 24 characters.
    pub ignored: usize,
    /// Why the list cannot be used at all (an unknown `method`): verification then fails
    /// closed for cards under this key.
    pub unusable: Option<&'static str>,
}

/// One trusted SHC issuer.
#[derive(Debug, Clone)]
pub struct ShcIssuer {
    /// `iss`.
    pub iss: String,
    /// A short name for display (the folder name).
    pub name: String,
    /// The issuer's name for a checker (the folder's `name` file), shown beside its URL.
    pub display_name: Option<String>,
    /// Its keys.
    pub keys: Vec<ShcKey>,
    /// CRLs by `kid`.
    pub crls: BTreeMap<String, Crl>,
}

/// A trusted X.509 anchor (a CSCA or a DSC) and where it came from.
#[derive(Debug, Clone)]
pub struct Anchor {
    /// The certificate.
    pub cert: Cert,
    /// The folder it was loaded from.
    pub name: String,
    /// The issuer's name for a checker (the folder's `name` file).
    pub display_name: Option<String>,
}

impl ShcIssuer {
    /// What a checker is shown: the display name, else the folder name.
    pub fn label(&self) -> &str {
        self.display_name.as_deref().unwrap_or(&self.name)
    }
}

impl Anchor {
    /// What a checker is shown: the display name, else the folder name.
    pub fn label(&self) -> &str {
        self.display_name.as_deref().unwrap_or(&self.name)
    }
}

/// The display names of the compiled-in anchors, by folder (`certs/trust/*/<folder>/name`).
fn builtin_display_name(folder: &str) -> Option<String> {
    let name = match folder {
        "jp-digital-agency" => include_str!("../../certs/trust/shc/jp-digital-agency/name"),
        "jp-mofa" => include_str!("../../certs/trust/icao/jp-mofa/name"),
        "au-dfat" => include_str!("../../certs/trust/icao/au-dfat/name"),
        "at-test" => include_str!("../../certs/trust/dcc/at-test/name"),
        "de-test" => include_str!("../../certs/trust/dcc/de-test/name"),
        "se-test" => include_str!("../../certs/trust/dcc/se-test/name"),
        _ => return None,
    };
    Some(name.trim().to_owned())
}

/// A trust folder's `name` file, when it has one.
fn folder_display_name(dir: &Path) -> Option<String> {
    let s = std::fs::read_to_string(dir.join("name")).ok()?;
    let line = s.lines().next()?.trim();
    (!line.is_empty() && line.chars().count() <= 200).then(|| line.to_owned())
}

/// Everything a verifier trusts. Built explicitly; never implicitly includes the dev issuer.
#[derive(Debug, Clone, Default)]
pub struct TrustStore {
    shc: BTreeMap<String, ShcIssuer>,
    cscas: Vec<Anchor>,
    dscs: Vec<Anchor>,
    /// Certificate signatures already verified: SHA-256(signed certificate DER ‖ issuer DER).
    /// A signature check is a pure function of those bytes, so the answer can be remembered;
    /// validity periods are still checked on every verification.
    verified: std::sync::Arc<std::sync::Mutex<std::collections::HashSet<[u8; 32]>>>,
}

/// SHC issuers compiled in: folder name, `iss`, JWKS (`certs/trust/shc/`).
const BUILTIN_SHC: &[(&str, &str, &[u8])] = &[(
    "jp-digital-agency",
    include_str!("../../certs/trust/shc/jp-digital-agency/iss"),
    include_bytes!("../../certs/trust/shc/jp-digital-agency/jwks.json"),
)];

/// CSCAs compiled in, in the order `load` reads `certs/trust/icao/`.
const BUILTIN_CSCA: &[(&str, &[u8])] = &[
    (
        "au-dfat",
        include_bytes!("../../certs/trust/icao/au-dfat/csca-16f2.der"),
    ),
    (
        "au-dfat",
        include_bytes!("../../certs/trust/icao/au-dfat/csca-link-16f5.der"),
    ),
    (
        "jp-mofa",
        include_bytes!("../../certs/trust/icao/jp-mofa/e-passport-csca-e3.der"),
    ),
    (
        "jp-mofa",
        include_bytes!("../../certs/trust/icao/jp-mofa/e-passport-csca-link-e5.der"),
    ),
];

/// EU DCC document signers compiled in (`certs/trust/dcc/`).
const BUILTIN_DSC: &[(&str, &[u8])] = &[
    (
        "at-test",
        include_bytes!("../../certs/trust/dcc/at-test/dsc.der"),
    ),
    (
        "de-test",
        include_bytes!("../../certs/trust/dcc/de-test/dsc.der"),
    ),
    (
        "se-test",
        include_bytes!("../../certs/trust/dcc/se-test/dsc.der"),
    ),
];

/// How many verified certificate signatures are remembered before the memory is cleared.
const VERIFIED_CAP: usize = 4096;

fn read(path: &Path) -> Result<Vec<u8>, TrustError> {
    std::fs::read(path).map_err(|e| TrustError::Read {
        path: path.display().to_string(),
        detail: e.to_string(),
    })
}

fn malformed(path: &Path, what: impl Into<String>) -> TrustError {
    TrustError::Malformed {
        path: path.display().to_string(),
        what: what.into(),
    }
}

fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>, TrustError> {
    let rd = std::fs::read_dir(dir).map_err(|e| TrustError::Read {
        path: dir.display().to_string(),
        detail: e.to_string(),
    })?;
    let mut v: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    v.sort();
    Ok(v)
}

fn is_cert_file(p: &Path) -> bool {
    matches!(
        p.extension().and_then(|e| e.to_str()),
        Some("der" | "pem" | "crt" | "cer")
    )
}

/// Parse a JWKS document into P-256 keys; keys of other types are skipped, as a verifier
/// cannot use them.
///
/// # Errors
/// [`TrustError::Malformed`] when the document is not a JWKS.
pub fn parse_jwks(json: &[u8], origin: &Path) -> Result<Vec<ShcKey>, TrustError> {
    let v: serde_json::Value =
        serde_json::from_slice(json).map_err(|e| malformed(origin, e.to_string()))?;
    let keys = v["keys"]
        .as_array()
        .ok_or_else(|| malformed(origin, "no keys array"))?;
    let mut out = Vec::new();
    for k in keys {
        if k["kty"] != "EC" || k["crv"] != "P-256" {
            continue;
        }
        let (Some(kid), Some(x), Some(y)) = (
            k["kid"].as_str(),
            k["x"].as_str().and_then(b64::url),
            k["y"].as_str().and_then(b64::url),
        ) else {
            continue;
        };
        if x.len() != 32 || y.len() != 32 {
            continue;
        }
        let mut point = vec![4u8];
        point.extend_from_slice(&x);
        point.extend_from_slice(&y);
        let x5c: Vec<Cert> = k["x5c"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|c| c.as_str().and_then(b64::std))
                    .filter_map(|der| Cert::from_der(&der).ok())
                    .collect()
            })
            .unwrap_or_default();
        let leaf = x5c.first().map(|c: &Cert| LeafFacts {
            validity: c.validity(),
            san_uris: c.san_uris(),
        });
        out.push(ShcKey {
            kid: kid.to_string(),
            point,
            crl_version: k["crlVersion"].as_u64(),
            x5c,
            leaf,
        });
    }
    Ok(out)
}

/// Parse an SHC CRL (`{kid, method, ctr, rids}`); returns the kid and the list.
///
/// # Errors
/// [`TrustError::Malformed`].
pub fn parse_crl(json: &[u8], origin: &Path) -> Result<(String, Crl), TrustError> {
    let v: serde_json::Value =
        serde_json::from_slice(json).map_err(|e| malformed(origin, e.to_string()))?;
    let kid = v["kid"]
        .as_str()
        .ok_or_else(|| malformed(origin, "no kid"))?;
    let unusable = (v["method"] != "rid").then_some("method is not \"rid\"");
    let ctr = v["ctr"]
        .as_u64()
        .ok_or_else(|| malformed(origin, "no ctr"))?;
    let entries = v["rids"]
        .as_array()
        .ok_or_else(|| malformed(origin, "no rids"))?;
    let mut rids = Vec::new();
    let mut ignored = 0;
    for r in entries {
        let Some(r) = r.as_str() else {
            ignored += 1;
            continue;
        };
        let (rid, ts) = match r.split_once('.') {
            Some((rid, ts)) => match ts.parse::<i64>() {
                Ok(t) => (rid, Some(t)),
                Err(_) => {
                    ignored += 1;
                    continue;
                }
            },
            None => (r, None),
        };
        let base64url = rid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if rid.is_empty() || rid.len() > 24 || !base64url {
            ignored += 1;
            continue;
        }
        rids.push((rid.to_string(), ts));
    }
    Ok((
        kid.to_string(),
        Crl {
            ctr,
            rids,
            ignored,
            unusable,
        },
    ))
}

impl TrustStore {
    /// An empty store: every certificate is `unknown-issuer`.
    pub fn empty() -> Self {
        TrustStore::default()
    }

    /// The anchors compiled into the binary from `certs/trust/` (each with its PROVENANCE.md
    /// there), so `vaxcert verify` works from any folder. `--trust DIR` replaces them.
    ///
    /// # Errors
    /// [`TrustError::Malformed`] if a compiled-in file does not parse (a build defect).
    pub fn builtin() -> Result<Self, TrustError> {
        let mut t = TrustStore::empty();
        for (name, iss, jwks) in BUILTIN_SHC {
            let origin = Path::new("builtin:shc").join(name).join("jwks.json");
            t.add_shc_issuer(ShcIssuer {
                iss: iss.trim().to_owned(),
                name: (*name).to_owned(),
                display_name: builtin_display_name(name),
                keys: parse_jwks(jwks, &origin)?,
                crls: BTreeMap::new(),
            });
        }
        for (list, dsc) in [(BUILTIN_CSCA, false), (BUILTIN_DSC, true)] {
            for (name, bytes) in list {
                let cert = Cert::from_pem_or_der(bytes).map_err(|e| {
                    malformed(Path::new("builtin:").join(name).as_path(), e.to_string())
                })?;
                let a = Anchor {
                    cert,
                    name: (*name).to_owned(),
                    display_name: builtin_display_name(name),
                };
                if dsc { t.dscs.push(a) } else { t.cscas.push(a) }
            }
        }
        Ok(t)
    }

    /// Load a trust folder (layout in the module doc). Missing sub-folders are fine.
    ///
    /// # Errors
    /// [`TrustError`] when the folder or a file in it cannot be read or parsed.
    pub fn load(dir: &Path) -> Result<Self, TrustError> {
        let mut t = TrustStore::empty();
        if !dir.is_dir() {
            return Err(TrustError::Read {
                path: dir.display().to_string(),
                detail: "not a folder".into(),
            });
        }
        let shc = dir.join("shc");
        if shc.is_dir() {
            for d in sorted_entries(&shc)?.into_iter().filter(|p| p.is_dir()) {
                let iss_path = d.join("iss");
                let iss = String::from_utf8_lossy(&read(&iss_path)?)
                    .trim()
                    .to_string();
                if !iss.starts_with("https://") {
                    return Err(malformed(&iss_path, "iss is not an https URL"));
                }
                let name = d
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                t.add_shc_dir(&iss, &name, &d)?;
            }
        }
        for (sub, dsc) in [("icao", false), ("dcc", true)] {
            let base = dir.join(sub);
            if !base.is_dir() {
                continue;
            }
            for d in sorted_entries(&base)?.into_iter().filter(|p| p.is_dir()) {
                let name = d
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                for f in sorted_entries(&d)?.into_iter().filter(|p| is_cert_file(p)) {
                    let cert = Cert::from_pem_or_der(&read(&f)?)
                        .map_err(|e| malformed(&f, e.to_string()))?;
                    let a = Anchor {
                        cert,
                        name: name.clone(),
                        display_name: folder_display_name(&d),
                    };
                    if dsc { t.dscs.push(a) } else { t.cscas.push(a) }
                }
            }
        }
        Ok(t)
    }

    /// Add an SHC issuer from a folder holding `jwks.json` and optionally `crl/`.
    ///
    /// # Errors
    /// [`TrustError`].
    pub fn add_shc_dir(&mut self, iss: &str, name: &str, dir: &Path) -> Result<(), TrustError> {
        let jwks_path = dir.join("jwks.json");
        let keys = parse_jwks(&read(&jwks_path)?, &jwks_path)?;
        let mut crls = BTreeMap::new();
        let crl_dir = dir.join("crl");
        if crl_dir.is_dir() {
            for f in sorted_entries(&crl_dir)? {
                if f.extension().and_then(|e| e.to_str()) == Some("json") {
                    let (kid, crl) = parse_crl(&read(&f)?, &f)?;
                    crls.insert(kid, crl);
                }
            }
        }
        self.add_shc_issuer(ShcIssuer {
            iss: iss.to_string(),
            name: name.to_string(),
            display_name: folder_display_name(dir),
            keys,
            crls,
        });
        Ok(())
    }

    /// Add (or extend) an SHC issuer.
    pub fn add_shc_issuer(&mut self, issuer: ShcIssuer) {
        self.merge_shc_issuer(issuer);
    }

    /// Trust `issuer` exactly as given, replacing whatever was trusted under its `iss` (a
    /// reload: the keys' `crlVersion`s and the CRLs must come from the same publication).
    pub fn replace_shc_issuer(&mut self, issuer: ShcIssuer) {
        self.shc.insert(issuer.iss.clone(), issuer);
    }

    fn merge_shc_issuer(&mut self, issuer: ShcIssuer) {
        match self.shc.get_mut(&issuer.iss) {
            Some(have) => {
                for k in issuer.keys {
                    if !have.keys.iter().any(|h| h.kid == k.kid) {
                        have.keys.push(k);
                    }
                }
                have.crls.extend(issuer.crls);
            }
            None => {
                self.shc.insert(issuer.iss.clone(), issuer);
            }
        }
    }

    /// Trust a CSCA.
    pub fn add_csca(&mut self, cert: Cert, name: &str) {
        self.cscas.push(Anchor {
            cert,
            name: name.into(),
            display_name: None,
        });
    }

    /// Trust an EU DCC document signer.
    pub fn add_dsc(&mut self, cert: Cert, name: &str) {
        self.dscs.push(Anchor {
            cert,
            name: name.into(),
            display_name: None,
        });
    }

    /// Also trust our dev issuer from `dev_dir` (normally `certs/dev`): the SHC JWKS and CRLs in
    /// `shc/`, the CSCA in `icao/csca.crt.pem`. Only `--trust-dev` calls this.
    ///
    /// # Errors
    /// [`TrustError::DevMissing`] naming the first missing file.
    pub fn add_dev(&mut self, dev_dir: &Path) -> Result<(), TrustError> {
        let jwks = dev_dir.join("shc/jwks.json");
        let csca = dev_dir.join("icao/csca.crt.pem");
        for p in [&jwks, &csca] {
            if !p.is_file() {
                return Err(TrustError::DevMissing {
                    path: p.display().to_string(),
                });
            }
        }
        self.add_shc_dir(DEV_ISS, "vaxcert-dev", &dev_dir.join("shc"))?;
        let cert =
            Cert::from_pem_or_der(&read(&csca)?).map_err(|e| malformed(&csca, e.to_string()))?;
        self.add_csca(cert, "vaxcert-dev");
        Ok(())
    }

    /// The SHC issuer with this `iss`.
    pub fn shc_issuer(&self, iss: &str) -> Option<&ShcIssuer> {
        self.shc.get(iss)
    }

    /// Trusted CSCAs.
    pub fn cscas(&self) -> &[Anchor] {
        &self.cscas
    }

    /// The DSCs whose EU DCC `kid` (first 8 bytes of SHA-256 of the DER) is `kid`.
    pub fn dscs_by_kid(&self, kid: &[u8]) -> impl Iterator<Item = &Anchor> {
        self.dscs
            .iter()
            .filter(move |a| dcc_kid(a.cert.der()).as_slice() == kid)
    }

    /// Whether `cert` is signed by `issuer`, remembering successes.
    ///
    /// # Errors
    /// As [`Cert::verify_signed_by`].
    pub fn check_signed_by(&self, cert: &Cert, issuer: &Cert) -> Result<(), super::Error> {
        let mut h = Sha256::new();
        h.update(cert.der());
        h.update(issuer.der());
        let key: [u8; 32] = h.finalize().into();
        if self.verified.lock().is_ok_and(|set| set.contains(&key)) {
            return Ok(());
        }
        cert.verify_signed_by(issuer)?;
        if let Ok(mut set) = self.verified.lock() {
            if set.len() >= VERIFIED_CAP {
                set.clear();
            }
            set.insert(key);
        }
        Ok(())
    }

    /// Every anchor, for `vaxcert trust list`.
    pub fn summary(&self) -> Vec<serde_json::Value> {
        let mut v = Vec::new();
        for i in self.shc.values() {
            v.push(serde_json::json!({
                "kind": "shc", "name": i.name, "display_name": i.display_name, "iss": i.iss,
                "kids": i.keys.iter().map(|k| k.kid.clone()).collect::<Vec<_>>(),
                "crls": i.crls.keys().cloned().collect::<Vec<_>>(),
            }));
        }
        for (kind, list) in [("csca", &self.cscas), ("dsc", &self.dscs)] {
            for a in list {
                let (nb, na) = a.cert.validity();
                v.push(serde_json::json!({
                    "kind": kind, "name": a.name, "display_name": a.display_name,
                    "subject": a.cert.subject_text(),
                    "not_before": nb, "not_after": na,
                    "dcc_kid": if kind == "dsc" { Some(b64_std(&dcc_kid(a.cert.der()))) } else { None },
                }));
            }
        }
        v
    }
}

/// EU DCC key identifier: the first 8 bytes of SHA-256 over the DSC's DER.
pub fn dcc_kid(der: &[u8]) -> Vec<u8> {
    Sha256::digest(der)[..8].to_vec()
}

fn b64_std(b: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(b)
}
