//! RFC 8785 canonical JSON, against the RFC's own example and the real Japanese and Australian
//! VDS-NCs, whose signatures cover exactly the canonical bytes.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use der::{Decode, Encode};
use p256::ecdsa::signature::Verifier;
use serde_json::Value;
use vaxcert::formats::vdsnc::canonical;

#[test]
fn rfc8785_section_3_2_4_example() {
    let input = r#"{"numbers":[333333333.33333329,1E30,4.50,2e-3,0.000000000000000000000000001],"string":"\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/","literals":[null,true,false]}"#;
    let v: Value = serde_json::from_str(input).unwrap();
    let expected = "{\"literals\":[null,true,false],\"numbers\":[333333333.3333333,1e+30,4.5,0.002,1e-27],\"string\":\"€$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\"}";
    assert_eq!(String::from_utf8(canonical(&v).unwrap()).unwrap(), expected);
}

#[test]
fn property_names_sort_by_utf16_code_units() {
    // RFC 8785 §3.2.3: "\u20ac" (€) sorts before "\ud83d\ude00" (😀) by UTF-16, not by scalar.
    let v: Value = serde_json::from_str(r#"{"😀":1,"€":2,"a":3}"#).unwrap();
    assert_eq!(
        String::from_utf8(canonical(&v).unwrap()).unwrap(),
        r#"{"a":3,"€":2,"😀":1}"#
    );
}

fn verify_vdsnc(doc: &Value) -> bool {
    let pad = |s: &str| s.trim_end_matches('=').to_owned();
    let cer = URL_SAFE_NO_PAD
        .decode(pad(doc["sig"]["cer"].as_str().unwrap()))
        .unwrap();
    let cert = x509_cert::Certificate::from_der(&cer).unwrap();
    let spki = cert
        .tbs_certificate()
        .subject_public_key_info()
        .to_der()
        .unwrap();
    let key =
        <p256::ecdsa::VerifyingKey as p256::pkcs8::DecodePublicKey>::from_public_key_der(&spki)
            .unwrap();
    let sig = URL_SAFE_NO_PAD
        .decode(pad(doc["sig"]["sigvl"].as_str().unwrap()))
        .unwrap();
    let sig = p256::ecdsa::Signature::from_slice(&sig).unwrap();
    key.verify(&canonical(&doc["data"]).unwrap(), &sig).is_ok()
}

#[test]
fn the_japanese_vdsnc_signature_covers_our_canonical_form() {
    let text = std::fs::read_to_string(
        "../shared/vectors/KDE-khealthcertificate/autotests/data/icao/jpn-triple-vaccine.txt",
    )
    .unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    let doc = if v.is_array() { v[0].clone() } else { v };
    assert!(
        verify_vdsnc(&doc),
        "JP VDS-NC verifies over canonical(data)"
    );
    let mut tampered = doc.clone();
    tampered["data"]["msg"]["pid"]["n"] = Value::from("MIYAKE SHOTB");
    assert!(!verify_vdsnc(&tampered));
}

#[test]
fn the_australian_vdsnc_and_its_expected_canonical_string() {
    let vectors: Value = serde_json::from_str(
        &std::fs::read_to_string("../shared/vectors/australian-passport-office-vds-nc-reader-library-ios/VDSAuthenticatorTests.vectors.json").unwrap(),
    )
    .unwrap();
    let doc = vectors["validVDSJson"].clone();
    assert!(verify_vdsnc(&doc));
    let whole = String::from_utf8(canonical(&doc).unwrap()).unwrap();
    assert_eq!(
        whole,
        vectors["expectedCanonicalWholeDocument"].as_str().unwrap()
    );
    let bad = vectors["invalidVDSJson_name_tampered"].clone();
    assert!(!verify_vdsnc(&bad));
    // The BSC in `cer` is the one the vectors name.
    let cer = URL_SAFE_NO_PAD
        .decode(doc["sig"]["cer"].as_str().unwrap().trim_end_matches('='))
        .unwrap();
    assert_eq!(
        cer,
        STANDARD
            .decode(vectors["bscCertData_base64"].as_str().unwrap())
            .unwrap()
    );
}
