//! The issuance service (DESIGN §2, §5, §7): challenge → preview → certificate, the one code
//! path every channel ends in. It verifies card evidence in full (all five steps, the used set
//! in the database), looks the resident up, and seals what it found into a single-use preview
//! token bound to the evidence digest; redeeming the token signs the SHC, the VDS-NC and the
//! PDF, records the issuance and audits it. The counter calls [`IssuanceService::issue_for_resident`]
//! directly, having found the resident itself.
//!
//! Order of effects on issue (Boulder's): claim the token, reserve the certificate ID and write
//! the issuance row with its audit entry, then sign. A signing failure (an HSM gone, a PDF that
//! cannot be signed) takes the row back out (`issuance-void` in the audit log): never a signed
//! but unrecorded certificate, never a recorded one that was not signed.
//!
//! This room is the only holder of a [`crate::pki::Signer`]: it uses `records` for data, and
//! `records` never uses it. The counter and `records serve` sit above it.
//!
//! ```text
//! issuance
//!   ├ certificate  one resident's data in, the signed SHC and VDS-NC out (the Issuer)
//!   ├ document     the signed PDF, assembled once
//!   ├ keys         signing key files → Signers
//!   ├ token        sealed single-use preview tokens
//!   ├ revoke       revocation and the CRL
//!   ├ api          the internal API the gateways call (mTLS, pinned clients)
//!   └ error        one error enum, mapped to problem documents once
//! ```

pub mod api;
pub mod ceremony;
pub mod certificate;
pub mod document;
mod error;
mod keys;
pub mod review;
pub mod revoke;
mod token;

use std::path::PathBuf;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::RngExt;
use sha2::{Digest, Sha256};

pub use error::{Error, Result};
pub use keys::{Backend, KeyAndCert, KeyError, KeyRef, Manifest, SigningKeyFiles, SigningKeys};
pub use token::TokenKey;

use crate::card::challenge::{Binding, Challenges};
use crate::card::{CardEvidence, TrustSet};
use crate::clock::{Clock, UnixTime};
use crate::domain::{Channel, Kind, MunicipalityCode};
use crate::formats::mrz::{Td3Mrz, mask_passport};
use crate::formats::pdf::{PdfRenderer, PdfSigner};
use crate::protocol::{
    CertificatePreview, CertificateResponse, ChallengeResponse, DoseView, InternalPreviewRequest,
    MunicipalityEntry, PreviewResponse,
};
use crate::records::{
    AtenaNo, AuditEntry, NewIssuance, PassportData, Recorded, Records, Redemption, ResidentStatus,
};
use certificate::Issuer;
use token::{Content, TokenBody};

/// Settings of the issuance service.
#[derive(Debug, Clone)]
pub struct IssuanceSettings {
    /// Challenge lifetime (DESIGN §7: 120 s).
    pub challenge_ttl_secs: i64,
    /// Preview-token lifetime (DESIGN §7: 120 s).
    pub token_ttl_secs: i64,
    /// Where `jwks.json` and `crl/<kid>.json` are written.
    pub publication_dir: PathBuf,
    /// Whether to render and sign the PDF (the load tool can turn it off).
    pub pdf: bool,
}

/// The issuance service: records, the signing keys, the PDF renderer and signer, the
/// challenge key and the trust set. Share it (`Arc`).
pub struct IssuanceService {
    records: Arc<Records>,
    issuer: Issuer,
    renderer: Arc<PdfRenderer>,
    pdf_signer: Arc<PdfSigner>,
    challenges: Challenges,
    trust: TrustSet,
    token_key: TokenKey,
    accepted_terms: Vec<String>,
    clock: Arc<dyn Clock>,
    settings: IssuanceSettings,
}

impl std::fmt::Debug for IssuanceService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuanceService")
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

/// Who receives a certificate and how it was asked for; what [`IssuanceService::issue_for_resident`]
/// needs besides the resident.
#[derive(Debug, Clone)]
pub struct IssueFor {
    /// The municipality holding the record.
    pub municipality: MunicipalityCode,
    /// 宛名番号.
    pub atena: AtenaNo,
    /// Which certificate.
    pub kind: Kind,
    /// Passport data (overseas).
    pub passport: Option<PassportData>,
    /// Channel.
    pub channel: Channel,
    /// Audit actor, e.g. `app`, `kiosk:kiosk-01`, `staff:131016/alice`.
    pub actor: String,
    /// SHA-256 of the card's DF51, when a card asked.
    pub card_key_digest: Option<[u8; 32]>,
}

/// The signed artefacts of one issuance.
#[derive(Debug, Clone)]
pub struct IssuedArtefacts {
    /// Certificate ID.
    pub certificate_id: String,
    /// `shc:/…`.
    pub shc: String,
    /// VDS-NC JSON (overseas).
    pub vdsnc: Option<String>,
    /// The signed PDF (empty when PDFs are turned off).
    pub pdf: Vec<u8>,
}

impl From<IssuedArtefacts> for CertificateResponse {
    fn from(a: IssuedArtefacts) -> Self {
        CertificateResponse {
            certificate_id: a.certificate_id,
            shc: a.shc,
            vdsnc: a.vdsnc,
            pdf_base64: STANDARD.encode(&a.pdf),
        }
    }
}

impl IssuanceService {
    /// Assemble the service and make sure `jwks.json` and the CRL exist for the issuer's key.
    ///
    /// # Errors
    /// Publication I/O.
    pub fn new(
        records: Arc<Records>,
        keys: SigningKeys,
        renderer: Arc<PdfRenderer>,
        challenges: Challenges,
        trust: TrustSet,
        clock: Arc<dyn Clock>,
        settings: IssuanceSettings,
    ) -> Result<Self> {
        crate::formats::publication::ensure(&settings.publication_dir, &keys.published)?;
        Ok(IssuanceService {
            records,
            issuer: keys.issuer,
            renderer,
            pdf_signer: Arc::new(keys.pdf),
            challenges,
            trust,
            token_key: TokenKey::random(),
            accepted_terms: vec![crate::protocol::TERMS_VERSION.to_owned()],
            clock,
            settings,
        })
    }

    /// Seal preview tokens with a configured key instead of a random one, so that every
    /// records replica can open every other's tokens.
    pub fn with_token_key(mut self, key: TokenKey) -> Self {
        self.token_key = key;
        self
    }

    /// The terms-of-use versions a resident may have accepted (default: the one vaxcert
    /// ships, [`crate::protocol::TERMS_VERSION`]); an app or kiosk preview naming another is
    /// refused.
    pub fn with_accepted_terms(mut self, versions: Vec<String>) -> Self {
        self.accepted_terms = versions;
        self
    }

    /// The record system behind the service.
    pub fn records(&self) -> &Arc<Records> {
        &self.records
    }

    /// Where JWKS and CRLs are published.
    pub fn publication_dir(&self) -> &std::path::Path {
        &self.settings.publication_dir
    }

    /// The SHC signing key's `kid`.
    pub fn kid(&self) -> &str {
        self.issuer.kid()
    }

    /// A fresh challenge (stateless until used).
    pub fn challenge(&self) -> ChallengeResponse {
        let challenge = self.challenges.issue(self.clock.now());
        ChallengeResponse {
            expires_at: challenge.expires_at(),
            challenge,
        }
    }

    /// The municipalities a channel may offer: the kiosk sees participating ones only.
    ///
    /// # Errors
    /// Database errors.
    pub async fn municipalities(&self, channel: Channel) -> Result<Vec<MunicipalityEntry>> {
        let list = match channel {
            Channel::Kiosk => self.records.participating_municipalities().await?,
            _ => self.records.municipalities().await?,
        };
        Ok(list
            .into_iter()
            .map(|m| MunicipalityEntry {
                code: m.code,
                name: m.name,
                kiosk: m.kiosk,
            })
            .collect())
    }

    /// Verify the evidence in full, look the resident up, and return what the certificate will
    /// say plus a sealed single-use token bound to the evidence digest.
    ///
    /// # Errors
    /// The card's, the record system's or the passport's refusal, each with its own code.
    #[tracing::instrument(skip_all, fields(channel = ?req.channel, municipality = %req.request.municipality.as_str()))]
    pub async fn preview(&self, req: &InternalPreviewRequest) -> Result<PreviewResponse> {
        let now = self.clock.now();
        let r = &req.request;
        // Consent comes first: nothing of the card is looked at without it.
        let terms = match req.channel {
            Channel::App | Channel::Kiosk => Some(
                r.terms_version
                    .clone()
                    .filter(|v| self.accepted_terms.contains(v))
                    .ok_or(Error::TermsNotAccepted)?,
            ),
            Channel::Counter => None,
        };
        let passport_in = match (&r.passport_mrz, req.channel) {
            (Some(mrz), Channel::App) => Some(Td3Mrz::parse(mrz)?),
            _ => None,
        };
        let binding = Binding {
            channel: req.channel,
            terminal_id: req.terminal_id.clone(),
            municipality: r.municipality.clone(),
            kind: r.kind,
        };
        let identity = self.verify(&r.evidence, &binding, now).await?;
        let rec = self
            .records
            .lookup_for_issuance(&identity, &r.municipality, req.channel)
            .await?;
        let passport = match r.kind {
            Kind::Domestic => None,
            Kind::Overseas => Some(match (req.channel, passport_in) {
                (Channel::Kiosk, _) => rec
                    .last_passport
                    .clone()
                    .ok_or(Error::OverseasNeedsPassportHistory)?,
                (_, Some(m)) => {
                    passport_belongs_to(&m, &rec.resident, now)?;
                    PassportData {
                        romanised_name: m.full_name(),
                        nationality: m.nationality.clone(),
                        passport_number: m.passport_number.clone(),
                        former_name: None,
                    }
                }
                (_, None) => return Err(Error::PassportRequired),
            }),
        };
        let exp = now.plus(self.settings.token_ttl_secs);
        let mut id = [0u8; 16];
        rand::rng().fill(&mut id[..]);
        let body = TokenBody {
            id,
            exp: exp.0,
            channel: req.channel,
            terminal: req.terminal_id.clone(),
            municipality: r.municipality.clone(),
            atena: rec.resident.atena.as_str().to_owned(),
            kind: r.kind,
            passport: passport.clone(),
            card_key: *identity.card_key_digest(),
            challenge: r.evidence.challenge.id(),
            evidence: evidence_digest(&r.evidence),
            terms,
            content: Content::of(&rec.municipality.name, &rec.resident, &rec.doses),
        };
        let preview = CertificatePreview {
            kind: r.kind,
            name: rec.resident.display_name(),
            alias: rec.resident.alias.clone(),
            name_roman: passport.as_ref().map(|p| p.romanised_name.clone()),
            birth_date: rec.resident.birth_date.iso(),
            doses: rec
                .doses
                .iter()
                .map(|d| DoseView {
                    seq: u8::try_from(d.dose).unwrap_or(u8::MAX),
                    date: d.date.iso(),
                    product: d.product.code.to_owned(),
                    product_ja: d.product.name_ja.to_owned(),
                    product_en: d.product.name_en.to_owned(),
                    manufacturer: d.product.manufacturer_en.to_owned(),
                    lot: d.lot.clone(),
                })
                .collect(),
            municipality_name: rec.municipality.name.clone(),
            passport_number_masked: passport.as_ref().map(|p| mask_passport(&p.passport_number)),
        };
        Ok(PreviewResponse {
            preview_token: self.token_key.seal(&body)?,
            expires_at: exp,
            certificate: preview,
        })
    }

    async fn verify(
        &self,
        evidence: &CardEvidence,
        binding: &Binding,
        now: UnixTime,
    ) -> Result<crate::card::VerifiedIdentity> {
        // Four RSA verifications, about 100 µs: short enough to run on the async worker
        // (tokio's budget between awaits), and a hop to the blocking pool costs more CPU than
        // it saves.
        let signed = crate::card::verify_card_files(&evidence.files, &self.trust)?;
        let used = BoundClaim {
            records: &self.records,
            evidence: evidence_digest(evidence),
            // Kept until the last token made from it has expired, so redemption can check it.
            keep_extra: self.settings.token_ttl_secs,
            failure: std::sync::Mutex::default(),
        };
        let claimed = signed
            .prove_presence(
                &evidence.challenge,
                &evidence.challenge_signature,
                binding,
                &self.challenges,
                now,
            )?
            .claim(&used)
            .await;
        match claimed {
            Ok(identity) => Ok(identity),
            Err(e) => Err(used
                .failure
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .take()
                .map_or(Error::Card(e), Error::Records)),
        }
    }

    /// Redeem a preview token once: sign, record and audit the issuance.
    ///
    /// # Errors
    /// [`Error::TokenInvalid`], [`Error::TokenExpired`], [`Error::TokenReused`],
    /// [`Error::TokenChannel`], then as [`IssuanceService::issue_for_resident`].
    #[tracing::instrument(skip_all, fields(channel = ?channel))]
    pub async fn issue(
        &self,
        token: &str,
        channel: Channel,
        terminal: Option<&str>,
    ) -> Result<IssuedArtefacts> {
        let r = self.redeem(token, channel, terminal).await;
        if let Err(
            e @ (Error::TokenInvalid
            | Error::TokenExpired
            | Error::TokenReused
            | Error::TokenChannel
            | Error::TokenTerminal),
        ) = &r
        {
            crate::telemetry::metrics::issuance(channel.as_str(), "unknown", e.code());
        }
        r
    }

    async fn redeem(
        &self,
        token: &str,
        channel: Channel,
        terminal: Option<&str>,
    ) -> Result<IssuedArtefacts> {
        let body = self.token_key.open(token)?;
        if body.channel != channel {
            return Err(Error::TokenChannel);
        }
        // A kiosk's token redeems at that kiosk only; an app's at the device that previewed,
        // when the app says which.
        let same_terminal = match (channel, terminal) {
            (Channel::Kiosk, None) => false,
            (_, Some(t)) => t == body.terminal,
            (_, None) => true,
        };
        if !same_terminal {
            return Err(Error::TokenTerminal);
        }
        let now = self.clock.now();
        if now.0 >= body.exp {
            return Err(Error::TokenExpired);
        }
        let actor = match channel {
            Channel::Kiosk => format!("kiosk:{}", body.terminal),
            other => other.as_str().to_owned(),
        };
        let req = IssueFor {
            municipality: body.municipality,
            atena: AtenaNo::parse(&body.atena)?,
            kind: body.kind,
            passport: body.passport,
            channel,
            actor,
            card_key_digest: Some(body.card_key),
        };
        let redemption = Redemption {
            token_id: body.id,
            challenge: body.challenge,
            evidence: body.evidence,
            terms_version: body.terms,
        };
        self.record_and_sign(req, body.content, Some(redemption))
            .await
    }

    /// Issue for a resident already identified (by a preview token, or by counter staff):
    /// reserve the ID and record the issuance (audited), then sign SHC, VDS-NC and PDF.
    ///
    /// # Errors
    /// [`crate::records::Error::NoSuchResident`], [`crate::records::Error::MovedOut`],
    /// [`Error::PassportRequired`],
    /// signing and database errors.
    pub async fn issue_for_resident(&self, req: IssueFor) -> Result<IssuedArtefacts> {
        let municipality = self.records.municipality(&req.municipality).await?;
        let (resident, doses, _) = self
            .records
            .record_by_atena(&req.municipality, &req.atena)
            .await?
            .ok_or(crate::records::Error::NoSuchResident)?;
        match resident.status {
            ResidentStatus::MovedOut => {
                return Err(crate::records::Error::MovedOut(req.municipality.clone()).into());
            }
            ResidentStatus::Deceased => return Err(crate::records::Error::Deceased.into()),
            ResidentStatus::Resident => {}
        }
        if doses.is_empty() {
            return Err(crate::records::Error::NoDoses(req.municipality.clone()).into());
        }
        self.record_and_sign(
            req,
            Content::of(&municipality.name, &resident, &doses),
            None,
        )
        .await
    }

    /// Print an existing certificate again: the same ID and issue date, signed again from the
    /// record, and only while the record still says what the certificate said (otherwise it
    /// must be revoked and issued anew). Audited as `reprint`.
    ///
    /// # Errors
    /// [`crate::records::Error::UnknownCertificate`] (also for another municipality's),
    /// [`Error::ReprintRevoked`], [`Error::ReprintRecordChanged`], signing and database errors.
    pub async fn reprint(
        &self,
        municipality: &MunicipalityCode,
        id: &crate::domain::CertificateId,
        actor: &str,
    ) -> Result<IssuedArtefacts> {
        let unknown = || crate::records::Error::UnknownCertificate(id.to_string());
        let row = self
            .records
            .issued(municipality, id)
            .await?
            .ok_or_else(unknown)?;
        if row.revoked {
            return Err(Error::ReprintRevoked);
        }
        let m = self.records.municipality(municipality).await?;
        let (resident, doses, _) = self
            .records
            .record_by_atena(municipality, &row.atena)
            .await?
            .ok_or_else(unknown)?;
        let content = Content::of(&m.name, &resident, &doses);
        if resident.status != ResidentStatus::Resident
            || row.content_digest != Some(content.digest())
        {
            return Err(Error::ReprintRecordChanged);
        }
        let request = certificate::Request {
            id: id.clone(),
            kind: row.kind,
            name: content.name,
            alias: content.alias,
            birth_date: content.birth_date,
            doses: content.doses,
            passport: row.passport.as_ref().map(passport_of),
            issued_at: row.issued_at,
        };
        let signed = self.sign(request, content.municipality_name).await?;
        self.records
            .audit(&AuditEntry::system(
                actor,
                municipality,
                "reprint",
                Some(row.atena.as_str()),
                id.as_str(),
            ))
            .await?;
        Ok(signed)
    }

    /// Record the issuance (audited, and only while the resident still is one), then sign
    /// what `content` says: recorded first, signed second.
    async fn record_and_sign(
        &self,
        req: IssueFor,
        content: Content,
        redemption: Option<Redemption>,
    ) -> Result<IssuedArtefacts> {
        let (channel, kind) = (req.channel, req.kind);
        let r = self.record_then_sign(req, content, redemption).await;
        crate::telemetry::metrics::issuance(
            channel.as_str(),
            kind.as_str(),
            match &r {
                Ok((_, false)) => "issued",
                Ok((_, true)) => "redelivered",
                Err(e) => e.code(),
            },
        );
        r.map(|(a, _)| a)
    }

    async fn record_then_sign(
        &self,
        req: IssueFor,
        content: Content,
        redemption: Option<Redemption>,
    ) -> Result<(IssuedArtefacts, bool)> {
        if req.kind == Kind::Overseas && req.passport.is_none() {
            return Err(Error::PassportRequired);
        }
        let passport = match req.kind {
            Kind::Overseas => req.passport,
            Kind::Domestic => None,
        };
        let new = NewIssuance {
            channel: req.channel,
            kind: req.kind,
            passport: passport.clone(),
            key_id: self.issuer.kid().to_owned(),
            rid: String::new(),
            card_key_digest: req.card_key_digest,
            content_digest: Some(content.digest()),
        };
        let rid_for = |id: &str| crate::formats::shc::rid_for(id);
        let (recorded, again) = match &redemption {
            None => (
                self.records
                    .record_issuance_with(&req.municipality, &req.atena, &new, &req.actor, &rid_for)
                    .await?,
                false,
            ),
            Some(r) => match self
                .records
                .record_redemption(&req.municipality, &req.atena, &new, &req.actor, &rid_for, r)
                .await?
            {
                Recorded::New(c) => (c, false),
                // The same request again (its answer was lost): the same certificate, signed
                // again from the same sealed content, never a second issuance.
                Recorded::Existing(c) => {
                    self.records
                        .audit(&AuditEntry::system(
                            &req.actor,
                            &req.municipality,
                            "issuance-redelivered",
                            Some(req.atena.as_str()),
                            "ok",
                        ))
                        .await?;
                    (c, true)
                }
                Recorded::Revoked(_) => return Err(Error::TokenReused),
                Recorded::Unbound => return Err(Error::TokenInvalid),
            },
        };
        let id = crate::domain::CertificateId::parse(recorded.id.as_str())
            .map_err(|_| crate::records::Error::Corrupt("certificate id"))?;
        let id_for_void = id.clone();
        let request = certificate::Request {
            id,
            kind: req.kind,
            name: content.name,
            alias: content.alias,
            birth_date: content.birth_date,
            doses: content.doses,
            passport: passport.as_ref().map(passport_of),
            issued_at: recorded.issued_at,
        };
        let municipality = req.municipality.clone();
        let actor = req.actor.clone();
        match self.sign(request, content.municipality_name).await {
            Ok(a) => Ok((a, again)),
            // A redelivery that fails leaves the first delivery's issuance alone.
            Err(e) if again => Err(e),
            Err(e) => {
                // Nothing half-written: a certificate that could not be signed is taken back
                // out of the issuance history (the audit log keeps both entries).
                if let Err(v) = self
                    .records
                    .void_issuance(&municipality, &id_for_void, &actor, e.code())
                    .await
                {
                    tracing::error!(code = v.code(), "could not void an unsigned issuance");
                }
                Err(e)
            }
        }
    }

    /// Sign what `request` says: the SHC (and VDS-NC) on the async worker, the PDF on the
    /// blocking pool.
    async fn sign(
        &self,
        request: certificate::Request,
        municipality_name: String,
    ) -> Result<IssuedArtefacts> {
        if !self.settings.pdf {
            // SHC (and VDS-NC) only: about 100 µs, signed on the async worker like the
            // evidence check.
            let issued = self.issuer.issue(&request)?;
            return Ok(IssuedArtefacts {
                certificate_id: request.id.as_str().to_owned(),
                shc: issued.shc.qr_text(),
                vdsnc: issued.vdsnc,
                pdf: Vec::new(),
            });
        }
        let issuer = self.issuer.clone();
        let renderer = self.renderer.clone();
        let pdf_signer = self.pdf_signer.clone();
        let span = tracing::Span::current();
        // Rendering and signing the PDF takes milliseconds: the blocking pool.
        tokio::task::spawn_blocking(move || -> Result<IssuedArtefacts> {
            let _g = span.enter();
            let issued = issuer.issue(&request)?;
            let shc_qr = issued.shc.qr()?;
            let vdsnc_qr = issued
                .vdsnc
                .as_deref()
                .map(|v| crate::formats::qr::bytes(v.as_bytes()))
                .transpose()?;
            let pdf = document::signed_pdf(
                &renderer,
                &pdf_signer,
                &request,
                &issued,
                &shc_qr,
                vdsnc_qr.as_ref(),
                &municipality_name,
            )?;
            Ok(IssuedArtefacts {
                certificate_id: request.id.as_str().to_owned(),
                shc: issued.shc.qr_text(),
                vdsnc: issued.vdsnc,
                pdf,
            })
        })
        .await
        .map_err(|e| Error::Worker(e.to_string()))?
    }
}

/// The used set seen through records, with the evidence digest stored beside the claim: a
/// preview token later redeems only against the (challenge, evidence) pair recorded here.
struct BoundClaim<'a> {
    records: &'a Records,
    evidence: [u8; 32],
    keep_extra: i64,
    failure: std::sync::Mutex<Option<crate::records::Error>>,
}

impl crate::card::challenge::UsedChallenges for BoundClaim<'_> {
    async fn claim(
        &self,
        id: crate::card::challenge::ChallengeId,
        expires_at: UnixTime,
        now: UnixTime,
    ) -> std::result::Result<bool, crate::card::Error> {
        self.records
            .claim_challenge(
                id,
                expires_at.plus(self.keep_extra),
                now,
                Some(self.evidence),
            )
            .await
            .map_err(|e| {
                let code = e.code().to_owned();
                *self
                    .failure
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(e);
                crate::card::Error::UsedStore(code)
            })
    }
}

/// SHA-256 over the evidence as it crossed the wire (files, challenge, signature), each part
/// length-prefixed: the preview token is bound to exactly this evidence.
pub fn evidence_digest(e: &CardEvidence) -> [u8; 32] {
    let mut h = Sha256::new();
    for part in [
        &e.files.ef0001[..],
        &e.files.ef0002,
        &e.files.ef0003,
        &e.files.ef0004,
        &e.files.ef0007,
        e.challenge.as_bytes(),
        &e.challenge_signature,
    ] {
        h.update((part.len() as u32).to_be_bytes());
        h.update(part);
    }
    h.finalize().into()
}

/// The app channel's MRZ must be the resident's own, unexpired passport: the birth date (and
/// the sex, when the passport states one) equal the record's, and the expiry is not past
/// (today in Japan). Only check digits were checked before; any valid MRZ would have done.
/// Passport data as recorded, as the certificate carries it.
fn passport_of(p: &PassportData) -> certificate::Passport {
    certificate::Passport {
        name: p.romanised_name.clone(),
        number: p.passport_number.clone(),
        nationality: p.nationality.clone(),
        former_name: p.former_name.clone(),
    }
}

fn passport_belongs_to(
    mrz: &Td3Mrz,
    resident: &crate::records::Resident,
    now: UnixTime,
) -> Result<()> {
    use crate::domain::Sex;
    let born = resident.birth_date.compact();
    if mrz.birth_date != born[2..] {
        return Err(Error::PassportMismatch);
    }
    let sex_matches = match (mrz.sex, resident.sex) {
        ('M', Sex::Male) | ('F', Sex::Female) => true,
        ('M' | 'F', _) => false,
        _ => true,
    };
    if !sex_matches {
        return Err(Error::PassportMismatch);
    }
    // Passports are valid ten years at most: the expiry's century is this one.
    let today = crate::date::compact(crate::date::jst(now.0));
    let expiry = format!("20{}", mrz.expiry);
    if expiry < today {
        return Err(Error::PassportExpired);
    }
    Ok(())
}
