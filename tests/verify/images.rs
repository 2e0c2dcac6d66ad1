//! QR pictures made here from real vectors: the QR version limit applies to SHC only (a
//! Japanese VDS-NC needs about version 31), and SHC above version 22 is refused.

use std::path::Path;

use qrcode::{Color, EcLevel, QrCode};

use crate::helpers::{NOW, TempDir, Trust, vector, verify};

/// A PNG of `text` as a QR code at `level`; returns its version.
fn qr_png(text: &str, level: EcLevel, path: &Path) -> i16 {
    let code = QrCode::with_error_correction_level(text.as_bytes(), level).unwrap();
    let n = code.width();
    let (scale, quiet) = (4usize, 4usize);
    let side = (n + 2 * quiet) * scale;
    let colors = code.to_colors();
    let img = image::GrayImage::from_fn(side as u32, side as u32, |x, y| {
        let (mx, my) = (x as usize / scale, y as usize / scale);
        let dark = mx >= quiet
            && my >= quiet
            && mx - quiet < n
            && my - quiet < n
            && colors[(my - quiet) * n + (mx - quiet)] == Color::Dark;
        image::Luma([if dark { 0 } else { 255 }])
    });
    img.save(path).unwrap();
    match code.version() {
        qrcode::Version::Normal(v) | qrcode::Version::Micro(v) => v,
    }
}

#[test]
fn a_japanese_vdsnc_qr_above_version_22_verifies() {
    let seal = std::fs::read_to_string(vector(
        "KDE-khealthcertificate/autotests/data/icao/jpn-triple-vaccine.txt",
    ))
    .unwrap();
    // The compact form, as a seal's QR carries it.
    let v: serde_json::Value = serde_json::from_str(&seal).unwrap();
    let compact = v[0].to_string();
    let dir = TempDir::new("vds-qr");
    let png = dir.path().join("vds.png");
    let version = qr_png(&compact, EcLevel::L, &png);
    assert!(
        version > 22,
        "the JP seal needs a large QR (got V{version})"
    );
    let got = verify(&Trust::Store.path(), NOW, &[png.as_os_str()], None);
    assert_eq!(got.verdicts(), "valid", "{:?}", got.reports);
    assert_eq!(got.reports[0]["person"]["name"], "MIYAKE SHOTA");
}

#[test]
fn an_shc_qr_above_version_22_is_refused_and_at_22_accepted() {
    let shc = std::fs::read_to_string(vector(
        "smart-on-fhir-health-cards/examples/example-00-f-qr-code-numeric-value-0.txt",
    ))
    .unwrap();
    let spec = Trust::named("spec", Path::new(""));
    let dir = TempDir::new("shc-qr");
    let high = dir.path().join("high.png");
    let version = qr_png(shc.trim(), EcLevel::H, &high);
    assert!(version > 22, "V{version}");
    let got = verify(&spec.path(), NOW, &[high.as_os_str()], None);
    assert_eq!(got.reasons(), "qr-version-too-high", "{:?}", got.reports);
    let low = dir.path().join("low.png");
    let version = qr_png(shc.trim(), EcLevel::L, &low);
    assert!(version <= 22, "V{version}");
    let got = verify(&spec.path(), NOW, &[low.as_os_str()], None);
    assert_eq!(got.verdicts(), "valid", "{:?}", got.reports);
}
