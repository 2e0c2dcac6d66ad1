//! The virtual card's answers to APDUs: DESIGN §3's table, status word for status word.
//! Pure state machine; [`super::vpcd`] carries the bytes.

use super::image::CardImage;
use crate::card::Pin;
use crate::card::text_ap::{EF_PIN, TEXT_AP_AID};

const OK: u16 = 0x9000;

/// The card's volatile and persistent state. The try counter survives resets; the verified
/// state and the current AP/EF do not.
pub struct Applet {
    image: CardImage,
    pin: Pin,
    tries: u8,
    ap_selected: bool,
    current_ef: Option<u16>,
    verified: bool,
}

/// Files that need the PIN before READ BINARY.
fn needs_pin(fid: u16) -> bool {
    matches!(fid, 0x0001 | 0x0002 | 0x0003 | 0x0006 | 0x0007)
}

fn sw(status: u16) -> Vec<u8> {
    status.to_be_bytes().to_vec()
}

impl Applet {
    /// A freshly inserted card.
    pub fn new(image: CardImage, pin: Pin, tries: u8) -> Self {
        Applet {
            image,
            pin,
            tries,
            ap_selected: false,
            current_ef: None,
            verified: false,
        }
    }

    /// Tries left on the PIN counter.
    pub fn tries(&self) -> u8 {
        self.tries
    }

    /// Power-on, warm reset or power-off: back to the card manager, nothing verified.
    pub fn reset(&mut self) {
        self.ap_selected = false;
        self.current_ef = None;
        self.verified = false;
    }

    /// Answer one command APDU with data + SW1 SW2.
    pub fn process(&mut self, apdu: &[u8]) -> Vec<u8> {
        let Some((cla, ins, p1, p2, data, le)) = parse(apdu) else {
            return sw(0x6700);
        };
        match (cla, ins) {
            (0x00, 0xA4) => sw(self.select(p1, p2, data)),
            (0x00, 0x20) => sw(self.verify(p1, p2, data)),
            (0x00, 0xB0) => self.read_binary(p1, p2, le),
            (0x80, 0x2A) => self.internal_authenticate(p1, p2, data),
            (0x00 | 0x80, _) => sw(0x6D00),
            _ => sw(0x6E00),
        }
    }

    fn select(&mut self, p1: u8, p2: u8, data: &[u8]) -> u16 {
        match (p1, p2) {
            (0x04, 0x0C) if data == TEXT_AP_AID => {
                self.reset();
                self.ap_selected = true;
                OK
            }
            (0x04, _) => 0x6A82,
            (0x02, 0x0C) if self.ap_selected && data.len() == 2 => {
                let fid = u16::from_be_bytes([data[0], data[1]]);
                if fid == EF_PIN || self.image.files.contains_key(&fid) {
                    self.current_ef = Some(fid);
                    OK
                } else {
                    0x6A82
                }
            }
            (0x02, _) => 0x6A82,
            _ => 0x6A86,
        }
    }

    fn verify(&mut self, p1: u8, p2: u8, data: &[u8]) -> u16 {
        if (p1, p2) != (0x00, 0x80) {
            return 0x6A86;
        }
        if self.current_ef != Some(EF_PIN) {
            return 0x6A88;
        }
        if data.is_empty() {
            return match (self.verified, self.tries) {
                (true, _) => OK,
                (false, n) => 0x63C0 | u16::from(n),
            };
        }
        if data.len() != 4 {
            return 0x6700;
        }
        if self.tries == 0 {
            return 0x6984;
        }
        if self.pin.matches(data) {
            self.tries = 3;
            self.verified = true;
            OK
        } else {
            self.tries -= 1;
            self.verified = false;
            0x63C0 | u16::from(self.tries)
        }
    }

    fn read_binary(&self, p1: u8, p2: u8, le: usize) -> Vec<u8> {
        if p1 & 0x80 != 0 {
            return sw(0x6A86);
        }
        let Some(fid) = self.current_ef.filter(|f| *f != EF_PIN) else {
            return sw(0x6986);
        };
        if needs_pin(fid) && !self.verified {
            return sw(0x6982);
        }
        let Some(file) = self.image.files.get(&fid) else {
            return sw(0x6A82);
        };
        let offset = usize::from(u16::from_be_bytes([p1, p2]));
        if offset >= file.len() {
            return sw(0x6B00);
        }
        let end = file.len().min(offset + le);
        let mut out = file[offset..end].to_vec();
        out.extend(sw(OK));
        out
    }

    fn internal_authenticate(&self, p1: u8, p2: u8, data: &[u8]) -> Vec<u8> {
        if (p1, p2) != (0x00, 0x00) {
            return sw(0x6A86);
        }
        if !self.ap_selected {
            return sw(0x6985);
        }
        const PREFIX: [u8; 19] = [
            0x30, 0x31, 0x30, 0x0D, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
            0x01, 0x05, 0x00, 0x04, 0x20,
        ];
        if data.len() != 51 || data[..19] != PREFIX {
            return sw(0x6A80);
        }
        match self.image.sign_digest_info(data) {
            Some(mut s) => {
                s.extend(sw(OK));
                s
            }
            None => sw(0x6F00),
        }
    }
}

/// Split a short APDU into CLA, INS, P1, P2, data and Le (256 for `00`).
type Parsed<'a> = (u8, u8, u8, u8, &'a [u8], usize);

fn parse(apdu: &[u8]) -> Option<Parsed<'_>> {
    let [cla, ins, p1, p2] = *apdu.first_chunk::<4>()?;
    let body = &apdu[4..];
    let le_of = |b: u8| if b == 0 { 256 } else { usize::from(b) };
    match body.len() {
        0 => Some((cla, ins, p1, p2, &[], 0)),
        1 => Some((cla, ins, p1, p2, &[], le_of(body[0]))),
        _ => {
            let lc = usize::from(body[0]);
            if lc == 0 {
                return None; // extended APDUs are not used by this card
            }
            let data = body.get(1..1 + lc)?;
            match body.len() - 1 - lc {
                0 => Some((cla, ins, p1, p2, data, 0)),
                1 => Some((cla, ins, p1, p2, data, le_of(body[1 + lc]))),
                _ => None,
            }
        }
    }
}
