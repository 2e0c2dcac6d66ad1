//! The real stack: pcscd with the vpcd driver, `vaxcert card-sim` as the card, and the same
//! reader code a kiosk runs. Each test holds one vpcd slot exclusively.

use std::time::Duration;

use pcsc::{Disposition, Protocols, ShareMode};
use vaxcert::card::challenge::InMemoryUsedChallenges;
use vaxcert::card::{Error, Pin};

use crate::helpers::{NOW, SimCard, binding, challenges, persona};

const WAIT: Duration = Duration::from_secs(5);

fn read(card: &SimCard, pin: &str) -> Result<vaxcert::card::CardEvidence, Error> {
    let challenge = challenges().issue(NOW);
    let (files, sig) = card.reader().read_and_sign(
        &Pin::parse(pin).unwrap(),
        &binding().digest(&challenge),
        WAIT,
    )?;
    Ok(vaxcert::card::CardEvidence {
        files,
        challenge,
        challenge_signature: sig,
    })
}

#[tokio::test]
async fn every_persona_reads_and_verifies_through_pcscd() {
    let pins = [
        ("default", "1234"),
        ("long-address", "5678"),
        ("yoshi", "2468"),
        ("kyusei", "1357"),
        ("one-try", "2580"),
        ("foreign", "2468"),
        ("tsushou", "9753"),
    ];
    for (name, pin) in pins {
        let p = persona(name);
        let card = SimCard::insert(name);
        let ev = read(&card, pin).unwrap();
        assert_eq!(ev.files.ef0001.len(), 17);
        let used = InMemoryUsedChallenges::default();
        let trust = vaxcert::dev::trust_set("dev").unwrap();
        let id = vaxcert::card::verify_evidence(&ev, &binding(), &trust, &challenges(), &used, NOW)
            .await
            .unwrap();
        assert_eq!(id.name(), p.name, "{name}");
        assert_eq!(id.address(), p.address, "{name}");
        assert_eq!(id.my_number(), &p.my_number, "{name}");
        let out = card.output();
        let digits = String::from_utf8_lossy(p.my_number.expose_digits()).into_owned();
        assert!(
            !out.contains(&digits) && !out.contains(pin),
            "card-sim logged a secret"
        );
    }
}

#[test]
fn each_wrong_pin_lowers_the_tries_and_the_third_locks() {
    let card = SimCard::insert("default");
    for left in [2u8, 1] {
        let e = read(&card, "0000").unwrap_err();
        assert!(
            matches!(e, Error::WrongPin { tries_left } if tries_left == left),
            "{e:?}"
        );
        assert!(e.to_string().contains(&format!("{left} tries left")), "{e}");
    }
    let e = read(&card, "0000").unwrap_err();
    assert!(matches!(e, Error::Locked), "63C0 on the last try: {e:?}");
    let e = read(&card, "1234").unwrap_err();
    assert!(
        matches!(e, Error::Locked),
        "later attempts say locked: {e:?}"
    );
    assert!(e.to_string().contains("municipality"));
}

#[test]
fn a_locked_card_says_so_without_using_a_try() {
    let card = SimCard::insert("locked");
    let e = read(&card, "9999").unwrap_err();
    assert!(matches!(e, Error::Locked), "{e:?}");
    assert_eq!(e.code(), "card-locked");
}

#[test]
fn ef0001_cannot_be_read_without_the_pin_and_resets_drop_the_pin() {
    let card = SimCard::insert("default");
    let ctx = pcsc::Context::establish(pcsc::Scope::User).unwrap();
    let name = std::ffi::CString::new(card.slot.reader_name()).unwrap();
    let c = ctx
        .connect(&name, ShareMode::Exclusive, Protocols::ANY)
        .unwrap();
    let mut buf = [0u8; 300];
    let mut send = |apdu: &str| -> Vec<u8> {
        let b = hex::decode(apdu.replace(' ', "")).unwrap();
        c.transmit(&b, &mut buf).unwrap().to_vec()
    };
    let sw = |r: Vec<u8>| hex::encode_upper(&r[r.len() - 2..]);
    assert_eq!(
        sw(send("00 A4 04 0C 0A D3 92 10 00 31 00 01 01 04 08")),
        "9000"
    );
    assert_eq!(sw(send("00 A4 02 0C 02 00 01")), "9000");
    assert_eq!(sw(send("00 B0 00 00 00")), "6982");
    assert_eq!(sw(send("00 A4 02 0C 02 00 11")), "9000");
    assert_eq!(sw(send("00 20 00 80 04 30 30 30 30")), "63C2");
    assert_eq!(sw(send("00 20 00 80 04 31 32 33 34")), "9000");
    assert_eq!(sw(send("00 A4 02 0C 02 00 01")), "9000");
    assert_eq!(send("00 B0 00 00 00").len(), 19);
    assert_eq!(
        sw(send("00 20 00 80 04 30 30 30 30")),
        "6A88",
        "VERIFY needs EF0011 current"
    );
    assert_eq!(sw(send("00 A4 02 0C 02 00 11")), "9000");
    assert_eq!(sw(send("00 20 00 80 04 30 30 30 30")), "63C2");

    // A reset drops the verified state; the try counter survives it.
    let mut c = c;
    c.reconnect(ShareMode::Exclusive, Protocols::ANY, Disposition::ResetCard)
        .unwrap();
    let mut send = |apdu: &str| -> Vec<u8> {
        let b = hex::decode(apdu.replace(' ', "")).unwrap();
        c.transmit(&b, &mut buf).unwrap().to_vec()
    };
    assert_eq!(
        sw(send("00 A4 04 0C 0A D3 92 10 00 31 00 01 01 04 08")),
        "9000"
    );
    assert_eq!(sw(send("00 A4 02 0C 02 00 11")), "9000");
    assert_eq!(sw(send("00 20 00 80")), "63C2", "tries survive the reset");
    assert_eq!(sw(send("00 A4 02 0C 02 00 01")), "9000");
    assert_eq!(sw(send("00 B0 00 00 00")), "6982", "the PIN does not");
}

#[test]
fn a_card_pulled_mid_read_is_a_clear_error() {
    // Pulled after select, tries, verify and two reads.
    let card = SimCard::insert_with("default", &["--remove-after", "7"]);
    let e = read(&card, "1234").unwrap_err();
    assert!(matches!(e, Error::CardRemoved), "{e:?}");
    assert_eq!(e.code(), "card-removed");
}

#[test]
fn an_empty_reader_says_no_card() {
    let slot = crate::helpers::slot();
    let e = slot
        .reader()
        .read_and_sign(
            &Pin::parse("1234").unwrap(),
            &[0; 32],
            Duration::from_millis(300),
        )
        .unwrap_err();
    assert!(matches!(e, Error::NoCard), "{e:?}");
}

#[test]
fn a_card_held_by_another_program_is_reader_busy() {
    let card = SimCard::insert("default");
    let ctx = pcsc::Context::establish(pcsc::Scope::User).unwrap();
    let name = std::ffi::CString::new(card.slot.reader_name()).unwrap();
    let _held = ctx
        .connect(&name, ShareMode::Exclusive, Protocols::ANY)
        .unwrap();
    let e = read(&card, "1234").unwrap_err();
    assert!(matches!(e, Error::ReaderBusy), "{e:?}");
}

#[test]
fn unknown_readers_are_named() {
    let e = vaxcert::card::reader::Reader::open(Some("No Such Reader 99"))
        .err()
        .unwrap();
    assert!(matches!(e, Error::ReaderNotFound(ref n) if n == "No Such Reader 99"));
}
