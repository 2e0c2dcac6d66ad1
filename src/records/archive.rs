//! Aged audit entries leave the database for CSV files, each sealed by the signed checkpoint
//! that covers its last entry; `audit verify --archive DIR` checks the files' chain from the
//! first entry and that the live log continues from exactly where they end. The log is one
//! chain for every municipality, so archiving is deployment-wide: it always ends at a signed
//! checkpoint, never at the newest entry, and the entries never hold a MyNumber.

use std::path::{Path, PathBuf};

use serde::Serialize;
use sqlx::Row;

use super::audit::{AuditEntry, AuditReport, GENESIS, checkpoint_message, entry_hash};
use super::error::{Error, Result};
use super::{Records, with_db};

/// The CSV header of an archive file.
const HEADER: [&str; 10] = [
    "seq",
    "at",
    "actor",
    "municipality",
    "action",
    "has_subject",
    "subject",
    "outcome",
    "prev_hash",
    "hash",
];

/// One archive file written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Archived {
    /// The file (its signed checkpoint beside it, `.checkpoint.json`).
    pub file: PathBuf,
    /// The first and last entry it holds.
    pub first: i64,
    /// The last entry: a signed checkpoint.
    pub last: i64,
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.display().to_string(),
        source,
    }
}

fn csv_err(path: &Path) -> impl Fn(csv::Error) -> Error + '_ {
    move |e| Error::Io {
        path: path.display().to_string(),
        source: std::io::Error::other(e.to_string()),
    }
}

impl Records {
    /// Move every entry older than `before` (Unix seconds), up to the newest signed checkpoint
    /// among them and never the newest entry, into a CSV file in `dir`; audited as
    /// `audit-archive`. `None` when nothing is old enough.
    ///
    /// # Errors
    /// Database and file errors; nothing is deleted unless the file is written and synced.
    pub async fn archive_audit(&self, before: i64, dir: &Path) -> Result<Option<Archived>> {
        let cp: Option<(i64, Vec<u8>, i64, Vec<u8>)> = with_db!(&self.db, p => sqlx::query(
            "SELECT c.seq, c.hash, c.at, c.signature FROM audit_checkpoint c JOIN audit_log l ON l.seq = c.seq \
             WHERE l.at < $1 AND c.seq < (SELECT MAX(seq) FROM audit_log) ORDER BY c.seq DESC LIMIT 1")
            .bind(before).fetch_optional(p).await
            .map(|r| r.map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))))?;
        let Some((upto, hash, at, sig)) = cp else {
            return Ok(None);
        };
        let rows = self.stored_entries(Some(upto)).await?;
        let Some(first) = rows.first().map(|r| r.seq) else {
            return Ok(None);
        };
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let file = dir.join(format!("audit-{first:012}-{upto:012}.csv"));
        let mut w = csv::Writer::from_path(&file).map_err(csv_err(&file))?;
        w.write_record(HEADER).map_err(csv_err(&file))?;
        for r in &rows {
            let e = &r.entry;
            w.write_record([
                r.seq.to_string().as_str(),
                &r.at.to_string(),
                &e.actor,
                &e.municipality,
                &e.action,
                if e.subject.is_some() { "1" } else { "0" },
                e.subject.as_deref().unwrap_or(""),
                &e.outcome,
                &hex::encode(&r.prev_hash),
                &hex::encode(&r.hash),
            ])
            .map_err(csv_err(&file))?;
        }
        w.flush().map_err(io(&file))?;
        drop(w);
        let seal = checkpoint_path(&file);
        let json = serde_json::json!({
            "seq": upto, "hash": hex::encode(&hash), "at": at, "signature": hex::encode(&sig),
        });
        std::fs::write(&seal, format!("{json}\n")).map_err(io(&seal))?;
        for f in [&file, &seal] {
            std::fs::File::open(f)
                .and_then(|f| f.sync_all())
                .map_err(io(f))?;
        }
        with_db!(&self.db, p => sqlx::query("DELETE FROM audit_log WHERE seq <= $1")
            .bind(upto).execute(p).await.map(|r| r.rows_affected()))?;
        self.audit(&AuditEntry {
            actor: "retention".to_owned(),
            municipality: "*".to_owned(),
            action: "audit-archive".to_owned(),
            subject: None,
            outcome: format!(
                "ok entries={first}-{upto} file={}",
                file.file_name().unwrap_or_default().to_string_lossy()
            ),
        })
        .await?;
        Ok(Some(Archived {
            file,
            first,
            last: upto,
        }))
    }

    /// Verify the archive files in `dir` from the first entry, then the live log from where
    /// they end.
    ///
    /// # Errors
    /// [`Error::AuditBroken`] naming the first broken entry (in a file or live),
    /// [`Error::AuditTruncated`].
    pub async fn verify_audit_with_archive(&self, dir: &Path) -> Result<AuditReport> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(io(dir))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.extension().is_some_and(|x| x == "csv")
                    && p.file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with("audit-"))
            })
            .collect();
        files.sort();
        let mut prev = GENESIS.to_vec();
        let mut last = 0i64;
        for file in &files {
            let mut r = csv::Reader::from_path(file).map_err(csv_err(file))?;
            for rec in r.records() {
                let rec = rec.map_err(csv_err(file))?;
                let broken = |seq: i64, what: &'static str| Error::AuditBroken { seq, what };
                let f = |i: usize| rec.get(i).unwrap_or("");
                let seq: i64 = f(0)
                    .parse()
                    .map_err(|_| broken(last + 1, "archive row unreadable"))?;
                if seq != last + 1 {
                    return Err(broken(last + 1, "entry missing from the archive"));
                }
                let at: i64 = f(1)
                    .parse()
                    .map_err(|_| broken(seq, "archive row unreadable"))?;
                let e = AuditEntry {
                    actor: f(2).to_owned(),
                    municipality: f(3).to_owned(),
                    action: f(4).to_owned(),
                    subject: (f(5) == "1").then(|| f(6).to_owned()),
                    outcome: f(7).to_owned(),
                };
                let prev_hash =
                    hex::decode(f(8)).map_err(|_| broken(seq, "archive row unreadable"))?;
                let hash = hex::decode(f(9)).map_err(|_| broken(seq, "archive row unreadable"))?;
                if prev_hash != prev {
                    return Err(broken(seq, "does not link to the previous entry"));
                }
                if entry_hash(&prev_hash, seq, at, &e) != hash {
                    return Err(broken(seq, "content does not match its hash (altered)"));
                }
                prev = hash;
                last = seq;
            }
            // Each file ends at the signed checkpoint beside it.
            let seal = checkpoint_path(file);
            let text = std::fs::read_to_string(&seal).map_err(io(&seal))?;
            let v: serde_json::Value =
                serde_json::from_str(&text).map_err(|_| Error::Corrupt("archive checkpoint"))?;
            let seq = v["seq"].as_i64();
            let at = v["at"].as_i64();
            let hash = v["hash"].as_str().and_then(|h| hex::decode(h).ok());
            let sig = v["signature"].as_str().and_then(|h| hex::decode(h).ok());
            let (Some(seq), Some(at), Some(hash), Some(sig)) = (seq, at, hash, sig) else {
                return Err(Error::Corrupt("archive checkpoint"));
            };
            if seq != last
                || hash != prev
                || !self
                    .keys
                    .verify_checkpoint(&checkpoint_message(seq, &hash, at), &sig)
            {
                return Err(Error::AuditBroken {
                    seq: last,
                    what: "archive file does not end at its signed checkpoint",
                });
            }
        }
        let live = self.verify_live(Some((last, prev))).await?;
        Ok(live)
    }
}

fn checkpoint_path(file: &Path) -> PathBuf {
    file.with_extension("checkpoint.json")
}
