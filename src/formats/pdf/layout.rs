//! The certificate's layout and wording, loaded from `templates/certificate.toml` so that
//! positions, sizes and text change without touching code. Lengths are millimetres, `y` values
//! are measured from the top of the page, font sizes are points.

use std::path::Path;

use serde::Deserialize;

use super::Error;

/// Everything the renderer places on the page, read once at start-up.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Layout {
    pub(super) page: Page,
    pub(super) colors: Colors,
    pub(super) header: Header,
    pub(super) info: Info,
    pub(super) person: Person,
    pub(super) doses: Doses,
    pub(super) qr: Qr,
    pub(super) note: Note,
    pub(super) footer: Footer,
    pub(super) text: Text,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Page {
    pub(super) width: f32,
    pub(super) height: f32,
    pub(super) margin: f32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Colors {
    pub(super) accent: HexColor,
    pub(super) accent_light: HexColor,
    pub(super) zebra: HexColor,
    pub(super) text: HexColor,
    pub(super) muted: HexColor,
    pub(super) rule: HexColor,
}

/// An RGB colour written `"1f3a68"`, parsed when the layout loads.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(try_from = "String")]
pub(super) struct HexColor(pub(super) [f32; 3]);

impl TryFrom<String> for HexColor {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        let s = s.trim_start_matches('#');
        if s.len() != 6 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!("colour {s:?} is not 6 hex digits"));
        }
        let c =
            |i: usize| u8::from_str_radix(&s[i..i + 2], 16).map_or(0.0, |v| f32::from(v) / 255.0);
        Ok(HexColor([c(0), c(2), c(4)]))
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Header {
    pub(super) band_height: f32,
    pub(super) title_ja_y: f32,
    pub(super) title_ja_size: f32,
    pub(super) title_en_y: f32,
    pub(super) title_en_size: f32,
    pub(super) kind_top: f32,
    pub(super) kind_height: f32,
    pub(super) kind_size: f32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Info {
    pub(super) top: f32,
    pub(super) height: f32,
    pub(super) label_ja_size: f32,
    pub(super) label_en_size: f32,
    pub(super) value_size: f32,
    pub(super) columns: [f32; 3],
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Person {
    pub(super) heading_y: f32,
    pub(super) first_row_top: f32,
    pub(super) row_height: f32,
    pub(super) label_width: f32,
    pub(super) label_ja_size: f32,
    pub(super) label_en_size: f32,
    pub(super) name_size: f32,
    pub(super) value_size: f32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Doses {
    pub(super) gap_before: f32,
    pub(super) heading_to_table: f32,
    pub(super) header_height: f32,
    pub(super) row_height: f32,
    pub(super) min_row_height: f32,
    pub(super) label_ja_size: f32,
    pub(super) label_en_size: f32,
    pub(super) value_size: f32,
    pub(super) product_ja_size: f32,
    pub(super) product_en_size: f32,
    pub(super) columns: [f32; 5],
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Qr {
    pub(super) space: f32,
    pub(super) heading_gap: f32,
    pub(super) shc_width: f32,
    pub(super) vdsnc_width: f32,
    pub(super) gap: f32,
    pub(super) label_gap: f32,
    pub(super) label_ja_size: f32,
    pub(super) label_en_size: f32,
    pub(super) frame: f32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Note {
    pub(super) top: f32,
    pub(super) height: f32,
    pub(super) heading_size: f32,
    pub(super) text_ja_size: f32,
    pub(super) text_en_size: f32,
    pub(super) line_height: f32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Footer {
    pub(super) y: f32,
    pub(super) size: f32,
}

/// One label in both languages.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Bilingual {
    pub(super) ja: String,
    pub(super) en: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Text {
    pub(super) title_ja: String,
    pub(super) title_en: String,
    pub(super) kind_domestic: Bilingual,
    pub(super) kind_overseas: Bilingual,
    pub(super) section_certificate: Bilingual,
    pub(super) certificate_id: Bilingual,
    pub(super) issued_on: Bilingual,
    pub(super) municipality: Bilingual,
    pub(super) section_person: Bilingual,
    pub(super) name: Bilingual,
    pub(super) name_roman: Bilingual,
    pub(super) former_name: Bilingual,
    pub(super) alias: Bilingual,
    pub(super) passport: Bilingual,
    pub(super) nationality: Bilingual,
    pub(super) birth_date: Bilingual,
    pub(super) section_doses: Bilingual,
    pub(super) dose_seq: Bilingual,
    pub(super) dose_date: Bilingual,
    pub(super) dose_product: Bilingual,
    pub(super) dose_manufacturer: Bilingual,
    pub(super) dose_lot: Bilingual,
    pub(super) section_qr: Bilingual,
    pub(super) qr_shc: Bilingual,
    pub(super) qr_vdsnc: Bilingual,
    pub(super) note_heading: Bilingual,
    pub(super) note_ja: Vec<String>,
    pub(super) note_en: Vec<String>,
    pub(super) footer: String,
}

/// The smallest QR width the issue allows (mm), so a phone camera or a 300 dpi scan reads it.
pub const MIN_QR_WIDTH_MM: f32 = 40.0;

impl Layout {
    /// Read and check a layout file.
    ///
    /// # Errors
    /// [`Error::LayoutRead`] when the file cannot be read, [`Error::LayoutInvalid`] when it is
    /// not valid TOML of this shape or breaks a rule (QR narrower than 40 mm, columns that do
    /// not fill the text width, QR codes wider than the page).
    pub fn load(path: &Path) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::LayoutRead {
            path: path.display().to_string(),
            reason: e.kind().to_string(),
        })?;
        Self::parse(&text)
    }

    /// The layout compiled into the binary from `templates/certificate.toml`: the one every
    /// deployment uses unless it names its own, so the binary works from any folder.
    ///
    /// # Errors
    /// As [`Layout::parse`].
    pub fn bundled() -> Result<Self, Error> {
        Self::parse(include_str!("../../../templates/certificate.toml"))
    }

    /// Parse a layout from TOML text and check its rules.
    ///
    /// # Errors
    /// [`Error::LayoutInvalid`].
    pub fn parse(text: &str) -> Result<Self, Error> {
        let layout: Layout =
            toml::from_str(text).map_err(|e| Error::LayoutInvalid(e.message().to_owned()))?;
        layout.check()?;
        Ok(layout)
    }

    fn check(&self) -> Result<(), Error> {
        let bad = |s: String| Err(Error::LayoutInvalid(s));
        let text_width = self.page.width - 2.0 * self.page.margin;
        if self.qr.shc_width < MIN_QR_WIDTH_MM || self.qr.vdsnc_width < MIN_QR_WIDTH_MM {
            return bad(format!(
                "QR codes must be at least {MIN_QR_WIDTH_MM} mm wide"
            ));
        }
        if self.qr.shc_width + self.qr.gap + self.qr.vdsnc_width > text_width {
            return bad("the two QR codes do not fit side by side".into());
        }
        let cols: f32 = self.doses.columns.iter().sum();
        if (cols - text_width).abs() > 0.5 {
            return bad(format!(
                "dose columns add up to {cols} mm, the text width is {text_width} mm"
            ));
        }
        let shares: f32 = self.info.columns.iter().sum();
        if (shares - 1.0).abs() > 0.01 {
            return bad("info column shares must add up to 1".into());
        }
        if self.doses.min_row_height > self.doses.row_height {
            return bad("doses.min_row_height is larger than doses.row_height".into());
        }
        // The fullest page: four person rows, one dose at the smallest row height, both QRs.
        let p = &self.person;
        let d = &self.doses;
        let fullest = p.first_row_top
            + 4.0 * p.row_height
            + d.gap_before
            + d.heading_to_table
            + d.header_height
            + d.min_row_height;
        if fullest + 2.0 * self.qr.space + self.qr_band_height(true) > self.note.top {
            return bad("the QR codes do not fit above the verification note".into());
        }
        Ok(())
    }

    /// Height of the QR band: heading, the taller code, two label lines.
    pub(super) fn qr_band_height(&self, with_vdsnc: bool) -> f32 {
        let q = &self.qr;
        let tallest = if with_vdsnc {
            q.vdsnc_width
        } else {
            q.shc_width
        };
        q.heading_gap + tallest + q.label_gap + 5.0
    }
}
