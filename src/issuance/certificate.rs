//! The issuing pipeline: one resident's data in, the signed SHC and VDS-NC out (DESIGN §5). The
//! issuance service calls it after the lookup; `vaxcert issue` calls it with demo data. Keys
//! come in as [`Signer`]s, so this module never sees key bytes.

use std::sync::Arc;

use crate::clock::UnixTime;
use crate::domain::{BirthDate, CertificateId, Kind};
use crate::formats::mrz::Td3Mrz;
use crate::formats::shc::{self, HumanName, Shc};
use crate::formats::{Dose, Error, vdsnc};
use crate::pki::{Signer, jwk};

/// Passport data for the overseas kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Passport {
    /// Romanised name, `SURNAME GIVEN`.
    pub name: String,
    /// Passport number.
    pub number: String,
    /// Nationality (ISO 3166-1 alpha-3).
    pub nationality: String,
    /// 旧姓・別姓・別名, printed on the PDF when the resident asked for it.
    pub former_name: Option<String>,
}

impl From<&Td3Mrz> for Passport {
    fn from(m: &Td3Mrz) -> Self {
        Passport {
            name: m.full_name(),
            number: m.passport_number.clone(),
            nationality: m.nationality.clone(),
            former_name: None,
        }
    }
}

/// Everything a certificate says.
#[derive(Debug, Clone)]
pub struct Request {
    /// The new certificate's ID.
    pub id: CertificateId,
    /// Domestic or overseas.
    pub kind: Kind,
    /// The legal name, as in the record.
    pub name: String,
    /// A foreign resident's 通称, printed on the PDF beside the legal name's row.
    pub alias: Option<String>,
    /// Birth date.
    pub birth_date: BirthDate,
    /// The doses, in order.
    pub doses: Vec<Dose>,
    /// Passport data; required for the overseas kind.
    pub passport: Option<Passport>,
    /// Issue time (the SHC `nbf`).
    pub issued_at: UnixTime,
}

/// What was signed.
#[derive(Debug, Clone)]
pub struct Issued {
    /// The SMART Health Card.
    pub shc: Shc,
    /// The SHC `rid`, recorded with the issuance for revocation.
    pub rid: String,
    /// The signing key's `kid`.
    pub kid: String,
    /// The VDS-NC JSON (overseas only).
    pub vdsnc: Option<String>,
}

/// Why a request could not be issued.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IssueError {
    /// The overseas kind needs passport data.
    #[error("an overseas certificate needs passport data")]
    NeedsPassport,
    /// Encoding or signing failed.
    #[error(transparent)]
    Format(#[from] Error),
}

impl IssueError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            IssueError::NeedsPassport => "passport-required",
            IssueError::Format(e) => e.code(),
        }
    }
}

/// The keys and identity of an issuer.
#[derive(Clone)]
pub struct Issuer {
    /// SHC `iss`.
    pub iss: String,
    /// SHC signing key.
    pub shc_signer: Arc<dyn Signer>,
    /// VDS-NC barcode signer key.
    pub bsc_signer: Arc<dyn Signer>,
    /// The BSC certificate, DER.
    pub bsc_der: Vec<u8>,
    kid: String,
}

impl Issuer {
    /// Assemble an issuer.
    pub fn new(
        iss: String,
        shc_signer: Arc<dyn Signer>,
        bsc_signer: Arc<dyn Signer>,
        bsc_der: Vec<u8>,
    ) -> Self {
        let kid = jwk::thumbprint(shc_signer.public_key());
        Issuer {
            iss,
            shc_signer,
            bsc_signer,
            bsc_der,
            kid,
        }
    }

    /// The SHC key's `kid`.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// Whether both keys are dev keys.
    pub fn is_dev(&self) -> bool {
        self.shc_signer.is_dev() && self.bsc_signer.is_dev()
    }

    /// Sign the SHC (both kinds) and the VDS-NC (overseas).
    ///
    /// # Errors
    /// [`IssueError::NeedsPassport`], or a format error such as a card too large for one QR.
    pub fn issue(&self, r: &Request) -> Result<Issued, IssueError> {
        let mut names = vec![HumanName::from_card_name(&r.name)];
        let passport = match r.kind {
            Kind::Overseas => Some(r.passport.as_ref().ok_or(IssueError::NeedsPassport)?),
            Kind::Domestic => None,
        };
        if let Some(p) = passport {
            names.push(HumanName::from_card_name(&p.name));
        }
        let rid = shc::rid_for(r.id.as_str());
        let content = shc::Content {
            names,
            birth_date: r.birth_date,
            doses: &r.doses,
        };
        let shc = shc::Draft::new(&self.iss, r.issued_at, &content, &rid, &self.kid)?
            .sign(self.shc_signer.as_ref())?;
        let vdsnc = match passport {
            Some(p) => Some(vdsnc::sign(
                &vdsnc::Content {
                    uvci: r.id.as_str(),
                    name: &p.name,
                    birth_date: r.birth_date,
                    passport_number: &p.number,
                    doses: &r.doses,
                },
                self.bsc_signer.as_ref(),
                &self.bsc_der,
            )?),
            None => None,
        };
        Ok(Issued {
            shc,
            rid,
            kid: self.kid.clone(),
            vdsnc,
        })
    }
}

impl std::fmt::Debug for Issuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Issuer({}, kid {})", self.iss, self.kid)
    }
}
