//! SMART Health Card structure per spec 1.4.

use serde_json::Value;
use vaxcert::clock::UnixTime;
use vaxcert::formats::{Error, shc};
use vaxcert::pki::jwk;

use crate::helpers::{dev_jwk, p256_from_jwk, python_inflate, verify_jws};

const EXAMPLES: &str = "../shared/vectors/smart-on-fhir-health-cards/examples";

#[test]
fn the_spec_example_bundle_reissues_under_our_key_with_the_same_structure() {
    let payload: Value = serde_json::from_str(
        &std::fs::read_to_string(format!("{EXAMPLES}/example-00-c-jws-payload-minified.json"))
            .unwrap(),
    )
    .unwrap();
    let bundle = payload["vc"]["credentialSubject"]["fhirBundle"].clone();
    let signer = vaxcert::dev::shc_signer().unwrap();
    let kid = jwk::thumbprint(vaxcert::pki::Signer::public_key(&signer));
    let card = shc::Draft::from_bundle(
        vaxcert::dev::SHC_ISS,
        UnixTime(1_800_000_000),
        bundle.clone(),
        "rid-1",
        &kid,
    )
    .unwrap()
    .sign(&signer)
    .unwrap();
    let jwk = dev_jwk();
    assert_eq!(jwk["kid"], kid.as_str(), "kid is the RFC 7638 thumbprint");
    let (header, deflated) = verify_jws(card.jws(), &p256_from_jwk(&jwk));
    assert_eq!(
        header,
        serde_json::json!({"alg": "ES256", "zip": "DEF", "kid": kid})
    );
    let raw = python_inflate(&deflated);
    let v: Value = serde_json::from_slice(&raw).unwrap();
    assert_eq!(serde_json::to_vec(&v).unwrap(), raw, "payload is minified");
    assert_eq!(v["iss"], vaxcert::dev::SHC_ISS);
    assert_eq!(
        v["vc"]["type"],
        serde_json::json!([
            "https://smarthealth.cards#health-card",
            "https://smarthealth.cards#immunization",
            "https://smarthealth.cards#covid19"
        ])
    );
    assert_eq!(v["vc"]["credentialSubject"]["fhirVersion"], "4.0.1");
    assert_eq!(v["vc"]["credentialSubject"]["fhirBundle"], bundle);
    assert_eq!(v["vc"]["rid"], "rid-1");
    assert!(card.jws().len() <= shc::MAX_JWS_LEN);
    assert!(vaxcert::formats::qr::version(&card.qr().unwrap()) <= 22);
    assert!(
        card.qr_text().starts_with("shc:/")
            && card.qr_text()[5..].bytes().all(|b| b.is_ascii_digit())
    );
}

#[test]
fn a_card_too_large_for_one_qr_fails_before_signing() {
    let payload: Value = serde_json::from_str(
        &std::fs::read_to_string(format!("{EXAMPLES}/example-02-c-jws-payload-minified.json"))
            .unwrap(),
    )
    .unwrap();
    let bundle = payload["vc"]["credentialSubject"]["fhirBundle"].clone();
    let r = shc::Draft::from_bundle("https://x.invalid", UnixTime(0), bundle, "r", "k");
    assert!(
        matches!(r, Err(Error::TooLargeForQr { len, max: 1195 }) if len > 1195),
        "{r:?}"
    );
}

#[test]
fn the_bundle_is_minimised_with_one_immunization_per_dose() {
    let product = vaxcert::catalogue::product("moderna-spikevax").unwrap();
    let doses = [
        vaxcert::formats::Dose {
            seq: 1,
            date: vaxcert::domain::BirthDate::parse("2021-07-01").unwrap(),
            product,
            lot: "A1".into(),
        },
        vaxcert::formats::Dose {
            seq: 2,
            date: vaxcert::domain::BirthDate::parse("2021-07-29").unwrap(),
            product,
            lot: "A2".into(),
        },
    ];
    let c = shc::Content {
        names: vec![
            shc::HumanName::from_card_name("山田　太郎"),
            shc::HumanName::from_card_name("YAMADA TARO"),
        ],
        birth_date: vaxcert::domain::BirthDate::parse("19850401").unwrap(),
        doses: &doses,
    };
    let b = shc::bundle(&c);
    let text = b.to_string();
    for banned in ["\"id\"", "\"meta\"", "\"text\"", "\"display\":\"SPIKEVAX\""] {
        assert!(!text.contains(banned), "{banned} in {text}");
    }
    let entries = b["entry"].as_array().unwrap();
    assert_eq!(entries.len(), 3);
    assert_eq!(entries[0]["fullUrl"], "resource:0");
    assert_eq!(entries[0]["resource"]["name"][1]["family"], "YAMADA");
    for e in &entries[1..] {
        let r = &e["resource"];
        assert_eq!(r["status"], "completed");
        assert_eq!(r["vaccineCode"]["coding"][0]["code"], "207");
        assert_eq!(
            r["vaccineCode"]["coding"][0]["system"],
            "http://hl7.org/fhir/sid/cvx"
        );
        assert_eq!(r["patient"]["reference"], "resource:0");
        assert_eq!(r["performer"][0]["actor"]["display"], "MHLW_Gov_of_JAPAN");
    }
    let empty = shc::Content { doses: &[], ..c };
    assert!(matches!(
        shc::Draft::new("i", UnixTime(0), &empty, "r", "k"),
        Err(Error::NoDoses)
    ));
}
