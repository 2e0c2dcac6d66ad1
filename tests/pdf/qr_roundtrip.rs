//! Pixels back to text: the QR codes in the signed PDF, rendered at 300 dpi by pdftoppm and
//! decoded by rqrr, equal what went in.

use crate::helpers::{Sample, decode_qrs, scratch, shc_text, vdsnc_text, write};

#[test]
fn the_domestic_shc_qr_decodes_from_a_300_dpi_render() {
    let dir = scratch("qr-domestic");
    let pdf = write(&dir, "domestic.pdf", &Sample::domestic().signed_pdf());
    let found = decode_qrs(&pdf, 300);
    assert_eq!(found, vec![shc_text()]);
}

#[test]
fn both_overseas_qrs_decode_from_a_300_dpi_render() {
    let dir = scratch("qr-overseas");
    let pdf = write(&dir, "overseas.pdf", &Sample::overseas().signed_pdf());
    let mut found = decode_qrs(&pdf, 300);
    found.sort();
    let mut expected = vec![shc_text(), vdsnc_text()];
    expected.sort();
    assert_eq!(found, expected);
}

#[test]
fn the_qr_codes_are_at_least_40_mm_wide() {
    // Measured in pixels: at 254 dpi one millimetre is exactly 10 pixels. The widest dark run
    // of each code's finder-to-finder row spans the symbol without its quiet zone.
    let dir = scratch("qr-size");
    let pdf = write(&dir, "overseas.pdf", &Sample::overseas().signed_pdf());
    let out = crate::helpers::tool(
        "pdftoppm",
        &[
            "-r",
            "254",
            "-gray",
            "-png",
            "-singlefile",
            pdf.to_str().unwrap(),
            dir.join("page").to_str().unwrap(),
        ],
    );
    assert!(out.status.success());
    let img = image::open(dir.join("page.png")).unwrap().to_luma8();
    let mut prepared = rqrr::PreparedImage::prepare(img);
    let grids = prepared.detect_grids();
    assert_eq!(grids.len(), 2);
    for g in &grids {
        let b = &g.bounds;
        let width_px = (b[1].x - b[0].x).abs().max((b[2].x - b[3].x).abs());
        // The symbol without the 4-module quiet zone is narrower than the printed square, so
        // 40 mm including the quiet zone means at least about 35 mm of modules.
        assert!(
            width_px >= 350,
            "QR symbol only {width_px} px (= {} mm) wide",
            width_px / 10
        );
    }
}
