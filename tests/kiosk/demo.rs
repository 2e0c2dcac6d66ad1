//! `vaxcert demo`: every role starts, the sample certificate goes through the real kiosk path
//! (agent, virtual card over pcscd, center, records), and the printed PDF verifies.

use serde_json::Value;

use crate::artefacts::{pdf_qr_texts, pdfsig, verify_shc};
use crate::helpers::{slot, tmpdir, vaxcert};

#[test]
fn the_demo_issues_a_sample_through_the_kiosk_and_prints_every_url() {
    let s = slot();
    let dir = tmpdir();
    let out = vaxcert()
        .args([
            "demo",
            "--once",
            "--any-port",
            "--slot",
            &s.n.to_string(),
            "--dir",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for label in [
        "Kiosk screen",
        "Counter",
        "TOTP secret",
        "Verifier",
        "/verify",
    ] {
        assert!(stdout.contains(label), "no {label:?} in:\n{stdout}");
    }
    let line = stdout
        .lines()
        .find(|l| l.starts_with("Sample certificate "))
        .expect("the sample line");
    let pdf_path = line.rsplit(' ').next().unwrap();
    let pdf = std::fs::read(pdf_path).unwrap();
    assert!(pdfsig(&pdf, dir.path()).contains("Signature is Valid"));
    let jwks: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("publication/jwks.json")).unwrap(),
    )
    .unwrap();
    let texts = pdf_qr_texts(&pdf, dir.path());
    let shc = texts.iter().find(|t| t.starts_with("shc:/")).unwrap();
    assert!(verify_shc(shc, &jwks).to_string().contains("山田"));
    // No role logged the resident's MyNumber.
    for entry in std::fs::read_dir(dir.path().join("logs")).unwrap() {
        let log = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        assert!(!log.contains("123456789018"));
    }
}
