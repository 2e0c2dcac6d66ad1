//! Preview tokens: what records found at preview, sealed (AES-256-GCM) and bound to the
//! challenge and evidence digest, so a gateway can carry it but neither read nor change it.
//! That a token redeems once is the database's business (`records::Records::record_redemption`),
//! so every replica sharing the key sees the same answer.

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngExt;
use serde::{Deserialize, Serialize};

use super::{Error, Result};
use crate::domain::{Channel, Kind, MunicipalityCode};
use crate::records::PassportData;

/// Seals preview tokens (AES-256-GCM): what records found, bound to the evidence digest, so a
/// gateway can carry it but neither read nor change it.
#[derive(Clone)]
pub struct TokenKey(Aes256Gcm);

impl TokenKey {
    /// A key from 64 hex digits (a configured file shared by every records replica).
    pub fn from_hex(text: &str) -> Option<Self> {
        let bytes = zeroize::Zeroizing::new(hex::decode(text.trim()).ok()?);
        if bytes.len() != 32 {
            return None;
        }
        Aes256Gcm::new_from_slice(&bytes).ok().map(TokenKey)
    }

    /// A fresh key: only this process can open its tokens (one replica, or a test).
    pub fn random() -> Self {
        let mut k = zeroize::Zeroizing::new([0u8; 32]);
        rand::rng().fill(&mut k[..]);
        TokenKey(Aes256Gcm::new_from_slice(&k[..]).expect("32-byte key"))
    }
}

impl TokenKey {
    pub(super) fn seal(&self, body: &TokenBody) -> Result<String> {
        let plain = zeroize::Zeroizing::new(
            serde_json::to_vec(body).map_err(|e| Error::Worker(e.to_string()))?,
        );
        let mut nonce = [0u8; 12];
        rand::rng().fill(&mut nonce[..]);
        let n = aes_gcm::aead::Nonce::<Aes256Gcm>::try_from(&nonce[..])
            .map_err(|_| Error::Worker("nonce".into()))?;
        let ct = self
            .0
            .encrypt(
                &n,
                Payload {
                    msg: &plain,
                    aad: TOKEN_AAD,
                },
            )
            .map_err(|_| Error::Worker("token sealing".into()))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        Ok(URL_SAFE_NO_PAD.encode(out))
    }

    pub(super) fn open(&self, token: &str) -> Result<TokenBody> {
        let raw = URL_SAFE_NO_PAD
            .decode(token.trim())
            .map_err(|_| Error::TokenInvalid)?;
        if raw.len() < 12 + 16 {
            return Err(Error::TokenInvalid);
        }
        let n = aes_gcm::aead::Nonce::<Aes256Gcm>::try_from(&raw[..12])
            .map_err(|_| Error::TokenInvalid)?;
        let plain = zeroize::Zeroizing::new(
            self.0
                .decrypt(
                    &n,
                    Payload {
                        msg: &raw[12..],
                        aad: TOKEN_AAD,
                    },
                )
                .map_err(|_| Error::TokenInvalid)?,
        );
        serde_json::from_slice(&plain).map_err(|_| Error::TokenInvalid)
    }
}

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKey(..)")
    }
}

const TOKEN_AAD: &[u8] = b"vaxcert preview token v1";

/// What a preview token carries (sealed; never seen in clear outside records).
#[derive(Serialize, Deserialize)]
pub(super) struct TokenBody {
    pub(super) id: [u8; 16],
    pub(super) exp: i64,
    pub(super) channel: Channel,
    pub(super) terminal: String,
    pub(super) municipality: MunicipalityCode,
    pub(super) atena: String,
    pub(super) kind: Kind,
    pub(super) passport: Option<PassportData>,
    pub(super) card_key: [u8; 32],
    pub(super) challenge: crate::card::challenge::ChallengeId,
    pub(super) evidence: [u8; 32],
    /// The terms version the resident accepted (app and kiosk; the counter has none).
    #[serde(default)]
    pub(super) terms: Option<String>,
    pub(super) content: Content,
}

/// What the certificate will say, fixed when the preview is made and sealed into its token:
/// the certificate says exactly what the resident confirmed, and redeeming the token needs
/// no second read of the record (the issuance insert still checks the resident's status).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Content {
    pub(super) name: String,
    /// A foreign resident's 通称, printed beside the name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) alias: Option<String>,
    pub(super) birth_date: crate::domain::BirthDate,
    pub(super) doses: Vec<crate::formats::Dose>,
    pub(super) municipality_name: String,
}

impl Content {
    /// SHA-256 over what a certificate says of the person and the doses (not the
    /// municipality's display name): equal digests, equal certificates.
    pub(super) fn digest(&self) -> [u8; 32] {
        use sha2::{Digest, Sha256};
        // The 通称 joins the digest only when there is one, so certificates from before it
        // existed keep their digest.
        let said = match &self.alias {
            None => serde_json::json!([self.name, self.birth_date.iso(), self.doses]),
            Some(a) => serde_json::json!([self.name, self.birth_date.iso(), self.doses, a]),
        };
        Sha256::digest(said.to_string().as_bytes()).into()
    }

    pub(super) fn of(
        municipality_name: &str,
        resident: &crate::records::Resident,
        doses: &[crate::records::Dose],
    ) -> Self {
        Content {
            name: resident.display_name(),
            alias: resident.alias.clone(),
            birth_date: resident.birth_date,
            doses: doses
                .iter()
                .map(|d| crate::formats::Dose {
                    seq: u8::try_from(d.dose).unwrap_or(u8::MAX),
                    date: d.date,
                    product: d.product,
                    lot: d.lot.clone(),
                })
                .collect(),
            municipality_name: municipality_name.to_owned(),
        }
    }
}
