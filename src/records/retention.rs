//! Retention and deletion: each municipality keeps residents' records and its issuance history
//! for the periods its policy sets (records at least five years), then deletes them. Only the
//! municipality's own admin (at the counter, or its operator at the CLI, or the daily task of
//! `records serve` under the configured policy) deletes, and every deletion is audited with what
//! went. Deleting a resident blanks the 個人番号 (hash and ciphertext, and a former link kept
//! for 転入照会) with the record and its doses; the issuance history keeps its own, separate
//! period (it names the resident by 宛名番号 only), and the audit log is archived, not dropped
//! (`crate::records::Records::archive_audit`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sqlx::Row;

use super::audit::AuditEntry;
use super::error::{Error, Result};
use super::model::Role;
use super::staff::StaffSession;
use super::{Records, with_db};
use crate::domain::MunicipalityCode;

/// The shortest records period the law allows (years).
pub const MIN_RECORDS_YEARS: u32 = 5;

/// Seconds in a retention year (366 days, so a period is never counted short).
const YEAR: i64 = 366 * 86_400;

/// One municipality's periods, in years.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Periods {
    /// A resident marked 転出 or 死亡 whose record has not changed for this long is deleted
    /// (at least [`MIN_RECORDS_YEARS`]).
    pub records_years: u32,
    /// Issuance history older than this is deleted.
    pub issuance_years: u32,
}

/// A per-municipality override: unset fields take the defaults.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Override {
    records_years: Option<u32>,
    issuance_years: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    records_years: u32,
    issuance_years: u32,
    audit_years: u32,
    archive_dir: PathBuf,
    #[serde(default)]
    municipality: BTreeMap<String, Override>,
}

/// `retention.toml`: the periods per municipality, and the deployment-wide audit period and
/// archive (the audit log is one chain for every municipality).
#[derive(Debug, Clone)]
pub struct Policy {
    defaults: Periods,
    municipalities: BTreeMap<MunicipalityCode, Periods>,
    /// Audit entries older than this many years are archived.
    pub audit_years: u32,
    /// Where archived audit entries go.
    pub archive_dir: PathBuf,
}

impl Policy {
    /// Read and check `retention.toml`; a relative `archive_dir` is taken from its folder.
    ///
    /// # Errors
    /// [`Error::Config`] naming the file and what is wrong (a records period under five years,
    /// a period of zero, a malformed municipality code).
    pub fn load(path: &Path) -> Result<Self> {
        let bad = |what: String| Error::Config(format!("{}: {what}", path.display()));
        let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
        let raw: Raw = toml::from_str(&text).map_err(|e| bad(e.message().to_owned()))?;
        let check = |p: Periods, whose: &str| -> Result<Periods> {
            if p.records_years < MIN_RECORDS_YEARS {
                return Err(bad(format!(
                    "{whose}records_years is {}; records are kept at least {MIN_RECORDS_YEARS} years",
                    p.records_years
                )));
            }
            if p.issuance_years == 0 {
                return Err(bad(format!("{whose}issuance_years must be at least 1")));
            }
            Ok(p)
        };
        let defaults = check(
            Periods {
                records_years: raw.records_years,
                issuance_years: raw.issuance_years,
            },
            "",
        )?;
        if raw.audit_years == 0 {
            return Err(bad("audit_years must be at least 1".into()));
        }
        let mut municipalities = BTreeMap::new();
        for (code, o) in raw.municipality {
            let m = MunicipalityCode::parse(&code)
                .map_err(|e| bad(format!("municipality.{code}: {e}")))?;
            let p = Periods {
                records_years: o.records_years.unwrap_or(defaults.records_years),
                issuance_years: o.issuance_years.unwrap_or(defaults.issuance_years),
            };
            municipalities.insert(m, check(p, &format!("municipality.{code}."))?);
        }
        let archive_dir = if raw.archive_dir.is_relative() {
            path.parent()
                .unwrap_or(Path::new("."))
                .join(raw.archive_dir)
        } else {
            raw.archive_dir
        };
        Ok(Policy {
            defaults,
            municipalities,
            audit_years: raw.audit_years,
            archive_dir,
        })
    }

    /// The periods of one municipality.
    pub fn periods(&self, m: &MunicipalityCode) -> Periods {
        self.municipalities.get(m).copied().unwrap_or(self.defaults)
    }
}

/// What is past its period in one municipality (and, after `apply`, what was deleted).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Due {
    /// Residents (宛名番号) marked 転出/死亡 and unchanged past the records period.
    pub residents: Vec<String>,
    /// Certificate IDs issued before the issuance period.
    pub issuances: Vec<String>,
}

impl Records {
    /// What `m`'s policy makes due for deletion now.
    ///
    /// # Errors
    /// Database errors.
    pub async fn retention_due(&self, m: &MunicipalityCode, policy: &Policy) -> Result<Due> {
        let p = policy.periods(m);
        let now = self.now().0;
        let residents: Vec<String> = with_db!(&self.db, db => sqlx::query(
            "SELECT atena FROM resident WHERE municipality = $1 AND status <> 0 AND updated_at < $2 ORDER BY atena")
            .bind(m.as_str()).bind(now - i64::from(p.records_years) * YEAR).fetch_all(db).await
            .map(|rows| rows.iter().map(|r| r.get(0)).collect()))?;
        let issuances: Vec<String> = with_db!(&self.db, db => sqlx::query(
            "SELECT certificate_id FROM issuance WHERE municipality = $1 AND issued_at < $2 ORDER BY certificate_id")
            .bind(m.as_str()).bind(now - i64::from(p.issuance_years) * YEAR).fetch_all(db).await
            .map(|rows| rows.iter().map(|r| r.get(0)).collect()))?;
        Ok(Due {
            residents,
            issuances,
        })
    }

    /// Delete what is due in the admin's own municipality: each resident (個人番号 hash and
    /// ciphertext, record and doses) and each old issuance, one audit entry each.
    ///
    /// # Errors
    /// [`Error::Forbidden`] unless the session is an admin's.
    pub async fn apply_retention(&self, admin: &StaffSession, policy: &Policy) -> Result<Due> {
        if admin.role() != Role::Admin {
            return Err(Error::Forbidden);
        }
        let m = admin.municipality();
        let due = self.retention_due(m, policy).await?;
        let p = policy.periods(m);
        for atena in &due.residents {
            with_db!(&self.db, db => {
                let mut tx = db.begin().await?;
                for sql in [
                    "DELETE FROM resident_mynumber WHERE municipality = $1 AND atena = $2",
                    "DELETE FROM former_mynumber WHERE municipality = $1 AND atena = $2",
                    "DELETE FROM vaccination WHERE municipality = $1 AND atena = $2",
                    "DELETE FROM resident WHERE municipality = $1 AND atena = $2",
                ] {
                    sqlx::query(sql).bind(m.as_str()).bind(atena).execute(&mut *tx).await?;
                }
                tx.commit().await
            })?;
            self.audit(&AuditEntry::system(
                admin.actor(),
                m,
                "retention-delete-resident",
                Some(atena),
                &format!("ok records_years={}", p.records_years),
            ))
            .await?;
        }
        for id in &due.issuances {
            with_db!(&self.db, db => {
                let mut tx = db.begin().await?;
                sqlx::query("DELETE FROM issuance WHERE municipality = $1 AND certificate_id = $2")
                    .bind(m.as_str()).bind(id).execute(&mut *tx).await?;
                sqlx::query("DELETE FROM certificate_id WHERE municipality = $1 AND id = $2")
                    .bind(m.as_str()).bind(id).execute(&mut *tx).await?;
                tx.commit().await
            })?;
            self.audit(&AuditEntry::system(
                admin.actor(),
                m,
                "retention-delete-issuance",
                Some(id),
                &format!("ok issuance_years={}", p.issuance_years),
            ))
            .await?;
        }
        Ok(due)
    }

    /// [`Records::apply_retention`] by the municipality's operator at the CLI (audited as
    /// `cli`; the daily task of `records serve` is audited as `retention`).
    ///
    /// # Errors
    /// As [`Records::apply_retention`].
    pub async fn operator_apply_retention(
        &self,
        m: &MunicipalityCode,
        policy: &Policy,
    ) -> Result<Due> {
        self.apply_retention(&StaffSession::operator(m, "cli"), policy)
            .await
    }

    /// The daily task: every registered municipality's deletions, then the audit archive.
    ///
    /// # Errors
    /// The first failure; what was done before it stays done and audited.
    pub async fn retention_daily(
        &self,
        policy: &Policy,
    ) -> Result<(Vec<(MunicipalityCode, Due)>, Option<super::Archived>)> {
        let mut done = Vec::new();
        for m in self.municipalities().await? {
            let due = self
                .apply_retention(&StaffSession::operator(&m.code, "retention"), policy)
                .await?;
            if !due.residents.is_empty() || !due.issuances.is_empty() {
                done.push((m.code, due));
            }
        }
        let before = self.now().0 - i64::from(policy.audit_years) * YEAR;
        let archived = self.archive_audit(before, &policy.archive_dir).await?;
        Ok((done, archived))
    }
}
