//! Why the issuance service refused or failed, and the one place its errors become problem
//! documents; the card's and the record system's refusals keep their own codes and texts.

use crate::http::Problem;

/// Why a challenge, preview or certificate was refused or failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The card evidence failed a verification step (its own code).
    #[error(transparent)]
    Card(#[from] crate::card::Error),
    /// The record system refused (no record, moved out, not participating, …).
    #[error(transparent)]
    Records(#[from] crate::records::Error),
    /// The passport MRZ is not a valid TD3 MRZ.
    #[error(transparent)]
    Mrz(#[from] crate::formats::mrz::MrzError),
    /// The request names no terms version, or one this deployment does not accept.
    #[error("the terms of use must be accepted (terms_version) before the card is read")]
    TermsNotAccepted,
    /// A reprint of a revoked certificate.
    #[error("the certificate has been revoked; it cannot be printed again")]
    ReprintRevoked,
    /// A reprint of a certificate whose record has changed since it was issued.
    #[error("the record has changed since this certificate was issued: revoke it and issue anew")]
    ReprintRecordChanged,
    /// The overseas kind needs passport data and none was given.
    #[error("an overseas certificate needs the passport MRZ")]
    PassportRequired,
    /// The passport's MRZ names another person than the record (birth date or sex differ).
    #[error("the passport does not match the resident's record (birth date or sex)")]
    PassportMismatch,
    /// The passport's expiry date has passed.
    #[error("the passport has expired")]
    PassportExpired,
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
    /// The token was made at another terminal (kiosk or device) than the one redeeming it.
    #[error("the preview token belongs to another terminal")]
    TokenTerminal,
    /// The token was made for another channel than the one redeeming it.
    #[error("the preview token belongs to another channel")]
    TokenChannel,
    /// Signing the SHC or VDS-NC failed.
    #[error(transparent)]
    Sign(#[from] super::certificate::IssueError),
    /// Rendering or signing the PDF failed.
    #[error(transparent)]
    Pdf(#[from] crate::formats::pdf::Error),
    /// JWKS/CRL publication failed.
    #[error(transparent)]
    Publication(#[from] crate::formats::Error),
    /// A signing key or certificate could not be loaded.
    #[error(transparent)]
    Keys(#[from] crate::pki::Error),
    /// The signing keys could not be loaded.
    #[error(transparent)]
    SigningKeys(#[from] super::KeyError),
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
            Error::TermsNotAccepted => "terms-not-accepted",
            Error::ReprintRevoked => "certificate-revoked",
            Error::ReprintRecordChanged => "record-changed",
            Error::PassportMismatch => "passport-mismatch",
            Error::PassportExpired => "passport-expired",
            Error::OverseasNeedsPassportHistory => "overseas-needs-passport-history",
            Error::TokenInvalid => "preview-token-invalid",
            Error::TokenExpired => "preview-token-expired",
            Error::TokenReused => "preview-token-reused",
            Error::TokenChannel => "preview-token-channel",
            Error::TokenTerminal => "preview-token-terminal",
            Error::Sign(e) => e.code(),
            Error::Pdf(e) => e.code(),
            Error::Keys(e) => e.code(),
            Error::Publication(_) | Error::Worker(_) => "internal",
            Error::SigningKeys(e) => e.code(),
        }
    }

    /// The problem document for this error; `internal` ones carry `trace_id` only.
    pub fn to_problem(&self, trace_id: &str) -> Problem {
        let p = |status, ja: &str| Problem::new(status, self.code(), self.to_string(), ja);
        match self {
            Error::Card(e) => e.to_problem(),
            Error::Records(e) => e.to_problem(trace_id),
            Error::Mrz(_) => p(400, "旅券の MRZ が正しくありません。"),
            Error::PassportRequired => p(400, "海外用には旅券の MRZ が必要です。"),
            Error::TermsNotAccepted => p(400, "利用規約への同意（terms_version）が必要です。"),
            Error::ReprintRevoked => p(409, "この証明書は失効しているため再印刷できません。"),
            Error::ReprintRecordChanged => p(
                409,
                "交付後に記録が変更されました。失効させてから新たに交付してください。",
            ),
            Error::PassportMismatch => p(422, "旅券の生年月日または性別が住民記録と一致しません。"),
            Error::PassportExpired => p(422, "旅券の有効期限が切れています。"),
            Error::OverseasNeedsPassportHistory => p(
                409,
                "旅券情報の履歴がありません。窓口またはアプリで申請してください。",
            ),
            Error::TokenInvalid => p(400, "確認の有効期限が切れたか、無効です。"),
            Error::TokenExpired
            | Error::TokenReused
            | Error::TokenChannel
            | Error::TokenTerminal => p(409, "時間切れです。最初からやり直してください。"),
            Error::Sign(_)
            | Error::Pdf(_)
            | Error::Publication(_)
            | Error::Keys(_)
            | Error::SigningKeys(_)
            | Error::Worker(_) => Problem::internal(trace_id),
        }
    }
}

/// Results of the issuance service.
pub type Result<T, E = Error> = std::result::Result<T, E>;
