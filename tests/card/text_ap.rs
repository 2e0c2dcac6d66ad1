//! The TEXT AP conversation against the virtual card's applet in-process: exact APDU bytes from
//! DESIGN §3, and the card's answers status word for status word.

use myna_card::{Card, Transmit};
use vaxcert::card::challenge::sha256_digest_info;
use vaxcert::card::text_ap::{self, Tries};
use vaxcert::card::{Error, Pin};
use vaxcert::card_sim::applet::Applet;

use crate::helpers::{image, persona};

/// Sends APDUs straight to an applet and records them.
struct Direct {
    applet: Applet,
    sent: Vec<Vec<u8>>,
}

impl Transmit for Direct {
    fn transmit(&mut self, command: &[u8]) -> myna_card::Result<Vec<u8>> {
        self.sent.push(command.to_vec());
        Ok(self.applet.process(command))
    }
}

fn card(name: &str) -> Card<Direct> {
    let p = persona(name);
    Card::new(Direct {
        applet: Applet::new(image(name), p.pin.clone(), p.tries_left),
        sent: Vec::new(),
    })
}

fn h(s: &str) -> Vec<u8> {
    hex::decode(s.replace(' ', "")).unwrap()
}

fn sw(applet: &mut Applet, apdu: &str) -> String {
    let r = applet.process(&h(apdu));
    hex::encode_upper(&r[r.len() - 2..])
}

#[test]
fn a_full_read_sends_exactly_the_design_apdus() {
    let mut c = card("default");
    let digest = [0x5A; 32];
    let (files, sig) =
        text_ap::read_and_sign(&mut c, &Pin::parse("1234").unwrap(), &digest).unwrap();
    assert_eq!(
        files.ef0001.len(),
        17,
        "EF0001 is read whole, filler included"
    );
    assert_eq!(&files.ef0001[15..], &[0xFF, 0xFF]);
    assert_eq!(sig.len(), 256);
    let sent = &c.transport().sent;
    assert_eq!(sent[0], h("00 A4 04 0C 0A D3 92 10 00 31 00 01 01 04 08"));
    assert_eq!(sent[1], h("00 A4 02 0C 02 00 11"));
    assert_eq!(sent[2], h("00 20 00 80"), "the try count costs nothing");
    assert_eq!(sent[3], h("00 A4 02 0C 02 00 11"));
    assert_eq!(sent[4], h("00 20 00 80 04 31 32 33 34"));
    assert_eq!(sent[5], h("00 A4 02 0C 02 00 01"));
    assert_eq!(sent[6], h("00 B0 00 00 00"));
    assert_eq!(
        sent[7],
        h("00 A4 02 0C 02 00 02"),
        "one short read covers EF0001"
    );
    let mut ia = h("80 2A 00 00 33");
    ia.extend(sha256_digest_info(&digest));
    ia.push(0x00);
    assert_eq!(sent.last().unwrap(), &ia);
    for apdu in sent {
        assert!(apdu.len() <= 261, "short APDUs only");
    }
}

#[test]
fn the_card_answers_as_the_table_says() {
    let p = persona("default");
    let mut a = Applet::new(image("default"), p.pin.clone(), 3);
    assert_eq!(
        sw(&mut a, "00 A4 02 0C 02 00 01"),
        "6A82",
        "no EF before the AP"
    );
    assert_eq!(sw(&mut a, "00 A4 04 0C 05 A0 00 00 00 01"), "6A82");
    assert_eq!(
        sw(&mut a, "00 A4 04 0C 0A D3 92 10 00 31 00 01 01 04 08"),
        "9000"
    );
    assert_eq!(sw(&mut a, "00 A4 02 0C 02 00 99"), "6A82");
    assert_eq!(sw(&mut a, "00 A4 02 0C 02 00 01"), "9000");
    assert_eq!(sw(&mut a, "00 B0 00 00 00"), "6982", "EF0001 needs the PIN");
    assert_eq!(sw(&mut a, "00 A4 02 0C 02 00 04"), "9000");
    let r = a.process(&h("00 B0 00 00 00"));
    assert_eq!(&r[r.len() - 2..], &[0x90, 0x00], "EF0004 needs nothing");
    let len = image("default").files[&0x0004].len();
    let short = a.process(&h(&format!("00 B0 {:04X} 10", len - 4)));
    assert_eq!(short.len(), 4 + 2, "a short read at the end of the file");
    assert_eq!(
        sw(&mut a, &format!("00 B0 {:04X} 01", len)),
        "6B00",
        "past the end"
    );
    assert_eq!(sw(&mut a, "00 CA 00 00 00"), "6D00");
    assert_eq!(sw(&mut a, "A0 B0 00 00 00"), "6E00");

    assert_eq!(sw(&mut a, "00 A4 02 0C 02 00 11"), "9000");
    assert_eq!(sw(&mut a, "00 20 00 80"), "63C3");
    assert_eq!(sw(&mut a, "00 20 00 80 04 30 30 30 30"), "63C2");
    assert_eq!(sw(&mut a, "00 20 00 80 04 31 32 33 34"), "9000");
    assert_eq!(a.tries(), 3, "a right PIN resets the counter");
    assert_eq!(
        sw(&mut a, "00 20 00 80"),
        "9000",
        "empty VERIFY once verified"
    );
    assert_eq!(sw(&mut a, "00 A4 02 0C 02 00 01"), "9000");
    let r = a.process(&h("00 B0 00 00 00"));
    assert_eq!(r.len(), 17 + 2);

    // A new SELECT of the AP drops the verified state.
    assert_eq!(
        sw(&mut a, "00 A4 04 0C 0A D3 92 10 00 31 00 01 01 04 08"),
        "9000"
    );
    assert_eq!(sw(&mut a, "00 A4 02 0C 02 00 01"), "9000");
    assert_eq!(sw(&mut a, "00 B0 00 00 00"), "6982");
}

#[test]
fn the_last_try_answers_63c0_and_then_6984() {
    let p = persona("one-try");
    let mut a = Applet::new(image("one-try"), p.pin.clone(), 2);
    sw(&mut a, "00 A4 04 0C 0A D3 92 10 00 31 00 01 01 04 08");
    sw(&mut a, "00 A4 02 0C 02 00 11");
    assert_eq!(sw(&mut a, "00 20 00 80 04 39 39 39 39"), "63C1");
    a.reset(); // the counter survives a reset
    sw(&mut a, "00 A4 04 0C 0A D3 92 10 00 31 00 01 01 04 08");
    sw(&mut a, "00 A4 02 0C 02 00 11");
    assert_eq!(sw(&mut a, "00 20 00 80"), "63C1");
    assert_eq!(sw(&mut a, "00 20 00 80 04 39 39 39 39"), "63C0");
    assert_eq!(
        sw(&mut a, "00 20 00 80 04 32 35 38 30"),
        "6984",
        "even the right PIN"
    );
    assert_eq!(sw(&mut a, "00 20 00 80"), "63C0");
}

#[test]
fn pin_outcomes_map_to_distinct_errors() {
    let wrong = Pin::parse("0000").unwrap();
    let mut c = card("default");
    let r = text_ap::read_and_sign(&mut c, &wrong, &[0; 32]);
    assert!(matches!(r, Err(Error::WrongPin { tries_left: 2 })), "{r:?}");

    let mut c = card("one-try");
    let r = text_ap::read_and_sign(&mut c, &wrong, &[0; 32]);
    assert!(matches!(r, Err(Error::Locked)), "{r:?}");

    let mut c = card("locked");
    text_ap::select(&mut c).unwrap();
    assert_eq!(text_ap::tries(&mut c).unwrap(), Tries::Locked);
    let r = text_ap::read_and_sign(&mut c, &Pin::parse("9999").unwrap(), &[0; 32]);
    assert!(matches!(r, Err(Error::Locked)), "{r:?}");
    let sent = &c.transport().sent;
    assert!(
        !sent.iter().any(|a| a.len() == 9 && a[1] == 0x20),
        "no PIN is presented to a locked card"
    );
}
