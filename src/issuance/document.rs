//! The signed PDF certificate, assembled in one place: what a request and its signed QR codes
//! put on the page, rendered and then signed (PAdES) with the issuance room's PDF signer.

use super::certificate::{Issued, Request};
use crate::domain::Kind;
use crate::formats::pdf::{CertificateDocument, Error, PdfRenderer, PdfSigner};
use crate::formats::qr::Matrix;

/// Render and sign the PDF for `request`, whose SHC (and for the overseas kind VDS-NC) were
/// signed into `issued` and encoded as `shc_qr` and `vdsnc_qr`. The romanised name, the passport
/// number in full and the nationality are printed on the overseas kind only (screens mask the
/// number; the paper is what the resident shows at a border).
///
/// # Errors
/// [`Error`] from rendering (content that does not fit its kind) or signing.
pub fn signed_pdf(
    renderer: &PdfRenderer,
    signer: &PdfSigner,
    request: &Request,
    issued: &Issued,
    shc_qr: &Matrix,
    vdsnc_qr: Option<&Matrix>,
    municipality: &str,
) -> Result<Vec<u8>, Error> {
    let overseas = request.kind == Kind::Overseas;
    let passport = request.passport.as_ref().filter(|_| overseas);
    let doc = CertificateDocument {
        kind: request.kind,
        name_kanji: &request.name,
        name_roman: passport.map(|p| p.name.as_str()),
        former_name: passport.and_then(|p| p.former_name.as_deref()),
        alias: request.alias.as_deref(),
        passport_number: passport.map(|p| p.number.as_str()),
        nationality: passport
            .map(|p| p.nationality.as_str())
            .filter(|n| !n.is_empty()),
        birth_date: request.birth_date,
        doses: &request.doses,
        certificate_id: request.id.as_str(),
        issued_on: &request.issued_at.date_jst(),
        municipality,
        shc_qr,
        vdsnc_qr: vdsnc_qr.filter(|_| issued.vdsnc.is_some()),
    };
    let unsigned = renderer.render(&doc)?;
    signer.sign(&unsigned, request.issued_at)
}
