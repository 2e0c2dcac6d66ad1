//! The 個人番号 (MyNumber): twelve digits, the last a check digit. It is the one value vaxcert
//! must never print, log or store in clear outside the record system, so the type refuses to.

use std::fmt;

use zeroize::{Zeroize, ZeroizeOnDrop};

use super::Error;

/// A MyNumber with a valid check digit. Wiped on drop; `Debug` and `Display` print a mask.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct MyNumber([u8; 12]);

impl MyNumber {
    /// Parse twelve ASCII digits and check the check digit (総務省令 第85号 第5条).
    ///
    /// # Errors
    /// [`Error::MalformedMyNumber`]; the error carries none of the digits.
    pub fn parse(digits: &[u8]) -> Result<Self, Error> {
        let d: [u8; 12] = digits.try_into().map_err(|_| Error::MalformedMyNumber)?;
        if !d.iter().all(u8::is_ascii_digit) || d[11] - b'0' != check_digit(&d) {
            let mut d = d;
            d.zeroize();
            return Err(Error::MalformedMyNumber);
        }
        Ok(MyNumber(d))
    }

    /// The digits, for the record system's keyed hash and encryption only.
    pub fn expose_digits(&self) -> &[u8; 12] {
        &self.0
    }

    /// The last four digits behind a mask, for screens where the resident checks their card.
    pub fn masked(&self) -> MaskedMyNumber {
        MaskedMyNumber([self.0[8], self.0[9], self.0[10], self.0[11]])
    }
}

/// The check digit of the first eleven digits: Pₙ the n-th digit from the right,
/// Qₙ = n+1 (n ≤ 6) or n−5, r = ΣPₙQₙ mod 11, digit = 0 if r ≤ 1 else 11−r.
fn check_digit(d: &[u8; 12]) -> u8 {
    let sum: u32 = (1..=11u32)
        .map(|n| {
            let p = u32::from(d[11 - n as usize] - b'0');
            let q = if n <= 6 { n + 1 } else { n - 5 };
            p * q
        })
        .sum();
    let r = sum % 11;
    if r <= 1 { 0 } else { (11 - r) as u8 }
}

impl fmt::Debug for MyNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MyNumber(************)")
    }
}

impl fmt::Display for MyNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("************")
    }
}

/// What a screen may show of a MyNumber: `********1234`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct MaskedMyNumber([u8; 4]);

impl fmt::Display for MaskedMyNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("********")?;
        for b in self.0 {
            write!(f, "{}", b as char)?;
        }
        Ok(())
    }
}

impl fmt::Debug for MaskedMyNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MaskedMyNumber({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_test_card_number_is_valid() {
        // ../shared/vectors/myna-card-test-card/text-0001-physical.bin
        MyNumber::parse(b"537686677188").unwrap();
    }

    #[test]
    fn every_other_check_digit_is_refused() {
        for last in b'0'..=b'9' {
            let mut n = *b"537686677188";
            n[11] = last;
            assert_eq!(MyNumber::parse(&n).is_ok(), last == b'8');
        }
        assert!(MyNumber::parse(b"53768667718").is_err());
        assert!(MyNumber::parse(b"53768667718a").is_err());
    }

    #[test]
    fn a_one_digit_change_anywhere_is_caught() {
        let good = *b"537686677188";
        for i in 0..11 {
            for delta in 1..10u8 {
                let mut n = good;
                n[i] = b'0' + (n[i] - b'0' + delta) % 10;
                // A weighted mod-11 check catches every single-digit substitution except where
                // the new remainder maps to the same digit (r = 0 and r = 1 both give 0).
                if let Ok(parsed) = MyNumber::parse(&n) {
                    assert_eq!(check_digit(&n), 0, "{}", String::from_utf8_lossy(&n));
                    drop(parsed);
                }
            }
        }
    }

    #[test]
    fn debug_and_display_never_show_the_digits() {
        let n = MyNumber::parse(b"537686677188").unwrap();
        for shown in [format!("{n:?}"), format!("{n}"), format!("{:?}", Some(&n))] {
            assert!(!shown.contains("537686677188"), "{shown}");
            assert!(!shown.contains("5376"), "{shown}");
        }
        assert_eq!(n.masked().to_string(), "********7188");
    }
}
