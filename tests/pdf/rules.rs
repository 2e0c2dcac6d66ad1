//! What the renderer and the signer refuse, with stable codes.

use vaxcert::formats::pdf::{Layout, PdfRenderer, PdfSigner};

use crate::helpers::{Sample, crate_path, doses, qr, renderer, vdsnc_text};

#[test]
fn an_overseas_certificate_needs_its_vdsnc_and_roman_name() {
    let mut s = Sample::overseas();
    s.vdsnc = None;
    assert_eq!(
        renderer().render(&s.doc()).unwrap_err().code(),
        "pdf-content-invalid"
    );
    let s = Sample::overseas();
    let mut doc = s.doc();
    doc.name_roman = None;
    assert_eq!(
        renderer().render(&doc).unwrap_err().code(),
        "pdf-content-invalid"
    );
}

#[test]
fn a_domestic_certificate_carries_no_passport_data_or_vdsnc() {
    let mut s = Sample::domestic();
    s.vdsnc = Some(qr(&vdsnc_text()));
    assert_eq!(
        renderer().render(&s.doc()).unwrap_err().code(),
        "pdf-content-invalid"
    );
    let s = Sample::domestic();
    let mut doc = s.doc();
    doc.passport_number = Some("TK1234500");
    assert_eq!(
        renderer().render(&doc).unwrap_err().code(),
        "pdf-content-invalid"
    );
}

#[test]
fn no_doses_is_refused_and_seven_doses_fit() {
    let mut s = Sample::overseas();
    s.doses.clear();
    assert_eq!(
        renderer().render(&s.doc()).unwrap_err().code(),
        "pdf-content-invalid"
    );
    s.doses = doses(7);
    renderer().render(&s.doc()).unwrap();
}

#[test]
fn a_character_missing_from_the_font_is_an_error_not_a_blank() {
    let s = Sample::domestic();
    let mut doc = s.doc();
    doc.name_kanji = "山田　\u{F8F0}郎"; // private-use: a 外字 the font cannot have
    let err = renderer().render(&doc).unwrap_err();
    assert_eq!(err.code(), "pdf-glyph-missing");
    assert!(!err.to_string().contains("山田"));
}

#[test]
fn layouts_with_small_qr_codes_or_bad_columns_are_refused() {
    let text = std::fs::read_to_string(crate_path("templates/certificate.toml")).unwrap();
    Layout::parse(&text).unwrap();
    let small = text.replace("shc_width = 58.0", "shc_width = 35.0");
    assert_eq!(
        Layout::parse(&small).unwrap_err().code(),
        "pdf-layout-invalid"
    );
    let cols = text.replace("columns = [13.0, 25.0", "columns = [30.0, 25.0");
    assert_eq!(
        Layout::parse(&cols).unwrap_err().code(),
        "pdf-layout-invalid"
    );
    let unknown = format!("{text}\n[extra]\nx = 1\n");
    assert_eq!(
        Layout::parse(&unknown).unwrap_err().code(),
        "pdf-layout-invalid"
    );
    let missing = Layout::load(&crate_path("templates/nope.toml")).unwrap_err();
    assert_eq!(missing.code(), "pdf-layout-unreadable");
}

#[test]
fn a_non_font_and_a_mismatched_certificate_are_refused() {
    let err = PdfRenderer::new(Layout::bundled().unwrap(), b"not a font".to_vec()).unwrap_err();
    assert_eq!(err.code(), "pdf-font-invalid");
    // The root certificate does not belong to the signer's key.
    let err = PdfSigner::from_pem_files(
        &crate_path("certs/dev/pdf/signer.key.pem"),
        &crate_path("certs/dev/pdf/root.crt.pem"),
    )
    .unwrap_err();
    assert_eq!(err.code(), "pdf-key-mismatch");
    let err = PdfSigner::from_pem_files(
        &crate_path("certs/dev/pdf/signer.crt.pem"),
        &crate_path("certs/dev/pdf/signer.crt.pem"),
    )
    .unwrap_err();
    assert_eq!(err.code(), "pdf-key-invalid");
}

#[test]
fn an_issue_date_that_is_not_a_date_is_refused() {
    let s = Sample::domestic();
    let mut doc = s.doc();
    doc.issued_on = "2026-13-01";
    assert_eq!(
        renderer().render(&doc).unwrap_err().code(),
        "pdf-content-invalid"
    );
}
