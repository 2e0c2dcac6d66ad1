//! Errors of the counter UI. Each has a stable machine code (shown on the error page and in
//! logs) and a bilingual message for staff.

use crate::formats::mrz::MrzError;

/// Why a counter request failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The form's CSRF token is missing or does not match the session's.
    #[error("the form is out of date; reload the page and try again")]
    Csrf,
    /// The pasted MRZ was refused.
    #[error("{0}")]
    Mrz(#[from] MrzError),
    /// The MRZ's birth date is not the record's.
    #[error("the passport's birth date does not match the record")]
    MrzBirthDate,
    /// A form field is malformed.
    #[error("invalid input: {0}")]
    Input(&'static str),
    /// Overseas certificates need passport data first.
    #[error("paste the passport MRZ before previewing an overseas certificate")]
    NeedsPassport,
    /// The record system refused (not found, throttled, database …).
    #[error("{0}")]
    Records(#[from] crate::records::Error),
    /// Signing or recording the certificate failed.
    #[error("{0}")]
    Issuance(#[from] crate::issuance::Error),
    /// The 転入照会 failed (here, on the way, or at the former municipality).
    #[error("{0}")]
    MoveIn(#[from] crate::move_in::Error),
    /// The certificate to print is not this session's latest issuance.
    #[error("no such certificate in this session; issue it again")]
    NotIssuedHere,
    /// The listener could not be bound or served.
    #[error("counter listener: {0}")]
    Bind(String),
}

impl Error {
    /// The stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Csrf => "csrf",
            Error::Mrz(e) => e.code(),
            Error::MrzBirthDate => "mrz-birth-date-mismatch",
            Error::Input(_) => "invalid-input",
            Error::NeedsPassport => "passport-required",
            Error::Records(e) => e.code(),
            Error::Issuance(e) => e.code(),
            Error::MoveIn(e) => e.code(),
            Error::NotIssuedHere => "certificate-not-in-session",
            Error::Bind(_) => "bind",
        }
    }

    /// The Japanese line shown above the English message.
    pub(super) fn message_ja(&self) -> &'static str {
        match self {
            Error::Csrf => "フォームの有効期限が切れました。再読み込みしてください。",
            Error::Mrz(MrzError::CheckDigit(_)) => {
                "MRZのチェックディジットが一致しません。入力を確認してください。"
            }
            Error::Mrz(_) => "MRZは44文字×2行（A–Z、0–9、<）で貼り付けてください。",
            Error::MrzBirthDate => "旅券の生年月日が記録と一致しません。",
            Error::Input(_) => "入力内容に誤りがあります。",
            Error::NeedsPassport => "海外用証明書には旅券のMRZが必要です。",
            Error::Records(e) => match e.code() {
                "login-failed" => "ログインできませんでした。",
                "login-throttled" => "しばらく待ってから再度お試しください。",
                "totp-replay" => "この確認コードは使用済みです。次のコードを待ってください。",
                "resident-not-found" => "該当する住民記録がありません。",
                "forbidden" => "この操作の権限がありません。",
                "staff-not-found" => "該当する職員のログインがありません。",
                "staff-exists" => "このログインIDは既に使われています。",
                "own-login" => "自分のログインは変更できません。別の管理者に依頼してください。",
                "invalid" => "入力内容に誤りがあります。",
                _ => "記録システムでエラーが発生しました。",
            },
            Error::Issuance(e) => match e.code() {
                "resident-moved-out" => "転出されています。転入先の市区町村で発行してください。",
                "resident-deceased" => "証明書を発行できません。",
                "no-vaccinations" => "接種記録がありません。",
                "passport-required" => "海外用証明書には旅券のMRZが必要です。",
                _ => "証明書を発行できませんでした。",
            },
            Error::MoveIn(e) => match e.code() {
                "move-in-no-match" => "転出元に該当する住民がいません（個人番号が一致しません）。",
                "move-in-not-moved-out" => "転出元で転出の記録がありません。",
                "move-in-no-route" => "転出元の市区町村に照会する経路が設定されていません。",
                "move-in-forbidden" => "転出元がこの照会を受け付けませんでした。",
                "municipality-unknown" => "転出元の市区町村が見つかりません。",
                "forbidden" => "この操作の権限がありません。",
                _ => "転出元の記録システムから回答がありませんでした。",
            },
            Error::NotIssuedHere => "この証明書はこのセッションで発行されていません。",
            Error::Bind(_) => "サーバーエラー",
        }
    }
}
