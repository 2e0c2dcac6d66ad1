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
fn each_qr_symbol_is_at_least_40_mm_wide() {
    // rqrr's grid corners are the symbol's corners (quiet zone excluded): at 300 dpi one
    // pixel is 25.4 / 300 mm.
    let dir = scratch("qr-size");
    let pdf = write(&dir, "overseas.pdf", &Sample::overseas().signed_pdf());
    let grids = crate::helpers::qr_grids(&pdf, 300);
    assert_eq!(grids.len(), 2);
    for (content, bounds) in &grids {
        let side = |a: usize, b: usize| {
            let (dx, dy) = (bounds[a].0 - bounds[b].0, bounds[a].1 - bounds[b].1);
            f64::from(dx * dx + dy * dy).sqrt() * 25.4 / 300.0
        };
        let width = side(0, 1).min(side(3, 2));
        assert!(width >= 40.0, "{}…: {width:.1} mm", &content[..10]);
    }
}

#[test]
fn zbar_reads_both_codes_at_150_200_and_300_dpi() {
    // A second, independent decoder over a range of resolutions: rqrr alone is fragile with
    // version-31 symbols (it misses them at some resolutions even when cropped alone).
    let dir = scratch("qr-zbar");
    let pdf = write(&dir, "overseas.pdf", &Sample::overseas().signed_pdf());
    let mut expected = vec![shc_text(), vdsnc_text()];
    expected.sort();
    for dpi in [150, 200, 300] {
        let mut found = crate::helpers::zbar(&pdf, dpi);
        found.sort();
        assert_eq!(found, expected, "at {dpi} dpi");
    }
}
