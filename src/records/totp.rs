//! TOTP (RFC 6238 over RFC 4226 HOTP): HMAC-SHA-1, 6 digits, 30-second steps, as every
//! authenticator app expects. Records refuses a code whose step was already accepted.

use hmac::{KeyInit, Mac};

use crate::clock::UnixTime;

/// Seconds per step.
pub(in crate::records) const STEP: i64 = 30;

/// The step `t` falls in.
pub(in crate::records) fn step(t: UnixTime) -> i64 {
    t.0.div_euclid(STEP)
}

/// The 6-digit code of one step.
pub(in crate::records) fn code(secret: &[u8], step: i64) -> String {
    let mut mac = hmac::Hmac::<sha1::Sha1>::new_from_slice(secret).expect("HMAC takes any key");
    mac.update(&step.to_be_bytes());
    let h = mac.finalize().into_bytes();
    let off = usize::from(h[19] & 0x0F);
    let bin = u32::from_be_bytes([h[off] & 0x7F, h[off + 1], h[off + 2], h[off + 3]]);
    format!("{:06}", bin % 1_000_000)
}

/// RFC 4648 base32 without padding, for provisioning URIs.
pub(in crate::records) fn base32(bytes: &[u8]) -> String {
    const A: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::new();
    let (mut buf, mut bits) = (0u32, 0u32);
    for &b in bytes {
        buf = (buf << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            out.push(A[((buf >> (bits - 5)) & 31) as usize] as char);
            bits -= 5;
        }
    }
    if bits > 0 {
        out.push(A[((buf << (5 - bits)) & 31) as usize] as char);
    }
    out
}

/// Percent-encode for an otpauth label.
fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// `otpauth://totp/…` for an authenticator app.
pub(in crate::records) fn provisioning_uri(secret: &[u8], account: &str) -> String {
    format!(
        "otpauth://totp/vaxcert:{}?secret={}&issuer=vaxcert&algorithm=SHA1&digits=6&period=30",
        enc(account),
        base32(secret)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6238_sha1_vectors() {
        // RFC 6238 Appendix B, SHA-1 seed, last 6 digits.
        let seed = b"12345678901234567890";
        assert_eq!(code(seed, step(UnixTime(59))), "287082");
        assert_eq!(code(seed, step(UnixTime(1_111_111_109))), "081804");
        assert_eq!(code(seed, step(UnixTime(2_000_000_000))), "279037");
    }

    #[test]
    fn base32_of_rfc4648_vectors() {
        assert_eq!(base32(b"foobar"), "MZXW6YTBOI");
        assert_eq!(base32(b"f"), "MY");
    }
}
