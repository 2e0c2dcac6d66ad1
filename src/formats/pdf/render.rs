//! Lays a [`CertificateDocument`] out on one A4 page (what goes where, from the layout file),
//! drawn through `canvas`, and writes the unsigned PDF, already carrying the empty signature
//! field [`super::PdfSigner`] fills in.

use printpdf::{ParsedFont, PdfDocument, PdfPage, PdfSaveOptions};

use super::canvas::{Canvas, PT_PER_MM, QUIET_ZONE, WHITE};
use super::font::{Glyphs, for_embedding};
use super::layout::{Bilingual, Layout};
use super::{CertificateDocument, Error, sign};
use crate::domain::Kind;

/// The smallest module the renderer accepts, in mm: 3 pixels at 300 dpi.
const MIN_MODULE_MM: f32 = 0.254;
/// zlib level for the streams. Level 1 (miniz's fast path) halves the render time against level 2
/// for about 10 % more bytes (overseas: 93 KB instead of 84 KB, well under 150 KB).
const DEFLATE_LEVEL: u32 = 1;

/// IPAex Gothic, the font every certificate embeds (subset).
const BUNDLED_FONT: &[u8] = include_bytes!("../../../templates/fonts/ipaexg.ttf");

/// Renders certificates. Holds the parsed font and the layout, so build it once and reuse it.
#[derive(Debug)]
pub struct PdfRenderer {
    layout: Layout,
    font: ParsedFont,
    glyphs: Glyphs,
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

    /// The renderer compiled into the binary: the bundled layout and IPAex Gothic
    /// (`templates/fonts/`, IPA Font License), so no file is read at start-up.
    ///
    /// # Errors
    /// As [`Layout::bundled`] and [`PdfRenderer::new`].
    pub fn bundled() -> Result<Self, Error> {
        Self::new(Layout::bundled()?, BUNDLED_FONT.to_vec())
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
            &t.nationality,
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
        // Each row: a label and its value; the passport row holds the nationality in its
        // right half, so the overseas kind keeps the room its dose table had.
        type Cell<'t> = (&'t Bilingual, String);
        let mut rows: Vec<(Cell<'_>, f32, Option<Cell<'_>>)> =
            vec![((&l.text.name, doc.name_kanji.to_owned()), p.name_size, None)];
        if let Some(roman) = doc.name_roman {
            let former = doc.former_name.map(|f| (&l.text.former_name, f.to_owned()));
            rows.push(((&l.text.name_roman, roman.to_owned()), p.value_size, former));
        }
        let nationality = doc
            .nationality
            .map(|code| (&l.text.nationality, nationality(code)));
        match doc.passport_number {
            Some(number) => rows.push((
                (&l.text.passport, number.to_owned()),
                p.value_size,
                nationality,
            )),
            None => rows.extend(nationality.map(|n| (n, p.value_size, None))),
        }
        rows.push((
            (&l.text.birth_date, doc.birth_date.iso()),
            p.value_size,
            doc.alias.map(|a| (&l.text.alias, a.to_owned())),
        ));
        let mut top = p.first_row_top;
        c.hline(left, left + width, top, 0.6, col.accent);
        let half = width * 0.5;
        for ((label, value), size, right) in &rows {
            let base = top + p.row_height * 0.5 + size * 0.36 / PT_PER_MM;
            let mut cell = |x: f32, w: f32, label: &Bilingual, value: &str| {
                c.text(x + 1.0, top + 4.4, p.label_ja_size, col.text, &label.ja)?;
                c.text(x + 1.0, top + 7.9, p.label_en_size, col.muted, &label.en)?;
                c.text_fit(
                    x + p.label_width,
                    base,
                    *size,
                    w - p.label_width,
                    col.text,
                    value,
                )
            };
            match right {
                None => cell(left, width, label, value)?,
                Some((label2, value2)) => {
                    cell(left, half, label, value)?;
                    cell(left + half, half, label2, value2)?;
                }
            }
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

/// A nationality code as printed: `JPN (Japan)`; the code alone when it names no country (an
/// MRZ code such as `XXA`, stateless).
fn nationality(code: &str) -> String {
    match isocountry::CountryCode::for_alpha3_caseless(code) {
        Ok(c) => format!("{code} ({})", c.name()),
        Err(_) => code.to_owned(),
    }
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
                || doc.passport_number.is_some()
                || doc.nationality.is_some()
                || doc.former_name.is_some()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_font_keeps_its_glyphs_but_maps_no_characters_and_names_no_glyphs() {
        let bytes = BUNDLED_FONT.to_vec();
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
