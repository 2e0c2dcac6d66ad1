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
