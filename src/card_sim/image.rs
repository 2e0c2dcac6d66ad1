//! The files of a virtual TEXT AP, built from a persona and the dev J-LIS issuer exactly as
//! the real test card lays them out (vectors/README.md §8).

use std::collections::BTreeMap;

use rsa::RsaPrivateKey;
use rsa::pkcs1v15::Pkcs1v15Sign;
use sha2::{Digest, Sha256};

use super::persona::Persona;
use crate::card::CardFiles;
use crate::card::tlv::encode;
use crate::dev::card::{DevIssuer, public_key_tlvs, sign_sha256};

/// Every EF of the virtual card plus its internal-authentication key.
pub struct CardImage {
    /// EF contents by file ID.
    pub files: BTreeMap<u16, Vec<u8>>,
    card_key: RsaPrivateKey,
}

impl CardImage {
    /// Lay out the files for `persona`, signed by `issuer`, with `card_key` in EF0007.
    pub fn build(persona: &Persona, issuer: &DevIssuer, card_key: RsaPrivateKey) -> Self {
        let mut files = BTreeMap::new();

        let mut ef0001 = encode(0xFF10, persona.my_number.expose_digits());
        ef0001.extend_from_slice(&[0xFF, 0xFF]);

        let items = [
            encode(0xDF22, persona.name.as_bytes()),
            encode(0xDF23, persona.address.as_bytes()),
            encode(0xDF24, persona.birth_date.compact().as_bytes()),
            encode(0xDF25, persona.sex.code().as_bytes()),
        ];
        let value_len = 11 + items.iter().map(Vec::len).sum::<usize>();
        let header_len = encode(0xFF20, &vec![0; value_len]).len() - value_len;
        let mut offsets = Vec::with_capacity(8);
        let mut at = header_len + 11;
        for item in &items {
            offsets.extend_from_slice(&(at as u16).to_be_bytes());
            at += item.len();
        }
        let mut value = encode(0xDF21, &offsets);
        items.iter().for_each(|i| value.extend_from_slice(i));
        let ef0002 = encode(0xFF20, &value);

        let mut digests = encode(0xDF31, &Sha256::digest(&ef0001));
        digests.extend(encode(0xDF32, &Sha256::digest(&ef0002[header_len + 11..])));
        let df33 = encode(0xDF33, &sign_sha256(issuer.key(), &digests));
        digests.extend(df33);
        let ef0003 = encode(0xFF30, &digests);

        let df51 = encode(0xDF51, &public_key_tlvs(&card_key));
        let mut signed = df51.clone();
        signed.extend(encode(0xDF52, &sign_sha256(issuer.key(), &df51)));
        let ef0007 = encode(0xFF50, &signed);

        let mut basic = encode(0xDF41, &[0x01, 0x03, 0x0E, 0x01]);
        basic.extend(encode(0xDF42, issuer.key_id()));
        let ef0005 = encode(0xFF40, &basic);
        let ef0006 = encode(0xA1, &public_key_tlvs(&card_key));

        files.insert(0x0001, ef0001);
        files.insert(0x0002, ef0002);
        files.insert(0x0003, ef0003);
        files.insert(0x0004, issuer.cvc().to_vec());
        files.insert(0x0005, ef0005);
        files.insert(0x0006, ef0006);
        files.insert(0x0007, ef0007);
        files.insert(0x0008, vec![0xFF; 16]);
        CardImage { files, card_key }
    }

    /// INTERNAL AUTHENTICATE: PKCS#1 v1.5 over the DigestInfo the terminal sent.
    pub fn sign_digest_info(&self, digest_info: &[u8]) -> Option<Vec<u8>> {
        self.card_key
            .sign(Pkcs1v15Sign::new_unprefixed(), digest_info)
            .ok()
    }

    /// The files a reader would return, for tests that skip PC/SC.
    pub fn card_files(&self) -> CardFiles {
        let f = |id: u16| self.files.get(&id).cloned().unwrap_or_default();
        CardFiles {
            ef0001: f(0x0001),
            ef0002: f(0x0002),
            ef0003: f(0x0003),
            ef0004: f(0x0004),
            ef0007: f(0x0007),
        }
    }
}
