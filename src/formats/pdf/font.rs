//! The embedded font, read once: every character's glyph id and advance width, and the font
//! stripped of its character map and glyph names for embedding (text is written as glyph ids).

use printpdf::ParsedFont;

use super::Error;

/// Glyph id and advance width of every character the font maps, read once from its cmap:
/// a cmap lookup costs about 0.4 µs, and the page measures and checks each character several
/// times. Text is then written as glyph ids, so the font printpdf embeds needs no cmap at all.
pub(super) struct Glyphs {
    /// Indexed by BMP code point; `(0, _)` means the font has no glyph.
    pub(super) bmp: Vec<(u16, u16)>,
    /// The whole font, for the rare characters above U+FFFF (CJK extension B and later);
    /// scanning those planes at start-up would double its cost.
    pub(super) full: ParsedFont,
}

impl std::fmt::Debug for Glyphs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mapped = self.bmp.iter().filter(|(g, _)| *g != 0).count();
        write!(f, "Glyphs({mapped} BMP characters)")
    }
}

impl Glyphs {
    pub(super) fn read(full: ParsedFont) -> Self {
        let bmp = (0u32..0x1_0000).map(|cp| Self::lookup(&full, cp)).collect();
        Glyphs { bmp, full }
    }

    pub(super) fn lookup(font: &ParsedFont, cp: u32) -> (u16, u16) {
        match font.lookup_glyph_index(cp) {
            Some(g) if g != 0 => (g, font.get_horizontal_advance(g)),
            _ => (0, 0),
        }
    }

    /// Glyph id (non-zero) and advance, or `None` when the font lacks the character.
    pub(super) fn get(&self, ch: char) -> Option<(u16, u16)> {
        let entry = match self.bmp.get(ch as usize) {
            Some(e) => *e,
            None => Self::lookup(&self.full, ch as u32),
        };
        (entry.0 != 0).then_some(entry)
    }

    pub(super) fn check(&self, s: &str) -> Result<(), Error> {
        match s.chars().find(|ch| self.get(*ch).is_none()) {
            Some(ch) => Err(Error::MissingGlyph(ch as u32)),
            None => Ok(()),
        }
    }
}

/// The font program printpdf embeds: the same glyphs, with an empty `cmap` and a `post`
/// table without glyph names (version 3). printpdf's subsetter rebuilds a cmap from every
/// mapping of the source font and reads every glyph name (together a third of the render
/// time with a CJK font), and a PDF with Identity-H glyph ids and a /ToUnicode map needs
/// neither. The new tables are appended and their records pointed at them; nothing moves.
pub(super) fn for_embedding(font: &[u8]) -> Option<Vec<u8>> {
    // cmap v0 with one (3,1) format-4 subtable holding only the final 0xFFFF segment.
    const CMAP: [u8; 36] = [
        0, 0, 0, 1, 0, 3, 0, 1, 0, 0, 0, 12, // header, one encoding record at offset 12
        0, 4, 0, 24, 0, 0, 0, 2, 0, 2, 0, 0, 0, 0, // format 4, length 24, segCountX2 2
        0xFF, 0xFF, 0, 0, 0xFF, 0xFF, 0, 1, 0,
        0, // endCode, pad, startCode, idDelta, idRangeOffset
    ];
    let record = |tag: &[u8; 4]| {
        let num_tables = usize::from(u16::from_be_bytes(font.get(4..6)?.try_into().ok()?));
        (0..num_tables)
            .map(|i| 12 + 16 * i)
            .find(|r| font.get(*r..r + 4) == Some(tag.as_slice()))
    };
    let table = |r: usize| -> Option<&[u8]> {
        let at = |o: usize| -> Option<usize> {
            Some(u32::from_be_bytes(font.get(r + o..r + o + 4)?.try_into().ok()?) as usize)
        };
        let (offset, len) = (at(8)?, at(12)?);
        font.get(offset..offset + len)
    };
    let cmap_record = record(b"cmap")?;
    let post_record = record(b"post")?;
    // post v3: the 32-byte header with the version set to 3.0 and no names after it.
    let mut post = table(post_record)?.get(..32)?.to_vec();
    post[..4].copy_from_slice(&[0, 3, 0, 0]);

    let mut out = font.to_vec();
    for (record, data) in [(cmap_record, &CMAP[..]), (post_record, &post[..])] {
        while !out.len().is_multiple_of(4) {
            out.push(0);
        }
        let offset = u32::try_from(out.len()).ok()?;
        out.extend_from_slice(data);
        let checksum = data
            .chunks(4)
            .map(|c| {
                let mut word = [0; 4];
                word[..c.len()].copy_from_slice(c);
                u32::from_be_bytes(word)
            })
            .fold(0u32, u32::wrapping_add);
        out[record + 4..record + 8].copy_from_slice(&checksum.to_be_bytes());
        out[record + 8..record + 12].copy_from_slice(&offset.to_be_bytes());
        out[record + 12..record + 16].copy_from_slice(&(data.len() as u32).to_be_bytes());
    }
    Some(out)
}
