//! Base64 decoding as real issuers send it: base64url with or without `=` padding (the Japanese
//! VDS-NC pads its `cer`), and standard base64 for PEM and test data.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

/// base64url, padding tolerated, nothing else (no whitespace, no `+`/`/`).
pub(crate) fn url(s: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')).ok()
}

/// Standard base64 with padding.
pub(crate) fn std(s: &str) -> Option<Vec<u8>> {
    STANDARD.decode(s).ok()
}
