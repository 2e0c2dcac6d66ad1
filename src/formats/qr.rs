//! QR codes built segment by segment: SHC wants `shc:/` in byte mode then the digits in numeric
//! mode at level L, version ≤ 22; VDS-NC wants byte mode (about version 30).

use qrcode::bits::Bits;
use qrcode::{EcLevel, QrCode, Version};

use super::Error;

/// The largest QR version SHC allows.
pub const SHC_MAX_VERSION: i16 = 22;

fn smallest(
    max_version: i16,
    level: EcLevel,
    fill: impl Fn(&mut Bits) -> qrcode::types::QrResult<()>,
) -> Result<QrCode, Error> {
    for v in 1..=max_version {
        let mut bits = Bits::new(Version::Normal(v));
        if fill(&mut bits).is_ok() && bits.push_terminator(level).is_ok() {
            return QrCode::with_bits(bits, level).map_err(|e| Error::Qr(e.to_string()));
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
pub fn shc(numeric: &str) -> Result<QrCode, Error> {
    smallest(SHC_MAX_VERSION, EcLevel::L, |b| {
        b.push_byte_data(b"shc:/")?;
        b.push_numeric_data(numeric.as_bytes())
    })
}

/// All of `data` in byte mode, level L, the smallest version up to 40.
///
/// # Errors
/// [`Error::Qr`] when it does not fit at all.
pub fn bytes(data: &[u8]) -> Result<QrCode, Error> {
    smallest(40, EcLevel::L, |b| b.push_byte_data(data))
}

/// The version number of a code.
pub fn version(code: &QrCode) -> i16 {
    match code.version() {
        Version::Normal(v) | Version::Micro(v) => v,
    }
}

/// A greyscale PNG: `module_px` pixels per module and a 4-module quiet zone.
///
/// # Errors
/// [`Error::Encoding`] if the PNG encoder fails.
pub fn png(code: &QrCode, module_px: u32) -> Result<Vec<u8>, Error> {
    let w = code.width() as u32;
    let side = (w + 8) * module_px;
    let colors = code.to_colors();
    let img = image::GrayImage::from_fn(side, side, |x, y| {
        let (mx, my) = (x / module_px, y / module_px);
        let dark = mx >= 4
            && my >= 4
            && mx < w + 4
            && my < w + 4
            && colors[((my - 4) * w + (mx - 4)) as usize] == qrcode::Color::Dark;
        image::Luma([if dark { 0 } else { 255 }])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png)
        .map_err(|e| Error::Encoding(e.to_string()))?;
    Ok(out.into_inner())
}
