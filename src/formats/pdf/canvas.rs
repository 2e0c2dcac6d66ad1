//! Drawing primitives for one page: text (measured, fitted, centred) in top-left millimetre
//! coordinates, rules, rectangles and QR codes as vector squares. `render` decides where things
//! go; this module only draws them.

use printpdf::{
    Codepoint, Color, FontId, Op, PdfFontHandle, Point, Pt, Rect, Rgb, TextItem,
    graphics::PaintMode,
};

use super::Error;
use super::font::Glyphs;
use super::layout::{Bilingual, HexColor};

/// QR quiet zone, in modules, on each side (ISO/IEC 18004 asks for 4).
pub(super) const QUIET_ZONE: usize = 4;
pub(super) const PT_PER_MM: f32 = 72.0 / 25.4;
pub(super) const WHITE: HexColor = HexColor([1.0, 1.0, 1.0]);

pub(super) fn rgb(c: HexColor) -> Color {
    Color::Rgb(Rgb {
        r: c.0[0],
        g: c.0[1],
        b: c.0[2],
        icc_profile: None,
    })
}

pub(super) fn mm(v: f32) -> Pt {
    Pt(v * PT_PER_MM)
}

/// The page being drawn: printpdf ops in top-left millimetre coordinates.
pub(super) struct Canvas<'f> {
    pub(super) glyphs: &'f Glyphs,
    pub(super) ops: Vec<Op>,
    /// Content drawn after `ops`, already in PDF syntax (the QR codes).
    pub(super) raw: String,
    pub(super) font_id: FontId,
    pub(super) page_height: f32,
    pub(super) units_per_em: f32,
}

impl Canvas<'_> {
    pub(super) fn point(&self, x: f32, y_top: f32) -> Point {
        Point {
            x: mm(x),
            y: mm(self.page_height - y_top),
        }
    }

    /// Text width in mm at `size` points.
    pub(super) fn width(&self, s: &str, size: f32) -> f32 {
        let units: u32 = s
            .chars()
            .map(|ch| self.glyphs.get(ch).map_or(0, |(_, adv)| u32::from(adv)))
            .sum();
        units as f32 / self.units_per_em * size / PT_PER_MM
    }

    pub(super) fn text(
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

    pub(super) fn text_centered(
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
    pub(super) fn fitting_size(&self, s: &str, size: f32, max_width: f32) -> f32 {
        let w = self.width(s, size);
        if w <= max_width || w == 0.0 {
            size
        } else {
            (size * max_width / w).max(size * 0.6)
        }
    }

    pub(super) fn text_fit(
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

    pub(super) fn text_fit_centered(
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
    pub(super) fn label_inline(
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

    pub(super) fn section_heading(
        &mut self,
        x: f32,
        baseline: f32,
        label: &Bilingual,
        col: &super::layout::Colors,
    ) -> Result<(), Error> {
        self.fill_rect(x, baseline - 3.6, 1.2, 4.4, col.accent);
        self.label_inline(x + 3.0, baseline, 10.5, 8.5, label, col)
    }

    pub(super) fn fill_rect(&mut self, x: f32, top: f32, w: f32, h: f32, color: HexColor) {
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

    pub(super) fn stroke_rect(
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

    pub(super) fn hline(&mut self, x1: f32, x2: f32, y: f32, thickness_pt: f32, color: HexColor) {
        // A filled hairline rectangle: exact width, no line-cap questions.
        let h = thickness_pt / PT_PER_MM;
        self.fill_rect(x1, y - h / 2.0, x2 - x1, h, color);
    }

    pub(super) fn vline(&mut self, x: f32, y1: f32, y2: f32, thickness_pt: f32, color: HexColor) {
        let w = thickness_pt / PT_PER_MM;
        self.fill_rect(x - w / 2.0, y1, w, y2 - y1, color);
    }

    /// A QR code as filled vector squares: one path holding a rectangle per horizontal run
    /// of dark modules, filled once (no seams between rows), in module units under a scaling
    /// matrix so the numbers stay small integers. Written straight into [`Canvas::raw`]:
    /// printpdf's per-operation objects cost more than the whole rest of the page.
    /// `width` includes the quiet zone, which is painted white.
    pub(super) fn qr(&mut self, x: f32, top: f32, width: f32, code: &crate::formats::qr::Matrix) {
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
