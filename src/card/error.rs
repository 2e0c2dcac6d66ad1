//! Everything that can go wrong reading a card or checking its evidence. Variants carry data,
//! never a PIN, a MyNumber or card bytes; [`Error::code`] gives the stable machine-readable code
//! and [`Error::to_problem`] the one problem document each maps to.

use crate::http::Problem;

/// Which TEXT AP file a structural problem was found in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ef {
    /// EF0001, the MyNumber.
    MyNumber,
    /// EF0002, the four basic items.
    Attributes,
    /// EF0003, digests and their signature.
    Integrity,
    /// EF0004, the card-verifiable certificate.
    Certificate,
    /// EF0007, the internal-authentication public key.
    CardKey,
    /// The challenge or its signature.
    Challenge,
}

/// A failure reading the card over PC/SC or verifying what it returned.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    // --- reading (the resident or the terminal can act on these) ---
    /// pcscd is not running or not reachable.
    #[error("the PC/SC service is not available (is pcscd running?)")]
    PcscUnavailable,
    /// PC/SC knows no reader.
    #[error("no card reader is connected")]
    NoReader,
    /// The reader asked for does not exist.
    #[error("no card reader named {0:?}")]
    ReaderNotFound(String),
    /// A reader is there but holds no card.
    #[error("no card in the reader")]
    NoCard,
    /// The card left the reader (or was reset) during the read.
    #[error("the card was removed during the read; insert it again and retry")]
    CardRemoved,
    /// Another program holds the card exclusively.
    #[error("the card reader is busy with another program")]
    ReaderBusy,
    /// The card has no TEXT AP: not a MyNumber card, or inserted upside down.
    #[error("this is not a MyNumber card (no 券面事項入力補助AP)")]
    NotMyNumberCard,
    /// The PIN was wrong; the card counted one try down.
    #[error("wrong PIN: {tries_left} tries left")]
    WrongPin {
        /// Tries the card reports as left.
        tries_left: u8,
    },
    /// No tries are left (`63C0`, `6983`, `6984`): only the municipality can unlock the card.
    #[error("the card's PIN is locked; ask your municipality office to reset it")]
    Locked,
    /// What was typed is not four digits; the card was not asked.
    #[error("the PIN is 4 digits")]
    PinFormat,
    /// The card answered with a status vaxcert does not expect.
    #[error("the card answered {0:04X}")]
    CardStatus(u16),
    /// Any other PC/SC failure.
    #[error("card reader error: {0}")]
    Transport(String),

    // --- evidence verification (DESIGN §3) ---
    /// A file does not have the structure of a TEXT AP file.
    #[error("card data is malformed ({file:?}: {what})")]
    Malformed {
        /// Which file.
        file: Ef,
        /// What was wrong, without any bytes.
        what: &'static str,
    },
    /// Step 1: the CVC names a J-LIS CA key outside the trusted set.
    #[error("the card's certificate is issued under J-LIS CA key {key_id}, which is not trusted")]
    UntrustedIssuer {
        /// The 7-digit 証明者鍵ID.
        key_id: String,
    },
    /// Step 1: the CVC's signature does not verify under its CA key.
    #[error("the card's certificate (EF0004) does not verify")]
    CertificateSignature,
    /// Step 2: DF33 does not verify under the CVC key.
    #[error("the card's data signature (EF0003) does not verify")]
    IntegritySignature,
    /// Step 3: DF31 does not match EF0001.
    #[error("the MyNumber file (EF0001) does not match its signed digest")]
    MyNumberDigest,
    /// Step 3: DF32 does not match EF0002.
    #[error("the basic items (EF0002) do not match their signed digest")]
    AttributesDigest,
    /// EF0001 holds no valid MyNumber.
    #[error("the MyNumber on the card is not valid")]
    MalformedMyNumber,
    /// Step 4: DF52 does not verify over DF51.
    #[error("the card's authentication key (EF0007) does not verify")]
    CardKeySignature,
    /// Step 5: the challenge was not made by this service.
    #[error("the challenge was not issued by this service")]
    ChallengeForged,
    /// Step 5: the challenge is past its expiry.
    #[error("the challenge has expired; start again")]
    ChallengeExpired,
    /// Step 5: the challenge was already used.
    #[error("the challenge was already used; start again")]
    ChallengeReused,
    /// Step 5: the card's signature does not cover this challenge, channel, terminal,
    /// municipality and kind.
    #[error("the card's signature does not match this request")]
    ChallengeSignature,
    /// Step 5: the used-challenge store failed.
    #[error("the challenge store failed: {0}")]
    UsedStore(String),
}

impl Error {
    /// The stable machine-readable code, as used in problem responses and CLI output.
    pub fn code(&self) -> &'static str {
        match self {
            Error::PcscUnavailable => "pcsc-unavailable",
            Error::NoReader => "no-reader",
            Error::ReaderNotFound(_) => "reader-not-found",
            Error::NoCard => "no-card",
            Error::CardRemoved => "card-removed",
            Error::ReaderBusy => "reader-busy",
            Error::NotMyNumberCard => "not-mynumber-card",
            Error::WrongPin { .. } => "pin-wrong",
            Error::Locked => "card-locked",
            Error::PinFormat => "pin-format",
            Error::CardStatus(_) => "card-status",
            Error::Transport(_) => "card-io",
            Error::Malformed { .. } => "evidence-malformed",
            Error::UntrustedIssuer { .. } => "card-ca-untrusted",
            Error::CertificateSignature => "card-certificate-invalid",
            Error::IntegritySignature => "card-integrity-invalid",
            Error::MyNumberDigest => "card-mynumber-tampered",
            Error::AttributesDigest => "card-attributes-tampered",
            Error::MalformedMyNumber => "card-mynumber-invalid",
            Error::CardKeySignature => "card-key-invalid",
            Error::ChallengeForged => "challenge-invalid",
            Error::ChallengeExpired => "challenge-expired",
            Error::ChallengeReused => "challenge-reused",
            Error::ChallengeSignature => "card-signature-mismatch",
            Error::UsedStore(_) => "internal",
        }
    }

    pub(crate) fn malformed(file: Ef, what: &'static str) -> Self {
        Error::Malformed { file, what }
    }
}

impl From<pcsc::Error> for Error {
    fn from(e: pcsc::Error) -> Self {
        use pcsc::Error as P;
        match e {
            P::NoService | P::ServiceStopped | P::NoReadersAvailable => Error::PcscUnavailable,
            P::UnknownReader | P::ReaderUnavailable => Error::NoReader,
            P::NoSmartcard => Error::NoCard,
            P::RemovedCard | P::ResetCard | P::UnpoweredCard | P::UnresponsiveCard => {
                Error::CardRemoved
            }
            P::SharingViolation => Error::ReaderBusy,
            other => Error::Transport(other.to_string()),
        }
    }
}

impl From<myna_card::Error> for Error {
    fn from(e: myna_card::Error) -> Self {
        use myna_card::Error as M;
        match e {
            M::Pcsc(p) => p.into(),
            M::NoReader => Error::NoReader,
            M::ReaderNotFound(name) => Error::ReaderNotFound(name),
            M::PinBlocked => Error::Locked,
            M::PinIncorrect { retries: Some(0) } => Error::Locked,
            M::PinIncorrect { retries: Some(n) } => Error::WrongPin { tries_left: n },
            M::Status(sw) => from_status(sw.value()),
            other => Error::Transport(other.to_string()),
        }
    }
}

/// Sort a status word the card answered to a PIN or read command.
pub(crate) fn from_status(sw: u16) -> Error {
    match sw {
        0x63C0 | 0x6983 | 0x6984 => Error::Locked,
        0x63C1..=0x63CF => Error::WrongPin {
            tries_left: (sw & 0x0F) as u8,
        },
        other => Error::CardStatus(other),
    }
}

impl Error {
    /// The problem document for this refusal (a wrong PIN carries the tries left).
    pub fn to_problem(&self) -> Problem {
        use Error as E;
        let e = self;
        let (status, ja) = match e {
            E::WrongPin { .. } => (400, "暗証番号が違います。"),
            E::Locked => (
                403,
                "暗証番号がロックされています。お住まいの市区町村の窓口で解除してください。",
            ),
            E::NoCard | E::CardRemoved => (
                409,
                "カードを読み取れませんでした。カードを置き直してください。",
            ),
            E::NotMyNumberCard => (400, "マイナンバーカードではありません。"),
            E::ChallengeExpired | E::ChallengeReused | E::ChallengeForged => {
                (409, "時間切れです。最初からやり直してください。")
            }
            E::UsedStore(_) => (500, "システムで問題が発生しました。"),
            E::UntrustedIssuer { .. }
            | E::CertificateSignature
            | E::IntegritySignature
            | E::MyNumberDigest
            | E::AttributesDigest
            | E::MalformedMyNumber
            | E::CardKeySignature
            | E::ChallengeSignature
            | E::Malformed { .. } => (422, "カードの内容を確認できませんでした。"),
            _ => (400, "カードの読み取りに失敗しました。"),
        };
        let p = Problem::new(status, e.code(), e.to_string(), ja);
        match e {
            E::WrongPin { tries_left } => p.with_tries_left(*tries_left),
            _ => p,
        }
    }
}
