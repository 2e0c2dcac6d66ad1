//! Draws a [`CertificateDocument`] on one A4 page with printpdf and writes the unsigned PDF,
//! already carrying the empty signature field [`super::PdfSigner`] fills in.

use printpdf::{
    Codepoint, Color, FontId, Op, ParsedFont, PdfDocument, PdfFontHandle, PdfPage, PdfSaveOptions,
    Point, Pt, Rect, Rgb, TextItem, graphics::PaintMode,
};

use super::layout::{Bilingual, HexColor, Layout};
use super::{CertificateDocument, Error, sign};
use crate::domain::Kind;

/// QR quiet zone, in modules, on each side (ISO/IEC 18004 asks for 4).
const QUIET_ZONE: usize = 4;
/// The smallest module the renderer accepts, in mm: 3 pixels at 300 dpi.
const MIN_MODULE_MM: f32 = 0.254;
const PT_PER_MM: f32 = 72.0 / 25.4;
/// zlib level for the streams. Level 1 (miniz's fast path) halves the render time against level 2
/// for about 10 % more bytes (overseas: 93 KB instead of 84 KB, well under 150 KB).
const DEFLATE_LEVEL: u32 = 1;
const WHITE: HexColor = HexColor([1.0, 1.0, 1.0]);

/// Renders certificates. Holds the parsed font and the layout, so build it once and reuse it.
#[derive(Debug)]
pub struct PdfRenderer {
    layout: Layout,
    font: ParsedFont,
    glyphs: Glyphs,
}

/// Glyph id and advance width of every character the font maps, read once from its cmap:
/// a cmap lookup costs about 0.4 µs, and the page measures and checks each character several
/// times. Text is then written as glyph ids, so the font printpdf embeds needs no cmap at all.
struct Glyphs {
    /// Indexed by BMP code point; `(0, _)` means the font has no glyph.
    bmp: Vec<(u16, u16)>,
    /// The whole font, for the rare characters above U+FFFF (CJK extension B and later);
    /// scanning those planes at start-up would double its cost.
    full: ParsedFont,
}

impl std::fmt::Debug for Glyphs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mapped = self.bmp.iter().filter(|(g, _)| *g != 0).count();
        write!(f, "Glyphs({mapped} BMP characters)")
    }
}

impl Glyphs {
    fn read(full: ParsedFont) -> Self {
        let bmp = (0u32..0x1_0000).map(|cp| Self::lookup(&full, cp)).collect();
        Glyphs { bmp, full }
    }

    fn lookup(font: &ParsedFont, cp: u32) -> (u16, u16) {
        match font.lookup_glyph_index(cp) {
            Some(g) if g != 0 => (g, font.get_horizontal_advance(g)),
            _ => (0, 0),
        }
    }

    /// Glyph id (non-zero) and advance, or `None` when the font lacks the character.
    fn get(&self, ch: char) -> Option<(u16, u16)> {
        let entry = match self.bmp.get(ch as usize) {
            Some(e) => *e,
            None => Self::lookup(&self.full, ch as u32),
        };
        (entry.0 != 0).then_some(entry)
    }

    fn check(&self, s: &str) -> Result<(), Error> {
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
fn for_embedding(font: &[u8]) -> Option<Vec<u8>> {
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

impl PdfRenderer {
    /// Parse the font (the expensive part) and keep it with the layout.
    ///
    /// # Errors
    /// [`Error::Font`] when the bytes are not a TrueType/OpenType font, or the font lacks the
    /// glyphs of the layout's own wording ([`Error::MissingGlyph`]).
    pub fn new(layout: Layout, font_bytes: Vec<u8>) -> Result<Self, Error> {
        let full = ParsedFont::from_bytes(&font_bytes, 0, &mut Vec::new()).ok_or(Error::Font)?;
        let glyphs = Glyphs::read(full);
        let embed = for_embedding(&font_bytes).ok_or(Error::Font)?;
        let font = ParsedFont::from_bytes(&embed, 0, &mut Vec::new()).ok_or(Error::Font)?;
        let renderer = PdfRenderer {
            layout,
            font,
            glyphs,
        };
        renderer.check_wording()?;
        Ok(renderer)
    }

    /// The development renderer: `templates/certificate.toml` and the embedded IPAex Gothic.
    ///
    /// # Errors
    /// As [`Layout::dev_default`] and [`PdfRenderer::new`].
    pub fn dev_default() -> Result<Self, Error> {
        let layout = Layout::dev_default()?;
        let path = Layout::templates_dir().join("fonts").join("ipaexg.ttf");
        let bytes = std::fs::read(&path).map_err(|e| Error::LayoutRead {
            path: path.display().to_string(),
            reason: e.kind().to_string(),
        })?;
        Self::new(layout, bytes)
    }

    /// The layout this renderer draws with.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// Draw the certificate and write the unsigned PDF (with its empty signature field).
    ///
    /// # Errors
    /// [`Error::Content`] when the document does not fit its kind (an overseas certificate
    /// without romanised name or VDS-NC, a domestic one with passport data, no doses, too many
    /// doses for the page, a QR too dense for its width), [`Error::MissingGlyph`] when a
    /// character has no glyph in the font, [`Error::Write`] when serialising fails.
    pub fn render(&self, doc: &CertificateDocument<'_>) -> Result<Vec<u8>, Error> {
        check_content(doc)?;
        let issued = issue_midnight_jst(doc.issued_on)
            .ok_or(Error::Content("the issue date is not a YYYY-MM-DD date"))?;
        let mut pdf = PdfDocument::new("COVID-19 Vaccination Certificate");
        let info = &mut pdf.metadata.info;
        info.creation_date = issued;
        info.modification_date = issued;
        info.metadata_date = issued;
        info.producer = "vaxcert".into();
        info.creator = "vaxcert".into();
        let font_id = pdf.add_font(&self.font);
        let mut page = Canvas {
            glyphs: &self.glyphs,
            ops: Vec::with_capacity(1024),
            raw: String::with_capacity(96 * 1024),
            font_id,
            page_height: self.layout.page.height,
            units_per_em: f32::from(self.font.pdf_font_metrics.units_per_em.max(1)),
        };
        self.draw(&mut page, doc)?;
        let l = &self.layout;
        let (ops, raw) = (page.ops, page.raw);
        pdf.with_pages(vec![PdfPage::new(
            printpdf::Mm(l.page.width),
            printpdf::Mm(l.page.height),
            ops,
        )]);
        let opts = PdfSaveOptions {
            optimize: true,
            subset_fonts: true,
            secure: true,
            image_optimization: None,
        };
        let mut warnings = Vec::new();
        let mut lo = pdf.to_lopdf_document(&opts, &mut warnings);
        append_page_content(&mut lo, raw.as_bytes())?;
        compress_streams(&mut lo)?;
        sign::add_signature_field(&mut lo)
    }

    fn check_wording(&self) -> Result<(), Error> {
        let t = &self.layout.text;
        let pairs = [
            &t.kind_domestic,
            &t.kind_overseas,
            &t.section_certificate,
            &t.certificate_id,
            &t.issued_on,
            &t.municipality,
            &t.section_person,
            &t.name,
            &t.name_roman,
            &t.passport,
            &t.birth_date,
            &t.section_doses,
            &t.dose_seq,
            &t.dose_date,
            &t.dose_product,
            &t.dose_manufacturer,
            &t.dose_lot,
            &t.section_qr,
            &t.qr_shc,
            &t.qr_vdsnc,
            &t.note_heading,
        ];
        let mut all: Vec<&str> = vec![&t.title_ja, &t.title_en, &t.footer];
        for p in pairs {
            all.push(&p.ja);
            all.push(&p.en);
        }
        all.extend(t.note_ja.iter().map(String::as_str));
        all.extend(t.note_en.iter().map(String::as_str));
        for s in all {
            self.glyphs.check(s)?;
        }
        Ok(())
    }

    fn draw(&self, c: &mut Canvas<'_>, doc: &CertificateDocument<'_>) -> Result<(), Error> {
        let l = &self.layout;
        let col = &l.colors;
        let left = l.page.margin;
        let width = l.page.width - 2.0 * l.page.margin;
        let center = l.page.width / 2.0;

        // Header: band, titles, kind badge.
        let h = &l.header;
        c.fill_rect(0.0, 0.0, l.page.width, h.band_height, col.accent);
        c.text_centered(
            center,
            h.title_ja_y,
            h.title_ja_size,
            col.text,
            &l.text.title_ja,
        )?;
        c.text_centered(
            center,
            h.title_en_y,
            h.title_en_size,
            col.accent,
            &l.text.title_en,
        )?;
        let kind = match doc.kind {
            Kind::Domestic => &l.text.kind_domestic,
            Kind::Overseas => &l.text.kind_overseas,
        };
        let gap = 3.0;
        let ja_w = c.width(&kind.ja, h.kind_size);
        let en_w = c.width(&kind.en, h.kind_size * 0.85);
        let badge_w = ja_w + gap + en_w + 8.0;
        let base = h.kind_top + h.kind_height * 0.5 + h.kind_size * 0.35 / PT_PER_MM;
        c.fill_rect(
            center - badge_w / 2.0,
            h.kind_top,
            badge_w,
            h.kind_height,
            col.accent,
        );
        let x = center - badge_w / 2.0 + 4.0;
        c.text(x, base, h.kind_size, WHITE, &kind.ja)?;
        c.text(x + ja_w + gap, base, h.kind_size * 0.85, WHITE, &kind.en)?;

        // Certificate ID, issue date, municipality: one boxed row.
        let info = &l.info;
        c.fill_rect(left, info.top, width, info.height, col.accent_light);
        let cells: [(&Bilingual, &str); 3] = [
            (&l.text.certificate_id, doc.certificate_id),
            (&l.text.issued_on, doc.issued_on),
            (&l.text.municipality, doc.municipality),
        ];
        let mut x = left;
        for (i, ((label, value), share)) in cells.iter().zip(info.columns).enumerate() {
            let w = width * share;
            if i > 0 {
                c.vline(
                    x,
                    info.top + 2.0,
                    info.top + info.height - 2.0,
                    0.4,
                    col.rule,
                );
            }
            let pad = 3.5;
            c.label_inline(
                x + pad,
                info.top + 4.6,
                info.label_ja_size,
                info.label_en_size,
                label,
                col,
            )?;
            c.text_fit(
                x + pad,
                info.top + 10.4,
                info.value_size,
                w - 2.0 * pad,
                col.text,
                value,
            )?;
            x += w;
        }

        // The vaccinated person.
        let p = &l.person;
        c.section_heading(left, p.heading_y, &l.text.section_person, col)?;
        let mut rows: Vec<(&Bilingual, String, f32)> =
            vec![(&l.text.name, doc.name_kanji.to_owned(), p.name_size)];
        if let Some(roman) = doc.name_roman {
            rows.push((&l.text.name_roman, roman.to_owned(), p.value_size));
        }
        if let Some(passport) = doc.passport_number_masked {
            rows.push((&l.text.passport, passport.to_owned(), p.value_size));
        }
        rows.push((&l.text.birth_date, doc.birth_date.iso(), p.value_size));
        let mut top = p.first_row_top;
        c.hline(left, left + width, top, 0.6, col.accent);
        for (label, value, size) in &rows {
            c.text(left + 1.0, top + 4.4, p.label_ja_size, col.text, &label.ja)?;
            c.text(left + 1.0, top + 7.9, p.label_en_size, col.muted, &label.en)?;
            let vx = left + p.label_width;
            let base = top + p.row_height * 0.5 + size * 0.36 / PT_PER_MM;
            c.text_fit(vx, base, *size, width - p.label_width, col.text, value)?;
            top += p.row_height;
            c.hline(left, left + width, top, 0.3, col.rule);
        }

        // Doses.
        let d = &l.doses;
        let heading_y = top + d.gap_before;
        c.section_heading(left, heading_y, &l.text.section_doses, col)?;
        let table_top = heading_y + d.heading_to_table;
        let rows_top = table_top + d.header_height;
        let band = l.qr_band_height(doc.vdsnc_qr.is_some());
        let room = l.note.top - l.qr.space - band - l.qr.space - rows_top;
        let row_h = d.row_height.min(room / doc.doses.len() as f32);
        if row_h < d.min_row_height {
            return Err(Error::Content("too many doses to fit on the page"));
        }
        let heads = [
            &l.text.dose_seq,
            &l.text.dose_date,
            &l.text.dose_product,
            &l.text.dose_manufacturer,
            &l.text.dose_lot,
        ];
        c.fill_rect(left, table_top, width, d.header_height, col.accent_light);
        let pad = 2.0;
        let mut x = left;
        for (head, w) in heads.iter().zip(d.columns) {
            c.text_fit(
                x + pad,
                table_top + 3.9,
                d.label_ja_size,
                w - 2.0 * pad,
                col.accent,
                &head.ja,
            )?;
            c.text_fit(
                x + pad,
                table_top + 7.2,
                d.label_en_size,
                w - 2.0 * pad,
                col.muted,
                &head.en,
            )?;
            x += w;
        }
        let mut top = rows_top;
        for (i, dose) in doc.doses.iter().enumerate() {
            if i % 2 == 1 {
                c.fill_rect(left, top, width, row_h, col.zebra);
            }
            let one_line = top + row_h * 0.5 + d.value_size * 0.36 / PT_PER_MM;
            // Two-line cells (Japanese over English) shrink with the row and stay centred:
            // ascent ≈ 0.8 em, descent ≈ 0.15 em, 0.5 mm between the lines.
            let shrink = (row_h / d.row_height).clamp(0.8, 1.0);
            let (ja_size, en_size) = (d.product_ja_size * shrink, d.product_en_size * shrink);
            let (ja_h, en_h) = (ja_size / PT_PER_MM, en_size / PT_PER_MM);
            let block = 0.8 * ja_h + 0.5 + 0.95 * en_h;
            let first = top + (row_h - block) / 2.0 + 0.8 * ja_h;
            let second = first + 0.5 + 0.8 * en_h;
            let cols = d.columns;
            let mut x = left;
            let seq = dose.seq.to_string();
            c.text_centered(x + cols[0] / 2.0, one_line, d.value_size, col.text, &seq)?;
            x += cols[0];
            c.text_fit(
                x + pad,
                one_line,
                d.value_size,
                cols[1] - 2.0 * pad,
                col.text,
                &dose.date.iso(),
            )?;
            x += cols[1];
            let w = cols[2] - 2.0 * pad;
            c.text_fit(x + pad, first, ja_size, w, col.text, dose.product.name_ja)?;
            c.text_fit(x + pad, second, en_size, w, col.muted, dose.product.name_en)?;
            x += cols[2];
            let w = cols[3] - 2.0 * pad;
            c.text_fit(
                x + pad,
                first,
                ja_size,
                w,
                col.text,
                dose.product.manufacturer_ja,
            )?;
            c.text_fit(
                x + pad,
                second,
                en_size,
                w,
                col.muted,
                dose.product.manufacturer_en,
            )?;
            x += cols[3];
            c.text_fit(
                x + pad,
                one_line,
                d.value_size,
                cols[4] - 2.0 * pad,
                col.text,
                &dose.lot,
            )?;
            top += row_h;
        }
        // Borders: outer frame, header rule, column rules.
        c.hline(left, left + width, rows_top, 0.6, col.accent);
        c.stroke_rect(left, table_top, width, top - table_top, 0.6, col.rule);
        let mut x = left;
        for w in &d.columns[..4] {
            x += w;
            c.vline(x, table_top, top, 0.3, col.rule);
        }

        // QR codes: a headed band centred in the space between the table and the note; the
        // codes are centred on each other and their labels share one baseline.
        let q = &l.qr;
        let free = l.note.top - top - 2.0 * q.space;
        let band_top = top + q.space + ((free - band) / 2.0).max(0.0);
        c.section_heading(left, band_top + 4.5, &l.text.section_qr, col)?;
        let tallest = if doc.vdsnc_qr.is_some() {
            q.vdsnc_width
        } else {
            q.shc_width
        };
        let bottom = band_top + q.heading_gap + tallest;
        let mut codes: Vec<(&crate::formats::qr::Matrix, f32, &Bilingual)> =
            vec![(doc.shc_qr, q.shc_width, &l.text.qr_shc)];
        if let Some(v) = doc.vdsnc_qr {
            codes.push((v, q.vdsnc_width, &l.text.qr_vdsnc));
        }
        let total: f32 =
            codes.iter().map(|(_, w, _)| w).sum::<f32>() + q.gap * (codes.len() - 1) as f32;
        let mut x = center - total / 2.0;
        for (code, w, label) in codes {
            let modules = code.width() + 2 * QUIET_ZONE;
            if w / (modules as f32) < MIN_MODULE_MM {
                return Err(Error::Content(
                    "a QR code is too dense for its printed width",
                ));
            }
            // Centred on the tallest code: no finder pattern of one code lines up with one of
            // the other, which made rqrr pair them up wrongly and miss a code.
            let top = bottom - tallest + (tallest - w) / 2.0;
            c.qr(x, top, w, code);
            if q.frame > 0.0 {
                c.stroke_rect(x, top, w, w, q.frame, col.rule);
            }
            let cx = x + w / 2.0;
            c.text_centered(
                cx,
                bottom + q.label_gap,
                q.label_ja_size,
                col.accent,
                &label.ja,
            )?;
            c.text_centered(
                cx,
                bottom + q.label_gap + 3.6,
                q.label_en_size,
                col.muted,
                &label.en,
            )?;
            x += w + q.gap;
        }

        // How to verify.
        let n = &l.note;
        c.fill_rect(left, n.top, width, n.height, col.zebra);
        c.fill_rect(left, n.top, 1.2, n.height, col.accent);
        let tx = left + 4.0;
        let tw = width - 7.0;
        c.label_inline(
            tx,
            n.top + 4.6,
            n.heading_size,
            n.heading_size * 0.85,
            &l.text.note_heading,
            col,
        )?;
        let mut y = n.top + 4.6 + n.line_height + 0.6;
        // One size per language, the largest at which every line of it fits.
        let group_size = |c: &Canvas<'_>, lines: &[String], size: f32| {
            lines
                .iter()
                .map(|line| c.fitting_size(line, size, tw))
                .fold(size, f32::min)
        };
        let ja_size = group_size(c, &l.text.note_ja, n.text_ja_size);
        for line in &l.text.note_ja {
            c.text(tx, y, ja_size, col.text, line)?;
            y += n.line_height;
        }
        let en_size = group_size(c, &l.text.note_en, n.text_en_size);
        for line in &l.text.note_en {
            c.text(tx, y, en_size, col.muted, line)?;
            y += n.line_height * 0.92;
        }

        let f = &l.footer;
        c.fill_rect(0.0, l.page.height - 2.0, l.page.width, 2.0, col.accent);
        c.text_fit_centered(center, f.y, f.size, width, col.muted, &l.text.footer)?;
        Ok(())
    }
}

/// Deflate every stream that has no filter yet. lopdf's `compress` uses the best (slowest)
/// level, which took 70 % of the render time on the QR content for a few percent of size.
fn compress_streams(doc: &mut lopdf::Document) -> Result<(), Error> {
    use std::io::Write as _;
    for object in doc.objects.values_mut() {
        if let lopdf::Object::Stream(stream) = object
            && stream.allows_compression
            && stream.dict.get(b"Filter").is_err()
        {
            let mut z = flate2::write::ZlibEncoder::new(
                Vec::with_capacity(stream.content.len() / 3),
                flate2::Compression::new(DEFLATE_LEVEL),
            );
            z.write_all(&stream.content)
                .map_err(|e| Error::Write(e.to_string()))?;
            let packed = z.finish().map_err(|e| Error::Write(e.to_string()))?;
            if packed.len() < stream.content.len() {
                stream.dict.set("Filter", "FlateDecode");
                stream.set_content(packed);
            }
        }
    }
    Ok(())
}

/// Append already-written content to the (single, uncompressed) page content stream.
fn append_page_content(doc: &mut lopdf::Document, raw: &[u8]) -> Result<(), Error> {
    let page = *doc
        .get_pages()
        .values()
        .next()
        .ok_or(Error::Write("no page".into()))?;
    let contents = doc
        .get_dictionary(page)
        .and_then(|d| d.get(b"Contents"))
        .and_then(lopdf::Object::as_reference)
        .map_err(|e| Error::Write(e.to_string()))?;
    let stream = doc
        .get_object_mut(contents)
        .and_then(lopdf::Object::as_stream_mut)
        .map_err(|e| Error::Write(e.to_string()))?;
    let mut content = std::mem::take(&mut stream.content);
    content.push(b'\n');
    content.extend_from_slice(raw);
    stream.set_content(content);
    Ok(())
}

/// The issue date at 00:00 in Japan, as the document's creation date (the signing time is
/// in the signature). `None` unless the text is a real `YYYY-MM-DD` date.
fn issue_midnight_jst(date: &str) -> Option<printpdf::OffsetDateTime> {
    let day = crate::domain::BirthDate::parse(date).ok()?;
    if date.len() != 10 {
        return None;
    }
    let iso = day.iso();
    let date = crate::date::real(
        iso[..4].parse().ok()?,
        iso[5..7].parse().ok()?,
        iso[8..].parse().ok()?,
    )?;
    printpdf::OffsetDateTime::from_unix_timestamp(crate::date::midnight_jst(date)).ok()
}

/// The rules a document must follow before it is drawn.
fn check_content(doc: &CertificateDocument<'_>) -> Result<(), Error> {
    if doc.doses.is_empty() {
        return Err(Error::Content("a certificate needs at least one dose"));
    }
    match doc.kind {
        Kind::Domestic => {
            if doc.vdsnc_qr.is_some()
                || doc.name_roman.is_some()
                || doc.passport_number_masked.is_some()
            {
                return Err(Error::Content(
                    "a domestic certificate carries no passport data and no VDS-NC",
                ));
            }
        }
        Kind::Overseas => {
            if doc.vdsnc_qr.is_none() {
                return Err(Error::Content(
                    "an overseas certificate needs its VDS-NC QR",
                ));
            }
            if doc.name_roman.is_none_or(|n| n.trim().is_empty()) {
                return Err(Error::Content(
                    "an overseas certificate needs the romanised name",
                ));
            }
        }
    }
    Ok(())
}

fn rgb(c: HexColor) -> Color {
    Color::Rgb(Rgb {
        r: c.0[0],
        g: c.0[1],
        b: c.0[2],
        icc_profile: None,
    })
}

fn mm(v: f32) -> Pt {
    Pt(v * PT_PER_MM)
}

/// The page being drawn: printpdf ops in top-left millimetre coordinates.
struct Canvas<'f> {
    glyphs: &'f Glyphs,
    ops: Vec<Op>,
    /// Content drawn after `ops`, already in PDF syntax (the QR codes).
    raw: String,
    font_id: FontId,
    page_height: f32,
    units_per_em: f32,
}

impl Canvas<'_> {
    fn point(&self, x: f32, y_top: f32) -> Point {
        Point {
            x: mm(x),
            y: mm(self.page_height - y_top),
        }
    }

    /// Text width in mm at `size` points.
    fn width(&self, s: &str, size: f32) -> f32 {
        let units: u32 = s
            .chars()
            .map(|ch| self.glyphs.get(ch).map_or(0, |(_, adv)| u32::from(adv)))
            .sum();
        units as f32 / self.units_per_em * size / PT_PER_MM
    }

    fn text(
        &mut self,
        x: f32,
        baseline: f32,
        size: f32,
        color: HexColor,
        s: &str,
    ) -> Result<(), Error> {
        if s.is_empty() {
            return Ok(());
        }
        let mut glyphs = Vec::with_capacity(s.len());
        for ch in s.chars() {
            let (gid, _) = self.glyphs.get(ch).ok_or(Error::MissingGlyph(ch as u32))?;
            glyphs.push(Codepoint {
                gid,
                offset: 0.0,
                cid: Some(ch.to_string()),
            });
        }
        let pos = self.point(x, baseline);
        self.ops.extend([
            Op::StartTextSection,
            Op::SetFont {
                font: PdfFontHandle::External(self.font_id.clone()),
                size: Pt(size),
            },
            Op::SetFillColor { col: rgb(color) },
            Op::SetTextCursor { pos },
            Op::ShowText {
                items: vec![TextItem::GlyphIds(glyphs)],
            },
            Op::EndTextSection,
        ]);
        Ok(())
    }

    fn text_centered(
        &mut self,
        cx: f32,
        baseline: f32,
        size: f32,
        color: HexColor,
        s: &str,
    ) -> Result<(), Error> {
        let w = self.width(s, size);
        self.text(cx - w / 2.0, baseline, size, color, s)
    }

    /// The size at which `s` fits `max_width`: `size`, or smaller down to 60 % of it.
    fn fitting_size(&self, s: &str, size: f32, max_width: f32) -> f32 {
        let w = self.width(s, size);
        if w <= max_width || w == 0.0 {
            size
        } else {
            (size * max_width / w).max(size * 0.6)
        }
    }

    fn text_fit(
        &mut self,
        x: f32,
        baseline: f32,
        size: f32,
        max_width: f32,
        color: HexColor,
        s: &str,
    ) -> Result<(), Error> {
        let size = self.fitting_size(s, size, max_width);
        self.text(x, baseline, size, color, s)
    }

    fn text_fit_centered(
        &mut self,
        cx: f32,
        baseline: f32,
        size: f32,
        max_width: f32,
        color: HexColor,
        s: &str,
    ) -> Result<(), Error> {
        let size = self.fitting_size(s, size, max_width);
        self.text_centered(cx, baseline, size, color, s)
    }

    /// "日本語 English" on one baseline: Japanese in the accent colour, English muted.
    fn label_inline(
        &mut self,
        x: f32,
        baseline: f32,
        ja_size: f32,
        en_size: f32,
        label: &Bilingual,
        col: &super::layout::Colors,
    ) -> Result<(), Error> {
        self.text(x, baseline, ja_size, col.accent, &label.ja)?;
        let w = self.width(&label.ja, ja_size);
        self.text(x + w + 2.0, baseline, en_size, col.muted, &label.en)
    }

    fn section_heading(
        &mut self,
        x: f32,
        baseline: f32,
        label: &Bilingual,
        col: &super::layout::Colors,
    ) -> Result<(), Error> {
        self.fill_rect(x, baseline - 3.6, 1.2, 4.4, col.accent);
        self.label_inline(x + 3.0, baseline, 10.5, 8.5, label, col)
    }

    fn fill_rect(&mut self, x: f32, top: f32, w: f32, h: f32, color: HexColor) {
        let ll = self.point(x, top + h);
        self.ops.push(Op::SetFillColor { col: rgb(color) });
        self.ops.push(Op::DrawRectangle {
            rectangle: Rect {
                x: ll.x,
                y: ll.y,
                width: mm(w),
                height: mm(h),
                mode: Some(PaintMode::Fill),
                winding_order: None,
            },
        });
    }

    fn stroke_rect(
        &mut self,
        x: f32,
        top: f32,
        w: f32,
        h: f32,
        thickness_pt: f32,
        color: HexColor,
    ) {
        let ll = self.point(x, top + h);
        self.ops.push(Op::SetOutlineColor { col: rgb(color) });
        self.ops.push(Op::SetOutlineThickness {
            pt: Pt(thickness_pt),
        });
        self.ops.push(Op::DrawRectangle {
            rectangle: Rect {
                x: ll.x,
                y: ll.y,
                width: mm(w),
                height: mm(h),
                mode: Some(PaintMode::Stroke),
                winding_order: None,
            },
        });
    }

    fn hline(&mut self, x1: f32, x2: f32, y: f32, thickness_pt: f32, color: HexColor) {
        // A filled hairline rectangle: exact width, no line-cap questions.
        let h = thickness_pt / PT_PER_MM;
        self.fill_rect(x1, y - h / 2.0, x2 - x1, h, color);
    }

    fn vline(&mut self, x: f32, y1: f32, y2: f32, thickness_pt: f32, color: HexColor) {
        let w = thickness_pt / PT_PER_MM;
        self.fill_rect(x - w / 2.0, y1, w, y2 - y1, color);
    }

    /// A QR code as filled vector squares: one path holding a rectangle per horizontal run
    /// of dark modules, filled once (no seams between rows), in module units under a scaling
    /// matrix so the numbers stay small integers. Written straight into [`Canvas::raw`]:
    /// printpdf's per-operation objects cost more than the whole rest of the page.
    /// `width` includes the quiet zone, which is painted white.
    fn qr(&mut self, x: f32, top: f32, width: f32, code: &crate::formats::qr::Matrix) {
        use std::fmt::Write as _;
        let n = code.width();
        let module = width / (n + 2 * QUIET_ZONE) as f32;
        let qz = module * QUIET_ZONE as f32;
        let origin = self.point(x + qz, top + width - qz);
        self.fill_rect(x, top, width, width, WHITE);
        let s = module * PT_PER_MM;
        let raw = &mut self.raw;
        let _ = write!(
            raw,
            "q\n{s:.5} 0 0 {s:.5} {:.3} {:.3} cm\n0 g\n",
            origin.x.0, origin.y.0
        );
        let colors = code.to_colors();
        for (row, line) in colors.chunks_exact(n).enumerate() {
            let y = n - 1 - row;
            let mut col = 0;
            while col < n {
                if line[col] == qrcode::Color::Dark {
                    let start = col;
                    while col < n && line[col] == qrcode::Color::Dark {
                        col += 1;
                    }
                    let _ = writeln!(raw, "{start} {y} {} 1 re", col - start);
                } else {
                    col += 1;
                }
            }
        }
        raw.push_str("f\nQ\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_font_keeps_its_glyphs_but_maps_no_characters_and_names_no_glyphs() {
        let bytes = std::fs::read(Layout::templates_dir().join("fonts/ipaexg.ttf")).unwrap();
        let full = ParsedFont::from_bytes(&bytes, 0, &mut Vec::new()).unwrap();
        let stripped = for_embedding(&bytes).unwrap();
        let embed = ParsedFont::from_bytes(&stripped, 0, &mut Vec::new()).unwrap();
        assert_eq!(embed.num_glyphs, full.num_glyphs);
        let kanji = full.lookup_glyph_index('証' as u32).unwrap();
        assert_ne!(kanji, 0);
        assert_eq!(
            embed.get_horizontal_advance(kanji),
            full.get_horizontal_advance(kanji)
        );
        assert!(matches!(
            embed.lookup_glyph_index('証' as u32),
            None | Some(0)
        ));
        assert!(for_embedding(b"not a font").is_none());
    }

    #[test]
    fn the_creation_date_is_midnight_in_japan_on_the_issue_date() {
        let t = issue_midnight_jst("2026-11-22").unwrap();
        let u = printpdf::OffsetDateTime::from_unix_timestamp(1_795_305_600 - 9 * 3600).unwrap();
        assert_eq!(t, u);
        assert!(issue_midnight_jst("20261122").is_none());
        assert!(issue_midnight_jst("2026-02-30").is_none());
    }
}
