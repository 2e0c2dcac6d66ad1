//! CSV import of targets (VRS's target file: 10 columns in its order, under its header names) and
//! of vaccination records. Files are UTF-8 (with
//! or without BOM) or Shift_JIS/CP932. Every row is validated before anything is written;
//! errors name the line and the column; a file imports whole or not at all (one transaction);
//! re-importing updates by 宛名番号 (targets) or by 宛名番号 + 接種回数 (vaccinations).
//!
//! Rows are checked, hashed and encrypted here, in Rust, spread over the cores; then staged in
//! 宛名番号 order (JSON documents unpacked by `jsonb_each` or multi-row INSERTs on SQLite, COPY on
//! PostgreSQL) and merged with one `INSERT … SELECT … ON CONFLICT` per table.
//!
//! ```text
//! import
//!   ├ parse   decode, cut, check, hash and encrypt rows (every core); the first bad line
//!   └ stage   one transaction: stage in 宛名番号 order, merge per table
//! ```

use serde::Serialize;

use super::Records;
use super::audit::AuditEntry;
#[cfg(doc)]
use super::error::Error;
use super::error::Result;
use crate::domain::MunicipalityCode;

mod parse;
mod stage;

/// The 10 target columns of VRS's target file, in its order and under its names.
pub const TARGET_COLUMNS: [&str; 10] = [
    "個別宛名番号",
    "マイナンバー",
    "氏名（姓）",
    "氏名（名）",
    "氏名（セイ）",
    "氏名（メイ）",
    "生年月日",
    "性別",
    "券番号",
    "転出/死亡フラグ",
];

/// vaxcert's optional 11th target column: a foreign resident's registered 通称 (alias). VRS's
/// file has no such column; a municipality that keeps 通称 adds it after the 10.
pub const ALIAS_COLUMN: &str = "通称";

/// The target file's columns as read: VRS's 10, then the optional 通称.
pub(super) const TARGET_FILE_COLUMNS: [&str; 11] = [
    TARGET_COLUMNS[0],
    TARGET_COLUMNS[1],
    TARGET_COLUMNS[2],
    TARGET_COLUMNS[3],
    TARGET_COLUMNS[4],
    TARGET_COLUMNS[5],
    TARGET_COLUMNS[6],
    TARGET_COLUMNS[7],
    TARGET_COLUMNS[8],
    TARGET_COLUMNS[9],
    ALIAS_COLUMN,
];

/// The 9 vaccination columns, in order.
pub const VACCINATION_COLUMNS: [&str; 9] = [
    "宛名番号",
    "接種回数",
    "接種日",
    "製品コード",
    "ロット番号",
    "接種会場名",
    "接種医師名",
    "接種自治体コード",
    "券種",
];

/// What an import did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImportReport {
    /// Data rows in the file.
    pub rows: u64,
    /// New records.
    pub inserted: u64,
    /// Existing records updated.
    pub updated: u64,
}

impl Records {
    /// Validate a whole target file, then write it in one transaction.
    ///
    /// # Errors
    /// [`Error::Row`] / [`Error::Line`] for the first bad line (nothing imported),
    /// [`Error::Encoding`], [`Error::UnknownMunicipality`], database errors.
    pub async fn import_targets(
        &self,
        bytes: &[u8],
        municipality: &MunicipalityCode,
        actor: &str,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<ImportReport> {
        let r = self
            .import_targets_inner(bytes, municipality, progress)
            .await;
        let outcome = match &r {
            Ok(rep) => format!("ok rows={}", rep.rows),
            Err(e) => e.code().to_owned(),
        };
        self.audit(&AuditEntry::system(
            actor,
            municipality,
            "import-targets",
            None,
            &outcome,
        ))
        .await?;
        r
    }

    /// Validate a whole vaccination file, then write it in one transaction.
    ///
    /// # Errors
    /// As [`Records::import_targets`]; a row naming a resident the municipality does not hold
    /// is an error too.
    pub async fn import_vaccinations(
        &self,
        bytes: &[u8],
        municipality: &MunicipalityCode,
        actor: &str,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<ImportReport> {
        let r = self
            .import_vaccinations_inner(bytes, municipality, progress)
            .await;
        let outcome = match &r {
            Ok(rep) => format!("ok rows={}", rep.rows),
            Err(e) => e.code().to_owned(),
        };
        self.audit(&AuditEntry::system(
            actor,
            municipality,
            "import-vaccinations",
            None,
            &outcome,
        ))
        .await?;
        r
    }
}
