//! BER-TLV as the TEXT AP files use it: parsing keeps each child's raw bytes, because the
//! signatures cover raw TLVs (DF31‖DF32, the DF51 TLV); encoding is for the virtual card.

use myna_card::tlv::ber;

/// One TLV with its place in the enclosing buffer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Item<'a> {
    pub(crate) tag: u32,
    /// Tag, length and value as they appear in the file.
    pub(crate) raw: &'a [u8],
    pub(crate) value: &'a [u8],
    /// Offset of the tag within the buffer that was parsed.
    pub(crate) offset: usize,
}

/// Parse the one TLV at the start of `data`; bytes after it (filler) are ignored.
pub(crate) fn outer(data: &[u8]) -> Option<Item<'_>> {
    let h = ber::parse_header(data).ok()?;
    let raw = data.get(..total_len(&h)?)?;
    Some(Item {
        tag: h.tag,
        raw,
        value: &raw[h.header_len..],
        offset: 0,
    })
}

/// The children of a constructed value, in order; `None` if any is truncated.
pub(crate) fn children(value: &[u8]) -> Option<Vec<Item<'_>>> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < value.len() {
        let h = ber::parse_header(&value[pos..]).ok()?;
        let end = pos.checked_add(total_len(&h)?)?;
        let raw = value.get(pos..end)?;
        out.push(Item {
            tag: h.tag,
            raw,
            value: &raw[h.header_len..],
            offset: pos,
        });
        pos = end;
    }
    Some(out)
}

/// Header and value length together, or `None` when a hostile length makes them overflow
/// (`Header::total_len` would: fuzzing found it).
fn total_len(h: &ber::Header) -> Option<usize> {
    h.header_len.checked_add(h.length)
}

/// The first child with `tag`.
pub(crate) fn find<'a>(items: &[Item<'a>], tag: u32) -> Option<Item<'a>> {
    items.iter().find(|i| i.tag == tag).copied()
}

/// Encode one TLV, with the shortest definite length (long form from 128 bytes).
pub fn encode(tag: u32, value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len() + 6);
    let tag_bytes = tag.to_be_bytes();
    let skip = tag_bytes.iter().take_while(|b| **b == 0).count().min(3);
    out.extend_from_slice(&tag_bytes[skip..]);
    let len = value.len();
    if len < 0x80 {
        out.push(len as u8);
    } else if len <= 0xFF {
        out.extend_from_slice(&[0x81, len as u8]);
    } else {
        out.extend_from_slice(&[0x82, (len >> 8) as u8, len as u8]);
    }
    out.extend_from_slice(value);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_forms_round_trip() {
        for len in [0usize, 1, 127, 128, 255, 256, 300] {
            let v = vec![0xAB; len];
            let enc = encode(0xFF20, &v);
            let item = outer(&enc).unwrap();
            assert_eq!(item.tag, 0xFF20);
            assert_eq!(item.value, &v[..]);
            assert_eq!(item.raw.len(), enc.len());
        }
        assert_eq!(encode(0x90, &[1, 0, 1]), [0x90, 3, 1, 0, 1]);
        assert_eq!(
            &encode(0x5F37, &[0; 256])[..5],
            &[0x5F, 0x37, 0x82, 0x01, 0x00]
        );
    }

    #[test]
    fn truncation_is_detected() {
        let enc = encode(0xDF22, b"abcdef");
        assert!(outer(&enc[..5]).is_none());
        assert!(children(&enc[..5]).is_none());
        assert!(outer(&[]).is_none());
    }
}
