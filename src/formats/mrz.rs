//! The passport's machine-readable zone, TD3 (ICAO 9303-4): two lines of 44 characters. Every
//! check digit is validated, so a mistyped or misread MRZ never reaches a certificate.

use std::fmt;

/// Why an MRZ was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MrzError {
    /// Not two lines of 44 characters from `A–Z 0–9 <`.
    #[error("a passport MRZ (TD3) is two lines of 44 characters A-Z, 0-9 and <")]
    Shape,
    /// Line 1 does not start with `P`.
    #[error("not a passport MRZ (line 1 must start with P)")]
    NotPassport,
    /// A check digit does not match.
    #[error("the MRZ check digit for the {0} is wrong")]
    CheckDigit(&'static str),
    /// A date field is not a date.
    #[error("the MRZ {0} is not a valid date")]
    Date(&'static str),
}

impl MrzError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            MrzError::Shape | MrzError::NotPassport | MrzError::Date(_) => "mrz-invalid",
            MrzError::CheckDigit(_) => "mrz-check-digit",
        }
    }
}

/// A parsed TD3 MRZ.
#[derive(Clone, PartialEq, Eq)]
pub struct Td3Mrz {
    /// Issuing state, e.g. `JPN`.
    pub issuing_state: String,
    /// Surname, e.g. `YAMADA`.
    pub surname: String,
    /// Given names, space-separated.
    pub given_names: String,
    /// Passport number without filler.
    pub passport_number: String,
    /// Nationality, e.g. `JPN`.
    pub nationality: String,
    /// Birth date `YYMMDD` as printed.
    pub birth_date: String,
    /// `M`, `F` or `<`.
    pub sex: char,
    /// Expiry `YYMMDD`.
    pub expiry: String,
}

/// ICAO 9303 check digit: weights 7, 3, 1; `<` = 0, digits, A = 10 … Z = 35.
pub fn check_digit(field: &str) -> u8 {
    let sum: u32 = field
        .bytes()
        .zip([7u32, 3, 1].iter().cycle())
        .map(|(c, w)| {
            let v = match c {
                b'0'..=b'9' => u32::from(c - b'0'),
                b'A'..=b'Z' => u32::from(c - b'A') + 10,
                _ => 0,
            };
            v * w
        })
        .sum();
    (sum % 10) as u8
}

fn check(field: &str, digit: u8, what: &'static str) -> Result<(), MrzError> {
    let expected = if digit == b'<' {
        0
    } else {
        digit.wrapping_sub(b'0')
    };
    if digit != b'<' && !digit.is_ascii_digit() || check_digit(field) != expected {
        return Err(MrzError::CheckDigit(what));
    }
    Ok(())
}

fn yymmdd(s: &str, what: &'static str) -> Result<(), MrzError> {
    let ok = s.len() == 6
        && s.bytes().all(|b| b.is_ascii_digit())
        && (1..=12).contains(&s[2..4].parse::<u8>().unwrap_or(0))
        && (1..=31).contains(&s[4..6].parse::<u8>().unwrap_or(0));
    if ok {
        Ok(())
    } else {
        Err(MrzError::Date(what))
    }
}

impl Td3Mrz {
    /// Parse two lines, given separately, or joined by a comma or newline.
    ///
    /// # Errors
    /// [`MrzError`] naming what is wrong.
    pub fn parse(text: &str) -> Result<Self, MrzError> {
        let lines: Vec<String> = text
            .split([',', '\n'])
            .map(|l| l.trim().to_ascii_uppercase())
            .filter(|l| !l.is_empty())
            .collect();
        let [l1, l2] = lines.as_slice() else {
            return Err(MrzError::Shape);
        };
        let valid = |l: &str| {
            l.len() == 44
                && l.bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'<')
        };
        if !valid(l1) || !valid(l2) {
            return Err(MrzError::Shape);
        }
        if !l1.starts_with('P') {
            return Err(MrzError::NotPassport);
        }
        let b = l2.as_bytes();
        check(&l2[0..9], b[9], "passport number")?;
        check(&l2[13..19], b[19], "birth date")?;
        check(&l2[21..27], b[27], "expiry date")?;
        check(&l2[28..42], b[42], "personal number")?;
        let composite = format!("{}{}{}", &l2[0..10], &l2[13..20], &l2[21..43]);
        check(&composite, b[43], "whole line (composite)")?;
        yymmdd(&l2[13..19], "birth date")?;
        yymmdd(&l2[21..27], "expiry date")?;
        let names = &l1[5..];
        let (surname, given) = names.split_once("<<").unwrap_or((names, ""));
        let clean = |s: &str| {
            s.split('<')
                .filter(|p| !p.is_empty())
                .collect::<Vec<_>>()
                .join(" ")
        };
        Ok(Td3Mrz {
            issuing_state: l1[2..5].replace('<', ""),
            surname: clean(surname),
            given_names: clean(given),
            passport_number: l2[0..9].replace('<', ""),
            nationality: l2[10..13].replace('<', ""),
            birth_date: l2[13..19].to_owned(),
            sex: b[20] as char,
            expiry: l2[21..27].to_owned(),
        })
    }

    /// `SURNAME GIVEN NAMES`, as VDS-NC `pid.n` and the romanised HumanName use it.
    pub fn full_name(&self) -> String {
        if self.given_names.is_empty() {
            self.surname.clone()
        } else {
            format!("{} {}", self.surname, self.given_names)
        }
    }

    /// The passport number with all but the first two and last two characters masked, for
    /// screens that show past passport data (the kiosk).
    pub fn masked_passport_number(&self) -> String {
        mask_passport(&self.passport_number)
    }
}

/// `TK*****00`.
pub fn mask_passport(number: &str) -> String {
    number
        .chars()
        .enumerate()
        .map(|(i, c)| {
            if i < 2 || i + 2 >= number.len() {
                c
            } else {
                '*'
            }
        })
        .collect()
}

impl fmt::Debug for Td3Mrz {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Td3Mrz({} {})",
            self.issuing_state,
            self.masked_passport_number()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // ICAO 9303-4 Appendix A specimen.
    const L1: &str = "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<";
    const L2: &str = "L898902C36UTO7408122F1204159ZE184226B<<<<<10";

    #[test]
    fn the_icao_specimen_parses() {
        let m = Td3Mrz::parse(&format!("{L1},{L2}")).unwrap();
        assert_eq!(m.surname, "ERIKSSON");
        assert_eq!(m.given_names, "ANNA MARIA");
        assert_eq!(m.passport_number, "L898902C3");
        assert_eq!(m.birth_date, "740812");
        assert_eq!(m.full_name(), "ERIKSSON ANNA MARIA");
        assert_eq!(m.masked_passport_number(), "L8*****C3");
    }

    #[test]
    fn each_check_digit_is_checked() {
        for (pos, what) in [
            (9, "passport number"),
            (19, "birth date"),
            (27, "expiry date"),
            (42, "personal number"),
            (43, "whole line (composite)"),
        ] {
            let mut l2 = L2.as_bytes().to_vec();
            l2[pos] = if l2[pos] == b'1' { b'2' } else { b'1' };
            let l2 = String::from_utf8(l2).unwrap();
            assert_eq!(
                Td3Mrz::parse(&format!("{L1}\n{l2}")),
                Err(MrzError::CheckDigit(what)),
                "{pos}"
            );
        }
        assert_eq!(Td3Mrz::parse(L1), Err(MrzError::Shape));
        assert_eq!(
            Td3Mrz::parse(&format!("V{},{L2}", &L1[1..])),
            Err(MrzError::NotPassport)
        );
    }
}
