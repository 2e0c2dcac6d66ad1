//! A persona: one synthetic resident's card, as a TOML file under `certs/dev/personas/`.
//! Its RSA card key sits beside it as `<name>.card-key.pem`, made by `vaxcert keys dev`.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::Error;
use crate::card::{MyNumber, Pin};
use crate::domain::{BirthDate, Sex};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    my_number: String,
    name: String,
    address: String,
    birth_date: String,
    sex: String,
    pin: String,
    tries_left: u8,
}

/// A validated persona.
pub struct Persona {
    /// The MyNumber printed on the card.
    pub my_number: MyNumber,
    /// Name as on the card (family U+3000 given, maybe a 旧姓 in brackets).
    pub name: String,
    /// Address as on the card.
    pub address: String,
    /// Birth date.
    pub birth_date: BirthDate,
    /// Sex.
    pub sex: Sex,
    /// The TEXT AP PIN.
    pub pin: Pin,
    /// PIN tries left when the card is inserted (0 = locked).
    pub tries_left: u8,
    /// Where the persona was loaded from.
    pub path: PathBuf,
}

impl Persona {
    /// Load and validate a persona file.
    ///
    /// # Errors
    /// [`Error::Persona`] naming the file and the field.
    pub fn load(path: &Path) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::Io {
            path: path.to_owned(),
            source: e,
        })?;
        let bad = |what: String| Error::Persona {
            path: path.to_owned(),
            what,
        };
        let raw: Raw = toml::from_str(&text).map_err(|e| bad(e.message().to_owned()))?;
        if raw.tries_left > 3 {
            return Err(bad("tries_left is 0 to 3".into()));
        }
        Ok(Persona {
            my_number: MyNumber::parse(raw.my_number.as_bytes())
                .map_err(|_| bad("my_number is not a valid MyNumber".into()))?,
            name: raw.name,
            address: raw.address,
            birth_date: BirthDate::parse(&raw.birth_date)
                .map_err(|_| bad("birth_date is YYYYMMDD".into()))?,
            sex: Sex::from_code(&raw.sex).map_err(|e| bad(format!("sex: {e}")))?,
            pin: Pin::parse(&raw.pin).map_err(|_| bad("pin is 4 digits".into()))?,
            tries_left: raw.tries_left,
            path: path.to_owned(),
        })
    }

    /// Where this persona's card key lives.
    pub fn card_key_path(&self) -> PathBuf {
        crate::dev::card::card_key_path(&self.path)
    }
}

impl fmt::Debug for Persona {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Persona({})", self.path.display())
    }
}
