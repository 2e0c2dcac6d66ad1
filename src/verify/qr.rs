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
    let mut codes = read(luma.clone());
    if codes.is_empty() && luma.width() > 400 {
        // Large photos: a half-size copy sometimes reads where the full one does not.
        let half = image::imageops::resize(
            &luma,
            luma.width() / 2,
            luma.height() / 2,
            image::imageops::FilterType::Triangle,
        );
        codes = read(half);
    }
    if codes.is_empty() {
        return Err(Error::QrUnreadable);
    }
    Ok(codes)
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
