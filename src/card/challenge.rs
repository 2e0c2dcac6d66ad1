//! Challenges the card signs to prove it is present (DESIGN §3 step 5), and the binding that
//! makes a signature for one request useless for another.
//!
//! A challenge is self-contained: `version ‖ nonce(16) ‖ expires_at(8, BE) ‖ HMAC-SHA-256` (57
//! bytes), so the service keeps no state until it is used; then the used set remembers it until
//! it expires.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{KeyInit, Mac};
use rand::RngExt;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::Error;
use crate::clock::UnixTime;
use crate::domain::{Channel, Kind, MunicipalityCode};

type HmacSha256 = hmac::Hmac<Sha256>;

const VERSION: u8 = 1;
/// Length of an encoded challenge.
pub const CHALLENGE_LEN: usize = 57;

/// A challenge as issued, opaque to clients.
#[derive(Clone, PartialEq, Eq)]
pub struct Challenge([u8; CHALLENGE_LEN]);

/// The nonce that identifies a challenge in the used set.
pub type ChallengeId = [u8; 16];

impl Challenge {
    /// Decode from base64url (padding tolerated).
    ///
    /// # Errors
    /// [`Error::ChallengeForged`] for anything that is not 57 bytes.
    pub fn from_base64(s: &str) -> Result<Self, Error> {
        let bytes = URL_SAFE_NO_PAD
            .decode(s.trim().trim_end_matches('='))
            .map_err(|_| Error::ChallengeForged)?;
        Self::from_bytes(&bytes)
    }

    /// From raw bytes.
    ///
    /// # Errors
    /// [`Error::ChallengeForged`] for anything that is not 57 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        Ok(Challenge(
            bytes.try_into().map_err(|_| Error::ChallengeForged)?,
        ))
    }

    /// base64url without padding.
    pub fn to_base64(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0)
    }

    /// The raw bytes, as bound into the card's signature.
    pub fn as_bytes(&self) -> &[u8; CHALLENGE_LEN] {
        &self.0
    }

    /// The nonce that names this challenge in the used set.
    pub fn id(&self) -> ChallengeId {
        self.0[1..17].try_into().unwrap_or([0; 16])
    }

    /// When the challenge stops being accepted.
    pub fn expires_at(&self) -> UnixTime {
        UnixTime(i64::from_be_bytes(
            self.0[17..25].try_into().unwrap_or([0; 8]),
        ))
    }
}

impl std::fmt::Debug for Challenge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Challenge(expires {})", self.expires_at())
    }
}

impl serde::Serialize for Challenge {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_base64())
    }
}

impl<'de> serde::Deserialize<'de> for Challenge {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Challenge::from_base64(&s).map_err(serde::de::Error::custom)
    }
}

/// The HMAC key challenges are made and checked with. Records holds it; nobody else needs it.
#[derive(Clone)]
pub struct ChallengeKey(Zeroizing<[u8; 32]>);

impl ChallengeKey {
    /// Parse 64 hex digits (the key-file format).
    pub fn from_hex(text: &str) -> Option<Self> {
        let v = Zeroizing::new(hex::decode(text.trim()).ok()?);
        Some(ChallengeKey(Zeroizing::new(v.as_slice().try_into().ok()?)))
    }

    /// A fresh random key, for a process that issues and checks its own challenges.
    pub fn random() -> Self {
        let mut k = Zeroizing::new([0u8; 32]);
        rand::rng().fill(&mut k[..]);
        ChallengeKey(k)
    }

    fn mac(&self, data: &[u8]) -> HmacSha256 {
        let mut m = HmacSha256::new_from_slice(&self.0[..]).expect("HMAC takes any key length");
        m.update(data);
        m
    }
}

impl std::fmt::Debug for ChallengeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ChallengeKey(..)")
    }
}

/// Makes and checks challenges.
#[derive(Debug, Clone)]
pub struct Challenges {
    key: ChallengeKey,
    ttl_secs: i64,
}

/// A challenge whose HMAC and expiry were checked; it still has to be claimed as unused.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CheckedChallenge {
    pub(crate) id: ChallengeId,
    pub(crate) expires_at: UnixTime,
}

impl Challenges {
    /// Challenges valid for `ttl_secs` (DESIGN §7: 120 s).
    pub fn new(key: ChallengeKey, ttl_secs: i64) -> Self {
        Challenges { key, ttl_secs }
    }

    /// A new challenge expiring `ttl` after `now`.
    pub fn issue(&self, now: UnixTime) -> Challenge {
        let mut b = [0u8; CHALLENGE_LEN];
        b[0] = VERSION;
        rand::rng().fill(&mut b[1..17]);
        b[17..25].copy_from_slice(&now.plus(self.ttl_secs).0.to_be_bytes());
        let tag = self.key.mac(&b[..25]).finalize().into_bytes();
        b[25..].copy_from_slice(&tag);
        Challenge(b)
    }

    /// Check the HMAC (in constant time) and the expiry.
    pub(crate) fn check(&self, c: &Challenge, now: UnixTime) -> Result<CheckedChallenge, Error> {
        if c.0[0] != VERSION || self.key.mac(&c.0[..25]).verify_slice(&c.0[25..]).is_err() {
            return Err(Error::ChallengeForged);
        }
        if now >= c.expires_at() {
            return Err(Error::ChallengeExpired);
        }
        Ok(CheckedChallenge {
            id: c.id(),
            expires_at: c.expires_at(),
        })
    }
}

/// Remembers used challenges until they expire. In memory here; records keeps it in its DB.
pub trait UsedChallenges: Send + Sync {
    /// Record `id` as used. `Ok(false)` if it already was.
    fn claim(
        &self,
        id: ChallengeId,
        expires_at: UnixTime,
        now: UnixTime,
    ) -> impl Future<Output = Result<bool, Error>> + Send;
}

/// How long past its expiry a used challenge is still remembered. A replay checked just
/// before the expiry may reach the used set just after it, and replicas' clocks differ a
/// little: purging at the expiry itself would let such a replay in.
pub const PURGE_MARGIN_SECS: i64 = 300;

/// A process-local used set.
#[derive(Debug, Default)]
pub struct InMemoryUsedChallenges(Mutex<HashMap<ChallengeId, UnixTime>>);

impl UsedChallenges for InMemoryUsedChallenges {
    async fn claim(
        &self,
        id: ChallengeId,
        expires_at: UnixTime,
        now: UnixTime,
    ) -> Result<bool, Error> {
        let mut used = self
            .0
            .lock()
            .map_err(|_| Error::UsedStore("poisoned".into()))?;
        used.retain(|_, exp| exp.0 > now.0.saturating_sub(PURGE_MARGIN_SECS));
        Ok(used.insert(id, expires_at).is_none())
    }
}

/// What a card signature is bound to: `SHA-256(challenge ‖ channel ‖ terminal id ‖
/// municipality code ‖ kind)`, each variable-length part prefixed by its length (u16, BE) so
/// no two requests concatenate to the same bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    /// Which channel the request came through.
    pub channel: Channel,
    /// The kiosk's or app instance's identifier.
    pub terminal_id: String,
    /// The municipality the resident chose.
    pub municipality: MunicipalityCode,
    /// Which certificate.
    pub kind: Kind,
}

impl Binding {
    /// The message the card signs (it receives `DigestInfo(SHA-256(message))`).
    pub fn message(&self, challenge: &Challenge) -> Vec<u8> {
        let mut m = Vec::with_capacity(128);
        m.extend_from_slice(challenge.as_bytes());
        for part in [self.channel.as_str(), self.terminal_id.as_str()] {
            m.extend_from_slice(&(part.len() as u16).to_be_bytes());
            m.extend_from_slice(part.as_bytes());
        }
        m.extend_from_slice(self.municipality.as_str().as_bytes());
        m.extend_from_slice(&(self.kind.as_str().len() as u16).to_be_bytes());
        m.extend_from_slice(self.kind.as_str().as_bytes());
        m
    }

    /// SHA-256 of [`Binding::message`]: the bound challenge digest.
    pub fn digest(&self, challenge: &Challenge) -> [u8; 32] {
        Sha256::digest(self.message(challenge)).into()
    }
}

/// `DigestInfo(SHA-256, digest)`: what INTERNAL AUTHENTICATE is given (RFC 8017 §9.2).
pub fn sha256_digest_info(digest: &[u8; 32]) -> Vec<u8> {
    let mut v = vec![
        0x30, 0x31, 0x30, 0x0D, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01,
        0x05, 0x00, 0x04, 0x20,
    ];
    v.extend_from_slice(digest);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn challenges() -> Challenges {
        Challenges::new(ChallengeKey::from_hex(&"11".repeat(32)).unwrap(), 120)
    }

    #[test]
    fn a_fresh_challenge_checks_and_expires() {
        let c = challenges().issue(UnixTime(1000));
        assert!(challenges().check(&c, UnixTime(1119)).is_ok());
        assert!(matches!(
            challenges().check(&c, UnixTime(1120)),
            Err(Error::ChallengeExpired)
        ));
        let back = Challenge::from_base64(&c.to_base64()).unwrap();
        assert_eq!(back, c);
    }

    #[test]
    fn any_flipped_bit_is_forged() {
        let c = challenges().issue(UnixTime(1000));
        for i in 0..CHALLENGE_LEN {
            let mut b = *c.as_bytes();
            b[i] ^= 0x01;
            let t = Challenge(b);
            let r = challenges().check(&t, UnixTime(1000));
            assert!(matches!(r, Err(Error::ChallengeForged)), "byte {i}: {r:?}");
        }
        let other = Challenges::new(ChallengeKey::from_hex(&"22".repeat(32)).unwrap(), 120);
        assert!(matches!(
            other.check(&c, UnixTime(1000)),
            Err(Error::ChallengeForged)
        ));
    }

    #[tokio::test]
    async fn the_used_set_refuses_a_second_claim_until_expiry() {
        let used = InMemoryUsedChallenges::default();
        assert!(
            used.claim([1; 16], UnixTime(200), UnixTime(100))
                .await
                .unwrap()
        );
        assert!(
            !used
                .claim([1; 16], UnixTime(200), UnixTime(150))
                .await
                .unwrap()
        );
        // Past its expiry but within the margin, the entry stays: a late replay is refused.
        assert!(
            used.claim([2; 16], UnixTime(400), UnixTime(300))
                .await
                .unwrap()
        );
        assert!(
            !used
                .claim([1; 16], UnixTime(200), UnixTime(199))
                .await
                .unwrap()
        );
        let later = UnixTime(200 + PURGE_MARGIN_SECS + 1);
        assert!(
            used.claim([3; 16], UnixTime(later.0 + 100), later)
                .await
                .unwrap()
        );
        assert_eq!(
            used.0.lock().unwrap().len(),
            2,
            "entries past the margin are purged"
        );
    }

    #[test]
    fn bindings_differ_in_every_field() {
        let c = challenges().issue(UnixTime(0));
        let base = Binding {
            channel: Channel::Kiosk,
            terminal_id: "kiosk-1".into(),
            municipality: MunicipalityCode::parse("131016").unwrap(),
            kind: Kind::Domestic,
        };
        let variants = [
            Binding {
                channel: Channel::App,
                ..base.clone()
            },
            Binding {
                terminal_id: "kiosk-2".into(),
                ..base.clone()
            },
            Binding {
                municipality: MunicipalityCode::parse("011002").unwrap(),
                ..base.clone()
            },
            Binding {
                kind: Kind::Overseas,
                ..base.clone()
            },
        ];
        for v in variants {
            assert_ne!(v.digest(&c), base.digest(&c), "{v:?}");
        }
    }
}
