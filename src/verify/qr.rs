//! QR codes from pictures: PNG or JPEG in, every readable code's text and version out
//! (`rqrr`). Every step is bounded, so a hostile picture cannot exhaust the verifier: the
//! pixel count is checked from the header before decoding ([`MAX_PIXELS`]), the decoded
//! picture is dropped as soon as its grey copy exists, and rqrr's search is metered
//! (`Metered`): its candidate grouping clones the picture once per candidate triple, which
//! grows steeply with the number of finder patterns, so past [`WORK_PER_PIXEL`] pixel reads
//! per pixel the search is abandoned with `image-too-complex`.

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
    let budget = Budget::new(WORK_PER_PIXEL * WORK_FLOOR_PIXELS);
    let codes = read_metered(img, &budget)?;
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

/// The most pixels a picture may have: a 16-megapixel phone photo.
pub const MAX_PIXELS: u64 = 16 * 1024 * 1024;
/// Pixel reads (and copies) rqrr may make per pixel of a picture (of at least
/// [`WORK_FLOOR_PIXELS`]), over all attempts, before the search is abandoned. The vectors'
/// photos and scans take 9–17 per pixel; a small scan that must be enlarged, 252 per pixel of
/// the original (under the floor); a picture of thousands of finder patterns, far more.
pub const WORK_PER_PIXEL: u64 = 100;
/// Pictures are searched at most this size (larger ones are scaled down first).
pub const SEARCH_PIXELS: u64 = 5 * 512 * 1024;
/// The budget of a small picture is that of one this size, since small ones are enlarged.
pub const WORK_FLOOR_PIXELS: u64 = 4 * 1024 * 1024;

/// Decode every QR code in a PNG or JPEG.
///
/// # Errors
/// [`Error::ImageUndecodable`] for a broken picture, [`Error::ImageTooLarge`],
/// [`Error::ImageTooComplex`], [`Error::QrUnreadable`] when no code reads.
pub fn decode(bytes: &[u8]) -> Result<Vec<QrCode>, Error> {
    use image::ImageDecoder;
    let mut reader = image::ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|_| Error::ImageUndecodable)?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(16_384);
    limits.max_image_height = Some(16_384);
    limits.max_alloc = Some(96 * 1024 * 1024);
    reader.limits(limits);
    let decoder = reader.into_decoder().map_err(|_| Error::ImageUndecodable)?;
    let (w, h) = decoder.dimensions();
    let pixels = u64::from(w) * u64::from(h);
    if pixels > MAX_PIXELS {
        return Err(Error::ImageTooLarge {
            pixels,
            limit: MAX_PIXELS,
        });
    }
    let luma = image::DynamicImage::from_decoder(decoder)
        .map_err(|_| Error::ImageUndecodable)?
        .into_luma8();
    // A picture above SEARCH_PIXELS is searched at that size (a QR code big enough to scan in
    // a phone photo still reads), and the full-size copy is dropped at once: memory per
    // request stays bounded whatever the camera.
    let luma = if pixels > SEARCH_PIXELS {
        let f = (SEARCH_PIXELS as f64 / pixels as f64).sqrt();
        let (w, h) = luma.dimensions();
        let (sw, sh) = (
            ((f64::from(w) * f) as u32).max(1),
            ((f64::from(h) * f) as u32).max(1),
        );
        image::imageops::resize(&luma, sw, sh, image::imageops::FilterType::Triangle)
    } else {
        luma
    };
    let pixels = pixels.min(SEARCH_PIXELS);
    let budget = Budget::new(WORK_PER_PIXEL * pixels.max(WORK_FLOOR_PIXELS));
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
            let codes = read_metered(img, &budget)?;
            if !codes.is_empty() {
                return Ok(codes);
            }
        }
    }
    Err(Error::QrUnreadable)
}

/// The work rqrr may still do on one picture, shared by its attempts and their copies.
#[derive(Debug, Clone)]
struct Budget(std::rc::Rc<std::cell::Cell<u64>>);

impl Budget {
    fn new(units: u64) -> Self {
        Budget(std::rc::Rc::new(std::cell::Cell::new(units)))
    }

    /// Spend `n` units; past the budget, unwind out of rqrr (caught in [`read_metered`])
    /// without the panic hook, so nothing is printed.
    fn spend(&self, n: u64) {
        match self.0.get().checked_sub(n) {
            Some(left) => self.0.set(left),
            None => std::panic::resume_unwind(Box::new(OverBudget)),
        }
    }
}

/// The unwind payload of an exhausted [`Budget`].
struct OverBudget;

/// A grey picture whose every pixel read and every copy rqrr makes is paid from a [`Budget`]:
/// the only way to bound rqrr's search, whose loops are not ours (it takes any
/// `image::GenericImage` of `Luma<u8>`).
#[derive(Debug)]
struct Metered {
    img: image::GrayImage,
    budget: Budget,
}

impl Clone for Metered {
    fn clone(&self) -> Self {
        let (w, h) = self.img.dimensions();
        self.budget.spend(u64::from(w) * u64::from(h));
        Metered {
            img: self.img.clone(),
            budget: self.budget.clone(),
        }
    }
}

impl image::GenericImageView for Metered {
    type Pixel = image::Luma<u8>;

    fn dimensions(&self) -> (u32, u32) {
        self.img.dimensions()
    }

    fn get_pixel(&self, x: u32, y: u32) -> Self::Pixel {
        self.budget.spend(1);
        *self.img.get_pixel(x, y)
    }
}

impl image::GenericImage for Metered {
    #[allow(deprecated)]
    fn get_pixel_mut(&mut self, x: u32, y: u32) -> &mut Self::Pixel {
        self.budget.spend(1);
        self.img.get_pixel_mut(x, y)
    }

    fn put_pixel(&mut self, x: u32, y: u32, pixel: Self::Pixel) {
        self.budget.spend(1);
        self.img.put_pixel(x, y, pixel);
    }

    #[allow(deprecated)]
    fn blend_pixel(&mut self, x: u32, y: u32, pixel: Self::Pixel) {
        self.put_pixel(x, y, pixel);
    }
}

/// [`read`] on a metered copy: `Err(ImageTooComplex)` once the budget is spent.
fn read_metered(luma: image::GrayImage, budget: &Budget) -> Result<Vec<QrCode>, Error> {
    let img = Metered {
        img: luma,
        budget: budget.clone(),
    };
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || decode_grids(img))) {
        Ok(codes) => Ok(codes),
        Err(payload) if payload.is::<OverBudget>() => Err(Error::ImageTooComplex),
        // rqrr is third-party code fed with hostile pixels: its own panic is a picture we
        // cannot read, never a crash of the verifier.
        Err(_) => Ok(Vec::new()),
    }
}

fn decode_grids<S>(img: S) -> Vec<QrCode>
where
    S: image::GenericImage<Pixel = image::Luma<u8>> + Clone,
{
    let mut prepared = rqrr::PreparedImage::prepare(img);
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
