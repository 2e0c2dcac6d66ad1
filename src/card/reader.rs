//! PC/SC access: find a reader, wait (bounded) for a card, hold it exclusively while the PIN is
//! in effect, and hand the connection to [`super::text_ap`].

use std::ffi::CString;
use std::time::{Duration, Instant};

use myna_card::Card;
use myna_card::transport::pcsc::{PcscTransport, Sharing};
use pcsc::{Context, Protocols, ReaderState, Scope, ShareMode, State};

use super::error::Error;
use super::evidence::CardFiles;
use super::pin::Pin;
use super::text_ap;

/// The readers PC/SC knows.
///
/// # Errors
/// [`Error::PcscUnavailable`] if pcscd is not running.
pub fn readers() -> Result<Vec<String>, Error> {
    let ctx = Context::establish(Scope::User)?;
    match ctx.list_readers_owned() {
        Ok(list) => Ok(list
            .iter()
            .map(|r| r.to_string_lossy().into_owned())
            .collect()),
        Err(pcsc::Error::NoReadersAvailable) => Ok(Vec::new()),
        Err(e) => Err(e.into()),
    }
}

/// One open PC/SC context, to wait for cards and connect.
pub struct Reader {
    ctx: Context,
    name: CString,
}

impl Reader {
    /// Open the reader named `name`, or the first one.
    ///
    /// # Errors
    /// [`Error::PcscUnavailable`], [`Error::NoReader`] or [`Error::ReaderNotFound`].
    pub fn open(name: Option<&str>) -> Result<Self, Error> {
        let ctx = Context::establish(Scope::User)?;
        let list = match ctx.list_readers_owned() {
            Ok(l) => l,
            Err(pcsc::Error::NoReadersAvailable) => Vec::new(),
            Err(e) => return Err(e.into()),
        };
        let found = match name {
            Some(want) => list
                .into_iter()
                .find(|r| r.to_string_lossy() == want)
                .ok_or_else(|| Error::ReaderNotFound(want.to_owned()))?,
            None => list.into_iter().next().ok_or(Error::NoReader)?,
        };
        Ok(Reader { ctx, name: found })
    }

    /// The reader's name.
    pub fn name(&self) -> String {
        self.name.to_string_lossy().into_owned()
    }

    /// Whether a card is in the reader now.
    ///
    /// # Errors
    /// PC/SC failures.
    pub fn card_present(&self) -> Result<bool, Error> {
        let mut states = [ReaderState::new(self.name.clone(), State::UNAWARE)];
        self.ctx
            .get_status_change(Duration::from_millis(0), &mut states)
            .or_else(|e| {
                if e == pcsc::Error::Timeout {
                    Ok(())
                } else {
                    Err(e)
                }
            })?;
        Ok(states[0].event_state().contains(State::PRESENT))
    }

    /// Wait up to `timeout` for a card to be present (or absent, with `present = false`).
    ///
    /// # Errors
    /// [`Error::NoCard`] when waiting for a card timed out; PC/SC failures.
    pub fn wait(&self, present: bool, timeout: Duration) -> Result<(), Error> {
        let deadline = Instant::now() + timeout;
        let mut states = [ReaderState::new(self.name.clone(), State::UNAWARE)];
        loop {
            match self
                .ctx
                .get_status_change(Duration::from_millis(0), &mut states)
            {
                Ok(()) | Err(pcsc::Error::Timeout) => {}
                Err(e) => return Err(e.into()),
            }
            if states[0].event_state().contains(State::PRESENT) == present {
                return Ok(());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(if present {
                    Error::NoCard
                } else {
                    Error::ReaderBusy
                });
            }
            states[0].sync_current_state();
            match self
                .ctx
                .get_status_change(left.min(Duration::from_millis(500)), &mut states)
            {
                Ok(()) | Err(pcsc::Error::Timeout) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Connect exclusively: the PIN's security status outlives commands, so nothing else may
    /// use the card while this connection holds it.
    ///
    /// # Errors
    /// [`Error::NoCard`], [`Error::ReaderBusy`], [`Error::CardRemoved`].
    pub fn connect(&self) -> Result<Card<PcscTransport>, Error> {
        let card = self
            .ctx
            .connect(&self.name, ShareMode::Exclusive, Protocols::ANY)?;
        Ok(Card::new(PcscTransport::new(card, Sharing::Exclusive)))
    }

    /// Wait for a card, then read it and sign `digest` (see [`text_ap::read_and_sign`]).
    ///
    /// # Errors
    /// Every [`Error`] reading can produce, each distinct.
    pub fn read_and_sign(
        &self,
        pin: &Pin,
        digest: &[u8; 32],
        wait_for_card: Duration,
    ) -> Result<(CardFiles, Vec<u8>), Error> {
        self.wait(true, wait_for_card)?;
        let mut card = self.connect()?;
        match text_ap::read_and_sign(&mut card, pin, digest) {
            // A card pulled out mid-read shows up as an empty or failed exchange; if it is
            // gone, say so rather than describe the symptom.
            Err(e @ (Error::Transport(_) | Error::CardStatus(_))) => {
                drop(card);
                match self.wait(false, Duration::from_millis(500)) {
                    Ok(()) => Err(Error::CardRemoved),
                    Err(_) => Err(e),
                }
            }
            other => other,
        }
    }
}
