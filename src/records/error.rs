//! Everything the record system can refuse or fail at. Variants carry data, never a MyNumber, a
//! PIN, a password or a TOTP code; [`Error::code`] is the stable machine-readable code.

use crate::domain::MunicipalityCode;

/// Which CSV column a row error is in (1-based number and header name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// 1-based column number.
    pub number: usize,
    /// The column's header name.
    pub name: &'static str,
}

/// A failure of the record system.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    // --- import (the operator fixes the file) ---
    /// A CSV row is invalid; nothing was imported.
    #[error("line {line}, column {} ({}): {what}; nothing was imported", column.number, column.name)]
    Row {
        /// 1-based line in the file.
        line: u64,
        /// The column at fault.
        column: Column,
        /// What is wrong, without the value when it may be a MyNumber.
        what: String,
    },
    /// A CSV line has the wrong number of columns, or is not CSV.
    #[error("line {line}: {what}; nothing was imported")]
    Line {
        /// 1-based line in the file.
        line: u64,
        /// What is wrong.
        what: String,
    },
    /// The file is neither UTF-8 nor Shift_JIS/CP932.
    #[error("the file is neither UTF-8 nor Shift_JIS (CP932)")]
    Encoding,

    // --- lookup for issuance (the resident is told what to do) ---
    /// No resident with this MyNumber in the chosen municipality.
    #[error("no record for this card in municipality {0}")]
    NoRecord(MunicipalityCode),
    /// The record's name or birth date differs from the card's.
    #[error("the card's name or birth date does not match the record; ask the municipality")]
    IdentityMismatch,
    /// The resident moved out: the new municipality holds the record now.
    #[error("you moved out of municipality {0}; apply to the municipality you moved to")]
    MovedOut(MunicipalityCode),
    /// The record is marked deceased.
    #[error("the record is marked deceased; no certificate can be issued")]
    Deceased,
    /// The resident has no recorded dose.
    #[error("no vaccination is recorded for you in municipality {0}")]
    NoDoses(MunicipalityCode),

    // --- municipalities, certificates ---
    /// The municipality is not registered.
    #[error("municipality {0} is not registered")]
    UnknownMunicipality(MunicipalityCode),
    /// The municipality does not take part in kiosk issuance.
    #[error("municipality {0} does not take part in kiosk issuance")]
    NotParticipating(MunicipalityCode),
    /// The municipality is already registered.
    #[error("municipality {0} is already registered")]
    MunicipalityExists(MunicipalityCode),
    /// No such certificate in this municipality.
    #[error("no certificate {0} in this municipality")]
    UnknownCertificate(String),
    /// Not a valid value (宛名番号, certificate ID, login, role…).
    #[error("invalid {what}")]
    Invalid {
        /// Which kind of value.
        what: &'static str,
    },

    // --- staff ---
    /// Login, password or TOTP code wrong (which one is not said).
    #[error("login failed")]
    LoginFailed,
    /// Too many failures from this login or address: wait.
    #[error("too many failed logins; try again in {retry_after} s")]
    Throttled {
        /// Seconds to wait.
        retry_after: i64,
    },
    /// The TOTP code was already used.
    #[error("this one-time code was already used; wait for the next one")]
    TotpReplay,
    /// The staff role may not do this.
    #[error("your role may not do this")]
    Forbidden,
    /// No such resident in the staff member's municipality.
    #[error("no such resident in your municipality")]
    NoSuchResident,
    /// The staff login already exists.
    #[error("staff login already exists in this municipality")]
    StaffExists,
    /// No such staff login in the admin's municipality.
    #[error("no such staff login in your municipality")]
    NoSuchStaff,
    /// 転入照会: no resident of the former municipality has this 個人番号.
    #[error("the former municipality holds no resident with this 個人番号")]
    MoveInNoMatch,
    /// 転入照会: the former municipality's resident has not moved out.
    #[error("the former municipality's resident has not moved out (転出)")]
    MoveInNotMovedOut,
    /// An admin tried to change their own login (another admin must).
    #[error("you cannot change your own login; ask another admin")]
    OwnLogin,

    // --- audit ---
    /// The audit chain is broken at `seq`.
    #[error("audit log broken at entry {seq}: {what}")]
    AuditBroken {
        /// First bad entry.
        seq: i64,
        /// What is wrong.
        what: &'static str,
    },

    /// Entries after a signed checkpoint are missing: the log's tail was cut off.
    #[error(
        "audit log truncated: checkpoint {checkpoint} is signed but the log ends at entry {last}"
    )]
    AuditTruncated {
        /// The last entry present.
        last: i64,
        /// The highest signed checkpoint.
        checkpoint: i64,
    },

    // --- operator / infrastructure ---
    /// Configuration or key material is missing or malformed.
    #[error("configuration: {0}")]
    Config(String),
    /// A file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// Which file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The database failed.
    #[error("database: {0}")]
    Db(sqlx::Error),
    /// No writable database answers (a primary restarting or failing over): try again soon.
    #[error("database unavailable: {0}")]
    Unavailable(sqlx::Error),
    /// Applying the schema failed.
    #[error("database migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A cryptographic operation failed (a corrupted ciphertext, a bad key).
    #[error("cryptography: {0}")]
    Crypto(&'static str),
    /// The database holds a value vaxcert never writes (corruption or manual edits).
    #[error("database holds an invalid {0}")]
    Corrupt(&'static str),
}

impl Error {
    /// The stable machine-readable code, as used in problem responses and CLI output.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Row { .. } | Error::Line { .. } => "import-invalid",
            Error::Encoding => "import-encoding",
            Error::NoRecord(_) => "record-not-found",
            Error::IdentityMismatch => "identity-mismatch",
            Error::MovedOut(_) => "resident-moved-out",
            Error::Deceased => "resident-deceased",
            Error::NoDoses(_) => "no-vaccinations",
            Error::UnknownMunicipality(_) => "municipality-unknown",
            Error::NotParticipating(_) => "municipality-not-participating",
            Error::MunicipalityExists(_) => "municipality-exists",
            Error::UnknownCertificate(_) => "certificate-unknown",
            Error::Invalid { .. } => "invalid",
            Error::LoginFailed => "login-failed",
            Error::Throttled { .. } => "login-throttled",
            Error::TotpReplay => "totp-replay",
            Error::Forbidden => "forbidden",
            Error::NoSuchResident => "resident-not-found",
            Error::StaffExists => "staff-exists",
            Error::NoSuchStaff => "staff-not-found",
            Error::OwnLogin => "own-login",
            Error::MoveInNoMatch => "move-in-no-match",
            Error::MoveInNotMovedOut => "move-in-not-moved-out",
            Error::AuditBroken { .. } => "audit-broken",
            Error::AuditTruncated { .. } => "audit-truncated",
            Error::Config(_) => "config",
            Error::Io { .. } => "io",
            Error::Unavailable(_) => "database-unavailable",
            Error::Db(_) | Error::Migrate(_) | Error::Crypto(_) | Error::Corrupt(_) => "internal",
        }
    }
}

impl Error {
    /// The problem document for a refusal a resident can meet on the issuance path; anything
    /// else is `internal`, its detail left to the log under `trace_id`.
    pub fn to_problem(&self, trace_id: &str) -> crate::http::Problem {
        use crate::http::Problem;
        let p = |status, ja: &str| Problem::new(status, self.code(), self.to_string(), ja);
        match self {
            Error::NoRecord(_) => p(404, "記録が見つかりません。"),
            Error::IdentityMismatch => p(
                422,
                "カードの氏名・生年月日が記録と一致しません。市区町村にお問い合わせください。",
            ),
            Error::MovedOut(_) => p(
                409,
                "転出されています。転入先の市区町村に申請してください。",
            ),
            Error::Deceased => p(409, "証明書を発行できません。"),
            Error::NoDoses(_) => p(404, "接種記録がありません。"),
            Error::UnknownMunicipality(_) => p(404, "市区町村が登録されていません。"),
            Error::NotParticipating(_) => p(403, "この市区町村はコンビニ交付に参加していません。"),
            Error::Unavailable(_) => Problem::new(
                503,
                self.code(),
                "The record system is briefly unavailable. Please try again in a moment.",
                "記録システムが一時的に利用できません。しばらくしてからお試しください。",
            ),
            _ => Problem::internal(trace_id),
        }
    }
}

impl From<sqlx::Error> for Error {
    /// A lost or refused connection, a pool with no connection to give, or a server that is
    /// shutting down or read-only (a standby) is [`Error::Unavailable`]: the request failed
    /// fast and may be retried; anything else is a database failure.
    fn from(e: sqlx::Error) -> Self {
        let transient = match &e {
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => true,
            sqlx::Error::Database(d) => d.code().is_some_and(|c| {
                // 08: connection exception; 57P01-3: shutting down / cannot connect now;
                // 25006: read-only transaction (a standby, or a primary being demoted).
                c.starts_with("08") || c.starts_with("57P") || c == "25006"
            }),
            _ => false,
        };
        if transient {
            Error::Unavailable(e)
        } else {
            Error::Db(e)
        }
    }
}

/// Results of the record system.
pub type Result<T, E = Error> = std::result::Result<T, E>;
