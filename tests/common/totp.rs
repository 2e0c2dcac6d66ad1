//! RFC 6238 TOTP computed independently of the crate, for logging staff in from tests.

#![allow(dead_code)] // each test binary uses a part

use hmac::{KeyInit, Mac};

/// Decode RFC 4648 base32 (no padding), as printed in a provisioning URI.
pub(crate) fn base32_decode(s: &str) -> Vec<u8> {
    const A: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let (mut buf, mut bits, mut out) = (0u32, 0u32, Vec::new());
    for c in s.bytes() {
        let v = A.iter().position(|&a| a == c).expect("base32") as u32;
        buf = (buf << 5) | v;
        bits += 5;
        if bits >= 8 {
            out.push((buf >> (bits - 8)) as u8);
            bits -= 8;
        }
    }
    out
}

/// The 6-digit code (SHA-1, 30 s steps) for `secret` at unix time `secs`.
pub(crate) fn totp(secret: &[u8], secs: i64) -> String {
    let mut mac = hmac::Hmac::<sha1::Sha1>::new_from_slice(secret).unwrap();
    mac.update(&(secs / 30).to_be_bytes());
    let h = mac.finalize().into_bytes();
    let off = usize::from(h[19] & 0x0F);
    let bin = u32::from_be_bytes([h[off] & 0x7F, h[off + 1], h[off + 2], h[off + 3]]);
    format!("{:06}", bin % 1_000_000)
}
