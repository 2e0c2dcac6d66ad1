//! Configuration files: one typed TOML struct per role (as *Zero To Production* does), read by
//! `--config FILE`, with secrets taken from the environment (a secret store injects them) and
//! never printed. This is the only module that reads environment variables for settings.
//!
//! ```text
//! RecordsConfig   records serve: database, record keys, signing keys (files or HSM), TLS, …
//! KeysConfig      keys init / keys rotate: the production key ceremony
//! ```
//!
//! `vaxcert config check FILE` prints what a file resolves to, secrets masked.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::pki::pkcs11::{HsmError, TokenConfig};

/// Why a configuration file was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{path}: {reason}")]
    Read {
        /// Which file.
        path: String,
        /// Why.
        reason: String,
    },
    /// The file names dev material, which production never uses.
    #[error("{0}")]
    DevMaterial(String),
    /// The TOML does not describe this role (unknown field, wrong type, missing value).
    #[error("{path}: {reason}")]
    Invalid {
        /// Which file.
        path: String,
        /// What is wrong, with the line.
        reason: String,
    },
}

impl ConfigError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            ConfigError::DevMaterial(_) => "dev-key-in-production",
            _ => "config",
        }
    }
}

/// An environment variable, if set and not empty.
pub fn env(name: &str) -> Option<String> {
    #[allow(clippy::disallowed_methods)] // the one place that reads settings from the environment
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// Read and parse a TOML configuration file.
///
/// # Errors
/// [`ConfigError`].
pub fn load<T: DeserializeOwned>(path: &Path) -> Result<T, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    toml::from_str(&text).map_err(|e| ConfigError::Invalid {
        path: path.display().to_string(),
        reason: e.to_string().trim().to_owned(),
    })
}

/// The HSM as a configuration file names it. The PIN comes from an environment variable (a
/// secret store injects it) or a file readable by its owner only; never from the file itself.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HsmSettings {
    /// The PKCS#11 module (`/usr/lib/softhsm/libsofthsm2.so` for SoftHSM2).
    pub module: PathBuf,
    /// The token label.
    pub token: String,
    /// The environment variable holding the user PIN (default `VAXCERT_HSM_PIN`).
    #[serde(default)]
    pub pin_env: Option<String>,
    /// A file holding the user PIN (mode 0600), instead of the environment.
    #[serde(default)]
    pub pin_file: Option<PathBuf>,
}

impl HsmSettings {
    /// The environment variable read when neither `pin_env` nor `pin_file` is set.
    pub const DEFAULT_PIN_ENV: &'static str = "VAXCERT_HSM_PIN";

    /// The token configuration with its PIN read from where the settings say.
    ///
    /// # Errors
    /// [`HsmError::Login`] when the PIN is missing or its file is readable by others.
    pub fn resolve(&self) -> Result<TokenConfig, HsmError> {
        let pin = match &self.pin_file {
            Some(path) => {
                crate::pki::signer::check_owner_only(path)
                    .map_err(|e| HsmError::Login(e.to_string()))?;
                std::fs::read_to_string(path)
                    .map_err(|e| HsmError::Login(format!("{}: {e}", path.display())))?
                    .trim()
                    .to_owned()
            }
            None => {
                let var = self.pin_env.as_deref().unwrap_or(Self::DEFAULT_PIN_ENV);
                env(var).ok_or_else(|| {
                    HsmError::Login(format!(
                        "no PIN: set {var} (or pin_file in the configuration)"
                    ))
                })?
            }
        };
        Ok(TokenConfig {
            module: self.module.clone(),
            token_label: self.token.clone(),
            pin: secrecy::SecretString::from(pin),
        })
    }
}

/// `records serve --config FILE`: everything the records process uses. Paths are relative to
/// the working directory; `database_url` may instead come from `VAXCERT_DATABASE_URL`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RecordsConfig {
    /// `sqlite://PATH` or `postgres://…` (may hold a password: prefer the environment).
    #[serde(default)]
    pub database_url: Option<String>,
    /// The record keys: mynumber-hmac.key, mynumber-aes.key, totp-aes.key,
    /// audit-checkpoint.key.pem (what `keys init` wrote under `secrets/`).
    pub keys_dir: PathBuf,
    /// Challenge HMAC key file (64 hex digits).
    pub challenge_key: PathBuf,
    /// Preview-token sealing key file (64 hex digits); shared by every records replica.
    pub token_key: PathBuf,
    /// The folder `keys init` wrote: `signing.toml` and the certificates.
    pub signing_keys_dir: PathBuf,
    /// The HSM holding the signing keys (when `signing.toml` says `pkcs11`).
    #[serde(default)]
    pub hsm: Option<HsmSettings>,
    /// TLS folder: records.{crt,key}.pem, gateway-ca.crt.pem, app-gateway.crt.pem,
    /// center.crt.pem.
    pub tls_dir: PathBuf,
    /// Trusted J-LIS CA keys (`5000033`; `6000033` for JPKI test cards).
    #[serde(default = "default_trust")]
    pub trust: String,
    /// Further card CA keys trusted beside `trust` (a test deployment's own CA).
    #[serde(default)]
    pub card_ca_keys: Vec<CardCaKey>,
    /// Internal API address.
    #[serde(default = "default_records_listen")]
    pub listen: SocketAddr,
    /// Where the role serves `GET /metrics` (Prometheus text, plain HTTP): loopback or the
    /// monitoring network, never the public address. Off when absent.
    #[serde(default)]
    pub metrics: Option<SocketAddr>,
    /// The counter UI's address.
    #[serde(default = "default_counter_listen")]
    pub counter_listen: SocketAddr,
    /// Serve the counter over plain HTTP (behind a TLS-terminating proxy only).
    #[serde(default)]
    pub counter_plain_http: bool,
    /// Proxies in front of the counter whose `X-Forwarded-For` names the client (for the
    /// login slow-down).
    #[serde(default)]
    pub counter_trusted_proxies: Vec<std::net::IpAddr>,
    /// Where jwks.json and crl/ are written.
    pub publication_dir: PathBuf,
    /// Challenge and preview-token lifetime in seconds.
    #[serde(default = "default_ttl")]
    pub ttl: i64,
    /// Do not render PDFs.
    #[serde(default)]
    pub no_pdf: bool,
    /// The terms-of-use versions a resident may have accepted in the app or at a kiosk (the
    /// version vaxcert ships unless given).
    #[serde(default = "default_terms_versions")]
    pub terms_versions: Vec<String>,
    /// 転入照会 with other deployments: the `move-in.toml` (README "転入照会"); none: queries
    /// stay within this deployment.
    #[serde(default)]
    pub move_in: Option<PathBuf>,
    /// `retention.toml`: applied daily, shown on the admins' retention page.
    #[serde(default)]
    pub retention_policy: Option<PathBuf>,
    /// Also write every signed audit checkpoint here, outside the database.
    #[serde(default)]
    pub audit_checkpoint_copy: Option<PathBuf>,
}

fn default_terms_versions() -> Vec<String> {
    vec![crate::protocol::TERMS_VERSION.to_owned()]
}

fn default_trust() -> String {
    "5000033".into()
}

fn default_records_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8443))
}

fn default_counter_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8445))
}

fn default_ttl() -> i64 {
    120
}

impl RecordsConfig {
    /// The database URL: `VAXCERT_DATABASE_URL` wins over the file.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] when neither gives one.
    pub fn database_url(&self) -> Result<String, ConfigError> {
        env("VAXCERT_DATABASE_URL")
            .or_else(|| self.database_url.clone())
            .ok_or_else(|| ConfigError::Invalid {
                path: "records configuration".into(),
                reason: "no database_url (set it, or VAXCERT_DATABASE_URL)".into(),
            })
    }
}

/// A card CA public key given as a file: the 7-digit 証明者鍵ID its CVCs name, and the RSA
/// modulus in hex (as `certs/trust/jlis/*.modulus.hex`; exponent 65537).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CardCaKey {
    /// 証明者鍵ID, 7 digits.
    pub key_id: String,
    /// The modulus file.
    pub modulus_file: PathBuf,
}

impl CardCaKey {
    /// The key, refused when it is the dev J-LIS CA (by key ID or by the file's contents).
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] for a bad key ID, an unreadable or malformed file, or dev
    /// material.
    pub fn load(&self) -> Result<crate::card::CaKey, ConfigError> {
        let invalid = |reason: String| ConfigError::Invalid {
            path: self.modulus_file.display().to_string(),
            reason,
        };
        if self.key_id.len() != 7 || !self.key_id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid(format!("key_id {:?} is not 7 digits", self.key_id)));
        }
        if self.key_id == "9000033" {
            return Err(ConfigError::DevMaterial(format!(
                "{}: 9000033 is the dev J-LIS CA",
                self.modulus_file.display()
            )));
        }
        crate::pki::denylist::refuse(&self.modulus_file)
            .map_err(|e| ConfigError::DevMaterial(e.to_string()))?;
        let text =
            std::fs::read_to_string(&self.modulus_file).map_err(|e| invalid(e.to_string()))?;
        let key = crate::card::RsaKey::from_modulus_hex(&text)
            .ok_or_else(|| invalid("not a hex RSA modulus".into()))?;
        Ok(crate::card::CaKey {
            key_id: self.key_id.clone(),
            key,
        })
    }
}

/// `keys init --config FILE` and `keys rotate --config FILE`: the production key ceremony.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct KeysConfig {
    /// The folder the ceremony writes: `signing.toml`, certificates, CSRs, `jwks.json`, and
    /// `secrets/` (0600 files).
    pub out: PathBuf,
    /// The SHC `iss`: the issuer's URL (its `/.well-known/jwks.json` is published there).
    pub iss: String,
    /// The organisation named in every certificate, e.g. `Chiyoda City`.
    pub organisation: String,
    /// ISO 3166 country code of the organisation and the CSCA.
    #[serde(default = "default_country")]
    pub country: String,
    /// Also make a self-signed root and CSCA on the token and certify every key with them (a
    /// self-contained test deployment). Off: only CSRs are written, for an outside CA.
    #[serde(default)]
    pub self_signed: bool,
    /// The token the keys are made in.
    pub hsm: HsmSettings,
}

fn default_country() -> String {
    "JP".into()
}

/// The `[hsm]` table's PIN is never in the file; everything else may be printed.
pub fn describe<T: Serialize>(config: &T) -> String {
    let mut v = toml::Value::try_from(config).unwrap_or(toml::Value::String("?".into()));
    if let Some(t) = v.as_table_mut()
        && t.contains_key("database_url")
    {
        t.insert(
            "database_url".into(),
            toml::Value::String("<secret>".into()),
        );
    }
    toml::to_string_pretty(&v).unwrap_or_default()
}

/// `app serve --config FILE`: the public gateway.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AppConfig {
    /// Public address.
    #[serde(default = "default_app_listen")]
    pub listen: SocketAddr,
    /// Where the role serves `GET /metrics` (Prometheus text, plain HTTP): loopback or the
    /// monitoring network, never the public address. Off when absent.
    #[serde(default)]
    pub metrics: Option<SocketAddr>,
    /// Records' internal API: one URL, or one per replica, comma-separated.
    pub records_url: String,
    /// TLS folder: app-server.{crt,key}.pem, server-ca.crt.pem, app-gateway.{crt,key}.pem.
    pub tls_dir: PathBuf,
    /// Serve plain HTTP (behind a TLS-terminating proxy).
    #[serde(default)]
    pub plain_http: bool,
    /// Requests per second per client address (bursts of twice that).
    #[serde(default = "default_rate")]
    pub rate_limit: u32,
    /// Worker threads.
    #[serde(default = "default_threads")]
    pub threads: usize,
    /// The verifier's trust store folder (`/verify`, `POST /v1/verify`); without it, the
    /// anchors compiled into the binary.
    #[serde(default)]
    pub trust_dir: Option<PathBuf>,
}

fn default_app_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}

fn default_rate() -> u32 {
    20
}

fn default_threads() -> usize {
    2
}

/// `center serve --config FILE`: the kiosk issuance center.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CenterConfig {
    /// Kiosk-facing address.
    #[serde(default = "default_center_listen")]
    pub listen: SocketAddr,
    /// Where the role serves `GET /metrics` (Prometheus text, plain HTTP): loopback or the
    /// monitoring network, never the public address. Off when absent.
    #[serde(default)]
    pub metrics: Option<SocketAddr>,
    /// Records' internal API: one URL, or one per replica, comma-separated.
    pub records_url: String,
    /// TLS folder: center-server.{crt,key}.pem, kiosk-ca.crt.pem, server-ca.crt.pem,
    /// center.{crt,key}.pem.
    pub tls_dir: PathBuf,
    /// Trusted J-LIS CA keys.
    #[serde(default = "default_trust")]
    pub trust: String,
    /// Further card CA keys trusted beside `trust` (a test deployment's own CA).
    #[serde(default)]
    pub card_ca_keys: Vec<CardCaKey>,
    /// The kiosk CA's revocation lists: revoked kiosks fail the handshake.
    #[serde(default)]
    pub kiosk_crls: Vec<PathBuf>,
}

fn default_center_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8444))
}

/// `kiosk --config FILE`: the terminal agent.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct KioskConfig {
    /// Local UI address (loopback only).
    #[serde(default = "default_kiosk_listen")]
    pub listen: SocketAddr,
    /// Where the role serves `GET /metrics` (Prometheus text, plain HTTP): loopback or the
    /// monitoring network, never the public address. Off when absent.
    #[serde(default)]
    pub metrics: Option<SocketAddr>,
    /// The issuance center, `https://host:port`.
    pub center: String,
    /// The CA of the center's server certificate.
    pub center_ca: PathBuf,
    /// This kiosk's client certificate (its CN is the terminal id).
    pub cert: PathBuf,
    /// Its private key.
    pub key: PathBuf,
    /// PC/SC reader name (default: the first reader).
    #[serde(default)]
    pub reader: Option<String>,
    /// Write certificates as PDFs into this folder instead of printing.
    #[serde(default)]
    pub print_dir: Option<PathBuf>,
    /// CUPS destination.
    #[serde(default)]
    pub printer: Option<String>,
}

fn default_kiosk_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8090))
}
