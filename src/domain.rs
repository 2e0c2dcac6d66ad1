//! Value types shared by every role, each parsed once and valid by construction.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Why a domain value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A 全国地方公共団体コード must be six ASCII digits.
    #[error("a municipality code is 6 digits")]
    MunicipalityFormat,
    /// The sixth digit does not match the first five.
    #[error("municipality code check digit is wrong")]
    MunicipalityCheckDigit,
    /// A date must be `YYYYMMDD` or `YYYY-MM-DD` and exist in the calendar.
    #[error("not a valid date (YYYYMMDD)")]
    Date,
    /// Sex is an ISO/IEC 5218 code: 0, 1, 2 or 9.
    #[error("sex must be 1 (male), 2 (female), 9 (not applicable) or 0 (unknown)")]
    Sex,
    /// A certificate ID is 12 characters of `23456789ABCDEFGHJKLMNPQRSTUVWXYZ`.
    #[error("a certificate ID is 12 characters (2-9, A-Z without I and O)")]
    CertificateId,
    /// Not one of the known channels or kinds.
    #[error("unknown value {0:?}")]
    Unknown(String),
}

/// A 全国地方公共団体コード: five digits plus a check digit (JIS X 0402).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct MunicipalityCode([u8; 6]);

impl MunicipalityCode {
    /// Parse and check the check digit: `(11 - Σ dᵢ·(6,5,4,3,2) mod 11)`, last digit.
    ///
    /// # Errors
    /// [`Error::MunicipalityFormat`] or [`Error::MunicipalityCheckDigit`].
    pub fn parse(s: &str) -> Result<Self, Error> {
        let b: [u8; 6] = s
            .as_bytes()
            .try_into()
            .map_err(|_| Error::MunicipalityFormat)?;
        if !b.iter().all(u8::is_ascii_digit) {
            return Err(Error::MunicipalityFormat);
        }
        if b[5] - b'0' != Self::check_digit(&b[..5]) {
            return Err(Error::MunicipalityCheckDigit);
        }
        Ok(MunicipalityCode(b))
    }

    fn check_digit(first5: &[u8]) -> u8 {
        let sum: u32 = first5
            .iter()
            .zip([6u32, 5, 4, 3, 2])
            .map(|(d, w)| u32::from(d - b'0') * w)
            .sum();
        ((11 - sum % 11) % 10) as u8
    }

    /// The six digits.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("000000")
    }
}

impl FromStr for MunicipalityCode {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Self::parse(s)
    }
}

impl TryFrom<String> for MunicipalityCode {
    type Error = Error;
    fn try_from(s: String) -> Result<Self, Error> {
        Self::parse(&s)
    }
}

impl From<MunicipalityCode> for String {
    fn from(c: MunicipalityCode) -> String {
        c.as_str().to_owned()
    }
}

impl fmt::Display for MunicipalityCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for MunicipalityCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MunicipalityCode({})", self.as_str())
    }
}

/// A calendar date, as the card (`YYYYMMDD`) and the records hold birth dates.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct BirthDate {
    year: u16,
    month: u8,
    day: u8,
}

impl BirthDate {
    /// Parse `YYYYMMDD` or `YYYY-MM-DD`, rejecting dates that do not exist.
    ///
    /// # Errors
    /// [`Error::Date`].
    pub fn parse(s: &str) -> Result<Self, Error> {
        let digits: String = match s.len() {
            8 => s.to_owned(),
            10 if s.as_bytes()[4] == b'-' && s.as_bytes()[7] == b'-' => {
                format!("{}{}{}", &s[..4], &s[5..7], &s[8..])
            }
            _ => return Err(Error::Date),
        };
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Error::Date);
        }
        let year: u16 = digits[..4].parse().map_err(|_| Error::Date)?;
        let month: u8 = digits[4..6].parse().map_err(|_| Error::Date)?;
        let day: u8 = digits[6..].parse().map_err(|_| Error::Date)?;
        if year < 1850
            || crate::date::real(i64::from(year), i64::from(month), i64::from(day)).is_none()
        {
            return Err(Error::Date);
        }
        Ok(BirthDate { year, month, day })
    }

    /// `YYYYMMDD`, as the card stores it.
    pub fn compact(&self) -> String {
        format!("{:04}{:02}{:02}", self.year, self.month, self.day)
    }

    /// `YYYY-MM-DD` (ISO 8601), as FHIR and ICAO want it.
    pub fn iso(&self) -> String {
        format!("{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

impl TryFrom<String> for BirthDate {
    type Error = Error;
    fn try_from(s: String) -> Result<Self, Error> {
        Self::parse(&s)
    }
}

impl From<BirthDate> for String {
    fn from(d: BirthDate) -> String {
        d.iso()
    }
}

impl fmt::Display for BirthDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.iso())
    }
}

impl fmt::Debug for BirthDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BirthDate({})", self.iso())
    }
}

/// Sex as ISO/IEC 5218 codes, which is what the card's DF25 holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Sex {
    /// `0`
    Unknown,
    /// `1`
    Male,
    /// `2`
    Female,
    /// `9`
    NotApplicable,
}

impl Sex {
    /// Parse the one-digit code.
    ///
    /// # Errors
    /// [`Error::Sex`].
    pub fn from_code(s: &str) -> Result<Self, Error> {
        match s {
            "0" => Ok(Sex::Unknown),
            "1" => Ok(Sex::Male),
            "2" => Ok(Sex::Female),
            "9" => Ok(Sex::NotApplicable),
            _ => Err(Error::Sex),
        }
    }

    /// The one-digit code.
    pub fn code(self) -> &'static str {
        match self {
            Sex::Unknown => "0",
            Sex::Male => "1",
            Sex::Female => "2",
            Sex::NotApplicable => "9",
        }
    }

    /// Bilingual label for screens.
    pub fn label(self) -> &'static str {
        match self {
            Sex::Unknown => "不明 / unknown",
            Sex::Male => "男 / male",
            Sex::Female => "女 / female",
            Sex::NotApplicable => "適用不能 / not applicable",
        }
    }
}

/// A certificate ID: 12 characters from a 32-symbol alphabet without 0, 1, I or O, random
/// (60 bits), unique across all municipalities. It is also the VDS-NC UVCI.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CertificateId([u8; 12]);

/// The certificate-ID alphabet.
pub const CERTIFICATE_ID_ALPHABET: &[u8; 32] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZ";

impl CertificateId {
    /// A fresh random ID.
    pub fn random() -> Self {
        use rand::RngExt;
        let mut rng = rand::rng();
        let mut b = [0u8; 12];
        for c in &mut b {
            *c = CERTIFICATE_ID_ALPHABET[rng.random_range(0..32)];
        }
        CertificateId(b)
    }

    /// Parse (case-insensitive).
    ///
    /// # Errors
    /// [`Error::CertificateId`].
    pub fn parse(s: &str) -> Result<Self, Error> {
        let up = s.trim().to_ascii_uppercase();
        let b: [u8; 12] = up.as_bytes().try_into().map_err(|_| Error::CertificateId)?;
        if !b.iter().all(|c| CERTIFICATE_ID_ALPHABET.contains(c)) {
            return Err(Error::CertificateId);
        }
        Ok(CertificateId(b))
    }

    /// The 12 characters.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("")
    }
}

impl TryFrom<String> for CertificateId {
    type Error = Error;
    fn try_from(s: String) -> Result<Self, Error> {
        Self::parse(&s)
    }
}

impl From<CertificateId> for String {
    fn from(c: CertificateId) -> String {
        c.as_str().to_owned()
    }
}

impl fmt::Display for CertificateId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for CertificateId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CertificateId({})", self.as_str())
    }
}

/// Through which channel a certificate is requested. No default: every request names one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Channel {
    /// The citizen mobile app, through the app gateway.
    App,
    /// A convenience-store kiosk, through the issuance center.
    Kiosk,
    /// Municipal counter staff.
    Counter,
}

impl Channel {
    /// Stable name, as bound into the card's challenge signature.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::App => "app",
            Channel::Kiosk => "kiosk",
            Channel::Counter => "counter",
        }
    }
}

/// Which certificate: for use in Japan only, or for travel (adds passport data and a VDS-NC).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// 国内用.
    Domestic,
    /// 海外用.
    Overseas,
}

impl Kind {
    /// Stable name, as bound into the card's challenge signature.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Domestic => "domestic",
            Kind::Overseas => "overseas",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn municipality_codes_of_real_places_pass() {
        for code in ["131016", "011002", "271004", "401307", "472018"] {
            MunicipalityCode::parse(code).unwrap();
        }
    }

    #[test]
    fn every_wrong_check_digit_is_refused() {
        for last in 0..10u8 {
            let code = format!("13101{last}");
            let ok = MunicipalityCode::parse(&code).is_ok();
            assert_eq!(ok, last == 6, "{code}");
        }
        assert_eq!(
            MunicipalityCode::parse("13101"),
            Err(Error::MunicipalityFormat)
        );
        assert_eq!(
            MunicipalityCode::parse("13101a"),
            Err(Error::MunicipalityFormat)
        );
    }

    #[test]
    fn certificate_ids_round_trip_and_refuse_lookalikes() {
        let id = CertificateId::random();
        assert_eq!(
            CertificateId::parse(&id.as_str().to_lowercase()).unwrap(),
            id
        );
        assert!(
            CertificateId::parse("6U5RSWMBASG0").is_err(),
            "0 is not in the alphabet"
        );
        assert!(CertificateId::parse("ABC").is_err());
    }

    #[test]
    fn dates_must_exist() {
        assert_eq!(BirthDate::parse("19800217").unwrap().iso(), "1980-02-17");
        assert_eq!(
            BirthDate::parse("2000-02-29").unwrap().compact(),
            "20000229"
        );
        for bad in [
            "19000229",
            "19801301",
            "19800230",
            "1980021",
            "1980-0217",
            "abcdefgh",
        ] {
            assert!(BirthDate::parse(bad).is_err(), "{bad}");
        }
    }
}
