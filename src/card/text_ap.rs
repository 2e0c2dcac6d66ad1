//! The TEXT AP conversation (DESIGN §3's APDU table), over any [`Transmit`]: which EF, in
//! which order, and how each status word is sorted. No PC/SC here; [`super::reader`] supplies it.

use myna_card::apdu::Command;
use myna_card::{Card, Transmit};

use super::challenge::sha256_digest_info;
use super::error::{Error, from_status};
use super::evidence::CardFiles;
use super::pin::Pin;

/// AID of the 券面事項入力補助AP.
pub const TEXT_AP_AID: [u8; 10] = [0xD3, 0x92, 0x10, 0x00, 0x31, 0x00, 0x01, 0x01, 0x04, 0x08];
/// The PIN's key reference.
pub const EF_PIN: u16 = 0x0011;

/// How many PIN tries the card reports, without using one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tries {
    /// The PIN is already verified in this session.
    Verified,
    /// This many tries are left (1–15).
    Left(u8),
    /// None left.
    Locked,
}

/// Select the TEXT AP; a card without it is not a MyNumber card.
///
/// # Errors
/// [`Error::NotMyNumberCard`], or a transport error.
pub fn select<T: Transmit>(card: &mut Card<T>) -> Result<(), Error> {
    match card.select_df(&TEXT_AP_AID) {
        Ok(()) => Ok(()),
        Err(myna_card::Error::Status(_)) => Err(Error::NotMyNumberCard),
        Err(e) => Err(e.into()),
    }
}

/// Select EF0011 and send the empty VERIFY `00 20 00 80`, which costs no try.
///
/// # Errors
/// Transport errors, or [`Error::CardStatus`] for an unexpected answer.
pub fn tries<T: Transmit>(card: &mut Card<T>) -> Result<Tries, Error> {
    card.select_ef(EF_PIN)?;
    let resp = card.call(&Command::new(0x00, 0x20, 0x00, 0x80))?;
    match resp.status.value() {
        0x9000 => Ok(Tries::Verified),
        0x63C0 | 0x6983 | 0x6984 => Ok(Tries::Locked),
        sw @ 0x63C1..=0x63CF => Ok(Tries::Left((sw & 0x0F) as u8)),
        sw => Err(Error::CardStatus(sw)),
    }
}

/// Present the PIN once. Never retried on the resident's behalf.
///
/// # Errors
/// [`Error::WrongPin`] with the tries left, or [`Error::Locked`].
pub fn verify_pin<T: Transmit>(card: &mut Card<T>, pin: &Pin) -> Result<(), Error> {
    card.select_ef(EF_PIN)?;
    let resp = card.call(&Command::with_data(
        0x00,
        0x20,
        0x00,
        0x80,
        pin.as_bytes().to_vec(),
    ))?;
    match resp.status.value() {
        0x9000 => Ok(()),
        sw => Err(from_status(sw)),
    }
}

/// Read EF0001 whole (all 17 bytes, filler included) and EF0002, 0003, 0004, 0007 to the end
/// of their outer TLV.
///
/// # Errors
/// Transport errors; [`Error::CardStatus`] (`6982`) if the PIN was not verified.
pub fn read_files<T: Transmit>(card: &mut Card<T>) -> Result<CardFiles, Error> {
    let mut read = |fid: u16, physical: bool| -> Result<Vec<u8>, Error> {
        card.select_ef(fid)?;
        Ok(if physical {
            card.read_binary_physical()?
        } else {
            card.read_binary_all()?
        })
    };
    Ok(CardFiles {
        ef0001: read(0x0001, true)?,
        ef0002: read(0x0002, false)?,
        ef0003: read(0x0003, false)?,
        ef0004: read(0x0004, false)?,
        ef0007: read(0x0007, false)?,
    })
}

/// INTERNAL AUTHENTICATE: `80 2A 00 00 Lc DigestInfo(SHA-256(message)) 00`.
///
/// # Errors
/// Transport errors or an unexpected status.
pub fn sign<T: Transmit>(card: &mut Card<T>, digest: &[u8; 32]) -> Result<Vec<u8>, Error> {
    let cmd = Command::with_data_le(0x80, 0x2A, 0x00, 0x00, sha256_digest_info(digest), 256);
    Ok(card.call_ok(&cmd)?)
}

/// The whole read: select, check tries, verify the PIN, read the files, sign the digest.
///
/// # Errors
/// Any of the above, each distinct.
pub fn read_and_sign<T: Transmit>(
    card: &mut Card<T>,
    pin: &Pin,
    digest: &[u8; 32],
) -> Result<(CardFiles, Vec<u8>), Error> {
    select(card)?;
    if tries(card)? == Tries::Locked {
        return Err(Error::Locked);
    }
    verify_pin(card, pin)?;
    let files = read_files(card)?;
    let signature = sign(card, digest)?;
    Ok((files, signature))
}
