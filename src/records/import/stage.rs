//! Writing a checked file in one transaction: rows staged in 宛名番号 order (JSON documents
//! unpacked by `jsonb_each` on SQLite, COPY on PostgreSQL) and merged with one
//! `INSERT … SELECT … ON CONFLICT` per table.

use sqlx::Row;

use super::parse::{col, decode};
use super::{ImportReport, TARGET_COLUMNS, VACCINATION_COLUMNS};
use crate::domain::MunicipalityCode;
use crate::records::Records;
use crate::records::error::{Error, Result};

const BATCH: usize = 400;
const JSON_BATCH: usize = 10_000;

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
    pub(super) async fn import_targets_inner(
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
                        "INSERT INTO resident (municipality, atena, family_kanji, given_kanji, family_kana, given_kana, birth_date, sex, ken_no, status, updated_at, alias) \
                         SELECT $1, atena, family_kanji, given_kanji, family_kana, given_kana, birth_date, sex, ken_no, status, $2, alias FROM stage_resident WHERE true \
                         ON CONFLICT (municipality, atena) DO UPDATE SET family_kanji = excluded.family_kanji, given_kanji = excluded.given_kanji, \
                         family_kana = excluded.family_kana, given_kana = excluded.given_kana, birth_date = excluded.birth_date, sex = excluded.sex, \
                         ken_no = excluded.ken_no, status = excluded.status, updated_at = excluded.updated_at, \
                         alias = CASE WHEN excluded.alias IS NULL THEN resident.alias ELSE excluded.alias END")
                        .bind(code).bind(self.now().0).execute(&mut *$tx).await?;
                    tracing::debug!(ms = t0.elapsed().as_millis() as u64, "residents merged");
                    if updated > 0 {
                        sqlx::query("DELETE FROM resident_mynumber WHERE municipality = $1 AND atena IN (SELECT atena FROM stage_resident)")
                            .bind(code).execute(&mut *$tx).await?;
                    }
                    if moves {
                        // The former municipality keeps the hash (never the number) to answer a
                        // 転入照会 about the resident who moved out.
                        sqlx::query("INSERT INTO former_mynumber (municipality, atena, hash) SELECT municipality, atena, hash FROM resident_mynumber \
                                     WHERE municipality <> $1 AND hash IN (SELECT hash FROM stage_resident) ON CONFLICT (municipality, atena) DO UPDATE SET hash = excluded.hash")
                            .bind(code).execute(&mut *$tx).await?;
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
            crate::records::db::Db::Sqlite(p, ..) => {
                let mut tx = p.begin_with("BEGIN IMMEDIATE").await?;
                // No key on the stage: 宛名番号 are unique already (checked in Rust), and rows
                // arrive sorted by 宛名番号, the order the merge wants.
                sqlx::query("CREATE TEMP TABLE IF NOT EXISTS stage_resident (atena TEXT, hash BLOB, ciphertext BLOB, family_kanji TEXT, given_kanji TEXT, family_kana TEXT, given_kana TEXT, birth_date TEXT, sex TEXT, ken_no TEXT, status INTEGER, alias TEXT)")
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
                                &r.alias,
                            )
                        })
                        .collect();
                    let doc = serde_json::to_string(&doc)
                        .map_err(|_| Error::Corrupt("staging document"))?;
                    sqlx::query(
                        "INSERT INTO stage_resident (atena, hash, ciphertext, family_kanji, given_kanji, family_kana, given_kana, birth_date, sex, ken_no, status, alias) \
                         SELECT value->>0, unhex(value->>1), unhex(value->>2), value->>3, value->>4, value->>5, value->>6, value->>7, value->>8, value->>9, value->>10, value->>11 \
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
            crate::records::db::Db::Postgres(p) => {
                let mut tx = p.begin().await?;
                sqlx::query("CREATE TEMP TABLE stage_resident (atena TEXT PRIMARY KEY, hash BYTEA, ciphertext BYTEA, family_kanji TEXT, given_kanji TEXT, family_kana TEXT, given_kana TEXT, birth_date TEXT, sex TEXT, ken_no TEXT, status BIGINT, alias TEXT) ON COMMIT DROP")
                    .execute(&mut *tx).await?;
                let mut copy = tx.copy_in_raw("COPY stage_resident (atena, hash, ciphertext, family_kanji, given_kanji, family_kana, given_kana, birth_date, sex, ken_no, status, alias) FROM STDIN").await?;
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
                    buf.push('\t');
                    match &r.alias {
                        Some(a) => copy_text(&mut buf, a),
                        None => buf.push_str("\\N"),
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

    pub(super) async fn import_vaccinations_inner(
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
            crate::records::db::Db::Sqlite(p, ..) => {
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
            crate::records::db::Db::Postgres(p) => {
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
