//! The verifier (DESIGN §6): offline verdicts on SMART Health Cards, ICAO VDS-NC and EU DCC,
//! from text, files or QR images, against a [`TrustStore`]. No network, no database, no keys.
//!
//! ```text
//! input    bytes → texts (QR images decoded by qr) → candidates; legacy shc:/C/N/ chunks joined
//! shc      shc:/ numeric, JWS, .smart-health-card, FHIR $health-cards-issue Parameters
//! vdsnc    ICAO VDS-NC JSON: BSC chain to a CSCA, EKU, DocumentTypeList, JCS signature
//! dcc      HC1: base45 → zlib → COSE_Sign1 → CWT → hcert (ES256, PS256)
//! trust    the trust store (certs/trust/, --trust DIR, --trust-dev)
//! http     POST /v1/verify and the /verify page; cli: `vaxcert verify`, `vaxcert trust`
//! ```
//!
//! Every path returns a [`Report`]; malformed input is `invalid` with a reason, never a panic.

mod b64;
pub mod cli;
mod dcc;
pub mod error;
pub mod http;
mod input;
pub mod qr;
mod shc;
pub mod trust;
mod vdsnc;
pub mod x509;

use serde::Serialize;

pub use error::{Error, TrustError, Verdict};
pub use trust::TrustStore;

use crate::clock::UnixTime;

/// Largest input accepted, in bytes (a QR code holds under 3 KB; files and photos are larger).
pub const MAX_INPUT: usize = 8 * 1024 * 1024;
/// Largest size a compressed payload may inflate to.
pub const MAX_INFLATED: usize = 256 * 1024;

/// Which format a certificate was in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// SMART Health Card (JWS).
    Shc,
    /// ICAO VDS-NC (JSON).
    VdsNc,
    /// EU Digital COVID Certificate (HC1).
    EuDcc,
}

/// Who issued the certificate, as the certificate says it.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Issuer {
    /// `iss`, the BSC subject, or the DCC issuing country.
    pub id: String,
    /// The trust-store entry that vouched for it, if any: its display name (e.g. デジタル庁)
    /// when the store gives one, else its folder name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trusted_as: Option<String>,
}

/// The holder, as the certificate says.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Person {
    /// Full name as printed (family name first where the format separates it).
    pub name: String,
    /// Birth date as in the certificate (`YYYY-MM-DD`, or partial).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub birth_date: Option<String>,
    /// The travel document (passport) number, where the format carries one (VDS-NC `pid.i`):
    /// an overseas checker compares it with the passport shown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub document_number: Option<String>,
}

/// One vaccination (or, for EU DCC, a test or recovery entry).
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Dose {
    /// Date of the event.
    pub date: String,
    /// Product code (CVX, ICD-11, EU product id) as given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    /// The product's name, from the certificate or from the catalogue by its code, so a checker
    /// reads "Spikevax" rather than "CVX 207".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product_name: Option<String>,
    /// Lot number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lot: Option<String>,
    /// Dose number in the series.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dose_number: Option<u64>,
    /// What the entry is (`vaccination`, `test`, `recovery`).
    pub kind: String,
}

/// What was read from a certificate while verifying it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Decoded {
    pub(crate) format: Option<Format>,
    pub(crate) issuer: Option<Issuer>,
    pub(crate) person: Option<Person>,
    pub(crate) doses: Vec<Dose>,
    pub(crate) warnings: Vec<String>,
}

/// The verdict on one certificate, as the CLI prints it and `POST /v1/verify` returns it.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// `valid | invalid | unknown-issuer`.
    pub verdict: Verdict,
    /// Stable reason code (`ok` when valid; otherwise [`Error::code`]).
    pub reason: &'static str,
    /// The reason in English.
    pub message: String,
    /// The format, once recognised.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<Format>,
    /// The issuer, once read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer: Option<Issuer>,
    /// The holder, once read (shown as verified only when the verdict is `valid`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub person: Option<Person>,
    /// The doses (or test/recovery entries).
    pub doses: Vec<Dose>,
    /// Deviations that do not change the verdict (stable codes, e.g. `x5c-expired`).
    pub warnings: Vec<String>,
    /// The verification time, Unix seconds.
    pub verified_at: i64,
}

impl Report {
    pub(crate) fn new(result: Result<(), Error>, d: Decoded, at: UnixTime) -> Report {
        let (verdict, reason, message) = match &result {
            Ok(()) => (Verdict::Valid, "ok", "the certificate is valid".to_string()),
            Err(e) => (e.verdict(), e.code(), e.to_string()),
        };
        let format = match d.format {
            Some(Format::Shc) => "shc",
            Some(Format::VdsNc) => "vds-nc",
            Some(Format::EuDcc) => "eu-dcc",
            None => "unrecognised",
        };
        crate::telemetry::metrics::verdict(format, verdict.as_str(), reason);
        Report {
            verdict,
            reason,
            message,
            format: d.format,
            issuer: d.issuer,
            person: d.person,
            doses: d.doses,
            warnings: d.warnings,
            verified_at: at.0,
        }
    }

    /// A report for input that never became a certificate.
    pub(crate) fn failed(e: Error, at: UnixTime) -> Report {
        Report::new(Err(e), Decoded::default(), at)
    }
}

/// Verify every certificate in `inputs` (each a file's bytes or a text). Legacy chunked
/// `shc:/C/N/…` codes are joined across inputs; an image may hold several QR codes. Returns one
/// report per certificate found (at least one).
pub fn verify_inputs(inputs: &[Vec<u8>], trust: &TrustStore, at: UnixTime) -> Vec<Report> {
    input::verify_all(inputs, trust, at)
}

/// Verify one text (what a QR code or a pasted string holds).
pub fn verify_text(text: &str, trust: &TrustStore, at: UnixTime) -> Vec<Report> {
    input::verify_all(&[text.as_bytes().to_vec()], trust, at)
}
