//! The `/verify` page in real headless Chromium (Debian's /usr/bin/chromium, driven by
//! playwright-core from `tests/browser/`). Chromium's fake camera plays a y4m made here from a
//! QR code; Linux Chromium has no BarcodeDetector, so this exercises the bundled jsQR decoder.

use std::path::{Path, PathBuf};
use std::process::Command;

use qrcode::{Color, EcLevel, QrCode};
use serde_json::Value;

use crate::helpers::{Server, TempDir, Trust, root, vector};

/// The card shown to the camera and the trust the server runs with.
struct CameraCard {
    qr_text: String,
    trust: Trust,
    /// Extra `verify serve` flags (`--trust-dev` for a dev-issuer card).
    serve_flags: Vec<&'static str>,
    expected_name: &'static str,
    expected_birth_date: &'static str,
    expected_doses: usize,
    expected_first_dose: &'static str,
}

/// A real vector rendered as a QR: SHC example 00, signed with the SMART spec example key,
/// trusted through a test trust folder holding the spec's example JWKS.
#[allow(dead_code)] // kept to point the camera at a third-party card when needed
fn spec_example_card() -> CameraCard {
    let text = std::fs::read_to_string(vector(
        "smart-on-fhir-health-cards/examples/example-00-f-qr-code-numeric-value-0.txt",
    ))
    .unwrap();
    CameraCard {
        qr_text: text.trim().to_string(),
        trust: Trust::named("spec", Path::new("")),
        serve_flags: vec![],
        expected_name: "Anyperson John B.",
        expected_birth_date: "1951-01-20",
        expected_doses: 3,
        expected_first_dose: "2021-01-01 SPIKEVAX (CVX 207) lot 0000001",
    }
}

/// A card from our dev issuer, made by `vaxcert issue`; the server trusts it only through
/// `--trust-dev` (its trust folder is empty).
fn dev_issuer_card() -> CameraCard {
    let out = TempDir::new("issued");
    CameraCard {
        qr_text: crate::helpers::dev_domestic_shc(out.path()),
        trust: Trust::named("none", Path::new("")),
        serve_flags: vec!["--trust-dev"],
        expected_name: "山田 太郎",
        expected_birth_date: "1985-04-01",
        expected_doses: 3,
        expected_first_dose: "2021-06-01 COMIRNATY (CVX 208) lot FA5765",
    }
}

/// The card the camera shows: one from our dev issuer. The spec example stays available for
/// checking the page against a third-party card.
fn card_for_camera() -> CameraCard {
    dev_issuer_card()
}

/// A y4m (YUV 4:2:0) video of `frames` identical frames showing the QR code on white.
fn y4m_of_qr(text: &str, path: &Path) {
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::L).unwrap();
    let (w, h) = (640usize, 480usize);
    let modules = code.width();
    let quiet = 4;
    let scale = (h - 20) / (modules + 2 * quiet);
    let side = scale * (modules + 2 * quiet);
    let (x0, y0) = ((w - side) / 2, (h - side) / 2);
    let colors = code.to_colors();
    let mut y_plane = vec![235u8; w * h];
    for my in 0..modules {
        for mx in 0..modules {
            if colors[my * modules + mx] == Color::Dark {
                for py in 0..scale {
                    let row = y0 + (my + quiet) * scale + py;
                    let col = x0 + (mx + quiet) * scale;
                    y_plane[row * w + col..row * w + col + scale].fill(16);
                }
            }
        }
    }
    let chroma = vec![128u8; (w / 2) * (h / 2)];
    let mut out = format!("YUV4MPEG2 W{w} H{h} F10:1 Ip A1:1 C420jpeg\n").into_bytes();
    for _ in 0..10 {
        out.extend_from_slice(b"FRAME\n");
        out.extend_from_slice(&y_plane);
        out.extend_from_slice(&chroma);
        out.extend_from_slice(&chroma);
    }
    std::fs::write(path, out).unwrap();
}

fn browser_dir() -> PathBuf {
    root().join("tests/browser")
}

fn check_prerequisites() {
    assert!(
        Path::new("/usr/bin/chromium").exists(),
        "Chromium is missing: run `./vx setup` (or `apt-get install -y chromium fonts-ipaexfont-gothic`)"
    );
    assert!(
        Command::new("node").arg("--version").output().is_ok(),
        "node is missing: run `./vx setup` (or `apt-get install -y nodejs npm`)"
    );
    assert!(
        browser_dir().join("node_modules/playwright-core").is_dir(),
        "playwright-core is missing: run `./vx setup` (or `cd tests/browser && npm ci`)"
    );
}

#[test]
fn the_page_reads_a_qr_from_the_camera_and_says_valid() {
    check_prerequisites();
    let card = card_for_camera();
    let server = Server::spawn_with(&card.trust.path(), &card.serve_flags);
    let scratch = TempDir::new("camera");
    let y4m = scratch.path().join("qr.y4m");
    y4m_of_qr(&card.qr_text, &y4m);
    let url = format!("{}/verify", server.base);
    let out = Command::new("node")
        .current_dir(browser_dir())
        .arg("verify-page.mjs")
        .arg(&url)
        .arg(&y4m)
        .arg("60000")
        .output()
        .expect("run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the page test failed: {stderr}\n{stdout}"
    );
    let v: Value = serde_json::from_str(stdout.trim().lines().last().unwrap_or(""))
        .unwrap_or_else(|e| panic!("no JSON from the page ({e}): {stdout}\n{stderr}"));
    assert_eq!(v["verdict"], "valid", "{v}");
    assert_eq!(v["verdictText"], "有効 / VALID");
    assert_eq!(v["name"], card.expected_name);
    assert_eq!(v["dob"], card.expected_birth_date);
    assert_eq!(
        v["doses"].as_array().unwrap().len(),
        card.expected_doses,
        "{v}"
    );
    // Names, not codes: the catalogue's product name, the trust store's issuer name.
    assert_eq!(v["doses"][0], card.expected_first_dose, "{v}");
    assert!(
        v["issuer"].as_str().unwrap().starts_with("vaxcert-dev ("),
        "the trust entry's name beside the iss: {v}"
    );
    assert_eq!(
        v["decoder"], "jsQR",
        "Linux Chromium has no BarcodeDetector: {v}"
    );
}
