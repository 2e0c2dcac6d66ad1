//! The audit log: append-only, one writer at a time, each entry hash-chained to the previous
//! one; the head is signed (P-256) into a checkpoint every N entries and at shutdown, so a
//! cut-off tail is detected. Entries hold time, actor, municipality, action, subject 宛名番号
//! and outcome — never a MyNumber, a PIN, a password or card bytes.

use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::Row;

use super::error::{Error, Result};
use super::{Records, with_db};
use crate::domain::MunicipalityCode;

/// One audit entry, before it is chained.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    /// Who: `staff:CODE/LOGIN`, `kiosk`, `app`, `counter`, `cli`.
    pub actor: String,
    /// Whose data.
    pub municipality: String,
    /// What: `login`, `search`, `view`, `lookup`, `issuance`, `import-targets`, …
    pub action: String,
    /// The 宛名番号 concerned, if one.
    pub subject: Option<String>,
    /// `ok` or an error code.
    pub outcome: String,
}

impl AuditEntry {
    /// An entry with the given actor, municipality, action, subject and outcome.
    pub fn system(
        actor: &str,
        municipality: &MunicipalityCode,
        action: &str,
        subject: Option<&str>,
        outcome: &str,
    ) -> Self {
        AuditEntry {
            actor: actor.to_owned(),
            municipality: municipality.as_str().to_owned(),
            action: action.to_owned(),
            subject: subject.map(str::to_owned),
            outcome: outcome.to_owned(),
        }
    }
}

/// One chained entry as an auditor reads it back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LoggedEntry {
    /// Position in the chain.
    pub seq: i64,
    /// When, Unix seconds.
    pub at: i64,
    /// Who.
    pub actor: String,
    /// What.
    pub action: String,
    /// The 宛名番号 (or certificate) concerned, if one.
    pub subject: Option<String>,
    /// `ok`, an error code or a reason.
    pub outcome: String,
}

/// What an auditor searches for; empty fields match everything.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    /// Exactly this action.
    pub action: Option<String>,
    /// Exactly this subject.
    pub subject: Option<String>,
}

/// What `vaxcert records audit verify` found on an intact log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditReport {
    /// Entries checked.
    pub entries: i64,
    /// Signed checkpoints checked.
    pub checkpoints: i64,
    /// The highest signed checkpoint.
    pub last_checkpoint: i64,
    /// Entries after the last checkpoint (not yet sealed; a clean shutdown leaves none).
    pub unsealed: i64,
}

fn part(h: &mut Sha256, s: &str) {
    h.update((s.len() as u32).to_be_bytes());
    h.update(s.as_bytes());
}

pub(in crate::records) fn entry_hash(prev: &[u8], seq: i64, at: i64, e: &AuditEntry) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update(b"vaxcert audit v1\0");
    h.update(prev);
    h.update(seq.to_be_bytes());
    h.update(at.to_be_bytes());
    part(&mut h, &e.actor);
    part(&mut h, &e.municipality);
    part(&mut h, &e.action);
    match &e.subject {
        Some(s) => {
            h.update([1]);
            part(&mut h, s);
        }
        None => h.update([0]),
    }
    part(&mut h, &e.outcome);
    h.finalize().to_vec()
}

pub(in crate::records) fn checkpoint_message(seq: i64, hash: &[u8], at: i64) -> Vec<u8> {
    let mut m = b"vaxcert audit checkpoint v1\0".to_vec();
    m.extend_from_slice(&seq.to_be_bytes());
    m.extend_from_slice(hash);
    m.extend_from_slice(&at.to_be_bytes());
    m
}

/// One entry as stored: its place, time, content and the two hashes.
pub(in crate::records) struct Stored {
    pub(in crate::records) seq: i64,
    pub(in crate::records) at: i64,
    pub(in crate::records) entry: AuditEntry,
    pub(in crate::records) prev_hash: Vec<u8>,
    pub(in crate::records) hash: Vec<u8>,
}

/// A signed checkpoint: entry, its hash, when, the signature.
pub(in crate::records) type Checkpoint = (i64, Vec<u8>, i64, Vec<u8>);

pub(in crate::records) const GENESIS: [u8; 32] = [0; 32];

/// Write one entry at `link` (PostgreSQL, inside the append transaction).
async fn insert_entry(
    conn: &mut sqlx::PgConnection,
    link: &Link,
    at: i64,
    e: &AuditEntry,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO audit_log (seq, at, actor, municipality, action, subject, outcome, prev_hash, hash) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)")
        .bind(link.seq).bind(at).bind(&e.actor).bind(&e.municipality).bind(&e.action)
        .bind(&e.subject).bind(&e.outcome).bind(&link.prev_hash).bind(&link.hash)
        .execute(conn).await?;
    Ok(())
}

/// A position in the chain, taken but maybe not yet written.
#[derive(Debug)]
pub(in crate::records) struct Link {
    /// The entry's sequence number.
    pub(in crate::records) seq: i64,
    /// The previous entry's hash.
    pub(in crate::records) prev_hash: Vec<u8>,
    /// This entry's hash.
    pub(in crate::records) hash: Vec<u8>,
}

/// The PostgreSQL advisory lock that serialises audit appends across every records replica:
/// held for one transaction, so a replica that dies mid-append releases it with its session.
const AUDIT_LOCK: i64 = 0x7661_7863_6175_6474;

impl Records {
    /// Append one entry (serialised: one writer at a time, no forks).
    ///
    /// # Errors
    /// Database errors.
    pub async fn audit(&self, e: &AuditEntry) -> Result<i64> {
        // One writer per process (this lock, which for SQLite also caches the head).
        let mut head = self.audit_head.lock().await;
        let at = self.now().0;
        if let super::db::Db::Postgres(p) = &self.db {
            let mut tx = p.begin().await?;
            let link = self.pg_link(&mut tx, at, e).await?;
            insert_entry(&mut tx, &link, at, e).await?;
            let sealed = self.pg_seal(&mut tx, &link).await?;
            tx.commit().await?;
            self.copy_sealed(sealed)?;
            return Ok(link.seq);
        }
        // SQLite has one process: `seq` is the primary key, so a writer whose head went stale
        // (another tool wrote in between) loses the insert, reloads and links to the real head.
        for _ in 0..8 {
            let link = self.next_link(&mut head, at, e).await?;
            let inserted = with_db!(&self.db, p => sqlx::query(
                "INSERT INTO audit_log (seq, at, actor, municipality, action, subject, outcome, prev_hash, hash) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (seq) DO NOTHING")
                .bind(link.seq).bind(at).bind(&e.actor).bind(&e.municipality).bind(&e.action)
                .bind(&e.subject).bind(&e.outcome).bind(&link.prev_hash).bind(&link.hash)
                .execute(p).await.map(|r| r.rows_affected()))?;
            if inserted == 0 {
                continue;
            }
            let seq = link.seq;
            self.linked(&mut head, link).await?;
            return Ok(seq);
        }
        Err(Error::AuditBroken {
            seq: 0,
            what: "could not append: other writers kept winning",
        })
    }

    /// PostgreSQL: take the append lock inside `tx` and link to the head every replica sees.
    /// The caller writes the entry in `tx` (alone, or in the statement that makes the change it
    /// audits), then calls [`Records::pg_seal`] and commits: one chain, no fork, no gap.
    pub(in crate::records) async fn pg_link(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
        at: i64,
        e: &AuditEntry,
    ) -> Result<Link> {
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(AUDIT_LOCK)
            .execute(&mut **tx)
            .await?;
        let (prev_seq, prev_hash) =
            sqlx::query("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
                .fetch_optional(&mut **tx)
                .await?
                .map(|r| (r.get::<i64, _>(0), r.get::<Vec<u8>, _>(1)))
                .unwrap_or((0, GENESIS.to_vec()));
        let seq = prev_seq + 1;
        let hash = entry_hash(&prev_hash, seq, at, e);
        Ok(Link {
            seq,
            prev_hash,
            hash,
        })
    }

    /// PostgreSQL: the entry of `link` is written in `tx`; sign a checkpoint over it when due,
    /// in the same transaction. Returns the checkpoint to copy outside the database once `tx`
    /// has committed ([`Records::copy_sealed`]), so the copy never holds one that was rolled
    /// back.
    pub(in crate::records) async fn pg_seal(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
        link: &Link,
    ) -> Result<Option<Checkpoint>> {
        if link.seq % self.checkpoint_every != 0 {
            return Ok(None);
        }
        let at = self.now().0;
        let sig = self
            .keys
            .sign_checkpoint(&checkpoint_message(link.seq, &link.hash, at));
        let n = sqlx::query("INSERT INTO audit_checkpoint (seq, hash, at, signature) VALUES ($1, $2, $3, $4) ON CONFLICT (seq) DO NOTHING")
            .bind(link.seq).bind(&link.hash).bind(at).bind(&sig).execute(&mut **tx).await?.rows_affected();
        Ok((n == 1).then(|| (link.seq, link.hash.clone(), at, sig)))
    }

    /// Copy a committed checkpoint outside the database (see [`Records::pg_seal`]).
    pub(in crate::records) fn copy_sealed(&self, sealed: Option<Checkpoint>) -> Result<()> {
        match sealed {
            Some((seq, hash, at, sig)) => self.copy_checkpoint(seq, &hash, at, &sig),
            None => Ok(()),
        }
    }

    /// The link the next entry takes, under the append lock (`head`, loaded when unknown). The
    /// caller writes the entry, alone or in the statement that makes the change it audits,
    /// then hands the link to [`Records::linked`]; if the write lost to another writer, it
    /// leaves `head` empty and asks again.
    pub(in crate::records) async fn next_link(
        &self,
        head: &mut Option<(i64, Vec<u8>)>,
        at: i64,
        e: &AuditEntry,
    ) -> Result<Link> {
        let (prev_seq, prev_hash) = match head.take() {
            Some(h) => h,
            None => with_db!(&self.db, p => sqlx::query("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
                .fetch_optional(p).await
                .map(|r| r.map(|r| (r.get::<i64, _>(0), r.get::<Vec<u8>, _>(1)))))?
                .unwrap_or((0, GENESIS.to_vec())),
        };
        let seq = prev_seq + 1;
        let hash = entry_hash(&prev_hash, seq, at, e);
        Ok(Link {
            seq,
            prev_hash,
            hash,
        })
    }

    /// The entry of `link` is written: it becomes the head, sealed into a checkpoint when due.
    pub(in crate::records) async fn linked(
        &self,
        head: &mut Option<(i64, Vec<u8>)>,
        link: Link,
    ) -> Result<()> {
        if link.seq % self.checkpoint_every == 0 {
            let at = self.now().0;
            let sig = self
                .keys
                .sign_checkpoint(&checkpoint_message(link.seq, &link.hash, at));
            let n = with_db!(&self.db, p => sqlx::query("INSERT INTO audit_checkpoint (seq, hash, at, signature) VALUES ($1, $2, $3, $4) ON CONFLICT (seq) DO NOTHING")
                .bind(link.seq).bind(&link.hash).bind(at).bind(&sig).execute(p).await.map(|r| r.rows_affected()))?;
            if n == 1 {
                self.copy_checkpoint(link.seq, &link.hash, at, &sig)?;
            }
        }
        *head = Some((link.seq, link.hash));
        Ok(())
    }

    /// Seal the current head into a signed checkpoint (done at shutdown by [`Records::close`]).
    ///
    /// # Errors
    /// Database errors.
    pub async fn checkpoint_head(&self) -> Result<()> {
        let _guard = self.audit_head.lock().await;
        let at = self.now().0;
        with_db!(&self.db, p => {
            let head = sqlx::query("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
                .fetch_optional(p).await?
                .map(|r| (r.get::<i64, _>(0), r.get::<Vec<u8>, _>(1)));
            if let Some((seq, hash)) = head {
                let sig = self.keys.sign_checkpoint(&checkpoint_message(seq, &hash, at));
                let n = sqlx::query("INSERT INTO audit_checkpoint (seq, hash, at, signature) VALUES ($1, $2, $3, $4) ON CONFLICT (seq) DO NOTHING")
                    .bind(seq).bind(&hash).bind(at).bind(&sig).execute(p).await?.rows_affected();
                if n == 1 {
                    self.copy_checkpoint(seq, &hash, at, &sig)?;
                }
            }
        });
        Ok(())
    }

    /// Append a signed checkpoint to the copy outside the database, when one is configured.
    fn copy_checkpoint(&self, seq: i64, hash: &[u8], at: i64, sig: &[u8]) -> Result<()> {
        use std::io::Write;
        let Some(path) = &self.checkpoint_copy else {
            return Ok(());
        };
        let io = |source| Error::Io {
            path: path.display().to_string(),
            source,
        };
        let line = serde_json::json!({
            "seq": seq, "hash": hex::encode(hash), "at": at, "signature": hex::encode(sig),
        });
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(io)?;
        writeln!(f, "{line}").map_err(io)?;
        f.sync_data().map_err(io)
    }

    /// Check the whole live log: every link, every checkpoint signature, that no signed
    /// checkpoint lies beyond the last entry, and, when entries were archived, that the live
    /// log starts at the signed checkpoint that sealed the archive. With a checkpoint copy
    /// configured, every checkpoint in it must also be in the database and match.
    ///
    /// # Errors
    /// [`Error::AuditBroken`] naming the first broken entry, [`Error::AuditTruncated`] when the
    /// tail was cut off.
    pub async fn verify_audit(&self) -> Result<AuditReport> {
        self.verify_live(None).await
    }

    /// The live log (see [`Records::verify_audit`]) after the archived entries before it:
    /// `archived` is where the archive's verified chain ends (its last entry and hash), and the
    /// live log must continue from exactly there.
    pub(in crate::records) async fn verify_live(
        &self,
        archived: Option<(i64, Vec<u8>)>,
    ) -> Result<AuditReport> {
        let rows = self.stored_entries(None).await?;
        let cps: Vec<Checkpoint> = with_db!(&self.db, p => sqlx::query(
            "SELECT seq, hash, at, signature FROM audit_checkpoint ORDER BY seq")
            .fetch_all(p).await
            .map(|rows| rows.iter().map(|r| (r.get(0), r.get(1), r.get(2), r.get(3))).collect()))?;
        // Archived entries end at a signed checkpoint; the live log starts right after it.
        let first = rows.first().map_or(1, |r| r.seq);
        let mut prev =
            if first > 1 {
                let anchor = cps.iter().find(|c| c.0 == first - 1).ok_or(Error::AuditBroken {
                seq: first - 1,
                what: "entries before the live log were removed without a signed checkpoint",
            })?;
                if archived
                    .as_ref()
                    .is_some_and(|(s, h)| *s != anchor.0 || *h != anchor.1)
                {
                    return Err(Error::AuditBroken {
                        seq: first,
                        what: "the archive does not end where the live log starts",
                    });
                }
                anchor.1.clone()
            } else {
                if archived.as_ref().is_some_and(|(s, _)| *s > 0) && !rows.is_empty() {
                    return Err(Error::AuditBroken {
                        seq: 1,
                        what: "archived entries are still in the live log",
                    });
                }
                GENESIS.to_vec()
            };
        let mut hashes = std::collections::HashMap::new();
        for (
            i,
            Stored {
                seq,
                at,
                entry,
                prev_hash,
                hash,
            },
        ) in rows.iter().enumerate()
        {
            let expected_seq = first + i as i64;
            if *seq != expected_seq {
                return Err(Error::AuditBroken {
                    seq: expected_seq,
                    what: "entry missing",
                });
            }
            if *prev_hash != prev {
                return Err(Error::AuditBroken {
                    seq: *seq,
                    what: "does not link to the previous entry",
                });
            }
            if entry_hash(prev_hash, *seq, *at, entry) != *hash {
                return Err(Error::AuditBroken {
                    seq: *seq,
                    what: "content does not match its hash (altered)",
                });
            }
            hashes.insert(*seq, hash.clone());
            prev = hash.clone();
        }
        let last = first - 1 + rows.len() as i64;
        let mut last_cp = 0;
        let check = |seq: i64, hash: &[u8], at: i64, sig: &[u8]| -> Result<()> {
            if !self
                .keys
                .verify_checkpoint(&checkpoint_message(seq, hash, at), sig)
            {
                return Err(Error::AuditBroken {
                    seq,
                    what: "checkpoint signature does not verify",
                });
            }
            if seq > last {
                return Err(Error::AuditTruncated {
                    last,
                    checkpoint: seq,
                });
            }
            // Checkpoints over archived entries are checked against the archive.
            if seq >= first && hashes.get(&seq).map(Vec::as_slice) != Some(hash) {
                return Err(Error::AuditBroken {
                    seq,
                    what: "does not match its signed checkpoint",
                });
            }
            Ok(())
        };
        for (seq, hash, at, sig) in &cps {
            check(*seq, hash, *at, sig)?;
            last_cp = last_cp.max(*seq);
        }
        for (seq, hash, at, sig) in self.copied_checkpoints()? {
            check(seq, &hash, at, &sig)?;
            if !cps.iter().any(|c| c.0 == seq && c.1 == hash) {
                return Err(Error::AuditBroken {
                    seq,
                    what: "checkpoint missing from the database (its copy outside has it)",
                });
            }
        }
        Ok(AuditReport {
            entries: last,
            checkpoints: cps.len() as i64,
            last_checkpoint: last_cp,
            unsealed: last - last_cp,
        })
    }

    /// The stored entries in order, all or up to `upto`.
    pub(in crate::records) async fn stored_entries(
        &self,
        upto: Option<i64>,
    ) -> Result<Vec<Stored>> {
        Ok(with_db!(&self.db, p => sqlx::query(
            "SELECT seq, at, actor, municipality, action, subject, outcome, prev_hash, hash FROM audit_log \
             WHERE ($1 IS NULL OR seq <= $1) ORDER BY seq")
            .bind(upto).fetch_all(p).await
            .map(|rows| rows.iter().map(|r| Stored {
                seq: r.get(0), at: r.get(1),
                entry: AuditEntry { actor: r.get(2), municipality: r.get(3), action: r.get(4), subject: r.get(5), outcome: r.get(6) },
                prev_hash: r.get(7), hash: r.get(8),
            }).collect()))?)
    }

    /// The checkpoints in the copy outside the database (none when not configured or not yet
    /// written).
    fn copied_checkpoints(&self) -> Result<Vec<Checkpoint>> {
        let Some(path) = &self.checkpoint_copy else {
            return Ok(Vec::new());
        };
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => {
                return Err(Error::Io {
                    path: path.display().to_string(),
                    source,
                });
            }
        };
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                let v: serde_json::Value =
                    serde_json::from_str(l).map_err(|_| Error::Corrupt("checkpoint copy line"))?;
                let hexed = |k: &str| {
                    v[k].as_str()
                        .and_then(|s| hex::decode(s).ok())
                        .ok_or(Error::Corrupt("checkpoint copy field"))
                };
                let int = |k: &str| v[k].as_i64().ok_or(Error::Corrupt("checkpoint copy field"));
                Ok((int("seq")?, hexed("hash")?, int("at")?, hexed("signature")?))
            })
            .collect()
    }

    /// The newest `limit` entries about `municipality` that match `q`, newest first: what the
    /// counter's auditor page shows and exports. Entries never hold a MyNumber.
    ///
    /// # Errors
    /// Database errors.
    pub async fn search_audit(
        &self,
        municipality: &MunicipalityCode,
        q: &AuditQuery,
        limit: i64,
    ) -> Result<Vec<LoggedEntry>> {
        Ok(with_db!(&self.db, p => sqlx::query(
            "SELECT seq, at, actor, action, subject, outcome FROM audit_log WHERE municipality = $1 \
             AND ($2 IS NULL OR action = $2) AND ($3 IS NULL OR subject = $3) \
             ORDER BY seq DESC LIMIT $4")
            .bind(municipality.as_str()).bind(&q.action).bind(&q.subject).bind(limit)
            .fetch_all(p).await
            .map(|rows| rows.iter().map(|r| LoggedEntry {
                seq: r.get(0), at: r.get(1), actor: r.get(2), action: r.get(3),
                subject: r.get(4), outcome: r.get(5),
            }).collect()))?)
    }

    /// The newest entries, for tests and the auditor's screen.
    ///
    /// # Errors
    /// Database errors.
    pub async fn audit_tail(&self, n: i64) -> Result<Vec<AuditEntry>> {
        let mut v: Vec<AuditEntry> = with_db!(&self.db, p => sqlx::query(
            "SELECT actor, municipality, action, subject, outcome FROM audit_log ORDER BY seq DESC LIMIT $1")
            .bind(n).fetch_all(p).await
            .map(|rows| rows.iter().map(|r| AuditEntry { actor: r.get(0), municipality: r.get(1), action: r.get(2), subject: r.get(3), outcome: r.get(4) }).collect()))?;
        v.reverse();
        Ok(v)
    }
}
