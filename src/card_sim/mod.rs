//! Role `card-sim`: a virtual MyNumber card attached to pcscd through vsmartcard's vpcd, for
//! the demo and the tests. Dev only; nothing in the service depends on it.
//!
//! ```text
//! persona (TOML) + dev J-LIS issuer ─▶ image (EF files) ─▶ applet (APDU state) ◀─ vpcd (TCP)
//! ```

pub mod applet;
pub mod image;
pub mod persona;
pub mod vpcd;

use std::path::{Path, PathBuf};
use std::time::Duration;

pub use persona::Persona;

/// Why the virtual card could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// Which file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A persona file is invalid.
    #[error("persona {path}: {what}")]
    Persona {
        /// Which file.
        path: PathBuf,
        /// Which field and why.
        what: String,
    },
    /// Dev keys are missing or unreadable.
    #[error(transparent)]
    Keys(#[from] crate::pki::Error),
    /// vpcd could not be reached or hung up badly.
    #[error("vpcd: {0}")]
    Vpcd(String),
    /// Slot is 0 or 1.
    #[error("vpcd has two reader slots, 0 and 1")]
    Slot,
}

/// Build the applet for a persona from the dev keys.
///
/// # Errors
/// Persona or key errors.
pub fn load_applet(persona_path: &Path) -> Result<applet::Applet, Error> {
    let persona = Persona::load(persona_path)?;
    let issuer = crate::dev::card::DevIssuer::load()?;
    let card_key = crate::dev::card::load_rsa_key(&persona.card_key_path())?;
    let image = image::CardImage::build(&persona, &issuer, card_key);
    Ok(applet::Applet::new(
        image,
        persona.pin.clone(),
        persona.tries_left,
    ))
}

/// Run the virtual card in `slot` until vpcd hangs up or the card is "pulled".
///
/// # Errors
/// Any [`Error`].
pub async fn run(persona: &Path, slot: u8, remove_after: Option<usize>) -> Result<(), Error> {
    if slot > 1 {
        return Err(Error::Slot);
    }
    let mut applet = load_applet(persona)?;
    let port = vpcd::port(slot);
    let stream = vpcd::connect(port, Duration::from_secs(10)).await?;
    tracing::info!(slot, port, "virtual card inserted");
    eprintln!("card-sim: card inserted in vpcd slot {slot} (port {port})");
    let answered = vpcd::serve(stream, &mut applet, remove_after).await?;
    tracing::info!(
        answered,
        tries_left = applet.tries(),
        "virtual card removed"
    );
    Ok(())
}
