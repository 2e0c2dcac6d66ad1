//! RSA public keys as the card carries them (`90` exponent, `91` modulus), verified with ring:
//! `benches/card_evidence.rs` measured it against the `rsa` crate and ring was the faster.

use ring::signature::{RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents};

use super::tlv;

/// An RSA public key, big-endian, leading zero bytes stripped.
#[derive(Clone, PartialEq, Eq)]
pub struct RsaKey {
    n: Vec<u8>,
    e: Vec<u8>,
}

impl RsaKey {
    /// Build from big-endian modulus and exponent.
    pub fn new(n: &[u8], e: &[u8]) -> Self {
        let strip = |b: &[u8]| b[b.iter().take_while(|x| **x == 0).count()..].to_vec();
        RsaKey {
            n: strip(n),
            e: strip(e),
        }
    }

    /// Parse the concatenated `90` and `91` TLVs of a CVC body or a DF51 value.
    pub fn from_card_tlvs(value: &[u8]) -> Option<Self> {
        let items = tlv::children(value)?;
        let e = tlv::find(&items, 0x90)?.value;
        let n = tlv::find(&items, 0x91)?.value;
        Some(RsaKey::new(n, e))
    }

    /// Parse a hex modulus (exponent 65537), the form trust anchors are kept in.
    pub fn from_modulus_hex(hex_text: &str) -> Option<Self> {
        let n = hex::decode(hex_text.trim()).ok()?;
        Some(RsaKey::new(&n, &[1, 0, 1]))
    }

    /// RSASSA-PKCS1-v1_5 with SHA-256 over `message`.
    pub fn verify_pkcs1_sha256(&self, message: &[u8], signature: &[u8]) -> bool {
        RsaPublicKeyComponents {
            n: &self.n,
            e: &self.e,
        }
        .verify(&RSA_PKCS1_2048_8192_SHA256, message, signature)
        .is_ok()
    }

    /// The modulus, big-endian.
    pub fn modulus(&self) -> &[u8] {
        &self.n
    }

    /// The public exponent, big-endian.
    pub fn exponent(&self) -> &[u8] {
        &self.e
    }
}

impl std::fmt::Debug for RsaKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RsaKey({} bits)", self.n.len() * 8)
    }
}
