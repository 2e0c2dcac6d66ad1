//! QR codes from pictures: PNG or JPEG in, every readable code's text and version out
//! (`rqrr`). Image decoding is bounded (dimensions and memory), so a hostile picture cannot
//! exhaust the verifier.

use std::io::Cursor;

use super::error::Error;

/// One decoded QR code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QrCode {
    /// Its text.
    pub text: String,
    /// Its version (1–40); SHC allows at most 22.
    pub version: usize,
}

/// Whether the bytes start like a PNG or a JPEG.
pub fn is_image(bytes: &[u8]) -> bool {
    bytes.starts_with(b"\x89PNG\r\n\x1a\n") || bytes.starts_with(&[0xff, 0xd8, 0xff])
}

/// Whether the bytes are an SVG picture (the SMART spec publishes its example QR codes so).
pub fn is_svg(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(512)];
    let head = String::from_utf8_lossy(head);
    let t = head.trim_start();
    t.starts_with("<svg") || (t.starts_with("<?xml") && t.contains("<svg"))
}

/// Decode the QR code of an SVG drawn as node-qrcode draws it (one stroked path of
/// `M x y.5 h n m dx dy …` runs over a `viewBox="0 0 N N"`): rasterise the modules, then read the
/// pixels like any picture.
///
/// # Errors
/// [`Error::ImageUndecodable`] for any other SVG; [`Error::QrUnreadable`].
pub fn decode_svg(bytes: &[u8]) -> Result<Vec<QrCode>, Error> {
    const SCALE: u32 = 6;
    let text = std::str::from_utf8(bytes).map_err(|_| Error::ImageUndecodable)?;
    let attr = |from: &str, name: &str| -> Option<String> {
        let start = from.find(&format!("{name}=\""))? + name.len() + 2;
        let end = from[start..].find('"')? + start;
        Some(from[start..end].to_string())
    };
    let view = attr(text, "viewBox").ok_or(Error::ImageUndecodable)?;
    let size: u32 = view
        .split_whitespace()
        .nth(2)
        .and_then(|n| n.parse().ok())
        .filter(|n| (21..=200).contains(n))
        .ok_or(Error::ImageUndecodable)?;
    let stroke = text.find("stroke=").ok_or(Error::ImageUndecodable)?;
    let path = attr(&text[stroke..], "d").ok_or(Error::ImageUndecodable)?;
    let side = size * SCALE;
    let mut img = image::GrayImage::from_pixel(side, side, image::Luma([255]));
    let (mut x, mut y) = (0f64, 0f64);
    let mut tokens = Tokens::new(&path);
    // Every module is painted at most once in a real QR; a path that paints far more is hostile.
    let mut painted = 0u64;
    let budget = 4 * u64::from(side) * u64::from(side);
    while let Some(cmd) = tokens.command() {
        match cmd {
            'M' | 'm' => {
                let (dx, dy) = (tokens.number()?, tokens.number()?);
                if cmd == 'M' {
                    (x, y) = (dx, dy);
                } else {
                    (x, y) = (x + dx, y + dy);
                }
            }
            'h' => {
                let n = tokens.number()?;
                let row = (y - 0.5).round();
                if row >= 0.0 && row < size as f64 && n > 0.0 {
                    let (x0, x1) = (x.max(0.0), (x + n).min(size as f64));
                    painted += ((x1 - x0).max(0.0) as u64 + 1) * u64::from(SCALE * SCALE);
                    if painted > budget {
                        return Err(Error::ImageUndecodable);
                    }
                    for px in (x0 * SCALE as f64) as u32..(x1 * SCALE as f64) as u32 {
                        for py in row as u32 * SCALE..(row as u32 + 1) * SCALE {
                            img.put_pixel(px, py, image::Luma([0]));
                        }
                    }
                }
                x += n;
            }
            _ => return Err(Error::ImageUndecodable),
        }
    }
    let codes = read(img);
    if codes.is_empty() {
        return Err(Error::QrUnreadable);
    }
    Ok(codes)
}

/// A tokenizer for SVG path data.
struct Tokens<'a> {
    s: &'a [u8],
    i: usize,
}

impl<'a> Tokens<'a> {
    fn new(s: &'a str) -> Self {
        Tokens {
            s: s.as_bytes(),
            i: 0,
        }
    }

    fn skip(&mut self) {
        while self.i < self.s.len() && (self.s[self.i] == b' ' || self.s[self.i] == b',') {
            self.i += 1;
        }
    }

    fn command(&mut self) -> Option<char> {
        self.skip();
        let c = *self.s.get(self.i)?;
        self.i += 1;
        Some(c as char)
    }

    fn number(&mut self) -> Result<f64, Error> {
        self.skip();
        let start = self.i;
        while self.i < self.s.len()
            && (self.s[self.i].is_ascii_digit() || matches!(self.s[self.i], b'.' | b'-'))
        {
            self.i += 1;
        }
        std::str::from_utf8(&self.s[start..self.i])
            .ok()
            .and_then(|t| t.parse().ok())
            .ok_or(Error::ImageUndecodable)
    }
}

/// Decode every QR code in a PNG or JPEG.
///
/// # Errors
/// [`Error::ImageUndecodable`] for a broken picture, [`Error::QrUnreadable`] when no code reads.
pub fn decode(bytes: &[u8]) -> Result<Vec<QrCode>, Error> {
    let mut reader = image::ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|_| Error::ImageUndecodable)?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(10_000);
    limits.max_image_height = Some(10_000);
    limits.max_alloc = Some(256 * 1024 * 1024);
    reader.limits(limits);
    let img = reader.decode().map_err(|_| Error::ImageUndecodable)?;
    let luma = img.to_luma8();
    // Try the picture as it is, then cleaner copies: JPEG noise and small scans defeat the
    // detector where a binarised or enlarged copy reads.
    let (w, h) = luma.dimensions();
    let attempts: [&dyn Fn() -> Option<image::GrayImage>; 4] = [
        &|| Some(luma.clone()),
        &|| Some(binarise(&luma)),
        &|| {
            (w < 400).then(|| {
                let f = (800 / w.max(1)).clamp(2, 8);
                let big = image::imageops::resize(
                    &luma,
                    w * f,
                    h * f,
                    image::imageops::FilterType::CatmullRom,
                );
                binarise(&big)
            })
        },
        &|| {
            (w > 1200).then(|| {
                image::imageops::resize(&luma, w / 2, h / 2, image::imageops::FilterType::Triangle)
            })
        },
    ];
    for attempt in attempts {
        if let Some(img) = attempt() {
            let codes = read(img);
            if !codes.is_empty() {
                return Ok(codes);
            }
        }
    }
    Err(Error::QrUnreadable)
}

/// Black and white at Otsu's threshold.
fn binarise(img: &image::GrayImage) -> image::GrayImage {
    let mut hist = [0u64; 256];
    for p in img.pixels() {
        hist[p.0[0] as usize] += 1;
    }
    let total: u64 = hist.iter().sum();
    let sum_all: f64 = hist
        .iter()
        .enumerate()
        .map(|(i, &c)| i as f64 * c as f64)
        .sum();
    let (mut sum_b, mut w_b, mut best, mut threshold) = (0f64, 0u64, 0f64, 128u8);
    for (t, &c) in hist.iter().enumerate() {
        w_b += c;
        if w_b == 0 || w_b == total {
            continue;
        }
        sum_b += t as f64 * c as f64;
        let w_f = (total - w_b) as f64;
        let m_b = sum_b / w_b as f64;
        let m_f = (sum_all - sum_b) / w_f;
        let between = w_b as f64 * w_f * (m_b - m_f).powi(2);
        if between > best {
            best = between;
            threshold = t as u8;
        }
    }
    let mut out = img.clone();
    for p in out.pixels_mut() {
        p.0[0] = if p.0[0] > threshold { 255 } else { 0 };
    }
    out
}

fn read(luma: image::GrayImage) -> Vec<QrCode> {
    // rqrr is third-party code fed with hostile pixels: a panic inside it is a picture we
    // cannot read, never a crash of the verifier.
    std::panic::catch_unwind(move || {
        let mut prepared = rqrr::PreparedImage::prepare(luma);
        prepared
            .detect_grids()
            .into_iter()
            .filter_map(|g| g.decode().ok())
            .map(|(meta, text)| QrCode {
                text,
                version: meta.version.0,
            })
            .collect()
    })
    .unwrap_or_default()
}
