//! CSV imports: good files, a bad line (nothing imported, line and column named), Shift_JIS,
//! BOM, re-import updating by 宛名番号, vaccination validation.

use vaxcert::domain::Channel;
use vaxcert::records::Error;

use crate::helpers::*;

async fn good_import_and_reimport_updates(b: Backend) {
    let (_db, r) = with_municipalities(b).await;
    let rep = r
        .import_targets(TARGETS.as_bytes(), &code(CHIYODA), "test", &|_| {})
        .await
        .unwrap();
    assert_eq!((rep.rows, rep.inserted, rep.updated), (4, 4, 0));
    let rep = r
        .import_vaccinations(DOSES.as_bytes(), &code(CHIYODA), "test", &|_| {})
        .await
        .unwrap();
    assert_eq!((rep.rows, rep.inserted), (5, 5));
    // Re-import: 1001 moves out, everything else unchanged.
    let changed = TARGETS.replace("0000000001,\n", "0000000001,1\n");
    let rep = r
        .import_targets(changed.as_bytes(), &code(CHIYODA), "test", &|_| {})
        .await
        .unwrap();
    assert_eq!((rep.rows, rep.inserted, rep.updated), (4, 0, 4));
    let id = identity(&r, "default", CHIYODA, Channel::App).await;
    let e = r
        .lookup_for_issuance(&id, &code(CHIYODA), Channel::App)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::MovedOut(_)), "{e:?}");
}
both!(good_import_and_reimport_updates);

async fn one_bad_line_imports_nothing(b: Backend) {
    let (_db, r) = with_municipalities(b).await;
    let bad = TARGETS.replace("19880310", "19880231");
    let e = r
        .import_targets(bad.as_bytes(), &code(CHIYODA), "test", &|_| {})
        .await
        .unwrap_err();
    match &e {
        Error::Row { line, column, .. } => {
            assert_eq!(*line, 3);
            assert_eq!((column.number, column.name), (7, "生年月日"));
        }
        other => panic!("{other:?}"),
    }
    assert!(e.to_string().contains("line 3, column 7 (生年月日)"), "{e}");
    // Line 2 was valid, yet nothing was imported.
    let id = identity(&r, "default", CHIYODA, Channel::App).await;
    let e = r
        .lookup_for_issuance(&id, &code(CHIYODA), Channel::App)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::NoRecord(_)), "{e:?}");

    // A bad MyNumber check digit is reported without echoing the number.
    let bad = TARGETS.replace("456789012346", "456789012345");
    let e = r
        .import_targets(bad.as_bytes(), &code(CHIYODA), "test", &|_| {})
        .await
        .unwrap_err();
    assert!(
        e.to_string().starts_with("line 3, column 2 (マイナンバー)"),
        "{e}"
    );
    assert!(!e.to_string().contains("456789012345"));

    for (from, to, col) in [
        (",ヤマダ,", ",やまだ,", 5),
        (",19850401,1,", ",19850401,3,", 8),
        ("0000000001", "000000001", 9),
        (",0000000001,\n", ",0000000001,7\n", 10),
        ("山田,太郎", "山 田,太郎", 3),
    ] {
        let bad = TARGETS.replacen(from, to, 1);
        let e = r
            .import_targets(bad.as_bytes(), &code(CHIYODA), "test", &|_| {})
            .await
            .unwrap_err();
        match e {
            Error::Row {
                line: 2, column, ..
            } => assert_eq!(column.number, col, "{from}"),
            other => panic!("{from}: {other:?}"),
        }
    }
    let e = r
        .import_targets(b"1001,123456789018\n", &code(CHIYODA), "test", &|_| {})
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Line { line: 1, .. }), "{e:?}");

    // Vaccinations: unknown product, future date, unknown resident.
    r.import_targets(TARGETS.as_bytes(), &code(CHIYODA), "test", &|_| {})
        .await
        .unwrap();
    for (bad, line, col) in [
        (DOSES.replace("astrazeneca-vaxzevria", "sputnik"), 5, 4),
        (DOSES.replace("20210622", "20300101"), 2, 3),
        (DOSES.replace("271004", "271005"), 5, 8),
        (DOSES.replace("1003,1,", "9999,1,"), 5, 1),
        (DOSES.replace("1002,2,", "1002,1,"), 4, 2),
    ] {
        let e = r
            .import_vaccinations(bad.as_bytes(), &code(CHIYODA), "test", &|_| {})
            .await
            .unwrap_err();
        match e {
            Error::Row {
                line: l, column, ..
            } => {
                assert_eq!((l, column.number), (line, col), "{bad}")
            }
            other => panic!("{other:?}"),
        }
    }
    let id = identity(&r, "default", CHIYODA, Channel::App).await;
    let e = r
        .lookup_for_issuance(&id, &code(CHIYODA), Channel::App)
        .await
        .unwrap_err();
    assert!(
        matches!(e, Error::NoDoses(_)),
        "nothing of the bad files was imported: {e:?}"
    );
}
both!(one_bad_line_imports_nothing);

async fn shift_jis_and_bom_files_import(b: Backend) {
    let (_db, r) = with_municipalities(b).await;
    // 𠮷 has no Shift_JIS code: the Shift_JIS file leaves yoshi out.
    let text: String = TARGETS
        .lines()
        .filter(|l| !l.contains("𠮷"))
        .map(|l| format!("{l}\r\n"))
        .collect();
    let (sjis, _, unmappable) = encoding_rs::SHIFT_JIS.encode(&text);
    assert!(!unmappable);
    assert!(std::str::from_utf8(&sjis).is_err(), "really Shift_JIS");
    let rep = r
        .import_targets(&sjis, &code(CHIYODA), "test", &|_| {})
        .await
        .unwrap();
    assert_eq!(rep.rows, 3);
    let two = DOSES.lines().take(2).collect::<Vec<_>>().join("\n");
    let (sjis, _, _) = encoding_rs::SHIFT_JIS.encode(&two);
    r.import_vaccinations(&sjis, &code(CHIYODA), "test", &|_| {})
        .await
        .unwrap();
    let id = identity(&r, "default", CHIYODA, Channel::App).await;
    let rec = r
        .lookup_for_issuance(&id, &code(CHIYODA), Channel::App)
        .await
        .unwrap();
    assert_eq!(rec.resident.family_kanji, "山田");
    assert_eq!(rec.resident.given_kana, "タロウ");
    assert_eq!(rec.doses[1].venue, "千代田区役所");
    assert_eq!(rec.doses[1].physician, "接種　一郎");

    let bom = format!("\u{FEFF}{TARGETS}");
    let rep = r
        .import_targets(bom.as_bytes(), &code(FUKUOKA), "test", &|_| {})
        .await;
    // The same MyNumbers are registered in Chiyoda: refused, naming the line.
    match rep.unwrap_err() {
        Error::Row { line, column, .. } => assert_eq!((line, column.number), (2, 2)),
        other => panic!("{other:?}"),
    }
    let bom = "\u{FEFF}2001,678901234562,伊藤,さくら,イトウ,サクラ,20000229,2,0000000101,\n";
    let rep = r
        .import_targets(bom.as_bytes(), &code(FUKUOKA), "test", &|_| {})
        .await
        .unwrap();
    assert_eq!(rep.rows, 1);
    assert!(matches!(
        r.import_targets(&[0x82, 0xA0, 0xFF, 0xFF], &code(CHIYODA), "test", &|_| {})
            .await,
        Err(Error::Encoding)
    ));
}
both!(shift_jis_and_bom_files_import);

/// A resident who moved: the old municipality marks the record 転出, and the new one imports the
/// same 個人番号, which it then holds. Any other 個人番号 clash still refuses the file whole.
async fn a_moved_resident_is_imported_by_the_new_municipality(b: Backend) {
    let (_db, r) = with_municipalities(b).await;
    let (chiyoda, fukuoka) = (code(CHIYODA), code(FUKUOKA));
    let line = |atena: &str, status: &str| {
        format!("{atena},123456789018,山田,太郎,ヤマダ,タロウ,19850401,1,0000000001,{status}\n")
    };
    r.import_targets(line("1001", "").as_bytes(), &chiyoda, "test", &|_| {})
        .await
        .unwrap();
    // Still living in 千代田区: 福岡市 cannot take the 個人番号.
    let e = r
        .import_targets(line("2999", "").as_bytes(), &fukuoka, "test", &|_| {})
        .await
        .unwrap_err();
    assert_eq!(e.code(), "import-invalid", "{e}");
    // 転出 recorded in 千代田区, then 福岡市 imports the resident.
    r.import_targets(line("1001", "1").as_bytes(), &chiyoda, "test", &|_| {})
        .await
        .unwrap();
    let rep = r
        .import_targets(line("2999", "").as_bytes(), &fukuoka, "test", &|_| {})
        .await
        .unwrap();
    assert_eq!(rep.inserted, 1);
    // The card now finds the record in 福岡市; 千代田区 no longer holds the 個人番号.
    let doses = "2999,1,20210601,pfizer-comirnaty,FA5765,会場,医師,401307,1\n";
    r.import_vaccinations(doses.as_bytes(), &fukuoka, "test", &|_| {})
        .await
        .unwrap();
    let id = identity(&r, "default", FUKUOKA, Channel::App).await;
    let rec = r
        .lookup_for_issuance(&id, &fukuoka, Channel::App)
        .await
        .unwrap();
    assert_eq!(rec.resident.atena.as_str(), "2999");
    let id = identity(&r, "default", CHIYODA, Channel::App).await;
    assert!(
        r.lookup_for_issuance(&id, &chiyoda, Channel::App)
            .await
            .is_err()
    );
    // Re-importing 千代田区's moved-out record does not take the 個人番号 back.
    let e = r
        .import_targets(line("1001", "1").as_bytes(), &chiyoda, "test", &|_| {})
        .await
        .unwrap_err();
    assert_eq!(e.code(), "import-invalid", "{e}");
}
both!(a_moved_resident_is_imported_by_the_new_municipality);

/// VRS's target file is recognised by its header names, whatever the bracket widths; a header in
/// another order (vaxcert's earlier layout) is refused naming the expected order, and so is a
/// file without a header whose first line does not fit it.
async fn the_vrs_target_layout_is_recognised_by_its_header(b: Backend) {
    let (_db, r) = with_municipalities(b).await;
    let chiyoda = code(CHIYODA);
    let ascii = TARGETS.replacen("（", "(", 4).replacen("）", ")", 4);
    assert!(ascii.starts_with("個別宛名番号,マイナンバー,氏名(姓)"));
    let rep = r
        .import_targets(ascii.as_bytes(), &chiyoda, "test", &|_| {})
        .await
        .unwrap();
    assert_eq!(rep.rows, 4);

    let expected = "個別宛名番号,マイナンバー,氏名（姓）,氏名（名）,氏名（セイ）,氏名（メイ）,生年月日,性別,券番号,転出/死亡フラグ";
    let old = "宛名番号,個人番号,券番号,姓,名,セイ,メイ,生年月日,性別,転出死亡フラグ\n\
               1001,123456789018,0000000001,山田,太郎,ヤマダ,タロウ,19850401,1,\n";
    let e = r
        .import_targets(old.as_bytes(), &chiyoda, "test", &|_| {})
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Line { line: 1, .. }), "{e:?}");
    assert!(e.to_string().contains(expected), "{e}");
    assert_eq!(e.code(), "import-invalid");

    let headerless = old.lines().nth(1).unwrap();
    let e = r
        .import_targets(headerless.as_bytes(), &chiyoda, "test", &|_| {})
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Row { line: 1, .. }), "{e:?}");
    assert!(e.to_string().contains(expected), "{e}");

    // Nothing of the refused files changed the record imported first.
    let id = identity(&r, "default", CHIYODA, Channel::App).await;
    let e = r
        .lookup_for_issuance(&id, &chiyoda, Channel::App)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::NoDoses(_)), "{e:?}");
}
both!(the_vrs_target_layout_is_recognised_by_its_header);
