//! Foreign residents: names in Latin letters with spaces and a registered 通称 (the target file's
//! optional 11th column) through the import, the card-name match at lookup, and the counter's
//! search; a Japanese name with a space is still refused.

use vaxcert::domain::{BirthDate, Channel};
use vaxcert::records::{Error, Role, SearchQuery};

use crate::helpers::*;

const FOREIGN: &str = "\
個別宛名番号,マイナンバー,氏名（姓）,氏名（名）,氏名（セイ）,氏名（メイ）,生年月日,性別,券番号,転出/死亡フラグ,通称
1005,789012345677,Smith,John  William,スミス,ジョン　ウィリアム,19790623,1,0000000005,,
1006,890123456780,KIM,TAEHO,キム,テホ,19901205,1,0000000006,,金田　太浩
";

const FOREIGN_DOSES: &str = "\
1005,1,20210720,pfizer-comirnaty,FF2018,丸の内職域接種会場,Dr. Brown,131016,3
1006,1,20210825,moderna-spikevax,3005293,千代田区役所,接種　一郎,131016,1
";

async fn foreign_residents_import_match_and_are_found(b: Backend) {
    let (_db, r) = with_municipalities(b).await;
    let chiyoda = code(CHIYODA);
    r.import_targets(FOREIGN.as_bytes(), &chiyoda, "test", &|_| {})
        .await
        .unwrap();
    r.import_vaccinations(FOREIGN_DOSES.as_bytes(), &chiyoda, "test", &|_| {})
        .await
        .unwrap();

    // The card's Latin name matches the record whatever the case and spacing.
    let id = identity(&r, "foreign", CHIYODA, Channel::App).await;
    let rec = r
        .lookup_for_issuance(&id, &chiyoda, Channel::App)
        .await
        .unwrap();
    assert_eq!(rec.resident.family_kanji, "Smith");
    assert_eq!(
        rec.resident.given_kanji, "John William",
        "spaces kept as one"
    );
    assert_eq!(rec.resident.given_kana, "ジョン ウィリアム");
    assert_eq!(rec.resident.display_name(), "Smith John William");
    assert_eq!(rec.resident.alias, None);
    // The 通称 holder: the card carries legal name and 通称.
    let id = identity(&r, "tsushou", CHIYODA, Channel::Kiosk).await;
    let rec = r
        .lookup_for_issuance(&id, &chiyoda, Channel::Kiosk)
        .await
        .unwrap();
    assert_eq!(rec.resident.alias.as_deref(), Some("金田 太浩"));

    // A 10-column re-import leaves the 通称 alone; an empty 11th column clears it, and then the
    // card (legal name + 通称) no longer matches the record.
    let ten = "1006,890123456780,KIM,TAEHO,キム,テホ,19901205,1,0000000006,\n";
    r.import_targets(ten.as_bytes(), &chiyoda, "test", &|_| {})
        .await
        .unwrap();
    let id = identity(&r, "tsushou", CHIYODA, Channel::App).await;
    let rec = r
        .lookup_for_issuance(&id, &chiyoda, Channel::App)
        .await
        .unwrap();
    assert_eq!(rec.resident.alias.as_deref(), Some("金田 太浩"));
    let cleared = "1006,890123456780,KIM,TAEHO,キム,テホ,19901205,1,0000000006,,\n";
    r.import_targets(cleared.as_bytes(), &chiyoda, "test", &|_| {})
        .await
        .unwrap();
    let id = identity(&r, "tsushou", CHIYODA, Channel::App).await;
    assert!(matches!(
        r.lookup_for_issuance(&id, &chiyoda, Channel::App).await,
        Err(Error::IdentityMismatch)
    ));
    let again = "1006,890123456780,KIM,TAEHO,キム,テホ,19901205,1,0000000006,,金田 太浩\n";
    r.import_targets(again.as_bytes(), &chiyoda, "test", &|_| {})
        .await
        .unwrap();

    // The counter finds them by legal name in any case and spacing, or by 通称.
    let s = staff_session(&r, CHIYODA, "admin1", Role::Admin, NOW).await;
    let by_name = |family: &str, given: &str, born: &str| SearchQuery::NameBirth {
        family: family.into(),
        given: given.into(),
        birth_date: BirthDate::parse(born).unwrap(),
    };
    for (q, want) in [
        (by_name("SMITH", "JOHN WILLIAM", "19790623"), Some("1005")),
        (by_name("smith", "john  william", "19790623"), Some("1005")),
        (
            by_name("ＳＭＩＴＨ", "ＪＯＨＮ　ＷＩＬＬＩＡＭ", "19790623"),
            Some("1005"),
        ),
        (by_name("SMITH", "JOHN", "19790623"), None),
        (by_name("Kim", "Taeho", "19901205"), Some("1006")),
        (by_name("金田", "太浩", "19901205"), Some("1006")),
        (by_name("金田", "太浩", "19901206"), None),
    ] {
        let hits = r.search(&s, &q).await.unwrap();
        assert_eq!(
            hits.first().map(|h| h.atena.as_str()),
            want,
            "{q:?}: {hits:?}"
        );
    }
}
both!(foreign_residents_import_match_and_are_found);

/// What the import still refuses: a space inside a Japanese name, a Latin name with digits in
/// it, a 12th column; a header naming 通称 in another place.
async fn names_with_spaces_are_latin_names_only(b: Backend) {
    let (_db, r) = with_municipalities(b).await;
    let chiyoda = code(CHIYODA);
    for (file, says) in [
        (
            "1001,123456789018,山田 太郎,太郎,ヤマダ,タロウ,19850401,1,0000000001,\n",
            "line 1, column 3 (氏名（姓）): holds white space",
        ),
        (
            "1001,123456789018,SMITH,JOHN 2ND,スミス,ジョン,19850401,1,0000000001,\n",
            "line 1, column 4 (氏名（名）): holds white space",
        ),
        (
            "1001,123456789018,SMITH,JOHN,スミス,ジョン,19850401,1,0000000001,,x,y\n",
            "line 1: 12 columns, expected 10 to 11",
        ),
        (
            "個別宛名番号,マイナンバー,通称,氏名（姓）,氏名（名）,氏名（セイ）,氏名（メイ）,生年月日,性別,券番号,転出/死亡フラグ\n",
            "the header does not name the expected columns in their order",
        ),
    ] {
        let e = r
            .import_targets(file.as_bytes(), &chiyoda, "test", &|_| {})
            .await
            .unwrap_err();
        assert!(e.to_string().contains(says), "{e} — wanted {says}");
    }
}
both!(names_with_spaces_are_latin_names_only);
