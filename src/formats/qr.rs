//! QR codes built segment by segment: SHC wants `shc:/` in byte mode then the digits in numeric
//! mode at level L, version ≤ 22; VDS-NC wants byte mode (about version 30).
//!
//! The `qrcode` crate does the bits, the Reed–Solomon codewords, the function patterns and the
//! masks. Choosing the mask is ours: the crate's `apply_best_mask` took 12.7 ms for a
//! version-18 SHC (`benches/issue.rs`, `qr/with_bits_direct_version`) because its finder-pattern
//! penalty boxes a closure per module; [`Matrix`] scores the eight masks on a plain grid with
//! ISO/IEC 18004 §7.8.3's rules N1–N4.

use qrcode::bits::Bits;
use qrcode::canvas::{Canvas, MaskPattern};
use qrcode::{Color, EcLevel, Version};

use super::Error;

/// A finished QR symbol: its version and its modules, row by row, `true` = dark.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matrix {
    version: i16,
    width: usize,
    dark: Vec<bool>,
}

const MASKS: [MaskPattern; 8] = [
    MaskPattern::Checkerboard,
    MaskPattern::HorizontalLines,
    MaskPattern::VerticalLines,
    MaskPattern::DiagonalLines,
    MaskPattern::LargeCheckerboard,
    MaskPattern::Fields,
    MaskPattern::Diamonds,
    MaskPattern::Meadow,
];

impl Matrix {
    fn from_bits(bits: Bits, level: EcLevel) -> Result<Self, Error> {
        let version = bits.version();
        let v = match version {
            Version::Normal(v) | Version::Micro(v) => v,
        };
        let data = bits.into_bytes();
        let (codewords, ec) = qrcode::ec::construct_codewords(&data, version, level)
            .map_err(|e| Error::Qr(e.to_string()))?;
        let mut canvas = Canvas::new(version, level);
        canvas.draw_all_functional_patterns();
        canvas.draw_data(&codewords, &ec);
        let width = (17 + 4 * v) as usize;
        let best = MASKS
            .iter()
            .map(|m| {
                let mut c = canvas.clone();
                c.apply_mask(*m);
                let dark: Vec<bool> = c
                    .into_colors()
                    .into_iter()
                    .map(|c| c == Color::Dark)
                    .collect();
                (penalty(&dark, width), dark)
            })
            .min_by_key(|(score, _)| *score)
            .map(|(_, dark)| dark)
            .ok_or_else(|| Error::Qr("no mask".into()))?;
        Ok(Matrix {
            version: v,
            width,
            dark: best,
        })
    }

    /// Modules per side, without the quiet zone.
    pub fn width(&self) -> usize {
        self.width
    }

    /// The QR version (1–40).
    pub fn version(&self) -> i16 {
        self.version
    }

    /// Whether the module at column `x`, row `y` is dark.
    pub fn is_dark(&self, x: usize, y: usize) -> bool {
        self.dark[y * self.width + x]
    }

    /// Every module, row by row.
    pub fn to_colors(&self) -> Vec<Color> {
        self.dark
            .iter()
            .map(|d| if *d { Color::Dark } else { Color::Light })
            .collect()
    }
}

/// ISO/IEC 18004 §7.8.3 penalty: N1 runs of five or more, N2 2×2 blocks, N3 finder-like
/// 1:1:3:1:1 patterns with four light modules on a side, N4 dark/light balance.
fn penalty(dark: &[bool], w: usize) -> u32 {
    let at = |x: usize, y: usize, horizontal: bool| {
        if horizontal {
            dark[y * w + x]
        } else {
            dark[x * w + y]
        }
    };
    let mut score = 0u32;
    for horizontal in [true, false] {
        for line in 0..w {
            // N1
            let mut run = 1u32;
            for i in 1..=w {
                if i < w && at(i, line, horizontal) == at(i - 1, line, horizontal) {
                    run += 1;
                } else {
                    if run >= 5 {
                        score += run - 2;
                    }
                    run = 1;
                }
            }
            // N3
            for i in 0..w.saturating_sub(6) {
                let p = [true, false, true, true, true, false, true];
                if (0..7).all(|k| at(i + k, line, horizontal) == p[k]) {
                    let light = |from: isize| {
                        (from..from + 4)
                            .all(|k| k < 0 || k as usize >= w || !at(k as usize, line, horizontal))
                    };
                    if light(i as isize - 4) || light(i as isize + 7) {
                        score += 40;
                    }
                }
            }
        }
    }
    // N2
    for y in 0..w - 1 {
        for x in 0..w - 1 {
            let c = dark[y * w + x];
            if dark[y * w + x + 1] == c
                && dark[(y + 1) * w + x] == c
                && dark[(y + 1) * w + x + 1] == c
            {
                score += 3;
            }
        }
    }
    // N4
    let n_dark = dark.iter().filter(|d| **d).count() as u32;
    let percent = n_dark * 100 / (w * w) as u32;
    score + (percent.abs_diff(50) / 5) * 10
}

/// The largest QR version SHC allows.
pub const SHC_MAX_VERSION: i16 = 22;

fn smallest(
    max_version: i16,
    level: EcLevel,
    fill: impl Fn(&mut Bits) -> qrcode::types::QrResult<()>,
) -> Result<Matrix, Error> {
    for v in 1..=max_version {
        let mut bits = Bits::new(Version::Normal(v));
        if fill(&mut bits).is_ok() && bits.push_terminator(level).is_ok() {
            return Matrix::from_bits(bits, level);
        }
    }
    Err(Error::Qr(format!(
        "does not fit a version-{max_version} QR at level {level:?}"
    )))
}

/// `shc:/` (byte) + numeric digits, level L, the smallest version up to 22.
///
/// # Errors
/// [`Error::Qr`] when it does not fit version 22.
pub fn shc(numeric: &str) -> Result<Matrix, Error> {
    smallest(SHC_MAX_VERSION, EcLevel::L, |b| {
        b.push_byte_data(b"shc:/")?;
        b.push_numeric_data(numeric.as_bytes())
    })
}

/// All of `data` in byte mode, level L, the smallest version up to 40.
///
/// # Errors
/// [`Error::Qr`] when it does not fit at all.
pub fn bytes(data: &[u8]) -> Result<Matrix, Error> {
    smallest(40, EcLevel::L, |b| b.push_byte_data(data))
}

/// The version number of a code.
pub fn version(code: &Matrix) -> i16 {
    code.version()
}

/// A greyscale PNG: `module_px` pixels per module and a 4-module quiet zone.
///
/// # Errors
/// [`Error::Encoding`] if the PNG encoder fails.
pub fn png(code: &Matrix, module_px: u32) -> Result<Vec<u8>, Error> {
    let w = code.width() as u32;
    let side = (w + 8) * module_px;
    let colors = code.to_colors();
    let img = image::GrayImage::from_fn(side, side, |x, y| {
        let (mx, my) = (x / module_px, y / module_px);
        let dark = mx >= 4
            && my >= 4
            && mx < w + 4
            && my < w + 4
            && colors[((my - 4) * w + (mx - 4)) as usize] == Color::Dark;
        image::Luma([if dark { 0 } else { 255 }])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png)
        .map_err(|e| Error::Encoding(e.to_string()))?;
    Ok(out.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_mask_choice_still_decodes() {
        let text = "shc:/5676290952432060346029243740446031222959532654603460292540772804336028702864716745222809286133314564376531415906402203064504590856435503414245413640370636654171372412363803043756220467374075323239254334433260573601064529223209606937064323260355043706416528377005407700726452536266395662286239032640536552683663655540032970520707622341643436573005044370";
        let digits = &text[5..];
        let m = shc(digits).unwrap();
        let png = png(&m, 4).unwrap();
        let img = image::load_from_memory(&png).unwrap().to_luma8();
        let mut prepared = rqrr::PreparedImage::prepare(img);
        let grids = prepared.detect_grids();
        assert_eq!(grids.len(), 1);
        let (meta, decoded) = grids[0].decode().unwrap();
        assert_eq!(decoded, text);
        assert_eq!(meta.version.0 as i16, m.version());
    }

    #[test]
    fn penalty_prefers_balanced_symbols() {
        let all_dark = vec![true; 21 * 21];
        let half: Vec<bool> = (0..21 * 21).map(|i| (i % 21 + i / 21) % 2 == 0).collect();
        assert!(penalty(&all_dark, 21) > penalty(&half, 21));
    }
}
