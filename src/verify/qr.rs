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
    let sum_all: f64 = hist.iter().enumerate().map(|(i, &c)| i as f64 * c as f64).sum();
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
}
