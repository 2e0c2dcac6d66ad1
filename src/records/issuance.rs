//! The issuance service (DESIGN §2, §5, §7): challenge → preview → certificate, the one code
//! path every channel ends in. It verifies card evidence in full (all five steps, the used set
//! in the database), looks the resident up, and seals what it found into a single-use preview
//! token bound to the evidence digest; redeeming the token signs the SHC, the VDS-NC and the
//! PDF, records the issuance and audits it. The counter calls [`IssuanceService::issue_for_resident`]
//! directly, having found the resident itself.
//!
//! Order of effects on issue (Boulder's): claim the token, reserve the certificate ID and write
//! the issuance row with its audit entry, then sign. A signing failure leaves a recorded but
//! unsigned ID, never a signed but unrecorded certificate.

use std::path::PathBuf;
use std::sync::Arc;

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rand::RngExt;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::Row;

use super::audit::AuditEntry;
use super::lookup::Key;
use super::model::{AtenaNo, PassportData};
use super::{NewIssuance, Records, with_db};
use crate::card::challenge::{Binding, Challenges};
use crate::card::{CardEvidence, TrustSet};
use crate::certificate::{self, Issuer};
use crate::clock::{Clock, UnixTime};
use crate::domain::{Channel, Kind, MunicipalityCode};
use crate::formats::mrz::{Td3Mrz, mask_passport};
use crate::formats::pdf::{CertificateDocument, PdfRenderer, PdfSigner};
use crate::http::Problem;
use crate::protocol::{
    CertificatePreview, CertificateResponse, ChallengeResponse, DoseView, InternalPreviewRequest,
    MunicipalityEntry, PreviewResponse,
};

/// Why a challenge, preview or certificate was refused or failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The card evidence failed a verification step (its own code).
    #[error(transparent)]
    Card(#[from] crate::card::Error),
    /// The record system refused (no record, moved out, not participating, …).
    #[error(transparent)]
    Records(#[from] super::Error),
    /// The passport MRZ is not a valid TD3 MRZ.
    #[error(transparent)]
    Mrz(#[from] crate::formats::mrz::MrzError),
    /// The overseas kind needs passport data and none was given.
    #[error("an overseas certificate needs the passport MRZ")]
    PassportRequired,
    /// Kiosk: the overseas kind reuses the last issuance's passport data, and there is none.
    #[error("no passport data from an earlier issuance; apply at the counter or in the app")]
    OverseasNeedsPassportHistory,
    /// The preview token is not one of ours, or was altered.
    #[error("the preview token is invalid")]
    TokenInvalid,
    /// The preview token is older than its lifetime.
    #[error("the preview token has expired; start again")]
    TokenExpired,
    /// The preview token was already redeemed.
    #[error("the preview token was already used")]
    TokenReused,
    /// The token was made for another channel than the one redeeming it.
    #[error("the preview token belongs to another channel")]
    TokenChannel,
    /// Signing the SHC or VDS-NC failed.
    #[error(transparent)]
    Sign(#[from] certificate::IssueError),
    /// Rendering or signing the PDF failed.
    #[error(transparent)]
    Pdf(#[from] crate::formats::pdf::Error),
    /// JWKS/CRL publication failed.
    #[error(transparent)]
    Publication(#[from] crate::formats::Error),
    /// A signing key or certificate could not be loaded.
    #[error(transparent)]
    Keys(#[from] crate::pki::Error),
    /// A worker thread failed.
    #[error("worker failed: {0}")]
    Worker(String),
}

impl Error {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Card(e) => e.code(),
            Error::Records(e) => e.code(),
            Error::Mrz(e) => e.code(),
            Error::PassportRequired => "passport-required",
            Error::OverseasNeedsPassportHistory => "overseas-needs-passport-history",
            Error::TokenInvalid => "preview-token-invalid",
            Error::TokenExpired => "preview-token-expired",
            Error::TokenReused => "preview-token-reused",
            Error::TokenChannel => "preview-token-channel",
            Error::Sign(_)
            | Error::Pdf(_)
            | Error::Publication(_)
            | Error::Keys(_)
            | Error::Worker(_) => "internal",
        }
    }

    /// The problem document for this error; `internal` ones carry `trace_id` only.
    pub fn to_problem(&self, trace_id: &str) -> Problem {
        let p = |status, ja: &str| Problem::new(status, self.code(), self.to_string(), ja);
        match self {
            Error::Card(e) => Problem::from(e),
            Error::Records(e) => {
                use super::Error as R;
                match e {
                    R::NoRecord(_) => p(404, "記録が見つかりません。"),
                    R::IdentityMismatch => p(
                        422,
                        "カードの氏名・生年月日が記録と一致しません。市区町村にお問い合わせください。",
                    ),
                    R::MovedOut(_) => p(
                        409,
                        "転出されています。転入先の市区町村に申請してください。",
                    ),
                    R::Deceased => p(409, "証明書を発行できません。"),
                    R::NoDoses(_) => p(404, "接種記録がありません。"),
                    R::UnknownMunicipality(_) => p(404, "市区町村が登録されていません。"),
                    R::NotParticipating(_) => {
                        p(403, "この市区町村はコンビニ交付に参加していません。")
                    }
                    _ => Problem::internal(trace_id),
                }
            }
            Error::Mrz(_) => p(400, "旅券の MRZ が正しくありません。"),
            Error::PassportRequired => p(400, "海外用には旅券の MRZ が必要です。"),
            Error::OverseasNeedsPassportHistory => p(
                409,
                "旅券情報の履歴がありません。窓口またはアプリで申請してください。",
            ),
            Error::TokenInvalid => p(400, "確認の有効期限が切れたか、無効です。"),
            Error::TokenExpired | Error::TokenReused | Error::TokenChannel => {
                p(409, "時間切れです。最初からやり直してください。")
            }
            Error::Sign(_)
            | Error::Pdf(_)
            | Error::Publication(_)
            | Error::Keys(_)
            | Error::Worker(_) => Problem::internal(trace_id),
        }
    }
}

/// Results of the issuance service.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Seals preview tokens (AES-256-GCM): what records found, bound to the evidence digest, so a
/// gateway can carry it but neither read nor change it.
#[derive(Clone)]
pub struct TokenKey(Aes256Gcm);

impl TokenKey {
    /// A fresh key: tokens live 120 s and only this process redeems them.
    pub fn random() -> Self {
        let mut k = zeroize::Zeroizing::new([0u8; 32]);
        rand::rng().fill(&mut k[..]);
        TokenKey(Aes256Gcm::new_from_slice(&k[..]).expect("32-byte key"))
    }
}

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKey(..)")
    }
}

/// Preview tokens already redeemed, kept until they expire. In memory, not in the database:
/// the token key is this process's own and random, so no other process can redeem one of its
/// tokens and a restart voids them all; the set is complete without a round trip per issuance.
#[derive(Debug, Default)]
struct RedeemedTokens(std::sync::Mutex<RedeemedSet>);

#[derive(Debug, Default)]
struct RedeemedSet {
    expiry: std::collections::HashMap<[u8; 16], i64>,
    purged_at: i64,
}

impl RedeemedTokens {
    /// Mark the token redeemed; `false` if it already was.
    fn claim(&self, id: [u8; 16], expires_at: i64, now: i64) -> bool {
        let mut set = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if now - set.purged_at >= 30 {
            set.expiry.retain(|_, exp| *exp > now);
            set.purged_at = now;
        }
        set.expiry.insert(id, expires_at).is_none()
    }
}

const TOKEN_AAD: &[u8] = b"vaxcert preview token v1";

/// What a preview token carries (sealed; never seen in clear outside records).
#[derive(Serialize, Deserialize)]
struct TokenBody {
    id: [u8; 16],
    exp: i64,
    channel: Channel,
    terminal: String,
    municipality: MunicipalityCode,
    atena: String,
    kind: Kind,
    passport: Option<PassportData>,
    card_key: [u8; 32],
    evidence: [u8; 32],
    content: Content,
}

/// What the certificate will say, fixed when the preview is made and sealed into its token:
/// the certificate says exactly what the resident confirmed, and redeeming the token needs
/// no second read of the record (the issuance insert still checks the resident's status).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Content {
    name: String,
    birth_date: crate::domain::BirthDate,
    doses: Vec<ContentDose>,
    municipality_name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct ContentDose {
    seq: u8,
    date: crate::domain::BirthDate,
    product: String,
    lot: String,
}

impl Content {
    fn of(
        municipality: &super::Municipality,
        resident: &super::Resident,
        doses: &[super::Dose],
    ) -> Self {
        Content {
            name: format!("{}\u{3000}{}", resident.family_kanji, resident.given_kanji),
            birth_date: resident.birth_date,
            doses: doses
                .iter()
                .map(|d| ContentDose {
                    seq: u8::try_from(d.dose).unwrap_or(u8::MAX),
                    date: d.date,
                    product: d.product.code.to_owned(),
                    lot: d.lot.clone(),
                })
                .collect(),
            municipality_name: municipality.name.clone(),
        }
    }
}

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
    redeemed: RedeemedTokens,
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
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        records: Arc<Records>,
        issuer: Issuer,
        renderer: Arc<PdfRenderer>,
        pdf_signer: Arc<PdfSigner>,
        challenges: Challenges,
        trust: TrustSet,
        clock: Arc<dyn Clock>,
        settings: IssuanceSettings,
        x5c_der: &[Vec<u8>],
    ) -> Result<Self> {
        let jwks = settings.publication_dir.join("jwks.json");
        if !jwks.exists() {
            crate::formats::publication::write_initial(
                &settings.publication_dir,
                issuer.shc_signer.public_key(),
                x5c_der,
            )?;
        }
        Ok(IssuanceService {
            records,
            issuer,
            renderer,
            pdf_signer,
            challenges,
            trust,
            token_key: TokenKey::random(),
            redeemed: RedeemedTokens::default(),
            clock,
            settings,
        })
    }

    /// DEV ONLY: the service with the dev keys under `certs/dev/` (SHC issuer, VDS-NC BSC, PDF
    /// signer); the challenge key and the trust set stay the caller's. Production keys come
    /// with PKCS#11 (DESIGN §5), so every role that signs uses this for now.
    ///
    /// # Errors
    /// Unreadable dev keys or publication I/O.
    pub fn dev(
        records: Arc<Records>,
        challenges: Challenges,
        trust: TrustSet,
        clock: Arc<dyn Clock>,
        settings: IssuanceSettings,
    ) -> Result<Self> {
        let dev = crate::pki::dev::dir();
        let issuer = Issuer::dev()?;
        let x5c = vec![crate::pki::x509::to_der(&crate::pki::x509::load(
            &dev.join("shc/issuer.crt.pem"),
        )?)?];
        let renderer = PdfRenderer::dev_default()?;
        let pdf_signer = PdfSigner::from_pem_files(
            &dev.join("pdf/signer.key.pem"),
            &dev.join("pdf/signer.crt.pem"),
        )?;
        Self::new(
            records,
            issuer,
            Arc::new(renderer),
            Arc::new(pdf_signer),
            challenges,
            trust,
            clock,
            settings,
            &x5c,
        )
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
                (_, Some(m)) => PassportData {
                    romanised_name: m.full_name(),
                    nationality: m.nationality.clone(),
                    passport_number: m.passport_number.clone(),
                    former_name: None,
                },
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
            evidence: evidence_digest(&r.evidence),
            content: Content::of(&rec.municipality, &rec.resident, &rec.doses),
        };
        let preview = CertificatePreview {
            kind: r.kind,
            name: format!(
                "{}\u{3000}{}",
                rec.resident.family_kanji, rec.resident.given_kanji
            ),
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
            preview_token: self.seal(&body)?,
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
        Ok(signed
            .prove_presence(
                &evidence.challenge,
                &evidence.challenge_signature,
                binding,
                &self.challenges,
                now,
            )?
            .claim(self.records.as_ref())
            .await?)
    }

    fn seal(&self, body: &TokenBody) -> Result<String> {
        let plain = zeroize::Zeroizing::new(
            serde_json::to_vec(body).map_err(|e| Error::Worker(e.to_string()))?,
        );
        let mut nonce = [0u8; 12];
        rand::rng().fill(&mut nonce[..]);
        let n = aes_gcm::aead::Nonce::<Aes256Gcm>::try_from(&nonce[..])
            .map_err(|_| Error::Worker("nonce".into()))?;
        let ct = self
            .token_key
            .0
            .encrypt(
                &n,
                Payload {
                    msg: &plain,
                    aad: TOKEN_AAD,
                },
            )
            .map_err(|_| Error::Worker("token sealing".into()))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        Ok(URL_SAFE_NO_PAD.encode(out))
    }

    fn open(&self, token: &str) -> Result<TokenBody> {
        let raw = URL_SAFE_NO_PAD
            .decode(token.trim())
            .map_err(|_| Error::TokenInvalid)?;
        if raw.len() < 12 + 16 {
            return Err(Error::TokenInvalid);
        }
        let n = aes_gcm::aead::Nonce::<Aes256Gcm>::try_from(&raw[..12])
            .map_err(|_| Error::TokenInvalid)?;
        let plain = zeroize::Zeroizing::new(
            self.token_key
                .0
                .decrypt(
                    &n,
                    Payload {
                        msg: &raw[12..],
                        aad: TOKEN_AAD,
                    },
                )
                .map_err(|_| Error::TokenInvalid)?,
        );
        serde_json::from_slice(&plain).map_err(|_| Error::TokenInvalid)
    }

    /// Redeem a preview token once: sign, record and audit the issuance.
    ///
    /// # Errors
    /// [`Error::TokenInvalid`], [`Error::TokenExpired`], [`Error::TokenReused`],
    /// [`Error::TokenChannel`], then as [`IssuanceService::issue_for_resident`].
    #[tracing::instrument(skip_all, fields(channel = ?channel))]
    pub async fn issue(&self, token: &str, channel: Channel) -> Result<IssuedArtefacts> {
        let body = self.open(token)?;
        if body.channel != channel {
            return Err(Error::TokenChannel);
        }
        let now = self.clock.now();
        if now.0 >= body.exp {
            return Err(Error::TokenExpired);
        }
        if !self.redeemed.claim(body.id, body.exp, now.0) {
            return Err(Error::TokenReused);
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
        self.record_and_sign(req, body.content).await
    }

    /// Issue for a resident already identified (by a preview token, or by counter staff):
    /// reserve the ID and record the issuance (audited), then sign SHC, VDS-NC and PDF.
    ///
    /// # Errors
    /// [`super::Error::NoSuchResident`], [`super::Error::MovedOut`], [`Error::PassportRequired`],
    /// signing and database errors.
    pub async fn issue_for_resident(&self, req: IssueFor) -> Result<IssuedArtefacts> {
        let municipality = self.records.municipality(&req.municipality).await?;
        let (resident, doses, _) = self
            .records
            .record(&req.municipality, Key::Atena(&req.atena))
            .await?
            .ok_or(super::Error::NoSuchResident)?;
        match resident.status {
            super::ResidentStatus::MovedOut => {
                return Err(super::Error::MovedOut(req.municipality.clone()).into());
            }
            super::ResidentStatus::Deceased => return Err(super::Error::Deceased.into()),
            super::ResidentStatus::Resident => {}
        }
        if doses.is_empty() {
            return Err(super::Error::NoDoses(req.municipality.clone()).into());
        }
        self.record_and_sign(req, Content::of(&municipality, &resident, &doses))
            .await
    }

    /// Record the issuance (audited, and only while the resident still is one), then sign
    /// what `content` says: recorded first, signed second.
    async fn record_and_sign(&self, req: IssueFor, content: Content) -> Result<IssuedArtefacts> {
        if req.kind == Kind::Overseas && req.passport.is_none() {
            return Err(Error::PassportRequired);
        }
        let passport = match req.kind {
            Kind::Overseas => req.passport,
            Kind::Domestic => None,
        };
        let doses = content
            .doses
            .into_iter()
            .map(|d| {
                Ok(certificate::DoseRecord {
                    seq: d.seq,
                    date: d.date.iso(),
                    product: crate::catalogue::product(&d.product)
                        .ok_or(super::Error::Corrupt("product"))?,
                    lot: d.lot,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let recorded = self
            .records
            .record_issuance_with(
                &req.municipality,
                &req.atena,
                &NewIssuance {
                    channel: req.channel,
                    kind: req.kind,
                    passport: passport.clone(),
                    key_id: self.issuer.kid().to_owned(),
                    rid: String::new(),
                    card_key_digest: req.card_key_digest,
                },
                &req.actor,
                &|id| crate::formats::shc::rid_for(id),
            )
            .await?;
        let id = crate::domain::CertificateId::parse(recorded.id.as_str())
            .map_err(|_| super::Error::Corrupt("certificate id"))?;
        let request = certificate::Request {
            id,
            kind: req.kind,
            name: content.name,
            birth_date: content.birth_date,
            doses,
            passport: passport.as_ref().map(|p| certificate::Passport {
                name: p.romanised_name.clone(),
                number: p.passport_number.clone(),
                nationality: p.nationality.clone(),
            }),
            issued_at: recorded.issued_at,
        };
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
        let municipality_name = content.municipality_name;
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
            let lines = request.dose_lines();
            let masked = request.passport.as_ref().map(|p| mask_passport(&p.number));
            let issued_on = iso_date_jst(request.issued_at);
            let doc = CertificateDocument {
                kind: request.kind,
                name_kanji: &request.name,
                name_roman: request.passport.as_ref().map(|p| p.name.as_str()),
                passport_number_masked: masked.as_deref(),
                birth_date: request.birth_date,
                doses: &lines,
                certificate_id: request.id.as_str(),
                issued_on: &issued_on,
                municipality: &municipality_name,
                shc_qr: &shc_qr,
                vdsnc_qr: vdsnc_qr.as_ref(),
            };
            let unsigned = renderer.render(&doc)?;
            let pdf = pdf_signer.sign(&unsigned, request.issued_at)?;
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

/// `YYYY-MM-DD` in Japan (UTC+9) for a time.
fn iso_date_jst(t: UnixTime) -> String {
    let c = super::import::civil_from_days((t.0 + 9 * 3600).div_euclid(86_400));
    format!("{}-{}-{}", &c[..4], &c[4..6], &c[6..8])
}

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

impl Records {
    /// Revoke a certificate by ID (any municipality), audit it with the reason, and add its rid
    /// to the CRL in `publication_dir`.
    ///
    /// # Errors
    /// [`super::Error::UnknownCertificate`], database and publication errors.
    pub async fn revoke_by_id(
        &self,
        id: &super::CertificateId,
        reason: &str,
        publication_dir: &std::path::Path,
    ) -> Result<Revocation> {
        let row: Option<(String, String, String)> = with_db!(&self.db, p => sqlx::query(
            "SELECT municipality, rid, key_id FROM issuance WHERE certificate_id = $1")
            .bind(id.as_str()).fetch_optional(p).await
            .map(|r| r.map(|r| (r.get(0), r.get(1), r.get(2)))))
        .map_err(super::Error::from)?;
        let (m, rid, kid) = row.ok_or_else(|| super::Error::UnknownCertificate(id.to_string()))?;
        let m = MunicipalityCode::parse(&m).map_err(|_| super::Error::Corrupt("municipality"))?;
        let reason = reason.trim();
        if reason.is_empty() || reason.len() > 200 || reason.chars().any(char::is_control) {
            return Err(super::Error::Invalid {
                what: "revocation reason",
            }
            .into());
        }
        self.revoke_certificate(&m, id, "cli").await?;
        self.audit(&AuditEntry::system(
            "cli",
            &m,
            "revocation-reason",
            None,
            reason,
        ))
        .await?;
        let crl_version = crate::formats::publication::revoke(publication_dir, &kid, &rid)?;
        Ok(Revocation {
            certificate_id: id.to_string(),
            municipality: m.as_str().to_owned(),
            rid,
            kid,
            crl_version,
        })
    }
}
