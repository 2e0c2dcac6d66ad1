//! The layouts of the TEXT AP files vaxcert reads (vectors/README.md §8, DESIGN §3). Parsing
//! only: no I/O, no keys. Each parser keeps the raw bytes a signature covers.

use super::error::{Ef, Error};
use super::rsa_key::RsaKey;
use super::tlv;

/// EF0004: `7F21 { 5F4E body, 5F37 signature }`.
#[derive(Debug)]
pub(crate) struct Cvc<'a> {
    pub(crate) body: &'a [u8],
    pub(crate) issuer_key_id: [u8; 16],
    pub(crate) key: RsaKey,
    pub(crate) signature: &'a [u8],
}

pub(crate) fn cvc(ef0004: &[u8]) -> Result<Cvc<'_>, Error> {
    let bad = |what| Error::malformed(Ef::Certificate, what);
    let outer = tlv::outer(ef0004).ok_or(bad("no TLV"))?;
    if outer.tag != 0x7F21 {
        return Err(bad("not a card-verifiable certificate (7F21)"));
    }
    let items = tlv::children(outer.value).ok_or(bad("truncated"))?;
    let body = tlv::find(&items, 0x5F4E)
        .ok_or(bad("no body (5F4E)"))?
        .value;
    let signature = tlv::find(&items, 0x5F37)
        .ok_or(bad("no signature (5F37)"))?
        .value;
    if body.len() < 32 {
        return Err(bad("body too short"));
    }
    let issuer_key_id: [u8; 16] = body[..16].try_into().map_err(|_| bad("key id"))?;
    let key = RsaKey::from_card_tlvs(&body[32..]).ok_or(bad("no RSA key (90, 91)"))?;
    Ok(Cvc {
        body,
        issuer_key_id,
        key,
        signature,
    })
}

/// EF0003: `FF30 { DF31 SHA-256(EF0001), DF32 SHA-256(EF0002 part), DF33 signature }`.
#[derive(Debug)]
pub(crate) struct Integrity<'a> {
    /// The bytes `DF31 20 … DF32 20 …` that DF33 signs (70 bytes).
    pub(crate) signed: &'a [u8],
    pub(crate) my_number_digest: &'a [u8],
    pub(crate) attributes_digest: &'a [u8],
    pub(crate) signature: &'a [u8],
}

pub(crate) fn integrity(ef0003: &[u8]) -> Result<Integrity<'_>, Error> {
    let bad = |what| Error::malformed(Ef::Integrity, what);
    let outer = tlv::outer(ef0003).ok_or(bad("no TLV"))?;
    if outer.tag != 0xFF30 {
        return Err(bad("not an integrity record (FF30)"));
    }
    let items = tlv::children(outer.value).ok_or(bad("truncated"))?;
    let d31 = tlv::find(&items, 0xDF31).ok_or(bad("no DF31"))?;
    let d32 = tlv::find(&items, 0xDF32).ok_or(bad("no DF32"))?;
    let d33 = tlv::find(&items, 0xDF33).ok_or(bad("no DF33"))?;
    if d31.value.len() != 32 || d32.value.len() != 32 || d32.offset != d31.offset + d31.raw.len() {
        return Err(bad("DF31 and DF32 are not two adjacent SHA-256 digests"));
    }
    Ok(Integrity {
        signed: &outer.value[d31.offset..d32.offset + d32.raw.len()],
        my_number_digest: d31.value,
        attributes_digest: d32.value,
        signature: d33.value,
    })
}

/// EF0007: `FF50 { DF51 key, DF52 signature over the DF51 TLV }`.
#[derive(Debug)]
pub(crate) struct SignedKey<'a> {
    pub(crate) df51: &'a [u8],
    pub(crate) key: RsaKey,
    pub(crate) signature: &'a [u8],
}

pub(crate) fn signed_key(ef0007: &[u8]) -> Result<SignedKey<'_>, Error> {
    let bad = |what| Error::malformed(Ef::CardKey, what);
    let outer = tlv::outer(ef0007).ok_or(bad("no TLV"))?;
    if outer.tag != 0xFF50 {
        return Err(bad("not a signed public key (FF50)"));
    }
    let items = tlv::children(outer.value).ok_or(bad("truncated"))?;
    let d51 = tlv::find(&items, 0xDF51).ok_or(bad("no DF51"))?;
    let d52 = tlv::find(&items, 0xDF52).ok_or(bad("no DF52"))?;
    let key = RsaKey::from_card_tlvs(d51.value).ok_or(bad("no RSA key in DF51"))?;
    Ok(SignedKey {
        df51: d51.raw,
        key,
        signature: d52.value,
    })
}

/// EF0002: `FF20 { DF21 offsets, DF22 name, DF23 address, DF24 birth date, DF25 sex }`.
#[derive(Debug)]
pub(crate) struct Attributes<'a> {
    pub(crate) name: &'a str,
    pub(crate) address: &'a str,
    pub(crate) birth_date: &'a str,
    pub(crate) sex: &'a str,
    /// From the DF22 tag to the end of the FF20 value: what DF32 hashes.
    pub(crate) digested: &'a [u8],
}

/// Parse EF0002. DF22–DF25 are read as the consecutive children of FF20 that DF32's digest
/// covers (from DF22 to the end of the record); DF21's offsets, which the digest does not
/// cover, must each name exactly where its item is. An offset that points anywhere else (at
/// an item inserted before DF22, outside the digest, say) is tampering:
/// [`Error::AttributesDigest`], `card-attributes-tampered`.
pub(crate) fn attributes(ef0002: &[u8]) -> Result<Attributes<'_>, Error> {
    const ITEMS: [u32; 4] = [0xDF22, 0xDF23, 0xDF24, 0xDF25];
    let bad = |what| Error::malformed(Ef::Attributes, what);
    let outer = tlv::outer(ef0002).ok_or(bad("no TLV"))?;
    if outer.tag != 0xFF20 {
        return Err(bad("not a basic-items record (FF20)"));
    }
    let file = outer.raw;
    let header = outer.raw.len() - outer.value.len();
    let items = tlv::children(outer.value).ok_or(bad("truncated"))?;
    let offsets = tlv::find(&items, 0xDF21)
        .ok_or(bad("no DF21 offsets"))?
        .value;
    if offsets.len() != 8 {
        return Err(bad("DF21 is not four offsets"));
    }
    let first = items
        .iter()
        .position(|i| i.tag == ITEMS[0])
        .ok_or(bad("no DF22"))?;
    let run = items
        .get(first..first + 4)
        .ok_or(bad("fewer than four items"))?;
    let mut values = [""; 4];
    for (k, (item, tag)) in run.iter().zip(ITEMS).enumerate() {
        if item.tag != tag {
            return Err(bad("DF22–DF25 are not consecutive"));
        }
        let off = usize::from(u16::from_be_bytes([offsets[2 * k], offsets[2 * k + 1]]));
        if off != header + item.offset {
            return Err(Error::AttributesDigest);
        }
        values[k] = std::str::from_utf8(item.value).map_err(|_| bad("item is not UTF-8"))?;
    }
    Ok(Attributes {
        name: values[0],
        address: values[1],
        birth_date: values[2],
        sex: values[3],
        digested: &file[header + run[0].offset..],
    })
}

/// EF0001: `FF 10 0C` + 12 ASCII digits, then filler. Returns the digits.
pub(crate) fn my_number_digits(ef0001: &[u8]) -> Result<&[u8], Error> {
    let outer = tlv::outer(ef0001).ok_or(Error::malformed(Ef::MyNumber, "no TLV"))?;
    if outer.tag != 0xFF10 || outer.value.len() != 12 {
        return Err(Error::malformed(Ef::MyNumber, "not FF10 with 12 digits"));
    }
    Ok(outer.value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vector(name: &str) -> Vec<u8> {
        std::fs::read(format!("../shared/vectors/myna-card-test-card/{name}")).unwrap()
    }

    #[test]
    fn the_test_card_parses() {
        let a = vector("text-0002.bin");
        let attrs = attributes(&a).unwrap();
        assert_eq!(attrs.name, "黒桐　幹也");
        assert_eq!(attrs.birth_date, "19800217");
        assert_eq!(attrs.sex, "1");
        assert_eq!(attrs.digested.len(), a.len() - 0x0E);
        let i = vector("text-0003.bin");
        assert_eq!(integrity(&i).unwrap().signed.len(), 70);
        let c = vector("text-0004.bin");
        assert_eq!(&cvc(&c).unwrap().issuer_key_id[..7], b"6000033");
        assert_eq!(cvc(&c).unwrap().body.len(), 297);
        let k = vector("text-0007.bin");
        assert_eq!(signed_key(&k).unwrap().key.modulus().len(), 256);
        let n = vector("text-0001-physical.bin");
        assert_eq!(my_number_digits(&n).unwrap(), b"537686677188");
    }

    #[test]
    fn an_offset_that_misses_its_tag_is_refused() {
        let mut a = vector("text-0002.bin");
        a[7] += 1; // DF22 offset now points one byte into the tag
        assert!(matches!(attributes(&a), Err(Error::AttributesDigest)));
    }

    #[test]
    fn garbage_never_panics() {
        for len in 0..40 {
            let junk: Vec<u8> = (0..len).map(|i| (i * 37 + 0xDF) as u8).collect();
            let _ = cvc(&junk);
            let _ = integrity(&junk);
            let _ = signed_key(&junk);
            let _ = attributes(&junk);
            let _ = my_number_digits(&junk);
        }
    }
}
