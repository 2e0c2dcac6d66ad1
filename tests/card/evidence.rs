//! DESIGN §3's five steps: each passes on good input and fails with its own error on the
//! matching tampering.

use vaxcert::card::challenge::{Binding, ChallengeKey, Challenges, InMemoryUsedChallenges};
use vaxcert::card::{CardEvidence, Error, TrustSet, VerifiedIdentity, verify_card_files};
use vaxcert::clock::UnixTime;
use vaxcert::dev;
use vaxcert::domain::{Kind, MunicipalityCode};

use crate::helpers::{NOW, binding, challenges, evidence, persona, test_card_files};

fn dev_trust() -> TrustSet {
    dev::trust_set("dev,6000033").unwrap()
}

async fn verify_at(
    ev: &CardEvidence,
    b: &Binding,
    now: UnixTime,
) -> Result<VerifiedIdentity, Error> {
    let used = InMemoryUsedChallenges::default();
    vaxcert::card::verify_evidence(ev, b, &dev_trust(), &challenges(), &used, now).await
}

async fn verify(ev: &CardEvidence) -> Result<VerifiedIdentity, Error> {
    verify_at(ev, &binding(), NOW).await
}

#[tokio::test]
async fn good_evidence_yields_the_persona() {
    for name in [
        "default",
        "long-address",
        "yoshi",
        "kyusei",
        "locked",
        "one-try",
        "foreign",
        "tsushou",
    ] {
        let p = persona(name);
        let id = verify(&evidence(name, &binding())).await.unwrap();
        assert_eq!(id.name(), p.name);
        assert_eq!(id.address(), p.address);
        assert_eq!(id.birth_date(), p.birth_date);
        assert_eq!(id.sex(), p.sex);
        assert_eq!(id.my_number(), &p.my_number);
    }
}

#[tokio::test]
async fn an_untrusted_ca_is_refused_by_name() {
    let ev = evidence("default", &binding());
    let used = InMemoryUsedChallenges::default();
    let only_test = TrustSet::parse("6000033").unwrap();
    let r = vaxcert::card::verify_evidence(&ev, &binding(), &only_test, &challenges(), &used, NOW)
        .await;
    assert!(
        matches!(r, Err(Error::UntrustedIssuer { ref key_id }) if key_id == "9000033"),
        "{r:?}"
    );
}

#[tokio::test]
async fn a_cvc_signed_by_the_wrong_key_is_refused() {
    let mut ev = evidence("default", &binding());
    // The issuer signs its own CVC while claiming the dev CA's key ID.
    let issuer = dev::card::DevIssuer::load().unwrap();
    ev.files.ef0004 = dev::card::make_cvc(
        issuer.key(),
        &dev::card::CA_KEY_ID,
        issuer.key(),
        &dev::card::ISSUER_KEY_ID,
    );
    assert!(matches!(
        verify(&ev).await,
        Err(Error::CertificateSignature)
    ));
}

#[tokio::test]
async fn a_flipped_byte_in_each_file_is_caught_by_its_own_step() {
    let base = evidence("default", &binding());

    let mut ev = base.clone();
    ev.files.ef0001[7] ^= 0x01; // a MyNumber digit
    assert!(matches!(verify(&ev).await, Err(Error::MyNumberDigest)));

    let mut ev = base.clone();
    ev.files.ef0001[16] ^= 0x01; // the filler is hashed too
    assert!(matches!(verify(&ev).await, Err(Error::MyNumberDigest)));

    let mut ev = base.clone();
    let last = ev.files.ef0002.len() - 1;
    ev.files.ef0002[last - 3] ^= 0x01; // inside the name/address/birth date area
    assert!(matches!(
        verify(&ev).await,
        Err(Error::AttributesDigest | Error::Malformed { .. })
    ));

    let mut ev = base.clone();
    ev.files.ef0002[20] ^= 0x01; // inside the name
    assert!(
        matches!(verify(&ev).await, Err(Error::AttributesDigest)),
        "{:?}",
        verify(&ev).await
    );

    let mut ev = base.clone();
    ev.files.ef0003[10] ^= 0x01; // inside DF31
    assert!(matches!(verify(&ev).await, Err(Error::IntegritySignature)));

    let mut ev = base.clone();
    ev.files.ef0007[40] ^= 0x01; // inside the DF51 modulus
    assert!(matches!(verify(&ev).await, Err(Error::CardKeySignature)));

    let mut ev = base.clone();
    ev.files.ef0004[100] ^= 0x01; // inside the CVC's key
    assert!(matches!(
        verify(&ev).await,
        Err(Error::CertificateSignature)
    ));
}

#[tokio::test]
async fn a_swapped_ef0004_breaks_the_data_signature() {
    let mut ev = evidence("default", &binding());
    ev.files.ef0004 = test_card_files().ef0004.clone(); // a real, valid CVC from another issuer key
    assert!(matches!(verify(&ev).await, Err(Error::IntegritySignature)));
}

#[tokio::test]
async fn wrong_expired_and_reused_challenges_are_refused() {
    let ev = evidence("default", &binding());
    let used = InMemoryUsedChallenges::default();
    let trust = dev_trust();

    let other = Challenges::new(ChallengeKey::random(), 120);
    let r = vaxcert::card::verify_evidence(&ev, &binding(), &trust, &other, &used, NOW).await;
    assert!(matches!(r, Err(Error::ChallengeForged)), "{r:?}");

    let r = verify_at(&ev, &binding(), NOW.plus(120)).await;
    assert!(matches!(r, Err(Error::ChallengeExpired)), "{r:?}");

    let c = challenges();
    vaxcert::card::verify_evidence(&ev, &binding(), &trust, &c, &used, NOW)
        .await
        .unwrap();
    let r = vaxcert::card::verify_evidence(&ev, &binding(), &trust, &c, &used, NOW.plus(1)).await;
    assert!(matches!(r, Err(Error::ChallengeReused)), "{r:?}");
}

#[tokio::test]
async fn a_signature_made_for_another_request_is_refused() {
    let ev = evidence("default", &binding());
    let other_town = Binding {
        municipality: MunicipalityCode::parse("011002").unwrap(),
        ..binding()
    };
    assert!(matches!(
        verify_at(&ev, &other_town, NOW).await,
        Err(Error::ChallengeSignature)
    ));
    let overseas = Binding {
        kind: Kind::Overseas,
        ..binding()
    };
    assert!(matches!(
        verify_at(&ev, &overseas, NOW).await,
        Err(Error::ChallengeSignature)
    ));

    let mut ev = ev;
    ev.challenge_signature[0] ^= 0x01;
    assert!(matches!(verify(&ev).await, Err(Error::ChallengeSignature)));
}

#[test]
fn the_real_test_card_verifies_under_6000033_only() {
    let files = test_card_files();
    let data = verify_card_files(&files, &TrustSet::parse("6000033").unwrap()).unwrap();
    assert_eq!(data.summary().name, "黒桐　幹也");
    assert_eq!(data.summary().my_number.to_string(), "********7188");
    let r = verify_card_files(&files, &TrustSet::production());
    assert!(matches!(r, Err(Error::UntrustedIssuer { ref key_id }) if key_id == "6000033"));
    // A key set that calls the production modulus 6000033: the signature fails.
    let hex = std::fs::read_to_string("certs/trust/jlis/5000033.modulus.hex").unwrap();
    let fake = TrustSet::from_keys(vec![vaxcert::card::CaKey {
        key_id: "6000033".into(),
        key: vaxcert::card::RsaKey::from_modulus_hex(&hex).unwrap(),
    }]);
    assert!(matches!(
        verify_card_files(&files, &fake),
        Err(Error::CertificateSignature)
    ));
}

#[test]
fn truncated_and_empty_files_are_malformed_not_panics() {
    let good = test_card_files();
    let trust = TrustSet::parse("6000033").unwrap();
    for cut in [0usize, 1, 3, 10, 50] {
        for which in 0..5 {
            let mut f = good.clone();
            let file = match which {
                0 => &mut f.ef0001,
                1 => &mut f.ef0002,
                2 => &mut f.ef0003,
                3 => &mut f.ef0004,
                _ => &mut f.ef0007,
            };
            if cut >= file.len() {
                continue;
            }
            file.truncate(cut);
            assert!(
                verify_card_files(&f, &trust).is_err(),
                "file {which} cut to {cut}"
            );
        }
    }
}

#[test]
fn evidence_round_trips_as_json_and_never_debug_prints_bytes() {
    let ev = evidence("default", &binding());
    let json = serde_json::to_string(&ev).unwrap();
    for key in [
        "ef0001",
        "ef0002",
        "ef0003",
        "ef0004",
        "ef0007",
        "challenge",
        "challenge_signature",
    ] {
        assert!(json.contains(&format!("\"{key}\"")), "{key}");
    }
    let back: CardEvidence = serde_json::from_str(&json).unwrap();
    assert_eq!(back.files, ev.files);
    let dbg = format!("{ev:?} {:?}", ev.files);
    assert!(
        !dbg.contains("123456789018") && !dbg.contains("[255"),
        "{dbg}"
    );
}

#[test]
fn a_forged_item_inserted_outside_the_digest_is_tampering() {
    // The real test card's EF0002: FF20 65 | DF21 08 (000E 0020 0059 0064) | DF22 … DF25.
    // DF32 covers DF22 to the end; DF21 itself is not covered. Insert a forged birth date
    // before DF22 and point DF24's offset at it: every covered byte is genuine.
    let mut files = test_card_files();
    let real = files.ef0002.clone();
    assert_eq!(&real[..4], &[0xFF, 0x20, 0x65, 0xDF]);
    let forged = [&[0xDF, 0x24, 0x08][..], b"19990101"].concat();
    let n = forged.len() as u16;
    let mut ef = vec![0xFF, 0x20, 0x65 + forged.len() as u8, 0xDF, 0x21, 0x08];
    for (i, off) in [0x0E_u16, 0x20, 0x59, 0x64].into_iter().enumerate() {
        let off = if i == 2 { 0x0E } else { off + n };
        ef.extend_from_slice(&off.to_be_bytes());
    }
    ef.extend_from_slice(&forged);
    ef.extend_from_slice(&real[0x0E..]);
    files.ef0002 = ef;
    let r = verify_card_files(&files, &TrustSet::parse("6000033").unwrap());
    assert!(matches!(r, Err(Error::AttributesDigest)), "{:?}", r.err());
    assert_eq!(Error::AttributesDigest.code(), "card-attributes-tampered");
}
