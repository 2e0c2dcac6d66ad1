//! The wire contract between the roles (DESIGN §2, §7): what the app, the kiosk agent and the
//! gateways send, and what records answers. JSON over HTTPS; binary fields base64url. Errors
//! are `application/problem+json` ([`crate::http::Problem`]).
//!
//! ```text
//! app ── /v1/{challenges,previews,certificates} ──▶ app gateway ─┐
//!                                                                 ├─mTLS─▶ records /internal/v1/…
//! kiosk agent ─mTLS─ /v1/kiosk/{municipalities,challenges,…} ▶ center ─┘
//! ```
//!
//! The gateways add what only they know (channel, terminal identity from the client
//! certificate or the app instance) and forward the rest unchanged. [`client`] is the gateways'
//! side of the internal API, so `app` and `center` import the contract, not the record system.

pub mod client;

use serde::{Deserialize, Serialize};

use crate::card::CardEvidence;
use crate::card::challenge::Challenge;
use crate::clock::UnixTime;
use crate::domain::{Channel, Kind, MunicipalityCode};

/// The version of the terms of use vaxcert ships (the kiosk's consent screen shows them, the
/// app's must show the same text). Records accepts this version unless configured otherwise
/// (`terms_versions`); a new wording gets a new version.
pub const TERMS_VERSION: &str = "2026-12-01";

/// A municipality a resident may pick.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct MunicipalityEntry {
    /// 全国地方公共団体コード.
    pub code: MunicipalityCode,
    /// Name, e.g. 東京都千代田区.
    pub name: String,
    /// Whether it takes part in kiosk issuance.
    pub kiosk: bool,
}

/// `POST …/challenges` answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChallengeResponse {
    /// The challenge the card must sign (bound with [`crate::card::challenge::Binding`]).
    pub challenge: Challenge,
    /// When it stops being accepted.
    pub expires_at: UnixTime,
}

/// `POST /v1/previews` (app) and `POST /v1/kiosk/previews` (kiosk) body.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PreviewRequest {
    /// The municipality the resident chose.
    pub municipality: MunicipalityCode,
    /// Which certificate.
    pub kind: Kind,
    /// The card's files, the challenge and the card's signature.
    pub evidence: CardEvidence,
    /// App only: the passport MRZ (TD3, `LINE1\nLINE2`) for the overseas kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passport_mrz: Option<String>,
    /// App only: the app instance's identifier (the terminal id the card signature binds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_id: Option<String>,
    /// The version of the terms of use the resident accepted before the card was read
    /// ([`TERMS_VERSION`]); without an accepted one records refuses with `terms-not-accepted`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terms_version: Option<String>,
}

/// What a gateway forwards to records: the resident's request plus what the gateway vouches for.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InternalPreviewRequest {
    /// The channel the gateway serves.
    pub channel: Channel,
    /// Kiosk: the CN of its client certificate; app: the device id.
    pub terminal_id: String,
    /// The resident's request.
    #[serde(flatten)]
    pub request: PreviewRequest,
}

/// One dose as shown before issuing and printed after.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct DoseView {
    /// 接種回数.
    pub seq: u8,
    /// `YYYY-MM-DD`.
    pub date: String,
    /// Catalogue product code.
    pub product: String,
    /// Product name, Japanese.
    pub product_ja: String,
    /// Product name, English.
    pub product_en: String,
    /// Manufacturer.
    pub manufacturer: String,
    /// Lot number.
    pub lot: String,
}

/// What the certificate will say: shown on the confirmation screen. Never a MyNumber; the
/// passport number only masked.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CertificatePreview {
    /// Domestic or overseas.
    pub kind: Kind,
    /// The legal name as the certificate prints it (kanji, or Latin letters for a foreign
    /// resident).
    pub name: String,
    /// A foreign resident's registered 通称 (alias), printed beside the name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    /// Romanised name (overseas).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_roman: Option<String>,
    /// `YYYY-MM-DD`.
    pub birth_date: String,
    /// Doses.
    pub doses: Vec<DoseView>,
    /// Issuing municipality's name.
    pub municipality_name: String,
    /// Passport number, masked (`TK*****67`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passport_number_masked: Option<String>,
}

/// `…/previews` answer: the preview and a single-use token (120 s) bound to the evidence.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PreviewResponse {
    /// Opaque, sealed by records.
    pub preview_token: String,
    /// When the token expires.
    pub expires_at: UnixTime,
    /// What will be issued.
    pub certificate: CertificatePreview,
}

/// `…/certificates` body.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CertificateRequest {
    /// The token from the preview.
    pub preview_token: String,
    /// The terminal redeeming it: the app's `device_id` (optional; checked when given) or,
    /// set by the center from the kiosk's client certificate, the kiosk's id (always
    /// checked). A token redeems only on the terminal that previewed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terminal_id: Option<String>,
}

/// `…/certificates` answer: the signed artefacts.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CertificateResponse {
    /// The certificate ID (also the VDS-NC UVCI).
    pub certificate_id: String,
    /// `shc:/…`.
    pub shc: String,
    /// VDS-NC JSON (overseas only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vdsnc: Option<String>,
    /// The signed PDF, base64 (standard alphabet).
    pub pdf_base64: String,
}
