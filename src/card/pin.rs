//! The TEXT AP's 4-digit PIN (暗証番号). It goes from the keyboard to the card and nowhere else.

use std::fmt;

use zeroize::{Zeroize, ZeroizeOnDrop};

use super::Error;

/// Four ASCII digits, wiped on drop, never printed.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct Pin([u8; 4]);

impl Pin {
    /// Parse a PIN as typed; surrounding whitespace (a trailing newline from a pipe) is ignored.
    ///
    /// # Errors
    /// [`Error::PinFormat`].
    pub fn parse(typed: &str) -> Result<Self, Error> {
        let t = typed.trim();
        let b: [u8; 4] = t.as_bytes().try_into().map_err(|_| Error::PinFormat)?;
        if !b.iter().all(u8::is_ascii_digit) {
            return Err(Error::PinFormat);
        }
        Ok(Pin(b))
    }

    /// The digits, for the VERIFY APDU only.
    pub(crate) fn as_bytes(&self) -> &[u8; 4] {
        &self.0
    }

    /// Constant-time comparison with four bytes presented to a card.
    pub fn matches(&self, presented: &[u8]) -> bool {
        presented.len() == 4
            && self
                .0
                .iter()
                .zip(presented)
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    }
}

impl fmt::Debug for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pin(****)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_four_digits() {
        assert!(Pin::parse("1234\n").is_ok());
        for bad in ["123", "12345", "12a4", "", "１２３４"] {
            assert!(Pin::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn debug_hides_the_digits() {
        let p = Pin::parse("4821").unwrap();
        assert!(!format!("{p:?}").contains("4821"));
        assert!(p.matches(b"4821"));
        assert!(!p.matches(b"4822"));
    }
}
