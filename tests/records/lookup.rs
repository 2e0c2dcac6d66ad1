//! Lookup for issuance: every outcome, including a 旧姓 persona that matches, and the issuance
//! history (certificate IDs, last passport data).

use vaxcert::domain::{Channel, Kind};
use vaxcert::records::{AtenaNo, Error, NewIssuance, PassportData};

use crate::helpers::*;

async fn every_lookup_outcome(b: Backend) {
    let (_db, r) = with_municipalities(b).await;
    seed_chiyoda(&r).await;
    let chiyoda = code(CHIYODA);

    // Found: the default persona, with doses in order and no passport history yet.
    let id = identity(&r, "default", CHIYODA, Channel::Kiosk).await;
    let rec = r
        .lookup_for_issuance(&id, &chiyoda, Channel::Kiosk)
        .await
        .unwrap();
    assert_eq!(rec.resident.atena.as_str(), "1001");
    assert_eq!(rec.doses.len(), 2);
    assert_eq!(rec.doses[0].product.code, "pfizer-comirnaty");
    assert_eq!(rec.last_passport, None);

    // 旧姓: the card says 佐藤　美咲（高橋）, the record 佐藤/美咲.
    let id = identity(&r, "kyusei", CHIYODA, Channel::App).await;
    let rec = r
        .lookup_for_issuance(&id, &chiyoda, Channel::App)
        .await
        .unwrap();
    assert_eq!(rec.resident.family_kanji, "佐藤");
    // 𠮷 outside the BMP.
    let id = identity(&r, "yoshi", CHIYODA, Channel::App).await;
    assert_eq!(
        r.lookup_for_issuance(&id, &chiyoda, Channel::App)
            .await
            .unwrap()
            .doses
            .len(),
        1
    );

    // No doses.
    let id = identity(&r, "long-address", CHIYODA, Channel::App).await;
    assert!(matches!(
        r.lookup_for_issuance(&id, &chiyoda, Channel::App).await,
        Err(Error::NoDoses(_))
    ));
    // No record: a card nobody registered, and a record held by another municipality.
    let id = identity(&r, "one-try", CHIYODA, Channel::App).await;
    assert!(matches!(
        r.lookup_for_issuance(&id, &chiyoda, Channel::App).await,
        Err(Error::NoRecord(_))
    ));
    let id = identity(&r, "default", FUKUOKA, Channel::App).await;
    assert!(matches!(
        r.lookup_for_issuance(&id, &code(FUKUOKA), Channel::App)
            .await,
        Err(Error::NoRecord(_))
    ));
    // Kiosk in a municipality that does not take part.
    let id = identity(&r, "default", OSAKA, Channel::Kiosk).await;
    assert!(matches!(
        r.lookup_for_issuance(&id, &code(OSAKA), Channel::Kiosk)
            .await,
        Err(Error::NotParticipating(_))
    ));

    // Name mismatch, then birth-date mismatch, then moved out, then deceased.
    for (edit, expect) in [
        ("山田,太郎,ヤマダ,タロウ,19850401,1,0000000001,", "mismatch"),
        ("山田,太朗,ヤマダ,タロウ,19850401,1,0000000001,", "mismatch"),
        ("山田,太郎,ヤマダ,タロウ,19850402,1,0000000001,", "mismatch"),
        ("山田,太郎,ヤマダ,タロウ,19850401,1,0000000001,1", "moved"),
        (
            "山田,太郎,ヤマダ,タロウ,19850401,1,0000000001,2",
            "deceased",
        ),
    ] {
        let csv = if expect == "mismatch" && edit.contains("太郎") && edit.contains("19850401") {
            // Same name on the card, another person's name on the record.
            "1001,123456789018,山田,花子,ヤマダ,ハナコ,19850401,2,0000000001,\n".to_owned()
        } else {
            format!("1001,123456789018,{edit}\n")
        };
        r.import_targets(csv.as_bytes(), &chiyoda, "test", &|_| {})
            .await
            .unwrap();
        let id = identity(&r, "default", CHIYODA, Channel::App).await;
        let e = r
            .lookup_for_issuance(&id, &chiyoda, Channel::App)
            .await
            .unwrap_err();
        match expect {
            "mismatch" => assert!(matches!(e, Error::IdentityMismatch), "{edit}: {e:?}"),
            "moved" => {
                assert!(matches!(e, Error::MovedOut(_)), "{e:?}");
                assert!(
                    e.to_string()
                        .contains("apply to the municipality you moved to")
                );
            }
            _ => assert!(matches!(e, Error::Deceased), "{e:?}"),
        }
        assert_ne!(e.code(), "internal");
        if expect != "mismatch" {
            // A preview made before the move or death is redeemed after it: the issuance
            // insert itself refuses, with the same error, and records nothing.
            let before = r.audit_tail(1).await.unwrap();
            let refused = r
                .record_issuance(
                    &chiyoda,
                    &AtenaNo::parse("1001").unwrap(),
                    &domestic(),
                    "app",
                )
                .await
                .unwrap_err();
            assert_eq!(refused.code(), e.code(), "{refused:?}");
            assert_eq!(r.audit_tail(1).await.unwrap(), before, "nothing audited");
        }
    }
    // The kyusei persona's 旧姓 must not match a record under the 旧姓.
    r.import_targets(
        "1002,456789012346,高橋,美咲,タカハシ,ミサキ,19880310,2,0000000002,\n".as_bytes(),
        &chiyoda,
        "test",
        &|_| {},
    )
    .await
    .unwrap();
    let id = identity(&r, "kyusei", CHIYODA, Channel::App).await;
    assert!(matches!(
        r.lookup_for_issuance(&id, &chiyoda, Channel::App).await,
        Err(Error::IdentityMismatch)
    ));
}
both!(every_lookup_outcome);

fn domestic() -> NewIssuance {
    NewIssuance {
        channel: Channel::App,
        kind: Kind::Domestic,
        passport: None,
        key_id: "dev-kid".into(),
        rid: "rid".into(),
        card_key_digest: None,
        content_digest: None,
    }
}

async fn issuance_history_keeps_passport_data_and_unique_ids(b: Backend) {
    let (_db, r) = with_municipalities(b).await;
    seed_chiyoda(&r).await;
    let chiyoda = code(CHIYODA);
    let id = identity(&r, "default", CHIYODA, Channel::App).await;
    let passport = PassportData {
        romanised_name: "YAMADA TARO".into(),
        nationality: "JPN".into(),
        passport_number: "TK1234567".into(),
        former_name: None,
    };
    let new = NewIssuance {
        channel: Channel::App,
        kind: Kind::Overseas,
        passport: Some(passport.clone()),
        key_id: "dev-kid".into(),
        rid: "rid-1".into(),
        card_key_digest: Some(*id.card_key_digest()),
        content_digest: None,
    };
    let atena = AtenaNo::parse("1001").unwrap();
    let mut ids = std::collections::HashSet::new();
    for _ in 0..20 {
        let c = r
            .record_issuance(&chiyoda, &atena, &new, "app")
            .await
            .unwrap();
        assert_eq!(c.id.as_str().len(), 12);
        assert_eq!(c.issued_at, NOW);
        assert!(ids.insert(c.id));
    }
    let domestic = NewIssuance {
        kind: Kind::Domestic,
        passport: None,
        ..new.clone()
    };
    let last = r
        .record_issuance(&chiyoda, &atena, &domestic, "kiosk")
        .await
        .unwrap();
    let id = identity(&r, "default", CHIYODA, Channel::Kiosk).await;
    let rec = r
        .lookup_for_issuance(&id, &chiyoda, Channel::Kiosk)
        .await
        .unwrap();
    assert_eq!(rec.last_passport, Some(passport));
    r.revoke_certificate(&chiyoda, &last.id, "cli")
        .await
        .unwrap();
    assert!(matches!(
        r.revoke_certificate(&chiyoda, &last.id, "cli").await,
        Err(Error::UnknownCertificate(_))
    ));
    // Another municipality cannot revoke Chiyoda's certificate.
    let some = ids.iter().next().unwrap();
    assert!(
        r.revoke_certificate(&code(FUKUOKA), some, "cli")
            .await
            .is_err()
    );
    assert!(matches!(
        r.record_issuance(&chiyoda, &AtenaNo::parse("9999").unwrap(), &domestic, "app")
            .await,
        Err(Error::NoSuchResident)
    ));
    // The challenge used set lives in the database: the same evidence cannot be replayed.
    let bnd = binding(CHIYODA, Channel::App);
    let ev = evidence("default", &bnd);
    let trust = vaxcert::dev::trust_set("dev").unwrap();
    vaxcert::card::verify_evidence(&ev, &bnd, &trust, &challenges(), &r, NOW)
        .await
        .unwrap();
    let again = vaxcert::card::verify_evidence(&ev, &bnd, &trust, &challenges(), &r, NOW).await;
    assert!(matches!(again, Err(vaxcert::card::Error::ChallengeReused)));
}
both!(issuance_history_keeps_passport_data_and_unique_ids);

/// The race the purge margin closes: a replay checked just before its challenge expires
/// reaches the used set just after another request purged it. Run step by step, so the
/// interleaving is exactly the losing one.
async fn a_replay_racing_the_purge_is_still_refused(b: Backend) {
    use vaxcert::card::challenge::UsedChallenges;
    use vaxcert::clock::UnixTime;
    let (_db, r) = with_municipalities(b).await;
    let expires = UnixTime(NOW.0 + 120);
    let id = [7u8; 16];
    // The genuine request claims the challenge.
    assert!(r.claim(id, expires, NOW).await.unwrap());
    // A second after the expiry, another request's claim runs the periodic purge.
    let after = UnixTime(expires.0 + 1);
    assert!(
        r.claim([8u8; 16], UnixTime(after.0 + 120), after)
            .await
            .unwrap()
    );
    // The replay passed its expiry check a moment before the expiry (or on a replica whose
    // clock is behind) and claims now: still refused.
    assert!(!r.claim(id, expires, UnixTime(expires.0 - 1)).await.unwrap());
    // Well past the margin the entry may go, and by then no check lets the challenge in.
    let later = UnixTime(expires.0 + vaxcert::card::challenge::PURGE_MARGIN_SECS + 60);
    assert!(
        r.claim([9u8; 16], UnixTime(later.0 + 120), later)
            .await
            .unwrap()
    );
}

both!(a_replay_racing_the_purge_is_still_refused);
