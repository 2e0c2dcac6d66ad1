//! Statistics without personal data (the state sees counts only): issuances per municipality,
//! channel, kind and day (JST), and revocations per the same cells. Every query here is an
//! aggregate (`GROUP BY`, `COUNT`): none returns a row about a person, and a cell counting fewer
//! than the threshold (default 10) is suppressed, so a small municipality's single issuance on a
//! quiet day cannot be picked out.

use serde::Serialize;
use sqlx::Row;

use super::audit::AuditEntry;
use super::error::{Error, Result};
use super::model::Role;
use super::staff::StaffSession;
use super::{Records, with_db};
use crate::domain::MunicipalityCode;

/// The default suppression threshold: cells under it are not shown.
pub const SUPPRESS_UNDER: i64 = 10;

/// One cell: a municipality, a day, a channel and a kind, and its counts (`None`: suppressed,
/// between 1 and the threshold less one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatsRow {
    /// 全国地方公共団体コード.
    pub municipality: String,
    /// The day in JST, `YYYY-MM-DD`.
    pub day: String,
    /// `app`, `kiosk` or `counter`.
    pub channel: String,
    /// `domestic` or `overseas`.
    pub kind: String,
    /// Certificates issued that day; `None` when suppressed.
    pub issued: Option<i64>,
    /// Certificates revoked that day (of those issued through this channel and kind); `None`
    /// when suppressed.
    pub revoked: Option<i64>,
}

/// The statistics and how they were made.
#[derive(Debug, Clone, Serialize)]
pub struct Stats {
    /// Cells under this count are shown as suppressed.
    pub threshold: i64,
    /// Every cell with an issuance or a revocation, by municipality, day, channel, kind.
    pub rows: Vec<StatsRow>,
}

/// Seconds JST is ahead of UTC: days are Japanese days.
const JST: i64 = 9 * 3600;

/// Which days (JST, both ends included); `None` on a side: unbounded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Days {
    /// The first day.
    pub from: Option<crate::domain::BirthDate>,
    /// The last day.
    pub to: Option<crate::domain::BirthDate>,
}

/// A date as the day number the queries group by (days since 1970-01-01).
fn day_number(d: &crate::domain::BirthDate) -> Option<i64> {
    let c = d.compact();
    let part = |r: std::ops::Range<usize>| c[r].parse::<i64>().ok();
    crate::date::real(part(0..4)?, part(4..6)?, part(6..8)?)
        .map(|d| crate::date::midnight_utc(d) / 86_400)
}

impl Records {
    /// The statistics, for a `stats` (or `admin`) login: every municipality for `stats`, the
    /// admin's own for `admin`. Audited as `stats`.
    ///
    /// # Errors
    /// [`Error::Forbidden`] for any other role.
    pub async fn stats(&self, s: &StaffSession, threshold: i64, days: Days) -> Result<Stats> {
        let only = match s.role() {
            Role::Stats => None,
            Role::Admin => Some(s.municipality().clone()),
            _ => return Err(Error::Forbidden),
        };
        let out = self.counts(only.as_ref(), threshold, days).await?;
        self.audit(&AuditEntry::system(
            s.actor(),
            s.municipality(),
            "stats",
            None,
            &format!("ok cells={}", out.rows.len()),
        ))
        .await?;
        Ok(out)
    }

    /// The statistics for the operator's CLI (`records stats`), over every municipality or one.
    ///
    /// # Errors
    /// Database errors.
    pub async fn operator_stats(
        &self,
        only: Option<&MunicipalityCode>,
        threshold: i64,
        days: Days,
    ) -> Result<Stats> {
        let out = self.counts(only, threshold, days).await?;
        self.audit(&AuditEntry {
            actor: "cli".to_owned(),
            // Counts over every municipality are nobody's data in particular.
            municipality: only.map_or_else(|| "*".to_owned(), |m| m.as_str().to_owned()),
            action: "stats".to_owned(),
            subject: None,
            outcome: format!("ok cells={}", out.rows.len()),
        })
        .await?;
        Ok(out)
    }

    async fn counts(
        &self,
        only: Option<&MunicipalityCode>,
        threshold: i64,
        days: Days,
    ) -> Result<Stats> {
        let threshold = threshold.max(1);
        let only: Option<String> = only.map(|m| m.as_str().to_owned());
        let (from, to) = (
            days.from.as_ref().and_then(day_number),
            days.to.as_ref().and_then(day_number),
        );
        // Two aggregates, each grouped by the cell: no row about a person leaves the database.
        let issued: Vec<(String, i64, String, String, i64)> = with_db!(&self.db, p => sqlx::query(
            "SELECT municipality, (issued_at + $1) / 86400 AS d, channel, kind, COUNT(*) FROM issuance \
             WHERE ($2 IS NULL OR municipality = $2) AND ($3 IS NULL OR (issued_at + $1) / 86400 >= $3) \
             AND ($4 IS NULL OR (issued_at + $1) / 86400 <= $4) GROUP BY municipality, d, channel, kind")
            .bind(JST).bind(&only).bind(from).bind(to).fetch_all(p).await
            .map(|rows| rows.iter().map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4))).collect()))?;
        let revoked: Vec<(String, i64, String, String, i64)> = with_db!(&self.db, p => sqlx::query(
            "SELECT municipality, (revoked_at + $1) / 86400 AS d, channel, kind, COUNT(*) FROM issuance \
             WHERE revoked_at IS NOT NULL AND ($2 IS NULL OR municipality = $2) AND ($3 IS NULL OR (revoked_at + $1) / 86400 >= $3) \
             AND ($4 IS NULL OR (revoked_at + $1) / 86400 <= $4) GROUP BY municipality, d, channel, kind")
            .bind(JST).bind(&only).bind(from).bind(to).fetch_all(p).await
            .map(|rows| rows.iter().map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4))).collect()))?;
        let mut cells: std::collections::BTreeMap<(String, i64, String, String), (i64, i64)> =
            std::collections::BTreeMap::new();
        for (m, d, c, k, n) in issued {
            cells.entry((m, d, c, k)).or_default().0 += n;
        }
        for (m, d, c, k, n) in revoked {
            cells.entry((m, d, c, k)).or_default().1 += n;
        }
        let shown = |n: i64| (n == 0 || n >= threshold).then_some(n);
        let rows = cells
            .into_iter()
            .map(|((municipality, d, channel, kind), (i, r))| StatsRow {
                municipality,
                day: crate::date::iso(crate::date::jst(d * 86_400)),
                channel,
                kind,
                issued: shown(i),
                revoked: shown(r),
            })
            .collect();
        Ok(Stats { threshold, rows })
    }
}

impl Stats {
    /// As CSV: `municipality,day,channel,kind,issued,revoked`, a suppressed cell as `<N`.
    pub fn to_csv(&self) -> String {
        let cell = |v: Option<i64>| match v {
            Some(n) => n.to_string(),
            None => format!("<{}", self.threshold),
        };
        let mut out = String::from("municipality,day,channel,kind,issued,revoked\n");
        for r in &self.rows {
            out.push_str(&format!(
                "{},{},{},{},{},{}\n",
                r.municipality,
                r.day,
                r.channel,
                r.kind,
                cell(r.issued),
                cell(r.revoked)
            ));
        }
        out
    }
}
