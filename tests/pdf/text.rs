//! What a reader sees: pdftotext shows the headings, the name, the doses and the certificate
//! ID, and no 12-digit number (a MyNumber) anywhere.

use crate::helpers::{
    CERTIFICATE_ID, NAME_KANJI, NAME_ROMAN, PERSONA_MY_NUMBER, Sample, pdftotext, scratch, write,
};

/// pdftotext lays text out with spaces (and turns U+3000 into them): compare without any.
fn squash(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

fn assert_shows(text: &str, want: &str) {
    assert!(
        squash(text).contains(&squash(want)),
        "{want:?} missing from:\n{text}"
    );
}

fn has_twelve_digit_run(s: &str) -> bool {
    let mut run = 0;
    for ch in s.chars() {
        run = if ch.is_ascii_digit() || ('０'..='９').contains(&ch) {
            run + 1
        } else {
            0
        };
        if run >= 12 {
            return true;
        }
    }
    false
}

#[test]
fn domestic_text_shows_headings_name_doses_and_id() {
    let sample = Sample::domestic();
    let dir = scratch("text-domestic");
    let text = pdftotext(&write(&dir, "d.pdf", &sample.signed_pdf()));
    for want in [
        "新型コロナウイルス感染症予防接種証明書",
        "Vaccination Certificate for COVID-19",
        "国内用",
        NAME_KANJI,
        "1985-04-01",
        CERTIFICATE_ID,
        "2026-11-22",
        "東京都千代田区",
        "国内用 SMART Health Card",
        "確認方法",
        "How to verify",
    ] {
        assert_shows(&text, want);
    }
    for dose in &sample.doses {
        for want in [
            dose.date.iso().as_str(),
            dose.lot.as_str(),
            dose.product.name_ja,
            dose.product.name_en,
        ] {
            assert_shows(&text, want);
        }
    }
    assert!(
        !text.contains(NAME_ROMAN),
        "a domestic certificate shows no passport name"
    );
    assert!(
        !squash(&text).contains("海外用ICAOVDS-NC"),
        "no VDS-NC label"
    );
}

#[test]
fn overseas_text_adds_roman_name_passport_and_vdsnc_label() {
    let dir = scratch("text-overseas");
    let text = pdftotext(&write(&dir, "o.pdf", &Sample::overseas().signed_pdf()));
    for want in [
        NAME_KANJI,
        NAME_ROMAN,
        "TK1234500",
        "JPN (Japan)",
        "国籍・地域",
        "海外用",
        "海外用 ICAO VDS-NC",
        CERTIFICATE_ID,
    ] {
        assert_shows(&text, want);
    }
}

#[test]
fn no_mynumber_and_no_twelve_digit_number_in_text_or_bytes() {
    assert!(has_twelve_digit_run("x123456789012y"));
    assert!(!has_twelve_digit_run("12345678901 2"));
    for sample in [Sample::domestic(), Sample::overseas()] {
        let pdf = sample.signed_pdf();
        let dir = scratch("text-mynumber");
        let text = pdftotext(&write(&dir, "m.pdf", &pdf));
        assert!(
            !has_twelve_digit_run(&text),
            "a 12-digit number is visible:\n{text}"
        );
        let needle = PERSONA_MY_NUMBER.as_bytes();
        assert!(!pdf.windows(needle.len()).any(|w| w == needle));
    }
}
