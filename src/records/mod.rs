//! The record system (DESIGN §4): the municipality side, and the only part of vaxcert that
//! stores anything — residents, vaccinations, issuance history, staff and the audit log — in
//! SQLite (embedded default) or PostgreSQL (production, LIST-partitioned by municipality).
//!
//! ```text
//! Records    the handle the roles use: a pool, the keys, a clock, the audit writer
//!   ├ db       one code base, runtime-checked `$N` SQL, migrations per backend
//!   ├ keys     MyNumber HMAC + AES-256-GCM, TOTP-secret key, audit checkpoint key (in Rust)
//!   ├ import   VRS target CSV and vaccination CSV (UTF-8 / Shift_JIS), whole file or nothing
//!   ├ lookup   VerifiedIdentity + municipality → resident, doses, last passport data
//!   ├ staff    argon2id + TOTP logins, throttling, municipality-scoped search and view
//!   ├ staff_admin  an admin's own staff: add, disable, role, TOTP reset, periodic review
//!   ├ move_in  転入照会: answer for a resident who moved out, store what was provided
//!   ├ stats    counts only (issuances, revocations per cell), small cells suppressed
//!   ├ audit    serialised, hash-chained, signed checkpoints (copied outside too); `verify`
//!   ├ archive  aged audit entries to CSV, sealed by their checkpoint; verify across both
//!   └ retention  per-municipality periods: residents (MyNumber blanked), issuance history
//! ```
//!
//! No plaintext MyNumber ever reaches SQL: it is hashed and encrypted in `keys` first.
//! Internals are `pub(in crate::records)`, so only this module touches the database.
//!
//! Storage only (Boulder's storage authority): it never signs and renders no HTML. The issuance
//! service (`crate::issuance`) and the counter (`crate::counter`) use it; it uses neither. It
//! may import the libraries below it: `card` (the verified identity), `domain`, `catalogue`,
//! `clock`, `http` (only to map its errors to problem documents).

mod archive;
mod audit;
pub mod cli;
pub mod config;
mod db;
mod error;
mod import;
mod keys;
mod lookup;
pub mod model;
mod move_in;
mod primary;
mod retention;
pub mod seed;
mod staff;
mod staff_admin;
mod stats;
mod totp;

use std::sync::Arc;

use sqlx::Row;

pub use archive::Archived;
pub use audit::{AuditEntry, AuditQuery, AuditReport, LoggedEntry};
pub use config::{KeyPaths, RecordsSettings};
pub use error::{Column, Error, Result};
pub use import::{ALIAS_COLUMN, ImportReport, TARGET_COLUMNS, VACCINATION_COLUMNS};
pub use keys::RecordKeys;
pub use lookup::{
    Dose, InForce, IssuanceRecord, IssuedCertificate, IssuedRow, NewIssuance, Recorded, Redemption,
    Resident, RevokedIssuance,
};
pub use model::{AtenaNo, CertificateId, CouponType, KenNo, PassportData, ResidentStatus, Role};
pub use move_in::{MoveInOutcome, ProvidedDose};
pub use retention::{Due, MIN_RECORDS_YEARS, Periods, Policy};
pub use staff::{
    IssuanceLine, NewStaff, NewTotp, ResidentView, SearchQuery, StaffSession, plausible_login,
};
pub use staff_admin::{StaffChange, StaffLine, StaffReview};
pub use stats::{Days, SUPPRESS_UNDER, Stats, StatsRow};

use crate::card::challenge::{ChallengeId, UsedChallenges};
use crate::clock::{Clock, UnixTime};
use crate::domain::MunicipalityCode;
use db::{Db, with_db};

/// A municipality as registered.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Municipality {
    /// 全国地方公共団体コード.
    pub code: MunicipalityCode,
    /// Name, e.g. 千代田区.
    pub name: String,
    /// Whether it takes part in kiosk issuance.
    pub kiosk: bool,
}

/// The record system: open once per process and share (it is `Send + Sync`).
#[derive(Debug)]
pub struct Records {
    db: Db,
    keys: RecordKeys,
    key_paths: KeyPaths,
    clock: Arc<dyn Clock>,
    /// The audit writer: one at a time, with the last (seq, hash) it wrote.
    audit_head: tokio::sync::Mutex<Option<(i64, Vec<u8>)>>,
    checkpoint_every: i64,
    /// Where signed checkpoints are also written, outside the database.
    checkpoint_copy: Option<std::path::PathBuf>,
    /// Municipalities already read, with when: every preview and issuance needs one, and a
    /// registered municipality does not change (entries expire after [`MUNICIPALITY_TTL`]).
    municipality_cache: std::sync::RwLock<
        std::collections::HashMap<MunicipalityCode, (std::time::Instant, Municipality)>,
    >,
    /// When expired used challenges were last purged (unix seconds): at most once per
    /// [`PURGE_EVERY_SECS`], not on every claim.
    last_purge: std::sync::atomic::AtomicI64,
    /// When the login throttle table was last purged (once a minute).
    last_throttle_purge: std::sync::atomic::AtomicI64,
}

/// How long a cached municipality row is trusted.
const MUNICIPALITY_TTL: std::time::Duration = std::time::Duration::from_secs(30);

/// How often the used set drops expired entries.
const PURGE_EVERY_SECS: i64 = 30;

impl Records {
    /// Open the database named in the settings, apply the schema and load the keys.
    ///
    /// # Errors
    /// Configuration, key-file and database errors.
    pub async fn open(settings: &RecordsSettings, clock: Arc<dyn Clock>) -> Result<Self> {
        let keys = RecordKeys::load(&settings.keys)?;
        let db = Db::open(settings.url()).await?;
        Ok(Records {
            db,
            keys,
            key_paths: settings.keys.clone(),
            clock,
            audit_head: tokio::sync::Mutex::new(None),
            checkpoint_every: settings.audit_checkpoint_every.max(1),
            checkpoint_copy: settings.checkpoint_copy.clone(),
            municipality_cache: std::sync::RwLock::default(),
            last_purge: std::sync::atomic::AtomicI64::new(i64::MIN),
            last_throttle_purge: std::sync::atomic::AtomicI64::new(i64::MIN),
        })
    }

    /// Seal the audit head into a signed checkpoint and close the database. Call at shutdown,
    /// so a cut-off tail can be detected.
    ///
    /// # Errors
    /// Database errors.
    pub async fn close(self) -> Result<()> {
        self.checkpoint_head().await?;
        self.db.close().await;
        Ok(())
    }

    fn now(&self) -> UnixTime {
        self.clock.now()
    }

    /// Where the record keys were read from (for the dev-material check at start).
    pub fn key_paths(&self) -> &KeyPaths {
        &self.key_paths
    }

    /// Whether the database answers (`SELECT 1`): records' readiness.
    ///
    /// # Errors
    /// Database errors.
    pub async fn ping(&self) -> Result<()> {
        with_db!(&self.db, p => sqlx::query("SELECT 1").execute(p).await.map(drop))?;
        Ok(())
    }

    /// Connections of the pool in use and idle, for the pool gauge.
    pub fn pool_use(&self) -> (u32, u32) {
        let (size, idle) = with_db!(&self.db, p => (p.size(), p.num_idle()));
        let idle = u32::try_from(idle).unwrap_or(u32::MAX);
        (size.saturating_sub(idle), idle)
    }

    /// Whether the database is PostgreSQL.
    pub fn is_postgres(&self) -> bool {
        self.db.is_postgres()
    }

    /// Register a municipality (and make its PostgreSQL partitions).
    ///
    /// # Errors
    /// [`Error::MunicipalityExists`], database errors.
    pub async fn add_municipality(
        &self,
        code: &MunicipalityCode,
        name: &str,
        kiosk: bool,
    ) -> Result<()> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 50 || name.chars().any(char::is_control) {
            return Err(Error::Invalid {
                what: "municipality name",
            });
        }
        if self.municipality(code).await.is_ok() {
            return Err(Error::MunicipalityExists(code.clone()));
        }
        self.db.create_partitions(code).await?;
        with_db!(&self.db, p => sqlx::query("INSERT INTO municipality (code, name, kiosk) VALUES ($1, $2, $3)")
            .bind(code.as_str()).bind(name).bind(kiosk).execute(p).await.map(|r| r.rows_affected()))?;
        self.audit(&AuditEntry::system(
            "cli",
            code,
            "municipality-add",
            None,
            "ok",
        ))
        .await?;
        Ok(())
    }

    /// One municipality.
    ///
    /// # Errors
    /// [`Error::UnknownMunicipality`].
    pub async fn municipality(&self, code: &MunicipalityCode) -> Result<Municipality> {
        if let Ok(cache) = self.municipality_cache.read()
            && let Some((at, m)) = cache.get(code)
            && at.elapsed() < MUNICIPALITY_TTL
        {
            return Ok(m.clone());
        }
        let row = with_db!(&self.db, p => sqlx::query("SELECT code, name, kiosk FROM municipality WHERE code = $1")
            .bind(code.as_str()).fetch_optional(p).await
            .map(|r| r.map(|r| (r.get::<String, _>(1), r.get::<bool, _>(2)))))?;
        let (name, kiosk) = row.ok_or_else(|| Error::UnknownMunicipality(code.clone()))?;
        let m = Municipality {
            code: code.clone(),
            name,
            kiosk,
        };
        if let Ok(mut cache) = self.municipality_cache.write() {
            cache.insert(code.clone(), (std::time::Instant::now(), m.clone()));
        }
        Ok(m)
    }

    /// Every registered municipality, by code.
    ///
    /// # Errors
    /// Database errors.
    pub async fn municipalities(&self) -> Result<Vec<Municipality>> {
        let rows = with_db!(&self.db, p => sqlx::query("SELECT code, name, kiosk FROM municipality ORDER BY code")
            .fetch_all(p).await
            .map(|rows| rows.iter().map(|r| (r.get::<String, _>(0), r.get::<String, _>(1), r.get::<bool, _>(2))).collect::<Vec<_>>()))?;
        rows.into_iter()
            .map(|(code, name, kiosk)| {
                Ok(Municipality {
                    code: MunicipalityCode::parse(&code)
                        .map_err(|_| Error::Corrupt("municipality code"))?,
                    name,
                    kiosk,
                })
            })
            .collect()
    }

    /// The municipalities a kiosk may offer (DESIGN §2: only those taking part).
    ///
    /// # Errors
    /// Database errors.
    pub async fn participating_municipalities(&self) -> Result<Vec<Municipality>> {
        Ok(self
            .municipalities()
            .await?
            .into_iter()
            .filter(|m| m.kiosk)
            .collect())
    }
}

impl Records {
    /// Claim a challenge as used (DESIGN §3 step 5), remembering the digest of the evidence
    /// it came with (the preview token is bound to it) and keeping the entry until `keep_until`.
    /// `Ok(false)` if it was used before. Expired entries are purged by one replica at a time,
    /// at most every 30 s across all of them.
    ///
    /// # Errors
    /// Database errors.
    pub async fn claim_challenge(
        &self,
        id: ChallengeId,
        keep_until: UnixTime,
        now: UnixTime,
        evidence: Option<[u8; 32]>,
    ) -> Result<bool> {
        use std::sync::atomic::Ordering;
        let last = self.last_purge.load(Ordering::Relaxed);
        let due_here = now.0.saturating_sub(last) >= PURGE_EVERY_SECS
            && self
                .last_purge
                .compare_exchange(last, now.0, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok();
        Ok(with_db!(&self.db, p => {
            if due_here {
                let ours = sqlx::query(
                    "UPDATE maintenance SET last_run = $1 WHERE task = 'used-challenge-purge' AND last_run <= $2")
                    .bind(now.0).bind(now.0 - PURGE_EVERY_SECS).execute(p).await?.rows_affected() == 1;
                if ours {
                    // Only well past expiry (PURGE_MARGIN_SECS): see there.
                    sqlx::query("DELETE FROM used_challenge WHERE expires_at <= $1")
                        .bind(now.0.saturating_sub(crate::card::challenge::PURGE_MARGIN_SECS))
                        .execute(p).await?;
                }
            }
            sqlx::query("INSERT INTO used_challenge (id, expires_at, evidence) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING")
                .bind(id.to_vec()).bind(keep_until.0).bind(evidence.map(|e| e.to_vec()))
                .execute(p).await?.rows_affected() == 1
        }))
    }
}

/// The used-challenge set of DESIGN §3 step 5, kept in the database until expiry so every
/// records process (and a restart) sees the same set.
impl UsedChallenges for Records {
    async fn claim(
        &self,
        id: ChallengeId,
        expires_at: UnixTime,
        now: UnixTime,
    ) -> std::result::Result<bool, crate::card::Error> {
        self.claim_challenge(id, expires_at, now, None)
            .await
            .map_err(|e| crate::card::Error::UsedStore(e.code().to_owned()))
    }
}
