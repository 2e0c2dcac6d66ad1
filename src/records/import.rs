//! CSV import of targets (VRS's 10 columns) and of vaccination records. Files are UTF-8 (with
//! or without BOM) or Shift_JIS/CP932. Every row is validated before anything is written;
//! errors name the line and the column; a file imports whole or not at all (one transaction);
//! re-importing updates by 宛名番号 (targets) or by 宛名番号 + 接種回数 (vaccinations).
//!
//! Rows are checked, hashed and encrypted here, in Rust, spread over the cores; then staged in
//! 宛名番号 order (JSON documents unpacked by `jsonb_each` or multi-row INSERTs on SQLite, COPY on
//! PostgreSQL) and merged with one `INSERT … SELECT … ON CONFLICT` per table.

use std::borrow::Cow;
use std::collections::HashMap;

use serde::Serialize;
use sqlx::Row;

use super::Records;
use super::audit::AuditEntry;
use super::error::{Column, Error, Result};
use super::model::{AtenaNo, CouponType, KenNo, ResidentStatus};
use crate::card::MyNumber;
use crate::catalogue;
use crate::domain::{BirthDate, MunicipalityCode, Sex};

/// The 10 target columns, in order.
pub const TARGET_COLUMNS: [&str; 10] = [
    "宛名番号",
    "個人番号",
    "券番号",
    "姓",
    "名",
    "セイ",
    "メイ",
    "生年月日",
    "性別",
    "転出死亡フラグ",
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

const BATCH: usize = 400;
const JSON_BATCH: usize = 10_000;

/// UTF-8 (BOM stripped) or Shift_JIS/CP932.
fn decode(bytes: &[u8]) -> Result<Cow<'_, str>> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if let Ok(s) = std::str::from_utf8(bytes) {
        return Ok(Cow::Borrowed(s));
    }
    encoding_rs::SHIFT_JIS
        .decode_without_bom_handling_and_without_replacement(bytes)
        .ok_or(Error::Encoding)
}

fn col(names: &'static [&'static str], i: usize) -> Column {
    Column {
        number: i + 1,
        name: names[i],
    }
}

/// Iterate the data records of a CSV text: `(line, fields)`, header skipped when present.
/// `text` may be a piece of a file: `lines_before` is added to every line number, and only the
/// first piece (`may_have_header`) can hold the header.
fn records<'a>(
    text: &'a str,
    columns: &'static [&'static str],
    lines_before: u64,
    may_have_header: bool,
) -> impl Iterator<Item = Result<(u64, csv::StringRecord)>> + 'a {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut first = may_have_header;
    let want = columns.len();
    std::iter::from_fn(move || {
        loop {
            let mut rec = csv::StringRecord::new();
            match rdr.read_record(&mut rec) {
                Ok(false) => return None,
                Err(e) => {
                    let line = e.position().map(|p| p.line()).unwrap_or(0) + lines_before;
                    return Some(Err(Error::Line {
                        line,
                        what: "not valid CSV".into(),
                    }));
                }
                Ok(true) => {
                    let line = rec.position().map(|p| p.line()).unwrap_or(0) + lines_before;
                    if std::mem::take(&mut first) && rec.get(0) == Some(columns[0]) {
                        continue;
                    }
                    if rec.len() == 1 && rec.get(0) == Some("") {
                        continue;
                    }
                    if rec.len() != want {
                        return Some(Err(Error::Line {
                            line,
                            what: format!("{} columns, expected {want}", rec.len()),
                        }));
                    }
                    return Some(Ok((line, rec)));
                }
            }
        }
    })
}

/// Cut `text` into about `parts` pieces at record boundaries (a newline outside quotes, so a
/// quoted field holding a newline stays whole), each with the number of lines before it.
fn split_records(text: &str, parts: usize) -> Vec<(&str, u64)> {
    let bytes = text.as_bytes();
    let step = bytes.len() / parts.max(1) + 1;
    let mut pieces = Vec::with_capacity(parts);
    let (mut start, mut start_lines, mut lines, mut quoted) = (0, 0u64, 0u64, false);
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'"' => quoted = !quoted,
            b'\n' => {
                lines += 1;
                if !quoted && i + 1 - start >= step {
                    pieces.push((&text[start..=i], start_lines));
                    (start, start_lines) = (i + 1, lines);
                }
            }
            _ => {}
        }
    }
    if start < bytes.len() || pieces.is_empty() {
        pieces.push((&text[start..], start_lines));
    }
    pieces
}

/// Checked rows with their lines, in file order, up to the first error; and that error.
type Checked<T> = (Vec<(u64, T)>, Option<Error>);

/// Check every data record of a CSV file with `row`, spread over the cores: the per-row work
/// (validation, and for targets the MyNumber HMAC and AES-GCM) is most of an import's CPU.
/// Returns the rows in file order, each with its line, up to the first error, and that error.
fn check_rows<T: Send>(
    text: &str,
    columns: &'static [&'static str],
    progress: &(dyn Fn(u64) + Sync),
    row: &(dyn Fn(u64, &csv::StringRecord) -> Result<T> + Sync),
) -> Checked<T> {
    use std::sync::atomic::{AtomicU64, Ordering};
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
    let pieces = split_records(text, workers);
    let done = AtomicU64::new(0);
    let results: Vec<Checked<T>> = std::thread::scope(|scope| {
        let handles: Vec<_> = pieces
            .iter()
            .enumerate()
            .map(|(k, &(piece, lines_before))| {
                let done = &done;
                scope.spawn(move || {
                    let mut out = Vec::new();
                    for item in records(piece, columns, lines_before, k == 0) {
                        match item.and_then(|(line, rec)| Ok((line, row(line, &rec)?))) {
                            Ok(r) => out.push(r),
                            Err(e) => return (out, Some(e)),
                        }
                        if out.len() % 10_000 == 0 {
                            progress(done.fetch_add(10_000, Ordering::Relaxed) + 10_000);
                        }
                    }
                    (out, None)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    (
                        Vec::new(),
                        Some(Error::Corrupt("a row-checking thread failed")),
                    )
                })
            })
            .collect()
    });
    let mut rows = Vec::with_capacity(results.iter().map(|(r, _)| r.len()).sum());
    for (piece, err) in results {
        rows.extend(piece);
        if err.is_some() {
            // Later pieces start after this error's line.
            return (rows, err);
        }
    }
    progress(rows.len() as u64);
    (rows, None)
}

fn text_field(v: &str, max_chars: usize, allow_empty: bool) -> std::result::Result<String, String> {
    if v.is_empty() && !allow_empty {
        return Err("is empty".into());
    }
    if v.chars().count() > max_chars {
        return Err(format!("is longer than {max_chars} characters"));
    }
    if v.chars().any(|c| c.is_control()) {
        return Err("holds a control character".into());
    }
    Ok(v.to_owned())
}

fn kanji_name(v: &str) -> std::result::Result<String, String> {
    let s = text_field(v, 30, false)?;
    if s.chars().any(char::is_whitespace) {
        return Err("holds white space (family and given names go in their own columns)".into());
    }
    Ok(s)
}

/// Full-width katakana (with ー and ヴ), as VRS keeps カナ names.
fn kana_name(v: &str) -> std::result::Result<String, String> {
    let s = text_field(v, 30, false)?;
    if !s
        .chars()
        .all(|c| ('\u{30A1}'..='\u{30F6}').contains(&c) || c == 'ー' || c == '・')
    {
        return Err("is not full-width katakana".into());
    }
    Ok(s)
}

/// A validated target row, already hashed and encrypted.
struct TargetRow {
    atena: String,
    hash: [u8; 32],
    ciphertext: Vec<u8>,
    family_kanji: String,
    given_kanji: String,
    family_kana: String,
    given_kana: String,
    birth_date: String,
    sex: String,
    ken_no: String,
    status: i64,
}

struct VaccinationRow {
    atena: String,
    dose: i64,
    date: String,
    product: String,
    lot: String,
    venue: String,
    physician: String,
    vaccinated_in: String,
    coupon: String,
}

/// Escape one value for PostgreSQL's COPY text format.
fn copy_text(out: &mut String, v: &str) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
}

fn copy_bytes(out: &mut String, v: &[u8]) {
    out.push_str("\\\\x");
    out.push_str(&hex::encode(v));
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

    fn parse_targets(
        &self,
        text: &str,
        municipality: &MunicipalityCode,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<(Vec<TargetRow>, HashMap<String, u64>)> {
        let c = |i| col(&TARGET_COLUMNS, i);
        let row = |line: u64, rec: &csv::StringRecord| -> Result<TargetRow> {
            let err = |i: usize, what: String| Error::Row {
                line,
                column: c(i),
                what,
            };
            let f = |i: usize| rec.get(i).unwrap_or("");
            let atena = AtenaNo::parse(f(0))
                .map_err(|_| err(0, "must be 1–20 ASCII letters or digits".into()))?;
            // The MyNumber is never echoed in an error.
            let my_number = MyNumber::parse(f(1).as_bytes())
                .map_err(|_| err(1, "is not a valid 12-digit 個人番号 (check digit)".into()))?;
            let ken = KenNo::parse(f(2)).map_err(|_| err(2, "must be 10 digits".into()))?;
            let family_kanji = kanji_name(f(3)).map_err(|w| err(3, w))?;
            let given_kanji = kanji_name(f(4)).map_err(|w| err(4, w))?;
            let family_kana = kana_name(f(5)).map_err(|w| err(5, w))?;
            let given_kana = kana_name(f(6)).map_err(|w| err(6, w))?;
            let birth = if f(7).len() == 8 {
                BirthDate::parse(f(7)).ok()
            } else {
                None
            }
            .ok_or_else(|| err(7, "must be a real date as YYYYMMDD".into()))?;
            let sex = match f(8) {
                "1" => Sex::Male,
                "2" => Sex::Female,
                _ => return Err(err(8, "must be 1 (male) or 2 (female)".into())),
            };
            let status = ResidentStatus::from_flag(f(9))
                .map_err(|_| err(9, "must be empty, 1 (moved out) or 2 (deceased)".into()))?;
            let hash = self.keys.mynumber_hash(&my_number);
            let ciphertext =
                self.keys
                    .encrypt_mynumber(&my_number, municipality, atena.as_str())?;
            Ok(TargetRow {
                atena: atena.as_str().to_owned(),
                hash,
                ciphertext,
                family_kanji,
                given_kanji,
                family_kana,
                given_kana,
                birth_date: birth.iso(),
                sex: sex.code().to_owned(),
                ken_no: ken.as_str().to_owned(),
                status: status.to_db(),
            })
        };
        let (checked, first_error) = check_rows(text, &TARGET_COLUMNS, progress, &row);
        // Repeats, in file order: they come before `first_error`, which ends the rows.
        let mut lines: HashMap<String, u64> = HashMap::with_capacity(checked.len());
        let mut hashes: HashMap<[u8; 32], u64> = HashMap::with_capacity(checked.len());
        let mut rows = Vec::with_capacity(checked.len());
        for (line, r) in checked {
            let err = |i: usize, what: String| Error::Row {
                line,
                column: c(i),
                what,
            };
            if let Some(first) = lines.insert(r.atena.clone(), line) {
                return Err(err(0, format!("repeats the 宛名番号 of line {first}")));
            }
            if let Some(first) = hashes.insert(r.hash, line) {
                return Err(err(1, format!("repeats the 個人番号 of line {first}")));
            }
            rows.push(r);
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok((rows, lines)),
        }
    }

    async fn import_targets_inner(
        &self,
        bytes: &[u8],
        municipality: &MunicipalityCode,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<ImportReport> {
        self.municipality(municipality).await?;
        let text = decode(bytes)?;
        let t0 = std::time::Instant::now();
        let (rows, lines) = self.parse_targets(&text, municipality, progress)?;
        tracing::debug!(
            rows = rows.len(),
            ms = t0.elapsed().as_millis() as u64,
            "targets validated, hashed, encrypted"
        );
        // Stage in 宛名番号 order (byte order, as SQL compares text): the resident merge then
        // walks its primary key in order, without the database sorting a million rows.
        let mut order: Vec<usize> = (0..rows.len()).collect();
        order.sort_unstable_by(|&a, &b| rows[a].atena.cmp(&rows[b].atena));
        let code = municipality.as_str();
        let n = rows.len() as u64;
        let conflict: Option<String>;
        let updated: i64;
        macro_rules! merge {
            ($tx:expr) => {{
                // A 個人番号 already registered elsewhere is a conflict, unless that record has
                // moved out (転出): then the new municipality takes the 個人番号 over. The
                // common case (no clash at all) costs one probe per row, as before; only a clash
                // is looked at more closely. `moves` says whether the old links must go.
                let any: Option<String> = sqlx::query(
                    "SELECT s.atena FROM stage_resident s JOIN resident_mynumber m ON m.hash = s.hash \
                     WHERE m.municipality <> $1 OR m.atena <> s.atena LIMIT 1")
                    .bind(code).fetch_optional(&mut *$tx).await?.map(|r| r.get(0));
                let clash: Option<(String, bool)> = match any {
                    None => None,
                    Some(_) => sqlx::query(
                        "SELECT s.atena, CAST(CASE WHEN m.municipality <> $1 AND COALESCE(r.status, 0) = 1 THEN 0 ELSE 1 END AS BIGINT) AS bad \
                         FROM stage_resident s JOIN resident_mynumber m ON m.hash = s.hash \
                         LEFT JOIN resident r ON r.municipality = m.municipality AND r.atena = m.atena \
                         WHERE m.municipality <> $1 OR m.atena <> s.atena ORDER BY bad DESC LIMIT 1")
                        .bind(code).fetch_optional(&mut *$tx).await?
                        .map(|r| (r.get(0), r.get::<i64, _>(1) == 1)),
                };
                let moves = matches!(clash, Some((_, false)));
                conflict = clash.filter(|(_, bad)| *bad).map(|(atena, _)| atena);
                tracing::debug!(ms = t0.elapsed().as_millis() as u64, "MyNumber conflicts checked");
                if conflict.is_none() {
                    updated = sqlx::query(
                        "SELECT COUNT(*) FROM stage_resident s JOIN resident r ON r.municipality = $1 AND r.atena = s.atena")
                        .bind(code).fetch_one(&mut *$tx).await?.get(0);
                    sqlx::query(
                        "INSERT INTO resident (municipality, atena, family_kanji, given_kanji, family_kana, given_kana, birth_date, sex, ken_no, status, updated_at) \
                         SELECT $1, atena, family_kanji, given_kanji, family_kana, given_kana, birth_date, sex, ken_no, status, $2 FROM stage_resident WHERE true \
                         ON CONFLICT (municipality, atena) DO UPDATE SET family_kanji = excluded.family_kanji, given_kanji = excluded.given_kanji, \
                         family_kana = excluded.family_kana, given_kana = excluded.given_kana, birth_date = excluded.birth_date, sex = excluded.sex, \
                         ken_no = excluded.ken_no, status = excluded.status, updated_at = excluded.updated_at")
                        .bind(code).bind(self.now().0).execute(&mut *$tx).await?;
                    tracing::debug!(ms = t0.elapsed().as_millis() as u64, "residents merged");
                    if updated > 0 {
                        sqlx::query("DELETE FROM resident_mynumber WHERE municipality = $1 AND atena IN (SELECT atena FROM stage_resident)")
                            .bind(code).execute(&mut *$tx).await?;
                    }
                    if moves {
                        sqlx::query("DELETE FROM resident_mynumber WHERE municipality <> $1 AND hash IN (SELECT hash FROM stage_resident)")
                            .bind(code).execute(&mut *$tx).await?;
                    }
                    sqlx::query("INSERT INTO resident_mynumber (hash, municipality, atena, ciphertext) SELECT hash, $1, atena, ciphertext FROM stage_resident")
                        .bind(code).execute(&mut *$tx).await?;
                    tracing::debug!(ms = t0.elapsed().as_millis() as u64, "MyNumbers merged");
                } else {
                    updated = 0;
                }
            }};
        }
        match &self.db {
            super::db::Db::Sqlite(p) => {
                let mut tx = p.begin_with("BEGIN IMMEDIATE").await?;
                // No key on the stage: 宛名番号 are unique already (checked in Rust), and rows
                // arrive sorted by 宛名番号, the order the merge wants.
                sqlx::query("CREATE TEMP TABLE IF NOT EXISTS stage_resident (atena TEXT, hash BLOB, ciphertext BLOB, family_kanji TEXT, given_kanji TEXT, family_kana TEXT, given_kana TEXT, birth_date TEXT, sex TEXT, ken_no TEXT, status INTEGER)")
                    .execute(&mut *tx).await?;
                sqlx::query("DELETE FROM stage_resident")
                    .execute(&mut *tx)
                    .await?;
                // One bound JSON document per 10,000 rows, unpacked by SQLite's jsonb_each: far
                // cheaper than 110,000 separate binds, and each element arrives as binary JSONB,
                // so its 11 fields are read without parsing text 11 times.
                for chunk in order.chunks(JSON_BATCH) {
                    let doc: Vec<_> = chunk
                        .iter()
                        .map(|&i| {
                            let r = &rows[i];
                            (
                                &r.atena,
                                hex::encode(r.hash),
                                hex::encode(&r.ciphertext),
                                &r.family_kanji,
                                &r.given_kanji,
                                &r.family_kana,
                                &r.given_kana,
                                &r.birth_date,
                                &r.sex,
                                &r.ken_no,
                                r.status,
                            )
                        })
                        .collect();
                    let doc = serde_json::to_string(&doc)
                        .map_err(|_| Error::Corrupt("staging document"))?;
                    sqlx::query(
                        "INSERT INTO stage_resident (atena, hash, ciphertext, family_kanji, given_kanji, family_kana, given_kana, birth_date, sex, ken_no, status) \
                         SELECT value->>0, unhex(value->>1), unhex(value->>2), value->>3, value->>4, value->>5, value->>6, value->>7, value->>8, value->>9, value->>10 \
                         FROM jsonb_each($1)",
                    )
                    .bind(doc)
                    .execute(&mut *tx)
                    .await?;
                }
                tracing::debug!(ms = t0.elapsed().as_millis() as u64, "targets staged");
                merge!(tx);
                if conflict.is_none() {
                    sqlx::query("DELETE FROM stage_resident")
                        .execute(&mut *tx)
                        .await?;
                    tx.commit().await?;
                    tracing::debug!(ms = t0.elapsed().as_millis() as u64, "targets committed");
                }
            }
            super::db::Db::Postgres(p) => {
                let mut tx = p.begin().await?;
                sqlx::query("CREATE TEMP TABLE stage_resident (atena TEXT PRIMARY KEY, hash BYTEA, ciphertext BYTEA, family_kanji TEXT, given_kanji TEXT, family_kana TEXT, given_kana TEXT, birth_date TEXT, sex TEXT, ken_no TEXT, status BIGINT) ON COMMIT DROP")
                    .execute(&mut *tx).await?;
                let mut copy = tx.copy_in_raw("COPY stage_resident (atena, hash, ciphertext, family_kanji, given_kanji, family_kana, given_kana, birth_date, sex, ken_no, status) FROM STDIN").await?;
                let mut buf = String::with_capacity(1 << 20);
                for &i in &order {
                    let r = &rows[i];
                    copy_text(&mut buf, &r.atena);
                    buf.push('\t');
                    copy_bytes(&mut buf, &r.hash);
                    buf.push('\t');
                    copy_bytes(&mut buf, &r.ciphertext);
                    for v in [
                        &r.family_kanji,
                        &r.given_kanji,
                        &r.family_kana,
                        &r.given_kana,
                        &r.birth_date,
                        &r.sex,
                        &r.ken_no,
                    ] {
                        buf.push('\t');
                        copy_text(&mut buf, v);
                    }
                    buf.push('\t');
                    buf.push_str(&r.status.to_string());
                    buf.push('\n');
                    if buf.len() > (1 << 20) {
                        copy.send(std::mem::take(&mut buf).into_bytes()).await?;
                    }
                }
                if !buf.is_empty() {
                    copy.send(buf.into_bytes()).await?;
                }
                copy.finish().await?;
                tracing::debug!(ms = t0.elapsed().as_millis() as u64, "targets staged");
                merge!(tx);
                tracing::debug!(ms = t0.elapsed().as_millis() as u64, "targets merged");
                if conflict.is_none() {
                    tx.commit().await?;
                }
                tracing::debug!(ms = t0.elapsed().as_millis() as u64, "targets committed");
            }
        }
        if let Some(atena) = conflict {
            return Err(Error::Row {
                line: lines.get(&atena).copied().unwrap_or(0),
                column: col(&TARGET_COLUMNS, 1),
                what: "this 個人番号 is already registered to another resident record".into(),
            });
        }
        let updated = updated as u64;
        Ok(ImportReport {
            rows: n,
            inserted: n - updated,
            updated,
        })
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

    fn parse_vaccinations(
        &self,
        text: &str,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<(Vec<VaccinationRow>, HashMap<String, u64>)> {
        let c = |i| col(&VACCINATION_COLUMNS, i);
        let today = crate::date::compact(crate::date::jst(self.now().0));
        let row = |line: u64, rec: &csv::StringRecord| -> Result<VaccinationRow> {
            let err = |i: usize, what: String| Error::Row {
                line,
                column: c(i),
                what,
            };
            let f = |i: usize| rec.get(i).unwrap_or("");
            let atena = AtenaNo::parse(f(0))
                .map_err(|_| err(0, "must be 1–20 ASCII letters or digits".into()))?;
            let dose: i64 = f(1)
                .parse()
                .ok()
                .filter(|d| (1..=10).contains(d) && !f(1).starts_with('0'))
                .ok_or_else(|| err(1, "must be a dose number from 1 to 10".into()))?;
            let date = if f(2).len() == 8 {
                BirthDate::parse(f(2)).ok()
            } else {
                None
            }
            .ok_or_else(|| err(2, "must be a real date as YYYYMMDD".into()))?;
            if date.compact().as_str() < "20210217" || date.compact() > today {
                return Err(err(
                    2,
                    "must lie between 2021-02-17 (the first dose in Japan) and today".into(),
                ));
            }
            let product = catalogue::product(f(3))
                .ok_or_else(|| err(3, "is not a product code of the vaccine catalogue".into()))?;
            let lot = f(4);
            if lot.is_empty()
                || lot.len() > 20
                || !lot.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            {
                return Err(err(4, "must be 1–20 ASCII letters, digits or '-'".into()));
            }
            let venue = text_field(f(5), 30, false).map_err(|w| err(5, w))?;
            let physician = text_field(f(6), 20, false).map_err(|w| err(6, w))?;
            let vaccinated_in = MunicipalityCode::parse(f(7))
                .map_err(|e| err(7, format!("is not a municipality code ({e})")))?;
            let coupon = CouponType::from_code(f(8)).map_err(|_| {
                err(
                    8,
                    "must be 1 (接種券), 2 (一体型予診票) or 3 (券なし)".into(),
                )
            })?;
            Ok(VaccinationRow {
                atena: atena.as_str().to_owned(),
                dose,
                date: date.iso(),
                product: product.code.to_owned(),
                lot: lot.to_owned(),
                venue,
                physician,
                vaccinated_in: vaccinated_in.as_str().to_owned(),
                coupon: coupon.code().to_owned(),
            })
        };
        let (checked, first_error) = check_rows(text, &VACCINATION_COLUMNS, progress, &row);
        // Repeats, in file order: they come before `first_error`, which ends the rows.
        let mut rows = Vec::with_capacity(checked.len());
        let mut first_line: HashMap<String, u64> = HashMap::new();
        let mut seen: HashMap<(String, i64), u64> = HashMap::new();
        for (line, r) in checked {
            if let Some(first) = seen.insert((r.atena.clone(), r.dose), line) {
                return Err(Error::Row {
                    line,
                    column: c(1),
                    what: format!("repeats dose {} of line {first}", r.dose),
                });
            }
            first_line.entry(r.atena.clone()).or_insert(line);
            rows.push(r);
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok((rows, first_line)),
        }
    }

    async fn import_vaccinations_inner(
        &self,
        bytes: &[u8],
        municipality: &MunicipalityCode,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<ImportReport> {
        self.municipality(municipality).await?;
        let text = decode(bytes)?;
        let (rows, lines) = self.parse_vaccinations(&text, progress)?;
        let code = municipality.as_str();
        let now = self.now().0;
        let n = rows.len() as u64;
        let missing: Option<String>;
        let updated: i64;
        macro_rules! merge {
            ($tx:expr) => {{
                missing = sqlx::query(
                    "SELECT s.atena FROM stage_vaccination s LEFT JOIN resident r ON r.municipality = $1 AND r.atena = s.atena \
                     WHERE r.atena IS NULL LIMIT 1")
                    .bind(code).fetch_optional(&mut *$tx).await?.map(|r| r.get(0));
                if missing.is_none() {
                    updated = sqlx::query(
                        "SELECT COUNT(*) FROM stage_vaccination s JOIN vaccination v ON v.municipality = $1 AND v.atena = s.atena AND v.dose = s.dose")
                        .bind(code).fetch_one(&mut *$tx).await?.get(0);
                    sqlx::query(
                        "INSERT INTO vaccination (municipality, atena, dose, date, product, lot, venue, physician, vaccinated_in, coupon, registered_at) \
                         SELECT $1, atena, dose, date, product, lot, venue, physician, vaccinated_in, coupon, $2 FROM stage_vaccination WHERE true ORDER BY atena, dose \
                         ON CONFLICT (municipality, atena, dose) DO UPDATE SET date = excluded.date, product = excluded.product, lot = excluded.lot, \
                         venue = excluded.venue, physician = excluded.physician, vaccinated_in = excluded.vaccinated_in, coupon = excluded.coupon, \
                         registered_at = excluded.registered_at")
                        .bind(code).bind(now).execute(&mut *$tx).await?;
                } else {
                    updated = 0;
                }
            }};
        }
        match &self.db {
            super::db::Db::Sqlite(p) => {
                let mut tx = p.begin_with("BEGIN IMMEDIATE").await?;
                sqlx::query("CREATE TEMP TABLE IF NOT EXISTS stage_vaccination (atena TEXT, dose INTEGER, date TEXT, product TEXT, lot TEXT, venue TEXT, physician TEXT, vaccinated_in TEXT, coupon TEXT)")
                    .execute(&mut *tx).await?;
                sqlx::query("DELETE FROM stage_vaccination")
                    .execute(&mut *tx)
                    .await?;
                for chunk in rows.chunks(BATCH) {
                    let mut qb = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
                        "INSERT INTO stage_vaccination (atena, dose, date, product, lot, venue, physician, vaccinated_in, coupon) ",
                    );
                    qb.push_values(chunk, |mut b, r| {
                        b.push_bind(&r.atena)
                            .push_bind(r.dose)
                            .push_bind(&r.date)
                            .push_bind(&r.product)
                            .push_bind(&r.lot)
                            .push_bind(&r.venue)
                            .push_bind(&r.physician)
                            .push_bind(&r.vaccinated_in)
                            .push_bind(&r.coupon);
                    });
                    qb.build().execute(&mut *tx).await?;
                }
                merge!(tx);
                if missing.is_none() {
                    sqlx::query("DELETE FROM stage_vaccination")
                        .execute(&mut *tx)
                        .await?;
                    tx.commit().await?;
                }
            }
            super::db::Db::Postgres(p) => {
                let mut tx = p.begin().await?;
                sqlx::query("CREATE TEMP TABLE stage_vaccination (atena TEXT, dose BIGINT, date TEXT, product TEXT, lot TEXT, venue TEXT, physician TEXT, vaccinated_in TEXT, coupon TEXT) ON COMMIT DROP")
                    .execute(&mut *tx).await?;
                let mut copy = tx.copy_in_raw("COPY stage_vaccination (atena, dose, date, product, lot, venue, physician, vaccinated_in, coupon) FROM STDIN").await?;
                let mut buf = String::with_capacity(1 << 20);
                for r in &rows {
                    copy_text(&mut buf, &r.atena);
                    buf.push('\t');
                    buf.push_str(&r.dose.to_string());
                    for v in [
                        &r.date,
                        &r.product,
                        &r.lot,
                        &r.venue,
                        &r.physician,
                        &r.vaccinated_in,
                        &r.coupon,
                    ] {
                        buf.push('\t');
                        copy_text(&mut buf, v);
                    }
                    buf.push('\n');
                    if buf.len() > (1 << 20) {
                        copy.send(std::mem::take(&mut buf).into_bytes()).await?;
                    }
                }
                if !buf.is_empty() {
                    copy.send(buf.into_bytes()).await?;
                }
                copy.finish().await?;
                merge!(tx);
                if missing.is_none() {
                    tx.commit().await?;
                }
            }
        }
        if let Some(atena) = missing {
            return Err(Error::Row {
                line: lines.get(&atena).copied().unwrap_or(0),
                column: col(&VACCINATION_COLUMNS, 0),
                what:
                    "no resident with this 宛名番号 in the municipality (import the targets first)"
                        .into(),
            });
        }
        let updated = updated as u64;
        Ok(ImportReport {
            rows: n,
            inserted: n - updated,
            updated,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shift_jis_and_bom_decode() {
        let (sjis, _, _) = encoding_rs::SHIFT_JIS.encode("宛名番号,山田");
        assert_eq!(decode(&sjis).unwrap(), "宛名番号,山田");
        assert_eq!(decode("\u{FEFF}abc".as_bytes()).unwrap(), "abc");
        assert!(matches!(decode(&[0x82, 0xFF, 0xFF]), Err(Error::Encoding)));
    }

    const TWO: [&str; 2] = ["a", "b"];

    #[test]
    fn pieces_end_at_record_boundaries_and_know_their_lines() {
        let text = "a,b\n1,\"x\ny\"\n2,z\n3,w\n4,v\n";
        for parts in 1..=8 {
            let pieces = split_records(text, parts);
            assert_eq!(pieces.iter().map(|p| p.0).collect::<String>(), text);
            let mut offset = 0;
            for (piece, lines_before) in &pieces {
                assert_eq!(text[..offset].matches('\n').count() as u64, *lines_before);
                offset += piece.len();
                // The quoted newline is never a cut.
                assert!(!piece.starts_with("y\""), "{pieces:?}");
            }
        }
    }

    #[test]
    fn rows_keep_file_order_and_lines_and_stop_at_the_first_error() {
        let mut text = String::from("a,b\n");
        for i in 1..=50_000 {
            text.push_str(&format!("{i},\"q\nq\"\n"));
        }
        let row = |_: u64, r: &csv::StringRecord| -> Result<u64> {
            r.get(0).and_then(|v| v.parse().ok()).ok_or(Error::Line {
                line: 0,
                what: "bad".into(),
            })
        };
        let (rows, err) = check_rows(&text, &TWO, &|_| {}, &row);
        assert!(err.is_none());
        assert_eq!(rows.len(), 50_000);
        for (k, (line, v)) in rows.iter().enumerate() {
            assert_eq!(*v, k as u64 + 1);
            // The header is line 1 and every record spans two lines.
            assert_eq!(*line, 2 + 2 * k as u64);
        }
        // Errors near the end and near the start: the first one in the file wins.
        let bad = text.replace("49000,", "x,").replace("\n7,", "\n,");
        let (rows, err) = check_rows(&bad, &TWO, &|_| {}, &row);
        assert_eq!(rows.len(), 6);
        assert!(matches!(err, Some(Error::Line { .. })));
    }
}
