//! `vaxcert issue` end to end: files out, then read back from pixels by independent decoders.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::helpers::{
    MRZ_SATO, decode_png, dev_jwk, jws_from_numeric, openssl_verify_vdsnc, p256_from_jwk,
    python_inflate, vaxcert, verify_jws,
};

fn issue(persona: &str, kind: &str, mrz: Option<&str>, out: &Path) -> (String, String) {
    let mut cmd = vaxcert();
    cmd.args([
        "issue",
        "--persona",
        &format!("certs/dev/personas/{persona}.toml"),
        "--kind",
        kind,
        "--out",
    ])
    .arg(out);
    if let Some(m) = mrz {
        cmd.args(["--passport-mrz", m]);
    }
    let o = cmd.output().unwrap();
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn only(dir: &Path, ext: &str) -> PathBuf {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with(ext))
        .unwrap_or_else(|| panic!("no *{ext}"))
}

#[test]
fn a_domestic_certificate_round_trips_from_pixels() {
    let dir = tempfile::tempdir().unwrap();
    let (out, err) = issue("default", "domestic", None, dir.path());
    assert!(out.contains("issued certificate"), "{out}{err}");
    let id = only(dir.path(), ".shc")
        .file_stem()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let text = std::fs::read_to_string(only(dir.path(), ".shc")).unwrap();
    let qrs = decode_png(&only(dir.path(), ".shc.png"));
    assert_eq!(qrs.len(), 1);
    assert_eq!(qrs[0].1, text, "the QR holds exactly the shc:/ text");
    assert!(qrs[0].0 <= 22, "version {}", qrs[0].0);
    let (_, deflated) = verify_jws(&jws_from_numeric(&text), &p256_from_jwk(&dev_jwk()));
    let v: Value = serde_json::from_slice(&python_inflate(&deflated)).unwrap();
    let entries = v["vc"]["credentialSubject"]["fhirBundle"]["entry"]
        .as_array()
        .unwrap();
    let patient = &entries[0]["resource"];
    assert_eq!(patient["name"][0]["family"], "山田");
    assert_eq!(patient["name"][0]["given"][0], "太郎");
    assert_eq!(
        patient["name"].as_array().unwrap().len(),
        1,
        "domestic: kanji only"
    );
    assert_eq!(patient["birthDate"], "1985-04-01");
    let cvx: Vec<&str> = entries[1..]
        .iter()
        .map(|e| {
            e["resource"]["vaccineCode"]["coding"][0]["code"]
                .as_str()
                .unwrap()
        })
        .collect();
    assert_eq!(cvx, ["208", "208", "207"]);
    let lots: Vec<&str> = entries[1..]
        .iter()
        .map(|e| e["resource"]["lotNumber"].as_str().unwrap())
        .collect();
    assert_eq!(lots, ["FA5765", "FA7338", "3004734"]);
    assert_eq!(v["vc"]["rid"], vaxcert::formats::shc::rid_for(&id));
    assert!(
        !std::fs::read_dir(dir.path()).unwrap().any(|e| e
            .unwrap()
            .path()
            .to_string_lossy()
            .ends_with(".vds.json"))
    );
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        assert!(
            !bytes.windows(12).any(|w| w == b"123456789018"),
            "no MyNumber in any artefact"
        );
    }
}

#[test]
fn an_overseas_certificate_carries_the_passport_and_a_vdsnc() {
    let dir = tempfile::tempdir().unwrap();
    let (out, err) = issue("kyusei", "overseas", Some(MRZ_SATO), dir.path());
    assert!(out.contains("issued certificate"), "{out}{err}");
    let id = only(dir.path(), ".shc")
        .file_stem()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let json_text = std::fs::read_to_string(only(dir.path(), ".vds.json")).unwrap();
    let qrs = decode_png(&only(dir.path(), ".vds.png"));
    assert_eq!(
        qrs[0].1, json_text,
        "the VDS-NC QR holds the JSON in byte mode"
    );
    let doc: Value = serde_json::from_str(&json_text).unwrap();
    assert!(
        openssl_verify_vdsnc(&doc, dir.path()),
        "OpenSSL verifies the seal"
    );
    let mut tampered = doc.clone();
    tampered["data"]["msg"]["pid"]["i"] = Value::from("TK7654321");
    assert!(!openssl_verify_vdsnc(&tampered, dir.path()));
    let msg = &doc["data"]["msg"];
    assert_eq!(
        doc["data"]["hdr"],
        serde_json::json!({"t": "icao.vacc", "v": 1, "is": "JPN"})
    );
    assert_eq!(msg["uvci"], id.as_str());
    assert_eq!(
        msg["pid"],
        serde_json::json!({"n": "SATO MISAKI", "dob": "1988-03-10", "i": "TK1234567"})
    );
    let ve = msg["ve"].as_array().unwrap();
    assert_eq!(ve.len(), 3, "one ve per dose");
    assert_eq!(ve[0]["des"], "XM0GQ8");
    assert_eq!(ve[0]["nam"], "COMIRNATY");
    assert_eq!(ve[2]["nam"], "SPIKEVAX");
    assert_eq!(
        ve[1]["vd"][0],
        serde_json::json!({"dvc": "2021-06-22", "seq": 2, "ctr": "JPN", "adm": "MHLW_Gov_of_JAPAN", "lot": "FA7338"})
    );
    // cer is our BSC, which chains to our CSCA.
    let cer = base64::Engine::decode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        doc["sig"]["cer"].as_str().unwrap(),
    )
    .unwrap();
    std::fs::write(dir.path().join("bsc.der"), cer).unwrap();
    let ok = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("openssl x509 -inform DER -in bsc.der -out bsc.pem && openssl verify -CAfile {}/certs/dev/icao/csca.crt.pem bsc.pem", env!("CARGO_MANIFEST_DIR")))
        .current_dir(dir.path())
        .status()
        .unwrap();
    assert!(ok.success());
    // The SHC of the overseas kind adds the romanised name.
    let text = std::fs::read_to_string(only(dir.path(), ".shc")).unwrap();
    let (_, deflated) = verify_jws(&jws_from_numeric(&text), &p256_from_jwk(&dev_jwk()));
    let v: Value = serde_json::from_slice(&python_inflate(&deflated)).unwrap();
    let names = &v["vc"]["credentialSubject"]["fhirBundle"]["entry"][0]["resource"]["name"];
    assert_eq!(
        names[0],
        serde_json::json!({"family": "佐藤", "given": ["美咲"]})
    );
    assert_eq!(
        names[1],
        serde_json::json!({"family": "SATO", "given": ["MISAKI"]})
    );
}

#[test]
fn bad_mrz_and_missing_passport_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let bad = MRZ_SATO.replace("TK12345671", "TK12345672");
    let (_, err) = issue("kyusei", "overseas", Some(&bad), dir.path());
    assert!(
        err.contains("mrz-check-digit") && err.contains("passport number"),
        "{err}"
    );
    let (_, err) = issue("kyusei", "overseas", None, dir.path());
    assert!(err.contains("passport-required"), "{err}");
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "nothing written on error"
    );
}

#[test]
fn issue_refuses_keys_that_are_not_dev_keys() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("shc")).unwrap();
    // A real certificate (Japan's e-passport CSCA) where the dev issuer certificate should be.
    std::fs::copy(
        "../shared/vectors/KDE-khealthcertificate/src/lib/icao/certs/6ab4f2929ffcc8fe7e74e8d0b3cfcab3a8ab3c93/e3.der",
        dir.path().join("shc/issuer.crt.pem"),
    )
    .or_else(|_| {
        let found = walk("../shared/vectors/KDE-khealthcertificate/src/lib/icao/certs", "e3.der");
        std::fs::copy(found, dir.path().join("shc/issuer.crt.pem"))
    })
    .unwrap();
    let out = vaxcert()
        .args([
            "issue",
            "--persona",
            "certs/dev/personas/default.toml",
            "--kind",
            "domestic",
            "--out",
        ])
        .arg(dir.path().join("out"))
        .arg("--keys")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a dev key"));
}

fn walk(dir: &str, name: &str) -> PathBuf {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            for f in std::fs::read_dir(&p).unwrap() {
                let f = f.unwrap().path();
                if f.file_name().is_some_and(|n| n == name) {
                    return f;
                }
            }
        }
    }
    panic!("{name} not found under {dir}")
}
