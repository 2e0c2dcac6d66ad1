//! Value types of the record system, each parsed once and valid by construction, and the
//! DESIGN §4 name rule.

use std::fmt;

use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;

use super::error::{Error, Result};

/// A 宛名番号: the municipality's own resident number (1–20 ASCII letters or digits), unique
/// within one municipality.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AtenaNo(String);

impl AtenaNo {
    /// Parse.
    ///
    /// # Errors
    /// [`Error::Invalid`] unless 1–20 ASCII alphanumerics.
    pub fn parse(s: &str) -> Result<Self> {
        if (1..=20).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric()) {
            Ok(AtenaNo(s.to_owned()))
        } else {
            Err(Error::Invalid {
                what: "宛名番号"
            })
        }
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for AtenaNo {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        Self::parse(&s)
    }
}

impl From<AtenaNo> for String {
    fn from(a: AtenaNo) -> String {
        a.0
    }
}

impl fmt::Display for AtenaNo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for AtenaNo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AtenaNo({})", self.0)
    }
}

/// A 券番号 (coupon number): ten digits, as VRS holds it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct KenNo(String);

impl KenNo {
    /// Parse.
    ///
    /// # Errors
    /// [`Error::Invalid`] unless ten ASCII digits.
    pub fn parse(s: &str) -> Result<Self> {
        if s.len() == 10 && s.bytes().all(|b| b.is_ascii_digit()) {
            Ok(KenNo(s.to_owned()))
        } else {
            Err(Error::Invalid { what: "券番号" })
        }
    }

    /// The digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// 転出/死亡フラグ: whether the municipality still holds the resident.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ResidentStatus {
    /// Empty flag: resident.
    Resident,
    /// `1`: moved out (転出).
    MovedOut,
    /// `2`: deceased (死亡).
    Deceased,
}

impl ResidentStatus {
    /// Parse the CSV flag: empty, `1` or `2`.
    ///
    /// # Errors
    /// [`Error::Invalid`].
    pub fn from_flag(s: &str) -> Result<Self> {
        match s {
            "" => Ok(ResidentStatus::Resident),
            "1" => Ok(ResidentStatus::MovedOut),
            "2" => Ok(ResidentStatus::Deceased),
            _ => Err(Error::Invalid {
                what: "転出/死亡フラグ",
            }),
        }
    }

    pub(in crate::records) fn to_db(self) -> i64 {
        match self {
            ResidentStatus::Resident => 0,
            ResidentStatus::MovedOut => 1,
            ResidentStatus::Deceased => 2,
        }
    }

    pub(in crate::records) fn from_db(v: i64) -> Result<Self> {
        match v {
            0 => Ok(ResidentStatus::Resident),
            1 => Ok(ResidentStatus::MovedOut),
            2 => Ok(ResidentStatus::Deceased),
            _ => Err(Error::Corrupt("resident status")),
        }
    }
}

/// 券種: what the resident presented at the vaccination (vaxcert's codes, see README).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CouponType {
    /// `1`: 接種券 (the coupon sheet).
    Coupon,
    /// `2`: 接種券一体型予診票 (coupon printed on the questionnaire).
    CouponQuestionnaire,
    /// `3`: 予診のみ / 接種券なし (recorded without a coupon, e.g. workplace vaccination).
    NoCoupon,
}

impl CouponType {
    /// Parse the CSV code.
    ///
    /// # Errors
    /// [`Error::Invalid`].
    pub fn from_code(s: &str) -> Result<Self> {
        match s {
            "1" => Ok(CouponType::Coupon),
            "2" => Ok(CouponType::CouponQuestionnaire),
            "3" => Ok(CouponType::NoCoupon),
            _ => Err(Error::Invalid { what: "券種" }),
        }
    }

    /// The CSV and database code.
    pub fn code(self) -> &'static str {
        match self {
            CouponType::Coupon => "1",
            CouponType::CouponQuestionnaire => "2",
            CouponType::NoCoupon => "3",
        }
    }
}

/// Certificate IDs are the domain type, shared with the issuing pipeline (VDS-NC UVCI).
pub use crate::domain::CertificateId;

/// Passport data stored with an issuance (DESIGN §4) and reused by the kiosk.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PassportData {
    /// Romanised name as in the MRZ, e.g. `YAMADA TARO`.
    pub romanised_name: String,
    /// ISO 3166-1 alpha-3 nationality, e.g. `JPN`.
    pub nationality: String,
    /// Passport number.
    pub passport_number: String,
    /// 旧姓・別姓・別名, when the resident asked for it to be shown.
    pub former_name: Option<String>,
}

/// Staff roles, each scoped to one municipality.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// Manages staff and imports; can unlock logins.
    Admin,
    /// Searches, views and issues at the counter.
    Clerk,
    /// Reads records and the audit log; cannot issue.
    Auditor,
    /// The state's statistics: counts of issuances and revocations over every municipality,
    /// small cells suppressed; never a resident, dose or issuance row.
    Stats,
    /// 転入照会: asks a resident's former municipality for their vaccination records (the only
    /// role that may), and reads its own residents to do so.
    MoveIn,
}

impl Role {
    /// Stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Clerk => "clerk",
            Role::Auditor => "auditor",
            Role::Stats => "stats",
            Role::MoveIn => "move-in",
        }
    }

    /// Parse a stable name.
    ///
    /// # Errors
    /// [`Error::Invalid`].
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "admin" => Ok(Role::Admin),
            "clerk" => Ok(Role::Clerk),
            "auditor" => Ok(Role::Auditor),
            "stats" => Ok(Role::Stats),
            "move-in" => Ok(Role::MoveIn),
            _ => Err(Error::Invalid { what: "role" }),
        }
    }
}

/// The DESIGN §4 comparison form of a name: NFKC, white space removed, every parenthesised
/// part (a 旧姓 after the name) removed, and letters in upper case (a foreign resident's name in
/// Latin letters is `SMITH JOHN` on the card, maybe `Smith` in a record). Nothing else is
/// folded: no guessing.
pub fn comparable_name(s: &str) -> String {
    let nfkc: String = s.nfkc().collect();
    let mut out = String::with_capacity(nfkc.len());
    let mut depth = 0usize;
    for c in nfkc.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            _ if depth > 0 => {}
            c if c.is_whitespace() => {}
            c => out.extend(c.to_uppercase()),
        }
    }
    out
}

/// Whether the card's name string names the record's family and given names. A foreign
/// resident's card carries the legal name, and a registered 通称 (`alias`) after it (or in
/// parentheses, dropped like a 旧姓); the 通称 alone never matches: the card always bears the
/// legal name.
pub fn name_matches(card_name: &str, family: &str, given: &str, alias: Option<&str>) -> bool {
    let record = comparable_name(&format!("{family}{given}"));
    if record.is_empty() {
        return false;
    }
    let card = comparable_name(card_name);
    card == record
        || alias
            .map(comparable_name)
            .filter(|a| !a.is_empty())
            .is_some_and(|a| card == format!("{record}{a}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_name_rule_drops_spaces_and_a_kyusei() {
        assert!(name_matches("山田　太郎", "山田", "太郎", None));
        assert!(name_matches("佐藤　美咲（高橋）", "佐藤", "美咲", None));
        assert!(name_matches("𠮷田　一郎", "𠮷田", "一郎", None));
        assert!(!name_matches("佐藤　美咲（高橋）", "高橋", "美咲", None));
        assert!(!name_matches("山田　太郎", "山田", "次郎", None));
        assert!(!name_matches("吉田　一郎", "𠮷田", "一郎", None));
        assert!(!name_matches("", "", "", None));
    }

    #[test]
    fn latin_names_match_in_any_case_and_a_tsushou_may_follow() {
        assert!(name_matches(
            "SMITH JOHN WILLIAM",
            "Smith",
            "John William",
            None
        ));
        assert!(name_matches("ＳＭＩＴＨ　ＪＯＨＮ", "SMITH", "JOHN", None));
        assert!(!name_matches("SMITH JOHN", "SMITH", "JANE", None));
        let alias = Some("金　太郎");
        assert!(name_matches("KIM TAEHO 金 太郎", "KIM", "TAEHO", alias));
        assert!(name_matches("KIM TAEHO（金太郎）", "KIM", "TAEHO", alias));
        assert!(name_matches("KIM TAEHO", "KIM", "TAEHO", alias));
        assert!(
            !name_matches("金　太郎", "KIM", "TAEHO", alias),
            "the alias alone"
        );
        assert!(!name_matches("KIM TAEHO 金 次郎", "KIM", "TAEHO", alias));
        assert!(!name_matches("KIM TAEHO 金 太郎", "KIM", "TAEHO", None));
    }

    #[test]
    fn certificate_ids_are_12_symbols_of_the_alphabet() {
        for _ in 0..100 {
            let id = CertificateId::random();
            assert_eq!(CertificateId::parse(id.as_str()).unwrap(), id);
        }
        assert!(CertificateId::parse("0123456789AI").is_err());
        assert!(CertificateId::parse("0123456789A").is_err());
    }
}
