//! The library API in-process, as the app gateway will use it: one `TrustStore` for many
//! verifications (its remembered certificate signatures must never turn a bad seal good).

use vaxcert::clock::UnixTime;
use vaxcert::verify::{TrustStore, Verdict, verify_text};

use crate::helpers::{root, vector};

#[test]
fn one_store_many_verifications() {
    let trust = TrustStore::load(&root().join("certs/trust")).unwrap();
    let now = UnixTime(1_795_305_600);
    let jp = std::fs::read_to_string(vector(
        "KDE-khealthcertificate/autotests/data/icao/jpn-triple-vaccine.txt",
    ))
    .unwrap();
    for _ in 0..3 {
        let r = &verify_text(&jp, &trust, now)[0];
        assert_eq!(r.verdict, Verdict::Valid, "{r:?}");
    }
    let au: serde_json::Value = serde_json::from_slice(
        &std::fs::read(vector(
            "australian-passport-office-vds-nc-reader-library-ios/VDSAuthenticatorTests.vectors.json",
        ))
        .unwrap(),
    )
    .unwrap();
    let good = au["validVDSJson"].to_string();
    let bad = au["invalidVDSJson_name_tampered"].to_string();
    assert_eq!(verify_text(&good, &trust, now)[0].verdict, Verdict::Valid);
    let r = &verify_text(&bad, &trust, now)[0];
    assert_eq!(
        (r.verdict, r.reason),
        (Verdict::Invalid, "signature-invalid")
    );
    // The BSC is valid from 2021-08-31: before that the cached chain still fails on time.
    let early = UnixTime(1_600_000_000);
    let r = &verify_text(&good, &trust, early)[0];
    assert_eq!(r.reason, "certificate-not-valid-at-time");
}

/// A VDS-NC issued with the dev keys (`vaxcert issue`, overseas), as JSON.
fn dev_vds(dir: &std::path::Path) -> serde_json::Value {
    let out = crate::helpers::vaxcert()
        .args([
            "issue",
            "--persona",
            "certs/dev/personas/kyusei.toml",
            "--kind",
            "overseas",
            "--passport-mrz",
            "P<JPNSATO<<MISAKI<<<<<<<<<<<<<<<<<<<<<<<<<<<,TK12345671JPN8803104F3001019<<<<<<<<<<<<<<08",
            "--out",
        ])
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let file = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with(".vds.json"))
        .unwrap();
    serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap()
}

/// Sign the seal's `data` again with the dev BSC key, carrying `cer` (DER).
fn resign(v: &mut serde_json::Value, cer: &[u8]) {
    use base64::Engine;
    use p256::ecdsa::signature::Signer;
    use p256::pkcs8::DecodePrivateKey;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let pem = std::fs::read_to_string(root().join("certs/dev/icao/bsc.key.pem")).unwrap();
    let key = p256::ecdsa::SigningKey::from_pkcs8_pem(&pem).unwrap();
    let canonical = serde_json_canonicalizer::to_string(&v["data"]).unwrap();
    let sig: p256::ecdsa::Signature = key.sign(canonical.as_bytes());
    v["sig"]["sigvl"] = b64.encode(sig.to_bytes()).into();
    v["sig"]["cer"] = b64.encode(cer).into();
}

/// A BSC for the dev BSC key under the dev CSCA, made by OpenSSL with `extra` extensions.
fn dev_bsc(dir: &std::path::Path, extra: &str) -> Vec<u8> {
    let icao = root().join("certs/dev/icao");
    let ext = dir.join("bsc.ext");
    std::fs::write(
        &ext,
        format!(
            "extendedKeyUsage=critical,2.23.136.1.1.14.2\n2.23.136.1.1.6.2=DER:30:09:02:01:00:31:04:13:02:4E:56\n{extra}"
        ),
    )
    .unwrap();
    let run = |args: &[&str]| {
        let out = std::process::Command::new("openssl")
            .current_dir(dir)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let key = icao.join("bsc.key.pem");
    let (ca, ca_key) = (icao.join("csca.crt.pem"), icao.join("csca.key.pem"));
    run(&[
        "req",
        "-new",
        "-key",
        key.to_str().unwrap(),
        "-subj",
        "/C=JP/O=vaxcert DEV/CN=BSC test",
        "-out",
        "bsc.csr",
    ]);
    run(&[
        "x509",
        "-req",
        "-in",
        "bsc.csr",
        "-CA",
        ca.to_str().unwrap(),
        "-CAkey",
        ca_key.to_str().unwrap(),
        "-set_serial",
        "77",
        "-days",
        "365",
        "-extfile",
        "bsc.ext",
        "-outform",
        "DER",
        "-out",
        "bsc.der",
    ]);
    std::fs::read(dir.join("bsc.der")).unwrap()
}

#[test]
fn a_vdsnc_must_name_its_cscas_country_and_carry_no_unknown_critical_extension() {
    let dir = tempfile::tempdir().unwrap();
    let mut trust = TrustStore::empty();
    trust.add_dev(&root().join("certs/dev")).unwrap();
    // An hour from now: OpenSSL's certificates start at the second they are made.
    let now = UnixTime(vaxcert::clock::Clock::now(&vaxcert::clock::SystemClock).0 + 3600);
    let verdict = |v: &serde_json::Value| {
        let r = &verify_text(&v.to_string(), &trust, now)[0];
        (r.verdict, r.reason)
    };
    let issued = dev_vds(dir.path());
    assert_eq!(verdict(&issued), (Verdict::Valid, "ok"));

    // Re-signed by the same key under an OpenSSL-made BSC: still valid (the control).
    let plain = dev_bsc(dir.path(), "");
    let mut v = issued.clone();
    resign(&mut v, &plain);
    assert_eq!(verdict(&v), (Verdict::Valid, "ok"));

    // The dev CSCA is Japan's (C=JP): a seal claiming another issuing state is refused.
    let mut v = issued.clone();
    v["data"]["hdr"]["is"] = "USA".into();
    resign(&mut v, &plain);
    assert_eq!(verdict(&v), (Verdict::Invalid, "issuing-country-mismatch"));

    // A BSC with a critical extension the verifier does not know signs nothing.
    let odd = dev_bsc(dir.path(), "1.3.6.1.4.1.99999.1=critical,ASN1:NULL\n");
    let mut v = issued;
    resign(&mut v, &odd);
    assert_eq!(
        verdict(&v),
        (Verdict::Invalid, "critical-extension-unknown")
    );
}

/// What a checker reads: the product's name rather than its code, the issuer's name from the
/// trust store, and on an overseas certificate the passport number; the CLI prints them.
#[test]
fn a_checker_reads_names_not_codes() {
    let trust = TrustStore::load(&root().join("certs/trust")).unwrap();
    let jp = vector("KDE-khealthcertificate/autotests/data/icao/jpn-triple-vaccine.txt");
    let r = &verify_text(
        &std::fs::read_to_string(&jp).unwrap(),
        &trust,
        UnixTime(1_795_305_600),
    )[0];
    assert_eq!(r.verdict, Verdict::Valid, "{r:?}");
    let trusted = r.issuer.as_ref().and_then(|i| i.trusted_as.as_deref());
    assert_eq!(trusted, Some("外務省 Ministry of Foreign Affairs of Japan"));
    let p = r.person.as_ref().unwrap();
    assert_eq!(
        (p.name.as_str(), p.document_number.as_deref()),
        ("MIYAKE SHOTA", Some("TK0000000"))
    );
    assert_eq!(r.doses.len(), 3);
    assert!(
        r.doses
            .iter()
            .all(|d| d.product_name.as_deref() == Some("COMIRNATY")),
        "{:?}",
        r.doses
    );

    // An SHC names products by CVX code: the catalogue gives the name.
    let dir = crate::helpers::TempDir::new("names");
    let shc = crate::helpers::dev_domestic_shc(dir.path());
    let out = crate::helpers::vaxcert()
        .args(["verify", "--trust-dev"])
        .arg(&shc)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("VALID"), "{text}");
    assert!(text.contains("COMIRNATY (CVX 208)"), "{text}");
    assert!(text.contains("SPIKEVAX (CVX 207)"), "{text}");
    let out = crate::helpers::vaxcert()
        .arg("verify")
        .arg(&jp)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("(trust store: 外務省 Ministry of Foreign Affairs of Japan)"),
        "{text}"
    );
    assert!(
        text.contains("MIYAKE SHOTA, born 1991-02-18, passport TK0000000"),
        "{text}"
    );
}
