//! Card evidence and its verification (DESIGN §3, all five steps). No I/O: records and the
//! center call this with bytes that crossed the network.
//!
//! Verification is a chain of types: [`verify_card_files`] (steps 1–4) gives [`SignedCardData`];
//! [`SignedCardData::prove_presence`] checks the challenge and the card's signature over the
//! binding; [`PendingPresence::claim`] marks the challenge used and yields the
//! [`VerifiedIdentity`]. Nothing else can build one:
//!
//! ```compile_fail
//! let id = vaxcert::card::VerifiedIdentity { name: String::new() };
//! ```

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::challenge::{Binding, Challenge, Challenges, CheckedChallenge, UsedChallenges};
use super::error::Error;
use super::files;
use super::my_number::{MaskedMyNumber, MyNumber};
use super::rsa_key::RsaKey;
use super::trust::TrustSet;
use crate::clock::UnixTime;
use crate::domain::{BirthDate, Sex};

/// The five TEXT AP files, as read. EF0001 holds the MyNumber, so the bytes are wiped on drop
/// and never printed.
#[derive(Clone, Serialize, Deserialize, Zeroize, ZeroizeOnDrop, PartialEq, Eq)]
pub struct CardFiles {
    /// EF0001, all 17 bytes, filler included.
    #[serde(with = "b64")]
    pub ef0001: Vec<u8>,
    /// EF0002, the four basic items.
    #[serde(with = "b64")]
    pub ef0002: Vec<u8>,
    /// EF0003, digests and signature.
    #[serde(with = "b64")]
    pub ef0003: Vec<u8>,
    /// EF0004, the card-verifiable certificate.
    #[serde(with = "b64")]
    pub ef0004: Vec<u8>,
    /// EF0007, the internal-authentication key.
    #[serde(with = "b64")]
    pub ef0007: Vec<u8>,
}

/// What crosses the network: the files plus the card's signature over the bound challenge.
#[derive(Clone, Serialize, Deserialize)]
pub struct CardEvidence {
    /// The five files.
    #[serde(flatten)]
    pub files: CardFiles,
    /// The challenge records issued.
    pub challenge: Challenge,
    /// INTERNAL AUTHENTICATE's answer over `DigestInfo(SHA-256(binding message))`.
    #[serde(with = "b64")]
    pub challenge_signature: Vec<u8>,
}

impl fmt::Debug for CardFiles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CardFiles(..)")
    }
}

impl fmt::Debug for CardEvidence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CardEvidence({:?})", self.challenge)
    }
}

/// Steps 1–4 passed: the files are J-LIS-signed and consistent. Presence is not yet proven.
pub struct SignedCardData {
    identity: Identity,
    card_key: RsaKey,
}

struct Identity {
    my_number: MyNumber,
    name: String,
    address: String,
    birth_date: BirthDate,
    sex: Sex,
    ca_key_id: String,
    card_key_digest: [u8; 32],
}

/// Steps 1–4 on the files alone.
///
/// # Errors
/// Each step fails with its own [`Error`] variant.
pub fn verify_card_files(f: &CardFiles, trust: &TrustSet) -> Result<SignedCardData, Error> {
    // 1. The CVC verifies under a trusted J-LIS CA key.
    let cvc = files::cvc(&f.ef0004)?;
    let ca = trust.find(&cvc.issuer_key_id)?;
    if !ca.key.verify_pkcs1_sha256(cvc.body, cvc.signature) {
        return Err(Error::CertificateSignature);
    }
    // 2. DF33 verifies under the CVC key over DF31‖DF32.
    let integrity = files::integrity(&f.ef0003)?;
    if !cvc
        .key
        .verify_pkcs1_sha256(integrity.signed, integrity.signature)
    {
        return Err(Error::IntegritySignature);
    }
    // 3. The digests match the files.
    if Sha256::digest(&f.ef0001).as_slice() != integrity.my_number_digest {
        return Err(Error::MyNumberDigest);
    }
    let attrs = files::attributes(&f.ef0002)?;
    if Sha256::digest(attrs.digested).as_slice() != integrity.attributes_digest {
        return Err(Error::AttributesDigest);
    }
    // 4. DF52 verifies under the CVC key over the DF51 TLV.
    let signed_key = files::signed_key(&f.ef0007)?;
    if !cvc
        .key
        .verify_pkcs1_sha256(signed_key.df51, signed_key.signature)
    {
        return Err(Error::CardKeySignature);
    }
    let my_number = MyNumber::parse(files::my_number_digits(&f.ef0001)?)?;
    let bad = |what| Error::malformed(super::error::Ef::Attributes, what);
    Ok(SignedCardData {
        identity: Identity {
            my_number,
            name: attrs.name.to_owned(),
            address: attrs.address.to_owned(),
            birth_date: BirthDate::parse(attrs.birth_date).map_err(|_| bad("birth date"))?,
            sex: Sex::from_code(attrs.sex).map_err(|_| bad("sex"))?,
            ca_key_id: ca.key_id.clone(),
            card_key_digest: Sha256::digest(signed_key.df51).into(),
        },
        card_key: signed_key.key,
    })
}

impl SignedCardData {
    /// Step 5 without the used set: the challenge is ours and unexpired, and the card signed
    /// exactly this binding.
    ///
    /// # Errors
    /// [`Error::ChallengeForged`], [`Error::ChallengeExpired`], [`Error::ChallengeSignature`].
    pub fn prove_presence(
        self,
        challenge: &Challenge,
        signature: &[u8],
        binding: &Binding,
        challenges: &Challenges,
        now: UnixTime,
    ) -> Result<PendingPresence, Error> {
        let checked = challenges.check(challenge, now)?;
        if !self
            .card_key
            .verify_pkcs1_sha256(&binding.message(challenge), signature)
        {
            return Err(Error::ChallengeSignature);
        }
        Ok(PendingPresence {
            identity: self.identity,
            checked,
            now,
        })
    }

    /// A view for tools that check files without a live card (`vaxcert card verify`).
    pub fn summary(&self) -> IdentitySummary<'_> {
        self.identity.summary()
    }
}

/// Step 5 passed except the used-set claim.
pub struct PendingPresence {
    identity: Identity,
    checked: CheckedChallenge,
    now: UnixTime,
}

impl PendingPresence {
    /// Mark the challenge used; only the first claim succeeds.
    ///
    /// # Errors
    /// [`Error::ChallengeReused`], or [`Error::UsedStore`] if the store failed.
    pub async fn claim<U: UsedChallenges>(self, used: &U) -> Result<VerifiedIdentity, Error> {
        if !used
            .claim(self.checked.id, self.checked.expires_at, self.now)
            .await?
        {
            return Err(Error::ChallengeReused);
        }
        Ok(VerifiedIdentity(self.identity))
    }
}

/// Everything in one call: the five files, the challenge and the card's signature.
///
/// # Errors
/// The first step that fails, with its own variant.
pub async fn verify_evidence<U: UsedChallenges>(
    evidence: &CardEvidence,
    binding: &Binding,
    trust: &TrustSet,
    challenges: &Challenges,
    used: &U,
    now: UnixTime,
) -> Result<VerifiedIdentity, Error> {
    verify_card_files(&evidence.files, trust)?
        .prove_presence(
            &evidence.challenge,
            &evidence.challenge_signature,
            binding,
            challenges,
            now,
        )?
        .claim(used)
        .await
}

/// A resident proven by a J-LIS-signed card that was present and unlocked for this request.
/// Only [`PendingPresence::claim`] builds one.
pub struct VerifiedIdentity(Identity);

impl VerifiedIdentity {
    /// The MyNumber (masked when printed).
    pub fn my_number(&self) -> &MyNumber {
        &self.0.my_number
    }
    /// The name as on the card: family and given separated by U+3000, maybe a 旧姓 in brackets.
    pub fn name(&self) -> &str {
        &self.0.name
    }
    /// The address as on the card.
    pub fn address(&self) -> &str {
        &self.0.address
    }
    /// Birth date.
    pub fn birth_date(&self) -> BirthDate {
        self.0.birth_date
    }
    /// Sex.
    pub fn sex(&self) -> Sex {
        self.0.sex
    }
    /// SHA-256 of the DF51 TLV; records keeps a keyed hash of it to trace each certificate to
    /// the card that asked for it.
    pub fn card_key_digest(&self) -> &[u8; 32] {
        &self.0.card_key_digest
    }
    /// A printable view.
    pub fn summary(&self) -> IdentitySummary<'_> {
        self.0.summary()
    }
}

impl fmt::Debug for VerifiedIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VerifiedIdentity({})", self.0.my_number.masked())
    }
}

impl Identity {
    fn summary(&self) -> IdentitySummary<'_> {
        IdentitySummary {
            my_number: self.my_number.masked(),
            name: &self.name,
            address: &self.address,
            birth_date: self.birth_date,
            sex: self.sex,
            ca_key_id: &self.ca_key_id,
        }
    }
}

/// What a screen or a CLI may show: the MyNumber masked.
#[derive(Debug, Serialize)]
pub struct IdentitySummary<'a> {
    /// `********1234`.
    #[serde(serialize_with = "display")]
    pub my_number: MaskedMyNumber,
    /// Name.
    pub name: &'a str,
    /// Address.
    pub address: &'a str,
    /// Birth date.
    pub birth_date: BirthDate,
    /// Sex.
    pub sex: Sex,
    /// The J-LIS CA key the card chains to.
    pub ca_key_id: &'a str,
}

fn display<S: serde::Serializer, T: fmt::Display>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

impl fmt::Display for IdentitySummary<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "  個人番号 MyNumber   {}", self.my_number)?;
        writeln!(f, "  氏名 Name           {}", self.name)?;
        writeln!(f, "  住所 Address        {}", self.address)?;
        writeln!(f, "  生年月日 Birth date {}", self.birth_date)?;
        writeln!(f, "  性別 Sex            {}", self.sex.label())?;
        write!(f, "  J-LIS CA key        {}", self.ca_key_id)
    }
}

mod b64 {
    use super::{Engine, URL_SAFE_NO_PAD};
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&URL_SAFE_NO_PAD.encode(v))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        URL_SAFE_NO_PAD
            .decode(s.trim_end_matches('='))
            .map_err(serde::de::Error::custom)
    }
}
