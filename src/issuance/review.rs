//! Certificates issued from data that has since changed: a dose corrected or deleted after the
//! issuance, or the resident marked 転出 or 死亡. Each issuance row keeps a digest of what its
//! certificate said; the review recomputes it from the record as it is now. An admin revokes
//! the listed ones in one step (each audited with the reason, each `rid` added to its CRL).
//! Issuances recorded before the digest existed cannot be compared and are not listed.

use std::path::Path;

use serde::Serialize;

use super::Result;
use super::revoke::{Revocation, revoke};
use super::token::Content;
use crate::domain::{CertificateId, MunicipalityCode};
use crate::records::{Dose, Records, Resident, ResidentStatus};

/// Why a certificate no longer matches its record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Why {
    /// The name, birth date or doses differ from what the certificate says.
    RecordChanged,
    /// The resident has moved out (転出).
    MovedOut,
    /// The resident has died (死亡).
    Deceased,
}

impl Why {
    /// Stable name, as the CLI and the counter show it.
    pub fn as_str(self) -> &'static str {
        match self {
            Why::RecordChanged => "record-changed",
            Why::MovedOut => "moved-out",
            Why::Deceased => "deceased",
        }
    }
}

/// A certificate in force whose record has changed since it was issued.
#[derive(Debug, Clone, Serialize)]
pub struct Stale {
    /// Certificate ID.
    pub certificate_id: String,
    /// 宛名番号 of the resident.
    pub atena: String,
    /// When it was issued, Unix seconds.
    pub issued_at: i64,
    /// `app`, `kiosk` or `counter`.
    pub channel: String,
    /// `domestic` or `overseas`.
    pub kind: String,
    /// Why it no longer matches.
    pub why: Why,
}

/// The digest a certificate issued today from this record would carry.
pub fn digest_of(resident: &Resident, doses: &[Dose]) -> [u8; 32] {
    Content::of("", resident, doses).digest()
}

/// What the record says now about one resident: the digest a certificate issued today would
/// carry, and whether the resident still lives in the municipality.
async fn current_content(
    records: &Records,
    municipality: &MunicipalityCode,
    atena: &crate::records::AtenaNo,
) -> Result<Option<([u8; 32], ResidentStatus)>> {
    Ok(records
        .record_by_atena(municipality, atena)
        .await?
        .map(|(resident, doses, _)| (digest_of(&resident, &doses), resident.status)))
}

/// Why a certificate with `digest` no longer matches a record whose content is now `now`.
pub fn why(digest: Option<[u8; 32]>, now: Option<([u8; 32], ResidentStatus)>) -> Option<Why> {
    let digest = digest?;
    match now {
        None => Some(Why::RecordChanged),
        Some((_, ResidentStatus::MovedOut)) => Some(Why::MovedOut),
        Some((_, ResidentStatus::Deceased)) => Some(Why::Deceased),
        Some((d, ResidentStatus::Resident)) if d != digest => Some(Why::RecordChanged),
        Some(_) => None,
    }
}

/// Every certificate in force in `municipality` issued from data that has since changed.
///
/// # Errors
/// Database errors.
pub async fn stale_certificates(
    records: &Records,
    municipality: &MunicipalityCode,
) -> Result<Vec<Stale>> {
    let mut out = Vec::new();
    let mut current = std::collections::HashMap::new();
    for c in records.certificates_in_force(municipality).await? {
        let now = match current.get(c.atena.as_str()) {
            Some(now) => *now,
            None => {
                let now = current_content(records, municipality, &c.atena).await?;
                current.insert(c.atena.as_str().to_owned(), now);
                now
            }
        };
        if let Some(why) = why(c.content_digest, now) {
            out.push(Stale {
                certificate_id: c.certificate_id,
                atena: c.atena.as_str().to_owned(),
                issued_at: c.issued_at.0,
                channel: c.channel,
                kind: c.kind,
                why,
            });
        }
    }
    Ok(out)
}

/// Revoke every certificate [`stale_certificates`] lists, with `reason` (audited for each),
/// and add each `rid` to the CRL in `publication_dir`.
///
/// # Errors
/// Database and publication errors; what was revoked before the error stays revoked.
pub async fn revoke_stale(
    records: &Records,
    municipality: &MunicipalityCode,
    reason: &str,
    actor: &str,
    publication_dir: &Path,
) -> Result<Vec<(Stale, Revocation)>> {
    let mut done = Vec::new();
    for s in stale_certificates(records, municipality).await? {
        let id = CertificateId::parse(&s.certificate_id)
            .map_err(|_| crate::records::Error::Corrupt("certificate id"))?;
        let reason = format!("{reason} ({})", s.why.as_str());
        let r = revoke(records, &id, &reason, actor, publication_dir).await?;
        done.push((s, r));
    }
    Ok(done)
}
