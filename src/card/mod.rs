//! The MyNumber card's 券面事項入力補助AP (TEXT AP): reading it, and verifying what it returns.
//!
//! ```text
//! reader     PC/SC: readers, card presence, exclusive connection   (I/O)
//!   └ text_ap  which EF in which order, status words → Error        (over any Transmit)
//!       └ myna-card  APDU encoding, TLV, short reads
//! evidence   DESIGN §3 steps 1–5 → VerifiedIdentity                 (no I/O, no keys)
//!   ├ files      EF layouts;  tlv  raw-preserving BER-TLV
//!   ├ challenge  HMAC challenges, used set, request binding
//!   └ trust      J-LIS CA keys;  rsa_key  ring RSA verify
//! my_number, pin   secrets that never print
//! ```
//!
//! This module holds no database, no HTTP and no signing key.

mod error;
mod evidence;
pub(crate) mod files;
mod my_number;
mod pin;
mod rsa_key;
mod trust;

pub mod challenge;
pub mod reader;
pub mod text_ap;
pub mod tlv;

pub use error::{Ef, Error};
pub use evidence::{
    CardEvidence, CardFiles, IdentitySummary, PendingPresence, SignedCardData, VerifiedIdentity,
    verify_card_files, verify_evidence,
};
pub use my_number::{MaskedMyNumber, MyNumber};
pub use pin::Pin;
pub use rsa_key::RsaKey;
pub use trust::{CaKey, TrustError, TrustSet};
