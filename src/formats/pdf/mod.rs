//! The PDF vaccination certificate (DESIGN §5, "PDF"): an A4 page with Japanese and English
//! headings, the holder's name and birth date, a table of doses, the certificate ID, issue date
//! and municipality, the SMART Health Card QR (and for the overseas kind the ICAO VDS-NC QR),
//! and a note on how to verify; then a PAdES baseline B signature (CMS detached SignedData
//! with ESS signing-certificate-v2, `/SubFilter /ETSI.CAdES.detached`).
//!
//! ```text
//! Layout (templates/certificate.toml) ─┐
//! font bytes (templates/fonts/)  ──────┴─▶ PdfRenderer::render(&CertificateDocument) ─▶ PDF
//!                                          PdfSigner::sign(pdf, time) ─▶ signed PDF
//! ```
//!
//! Value → bytes only: no I/O except loading the layout and keys at start-up. The document
//! type has no field for a MyNumber, so none can reach the file. The font is subset (printpdf's
//! `text_layout` feature) and the QR codes are drawn as vector squares from the QR matrix.

mod canvas;
mod error;
mod font;
mod layout;
mod render;
mod sign;

pub use error::Error;
pub use layout::{Layout, MIN_QR_WIDTH_MM};
pub use render::PdfRenderer;
pub use sign::PdfSigner;

use crate::domain::{BirthDate, Kind};

/// What one certificate shows: everything the issuing code has already checked and built.
/// Its `Debug` shows no personal data.
#[derive(Clone, Copy)]
pub struct CertificateDocument<'a> {
    /// Domestic (SHC only) or overseas (adds romanised name, passport line and VDS-NC).
    pub kind: Kind,
    /// The legal name as in the record: family and given separated by U+3000, e.g. "山田　太郎",
    /// or by a space for a name in Latin letters, e.g. "SMITH JOHN WILLIAM".
    pub name_kanji: &'a str,
    /// A foreign resident's registered 通称 (alias), printed beside the birth date.
    pub alias: Option<&'a str>,
    /// Overseas only: the romanised name as in the passport, e.g. "YAMADA TARO".
    pub name_roman: Option<&'a str>,
    /// Overseas only, optional: 旧姓・別姓・別名 as the passport shows it, printed beside the
    /// romanised name (the counter records it when the resident asks).
    pub former_name: Option<&'a str>,
    /// Overseas only, optional: the passport number in full, e.g. "TK1234500" (the Digital
    /// Agency's FAQ Q6-4 lists it on the overseas kind; only screens mask it).
    pub passport_number: Option<&'a str>,
    /// Overseas only, optional: the nationality as in the passport (ISO 3166-1 alpha-3, or the
    /// MRZ's codes for other travel documents), printed with the country's English name.
    pub nationality: Option<&'a str>,
    /// The holder's birth date.
    pub birth_date: BirthDate,
    /// Doses in the order they are printed.
    pub doses: &'a [crate::formats::Dose],
    /// The 12-character certificate ID.
    pub certificate_id: &'a str,
    /// Issue date, `YYYY-MM-DD`.
    pub issued_on: &'a str,
    /// The issuing municipality's name, e.g. "東京都千代田区".
    pub municipality: &'a str,
    /// The SMART Health Card QR, built by the caller (segments, level L).
    pub shc_qr: &'a crate::formats::qr::Matrix,
    /// Overseas only: the ICAO VDS-NC QR.
    pub vdsnc_qr: Option<&'a crate::formats::qr::Matrix>,
}

impl std::fmt::Debug for CertificateDocument<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertificateDocument")
            .field("kind", &self.kind)
            .field("certificate_id", &self.certificate_id)
            .field("doses", &self.doses.len())
            .finish_non_exhaustive()
    }
}
