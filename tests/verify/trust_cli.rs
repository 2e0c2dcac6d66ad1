//! `vaxcert trust add|list`, `--trust-dev` without the dev files, and the committed store.

use serde_json::Value;

use crate::helpers::{NOW, SPEC_ISS, TempDir, vaxcert, vector, verify};

#[test]
fn the_committed_store_lists_the_real_anchors() {
    let out = vaxcert()
        .args(["trust", "list", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let jp = list
        .iter()
        .find(|a| a["iss"] == "https://vc.vrs.digital.go.jp/issuer")
        .expect("the Japanese SHC issuer");
    assert_eq!(
        jp["kids"].as_array().unwrap().len(),
        3,
        "three Japanese keys"
    );
    let subjects: Vec<&str> = list.iter().filter_map(|a| a["subject"].as_str()).collect();
    assert!(subjects.iter().any(|s| s.contains("CN=e-passportCSCA")));
    assert!(
        subjects
            .iter()
            .any(|s| s.contains("Passport Country Signing Authority"))
    );
    assert!(list.iter().any(|a| a["kind"] == "dsc"));
    // Every anchor folder carries its provenance.
    for sub in ["shc", "icao", "dcc"] {
        for e in std::fs::read_dir(crate::helpers::root().join("certs/trust").join(sub)).unwrap() {
            let p = e.unwrap().path();
            assert!(
                p.join("PROVENANCE.md").is_file(),
                "{} has no PROVENANCE.md",
                p.display()
            );
        }
    }
}

#[test]
fn trust_add_then_verify() {
    let store = TempDir::new("trust-add");
    let card = vector("smart-on-fhir-health-cards/examples/example-00-d-jws.txt");
    let before = verify(store.path(), NOW, &[card.as_os_str()], None);
    assert_eq!(before.verdicts(), "unknown-issuer");
    assert_eq!(before.status, 1);

    let wk = vector("smart-on-fhir-health-cards/examples/issuer/.well-known");
    let out = vaxcert()
        .args([
            "trust",
            "add",
            "--kind",
            "shc",
            "--name",
            "spec-example",
            "--iss",
            SPEC_ISS,
        ])
        .args([
            "--source",
            "SMART Health Cards spec examples",
            "--licence",
            "CC-BY-4.0",
        ])
        .arg("--trust")
        .arg(store.path())
        .arg(wk.join("jwks.json"))
        .arg(wk.join("crl/3Kfdg-XwP-7gXyywtUfUADwBumDOPKMQx-iELL11W9s.json"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let prov =
        std::fs::read_to_string(store.path().join("shc/spec-example/PROVENANCE.md")).unwrap();
    assert!(prov.contains("CC-BY-4.0"));

    let after = verify(store.path(), NOW, &[card.as_os_str()], None);
    assert_eq!(after.verdicts(), "valid");
    assert_eq!(after.status, 0);
    let revoked = vector("smart-on-fhir-health-cards/examples/example-03-d-jws.txt");
    let got = verify(store.path(), NOW, &[revoked.as_os_str()], None);
    assert_eq!(got.reasons(), "revoked", "the CRL came in with trust add");

    // A CSCA: the Australian seal turns from unknown-issuer to valid.
    let au = store.path().join("au.json");
    let v: Value = serde_json::from_slice(
        &std::fs::read(vector(
            "australian-passport-office-vds-nc-reader-library-ios/VDSAuthenticatorTests.vectors.json",
        ))
        .unwrap(),
    )
    .unwrap();
    std::fs::write(&au, v["validVDSJson"].to_string()).unwrap();
    assert_eq!(
        verify(store.path(), NOW, &[au.as_os_str()], None).verdicts(),
        "unknown-issuer"
    );
    let out = vaxcert()
        .args(["trust", "add", "--kind", "csca", "--name", "au", "--source", "KDE"])
        .arg("--trust")
        .arg(store.path())
        .arg(vector(
            "KDE-khealthcertificate/src/lib/icao/certs/3617c1e7f56795712e3775708e55833186e9380e/16f2.der",
        ))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        verify(store.path(), NOW, &[au.as_os_str()], None).verdicts(),
        "valid"
    );

    // Garbage is refused before it reaches the store.
    let out = vaxcert()
        .args([
            "trust", "add", "--kind", "dsc", "--name", "junk", "--source", "x",
        ])
        .arg("--trust")
        .arg(store.path())
        .arg(vector("README.md"))
        .output()
        .unwrap();
    assert!(!out.status.success());
}

#[test]
fn trust_dev_names_the_missing_file() {
    let empty = TempDir::new("no-dev");
    let card = vector("smart-on-fhir-health-cards/examples/example-00-d-jws.txt");
    let out = vaxcert()
        .args(["verify", "--trust-dev", "--dev-dir"])
        .arg(empty.path())
        .arg(&card)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("trust-dev-missing") && err.contains("shc/jwks.json"),
        "{err}"
    );
}

#[test]
fn human_output_and_exit_codes() {
    let card = vector("code4fukui-SMARTHealthCards-es/example.js.shc.txt");
    let out = vaxcert().arg("verify").arg(&card).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("VALID / 有効"), "{text}");
    assert!(
        text.contains("福野 泰介") && text.contains("x5c-expired"),
        "{text}"
    );
    let empty = TempDir::new("human");
    let out = vaxcert()
        .arg("verify")
        .arg("--trust")
        .arg(empty.path())
        .arg(&card)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("UNKNOWN ISSUER"));
}

#[test]
fn the_built_in_anchors_are_the_committed_store_and_work_from_any_folder() {
    let list = |args: &[&str]| -> Value {
        let out = vaxcert()
            .args(["trust", "list", "--json"])
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let committed = crate::helpers::root().join("certs/trust");
    assert_eq!(
        list(&[]),
        list(&["--trust", committed.to_str().unwrap()]),
        "the anchors compiled in are exactly certs/trust/ (add a new one to both)"
    );
    // The real Japanese SHC, verified from a folder that is not the checkout.
    let elsewhere = TempDir::new("anywhere");
    let out = vaxcert()
        .current_dir(elsewhere.path())
        .arg("verify")
        .arg(vector("code4fukui-SMARTHealthCards-es/example.js.shc.txt"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.starts_with("VALID / 有効"), "{text}");
}
