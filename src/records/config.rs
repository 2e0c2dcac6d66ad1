//! Typed settings of the record system: where the database is, where the keys are, how often
//! the audit head is sealed. The database URL is a secret (it may hold a password).

use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret, SecretString};

/// Files holding the record system's keys (`crate::dev::record_keys` names the dev ones).
#[derive(Debug, Clone)]
pub struct KeyPaths {
    /// MyNumber lookup HMAC key (64 hex digits).
    pub mynumber_hmac: PathBuf,
    /// MyNumber AES-256-GCM key (64 hex digits).
    pub mynumber_aes: PathBuf,
    /// Staff TOTP-secret AES-256-GCM key (64 hex digits).
    pub totp_aes: PathBuf,
    /// Audit checkpoint signing key (PKCS#8 PEM, P-256).
    pub audit_signing: PathBuf,
}

impl KeyPaths {
    /// The standard file names inside one folder.
    pub fn in_dir(dir: &Path) -> Self {
        KeyPaths {
            mynumber_hmac: dir.join("mynumber-hmac.key"),
            mynumber_aes: dir.join("mynumber-aes.key"),
            totp_aes: dir.join("totp-aes.key"),
            audit_signing: dir.join("audit-checkpoint.key.pem"),
        }
    }
}

/// Settings of `vaxcert records …`.
#[derive(Debug, Clone)]
pub struct RecordsSettings {
    /// `sqlite://PATH` or `postgres://…`.
    pub database_url: SecretString,
    /// Key files.
    pub keys: KeyPaths,
    /// Seal the audit head into a signed checkpoint every this many entries (and at shutdown).
    pub audit_checkpoint_every: i64,
    /// Also append every signed checkpoint to this file (JSON lines), outside the database: a
    /// checkpoint deleted from the database is then still known to `audit verify`.
    pub checkpoint_copy: Option<PathBuf>,
}

impl RecordsSettings {
    /// Settings for a database with the given key files and the default checkpoint interval.
    pub fn new(database_url: &str, keys: KeyPaths) -> Self {
        RecordsSettings {
            database_url: SecretString::from(database_url.to_owned()),
            keys,
            audit_checkpoint_every: 100,
            checkpoint_copy: None,
        }
    }

    pub(in crate::records) fn url(&self) -> &str {
        self.database_url.expose_secret()
    }
}
