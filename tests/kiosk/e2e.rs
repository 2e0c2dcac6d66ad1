//! The kiosk channel end to end: records and the center (mTLS), the agent, the virtual card
//! in a vpcd reader, and headless Chromium clicking through the UI — a wrong PIN first, then
//! the right one. The printed PDF verifies with `pdfsig`; its SHC verifies against our JWKS;
//! only participating municipalities were offered.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::artefacts::{pdf_qr_texts, verify_shc};

use crate::helpers::{Proc, SimCard, kiosk, run_browser, slot, tmpdir, url_in, vaxcert};

/// A seeded SQLite records database and `records serve` on it.
pub(crate) fn records(dir: &Path) -> (Proc, String) {
    let db = format!("sqlite://{}", dir.join("records.db").display());
    let seed = vaxcert()
        .args(["records", "--dev", "--database-url", &db, "seed-demo"])
        .output()
        .unwrap();
    assert!(
        seed.status.success(),
        "seed-demo: {}",
        String::from_utf8_lossy(&seed.stderr)
    );
    let mut cmd = vaxcert();
    cmd.args([
        "records",
        "--dev",
        "--database-url",
        &db,
        "serve",
        "--listen",
        "127.0.0.1:0",
    ])
    .args(["--counter-listen", "127.0.0.1:0"])
    .args(["--trust", "dev", "--publication-dir"])
    .arg(dir.join("publish"));
    let (p, line) = Proc::start(cmd, "records", "records: internal API on");
    (p, url_in(&line))
}

/// `center serve` relaying to `records`.
pub(crate) fn center(records: &str) -> (Proc, String) {
    let mut cmd = vaxcert();
    cmd.args([
        "center",
        "serve",
        "--dev",
        "--listen",
        "127.0.0.1:0",
        "--trust",
        "dev",
    ])
    .args(["--records-url", records]);
    let (p, line) = Proc::start(cmd, "center", "center: kiosk API on");
    (p, url_in(&line))
}

#[test]
fn a_resident_gets_a_verified_certificate_after_one_wrong_pin() {
    let dir = tmpdir();
    let print = dir.path().join("print");
    let shots = dir.path().join("shots");
    std::fs::create_dir_all(&print).unwrap();
    std::fs::create_dir_all(&shots).unwrap();

    let (records_proc, records_url) = records(dir.path());
    let (center_proc, center_url) = center(&records_url);
    let s = slot();
    let reader = s.reader_name();
    let _card = SimCard::insert("default", s);
    let (agent, kiosk_url) = kiosk(&center_url, &print, &reader);

    let (ok, seen, raw) = run_browser(
        "kiosk.mjs",
        &[
            ("KIOSK_URL", &kiosk_url),
            ("MUNICIPALITY", "131016"),
            ("WRONG_PIN", "9999"),
            ("RIGHT_PIN", "1234"),
            ("KIND", "domestic"),
            ("SHOTS", shots.to_str().unwrap()),
        ],
    );
    assert!(
        ok,
        "the browser flow failed: {raw}\n--- agent\n{}\n--- center\n{}\n--- records\n{}",
        agent.output(),
        center_proc.output(),
        records_proc.output()
    );

    // Only participating municipalities were offered (seed: 大阪市 271004 does not take part).
    let offered: Vec<&str> = seen["municipalities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(offered, ["131016", "401307"], "{seen}");
    assert_eq!(seen["cacheControl"], "no-store");
    // The wrong PIN showed the tries left (the persona starts with 3).
    let tries = seen["triesMessage"].as_str().unwrap();
    assert!(
        tries.contains("あと2回") && tries.contains("2 tries left"),
        "{tries}"
    );
    // The preview shows the resident and never the MyNumber.
    let preview = seen["preview"].as_str().unwrap();
    assert!(preview.contains("山田"), "{preview}");
    assert!(!preview.contains("123456789018"), "{preview}");

    // Exactly one certificate printed; it is signed and its SHC verifies against our JWKS.
    let pdfs: Vec<_> = std::fs::read_dir(&print)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "pdf"))
        .collect();
    assert_eq!(pdfs.len(), 1, "{pdfs:?}");
    let sig = Command::new("pdfsig").arg(&pdfs[0]).output().unwrap();
    let sig_text = String::from_utf8_lossy(&sig.stdout);
    assert!(sig.status.success(), "pdfsig: {sig_text}");
    assert!(sig_text.contains("Signature is Valid"), "{sig_text}");
    let jwks: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("publish/jwks.json")).unwrap(),
    )
    .unwrap();
    let shc: Vec<String> = pdf_qr_texts(&std::fs::read(&pdfs[0]).unwrap(), dir.path())
        .into_iter()
        .filter(|t| t.starts_with("shc:/"))
        .collect();
    assert_eq!(shc.len(), 1, "one SHC QR on the page");
    let payload = verify_shc(&shc[0], &jwks);
    let name = &payload["vc"]["credentialSubject"]["fhirBundle"]["entry"][0]["resource"]["name"][0];
    assert_eq!(name["family"], "山田", "{payload}");

    // Nothing secret in the agent's log.
    let log = agent.output();
    for secret in ["123456789018", "\"pin\"", "RIGHT_PIN"] {
        assert!(!log.contains(secret), "the agent logged {secret:?}");
    }
}
