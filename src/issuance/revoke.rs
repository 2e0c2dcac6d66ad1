//! Revocation: the record system marks the issuance revoked and audits the reason; the issuance
//! room adds its `rid` to the published CRL of the key that signed it.

use std::path::Path;

use serde::Serialize;

use super::Result;
use crate::domain::CertificateId;
use crate::records::Records;

/// What `vaxcert records revoke` changed.
#[derive(Debug, Clone, Serialize)]
pub struct Revocation {
    /// The certificate.
    pub certificate_id: String,
    /// Its municipality.
    pub municipality: String,
    /// The SHC rid now in the CRL.
    pub rid: String,
    /// The signing key's kid.
    pub kid: String,
    /// The CRL version after the change.
    pub crl_version: u64,
}

/// Revoke a certificate by ID (any municipality), audit it with the reason, and add its rid to
/// the CRL in `publication_dir`.
///
/// # Errors
/// [`crate::records::Error::UnknownCertificate`], database and publication errors.
pub async fn revoke(
    records: &Records,
    id: &CertificateId,
    reason: &str,
    actor: &str,
    publication_dir: &Path,
) -> Result<Revocation> {
    let r = records.revoke_by_id(id, reason, actor).await?;
    let crl_version = crate::formats::publication::revoke(publication_dir, &r.kid, &r.rid)?;
    Ok(Revocation {
        certificate_id: id.to_string(),
        municipality: r.municipality.as_str().to_owned(),
        rid: r.rid,
        kid: r.kid,
        crl_version,
    })
}
