//! QR codes built segment by segment: SHC wants `shc:/` in byte mode then the digits in numeric
//! mode at level L, version ≤ 22; VDS-NC wants byte mode (about version 30).
//!
//! The `qrcode` crate does the bits, the Reed–Solomon codewords and the function patterns.
//! The rest is ours, because the crate's way was the issuing bottleneck (its `apply_best_mask`
//! took 12.7 ms for a version-18 SHC; cloning its canvas per mask with a module-by-module
//! penalty still took 1.9–3.8 ms; `cargo bench --bench issue` measures it now):
//!
//! - the version comes from the segments' bit length against each version's capacity, so the
//!   bits are filled once;
//! - each version's function patterns and data-placement order are drawn once per process
//!   with the crate's canvas and kept as row and column bitsets (`Lane`, `Layout`); a card's
//!   codewords go straight into those bitsets;
//! - each of the eight masks is an XOR of the data modules with a periodic tile, plus the
//!   15-bit format information;
//! - ISO/IEC 18004 §7.8.3's penalty (N1–N4) is scored on the bitsets a whole line at a time.
//!
//! The tests prove that, for every version and mask, the symbol equals the crate's own
//! `draw_data` + `apply_mask`, and that the bitset penalty equals a module-by-module one on
//! random grids and real symbols.

use std::ops::{BitAnd, BitOr, BitXor, Not, Shl, Shr};
use std::sync::OnceLock;

use qrcode::bits::Bits;
use qrcode::canvas::{Canvas, Module};
use qrcode::types::Mode;
use qrcode::{Color, EcLevel, Version};

use super::Error;

/// A finished QR symbol: its version and its modules, row by row, `true` = dark.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matrix {
    version: i16,
    width: usize,
    dark: Vec<bool>,
}

impl Matrix {
    fn from_bits(bits: Bits, level: EcLevel) -> Result<Self, Error> {
        let (version, data, ec) = codewords(bits, level)?;
        let width = 17 + 4 * version as usize;
        let dark = if width + 4 <= u128::BITS as usize {
            best_masked::<u128>(version, level, &data, &ec)
        } else {
            best_masked::<Wide>(version, level, &data, &ec)
        };
        Ok(Matrix {
            version,
            width,
            dark,
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

/// One row or column of modules as a bitset: bit `i` is module `i`, set = dark. The width
/// plus four must fit ([`u128`] up to version 26, [`Wide`] to version 40), so that the four
/// light modules the finder-like rule looks for past the end stay inside the register.
trait Lane:
    Copy
    + Eq
    + BitAnd<Output = Self>
    + BitOr<Output = Self>
    + BitXor<Output = Self>
    + Not<Output = Self>
    + Shl<u32, Output = Self>
    + Shr<u32, Output = Self>
    + Send
    + Sync
    + 'static
{
    /// Bits in the register.
    const BITS: u32;
    /// No module dark.
    const ZERO: Self;
    /// Bits `0..n` set; `n ≤ BITS`.
    fn low_ones(n: u32) -> Self;
    /// How many bits are set.
    fn count(self) -> u32;
    /// Set bit `i`.
    fn set(&mut self, i: usize);
    /// Whether bit `i` is set.
    fn get(self, i: usize) -> bool;
    /// The shared [`Layout`] of `version` (1–40) in this lane, built on first use.
    fn layout(version: i16) -> &'static Layout<Self>;
}

/// One lazily built [`Layout`] per version.
type Layouts<L> = [OnceLock<Layout<L>>; 40];

impl Lane for u128 {
    const BITS: u32 = u128::BITS;
    const ZERO: Self = 0;
    fn low_ones(n: u32) -> Self {
        if n >= u128::BITS { !0 } else { (1 << n) - 1 }
    }
    fn count(self) -> u32 {
        self.count_ones()
    }
    fn set(&mut self, i: usize) {
        *self |= 1 << i;
    }
    fn get(self, i: usize) -> bool {
        self >> i & 1 == 1
    }
    fn layout(version: i16) -> &'static Layout<Self> {
        static LAYOUTS: Layouts<u128> = [const { OnceLock::new() }; 40];
        LAYOUTS[version as usize - 1].get_or_init(|| Layout::new(version))
    }
}

/// A 256-bit [`Lane`] for versions 27–40 (125–177 modules): `[low, high]` halves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Wide([u128; 2]);

impl BitAnd for Wide {
    type Output = Self;
    fn bitand(self, o: Self) -> Self {
        Wide([self.0[0] & o.0[0], self.0[1] & o.0[1]])
    }
}

impl BitOr for Wide {
    type Output = Self;
    fn bitor(self, o: Self) -> Self {
        Wide([self.0[0] | o.0[0], self.0[1] | o.0[1]])
    }
}

impl BitXor for Wide {
    type Output = Self;
    fn bitxor(self, o: Self) -> Self {
        Wide([self.0[0] ^ o.0[0], self.0[1] ^ o.0[1]])
    }
}

impl Not for Wide {
    type Output = Self;
    fn not(self) -> Self {
        Wide([!self.0[0], !self.0[1]])
    }
}

impl Shl<u32> for Wide {
    type Output = Self;
    fn shl(self, k: u32) -> Self {
        let [lo, hi] = self.0;
        match k {
            0 => self,
            1..=127 => Wide([lo << k, hi << k | lo >> (128 - k)]),
            128..=255 => Wide([0, lo << (k - 128)]),
            _ => Wide([0, 0]),
        }
    }
}

impl Shr<u32> for Wide {
    type Output = Self;
    fn shr(self, k: u32) -> Self {
        let [lo, hi] = self.0;
        match k {
            0 => self,
            1..=127 => Wide([lo >> k | hi << (128 - k), hi >> k]),
            128..=255 => Wide([hi >> (k - 128), 0]),
            _ => Wide([0, 0]),
        }
    }
}

impl Lane for Wide {
    const BITS: u32 = 256;
    const ZERO: Self = Wide([0, 0]);
    fn low_ones(n: u32) -> Self {
        if n <= 128 {
            Wide([u128::low_ones(n), 0])
        } else {
            Wide([!0, u128::low_ones(n - 128)])
        }
    }
    fn count(self) -> u32 {
        self.0[0].count_ones() + self.0[1].count_ones()
    }
    fn set(&mut self, i: usize) {
        self.0[i / 128] |= 1 << (i % 128);
    }
    fn get(self, i: usize) -> bool {
        self.0[i / 128] >> (i % 128) & 1 == 1
    }
    fn layout(version: i16) -> &'static Layout<Self> {
        static LAYOUTS: Layouts<Wide> = [const { OnceLock::new() }; 40];
        LAYOUTS[version as usize - 1].get_or_init(|| Layout::new(version))
    }
}

/// The version (1–40) and the interleaved data and error-correction codewords of `bits`.
fn codewords(bits: Bits, level: EcLevel) -> Result<(i16, Vec<u8>, Vec<u8>), Error> {
    let version = bits.version();
    let Version::Normal(v @ 1..=40) = version else {
        return Err(Error::Qr(format!("unsupported QR version {version:?}")));
    };
    let (data, ec) = qrcode::ec::construct_codewords(&bits.into_bytes(), version, level)
        .map_err(|e| Error::Qr(e.to_string()))?;
    Ok((v, data, ec))
}

/// ISO/IEC 18004 Table 10's data-mask conditions in `qrcode`'s `MaskPattern` order (0 =
/// checkerboard … 7 = meadow); `x` is the column (the standard's j), `y` the row (i). Every
/// one repeats every 6 columns and every 12 rows.
fn mask_condition(mask: usize, x: usize, y: usize) -> bool {
    match mask {
        0 => (x + y).is_multiple_of(2),
        1 => y.is_multiple_of(2),
        2 => x.is_multiple_of(3),
        3 => (x + y).is_multiple_of(3),
        4 => (y / 2 + x / 3).is_multiple_of(2),
        5 => (x * y) % 2 + (x * y) % 3 == 0,
        6 => ((x * y) % 2 + (x * y) % 3).is_multiple_of(2),
        _ => ((x + y) % 2 + (x * y) % 3).is_multiple_of(2),
    }
}

/// A tile of `period` bits repeated across the whole register, cut to `width`.
fn repeat<L: Lane>(tile: L, period: u32, width: usize) -> L {
    let mut out = tile;
    let mut len = period;
    while len < L::BITS {
        out = out | out << len;
        len *= 2;
    }
    out & L::low_ones(width as u32)
}

/// The 15-bit format information (ISO/IEC 18004 §7.9.1): the level's two bits and the mask's
/// three, their BCH(15,5) remainder by the generator 0x537, XORed with 0x5412.
fn format_info(level: EcLevel, mask: usize) -> u16 {
    let level_bits: u16 = match level {
        EcLevel::L => 0b01,
        EcLevel::M => 0b00,
        EcLevel::Q => 0b11,
        EcLevel::H => 0b10,
    };
    let data = level_bits << 3 | (mask as u16 & 0b111);
    let mut rem = data << 10;
    for bit in (10..15).rev() {
        if rem & 1 << bit != 0 {
            rem ^= 0x537 << (bit - 10);
        }
    }
    (data << 10 | rem) ^ 0x5412
}

/// Where format bit `i` (0 = least significant) goes, both copies, as (column, row)
/// (ISO/IEC 18004 §7.9.1, Figure 25): around the top-left finder, then split between the
/// bottom-left and top-right ones.
fn format_positions(width: usize) -> [[(usize, usize); 2]; 15] {
    let mut out = [[(0, 0); 2]; 15];
    for (i, pair) in out.iter_mut().enumerate() {
        let near = match i {
            0..=5 => (8, i),
            6 => (8, 7),
            7 => (8, 8),
            8 => (7, 8),
            _ => (14 - i, 8),
        };
        let far = if i < 8 {
            (width - 1 - i, 8)
        } else {
            (8, width - 15 + i)
        };
        *pair = [near, far];
    }
    out
}

/// What every symbol of one version shares, by rows and by columns: drawn once per version
/// and process with the `qrcode` canvas, then reused.
struct Layout<L> {
    width: usize,
    /// Dark function modules: finders, separators, timing, alignment, version information and
    /// the dark module; the format information is still light.
    base_rows: Vec<L>,
    base_cols: Vec<L>,
    /// The modules masks apply to: data, error correction and remainder bits.
    data_rows: Vec<L>,
    data_cols: Vec<L>,
    /// The data modules as (column, row) in placement order (ISO/IEC 18004 §7.7.3): upwards
    /// and downwards in two-module columns from the bottom right, skipping the timing column.
    order: Vec<(u8, u8)>,
}

impl<L: Lane> Layout<L> {
    fn new(version: i16) -> Self {
        let v = Version::Normal(version);
        let width = 17 + 4 * version as usize;
        debug_assert!(width + 4 <= L::BITS as usize);
        // The reserved format information is all light whatever the level.
        let mut canvas = Canvas::new(v, EcLevel::L);
        canvas.draw_all_functional_patterns();
        let mut layout = Layout {
            width,
            base_rows: vec![L::ZERO; width],
            base_cols: vec![L::ZERO; width],
            data_rows: vec![L::ZERO; width],
            data_cols: vec![L::ZERO; width],
            order: Vec::new(),
        };
        let mut is_data = vec![false; width * width];
        for y in 0..width {
            for x in 0..width {
                // Width ≤ 177: the coordinates fit an i16.
                match canvas.get(x as i16, y as i16) {
                    Module::Masked(Color::Dark) => {
                        layout.base_rows[y].set(x);
                        layout.base_cols[x].set(y);
                    }
                    Module::Masked(Color::Light) => {}
                    Module::Empty | Module::Unmasked(_) => {
                        is_data[y * width + x] = true;
                        layout.data_rows[y].set(x);
                        layout.data_cols[x].set(y);
                    }
                }
            }
        }
        let mut right = width - 1;
        loop {
            if right == 6 {
                right = 5;
            }
            let upward = (right + 1) & 2 == 0;
            for step in 0..width {
                let y = if upward { width - 1 - step } else { step };
                for x in [right, right - 1] {
                    if is_data[y * width + x] {
                        layout.order.push((x as u8, y as u8));
                    }
                }
            }
            if right < 3 {
                break;
            }
            right -= 2;
        }
        layout
    }
}

/// One symbol before masking: its version's [`Layout`] with the codewords placed.
struct Unmasked<L: 'static> {
    layout: &'static Layout<L>,
    level: EcLevel,
    rows: Vec<L>,
    cols: Vec<L>,
}

impl<L: Lane> Unmasked<L> {
    fn new(version: i16, level: EcLevel, data: &[u8], ec: &[u8]) -> Self {
        let layout = L::layout(version);
        let mut rows = layout.base_rows.clone();
        let mut cols = layout.base_cols.clone();
        // Most significant bit first; remainder bits past the codewords stay light.
        for (byte, places) in data.iter().chain(ec).zip(layout.order.chunks(8)) {
            for (i, &(x, y)) in places.iter().enumerate() {
                if byte << i & 0x80 != 0 {
                    rows[y as usize].set(x as usize);
                    cols[x as usize].set(y as usize);
                }
            }
        }
        Unmasked {
            layout,
            level,
            rows,
            cols,
        }
    }

    /// The symbol with mask `mask` (0–7) applied and its format information drawn, into
    /// `rows` and `cols` (each `width` long).
    fn mask_into(&self, mask: usize, rows: &mut [L], cols: &mut [L]) {
        let layout = self.layout;
        let w = layout.width;
        let mut row_tiles = [L::ZERO; 12];
        for (y, tile) in row_tiles.iter_mut().enumerate() {
            let mut t = L::ZERO;
            for x in 0..6 {
                if mask_condition(mask, x, y) {
                    t.set(x);
                }
            }
            *tile = repeat(t, 6, w);
        }
        let mut col_tiles = [L::ZERO; 6];
        for (x, tile) in col_tiles.iter_mut().enumerate() {
            let mut t = L::ZERO;
            for y in 0..12 {
                if mask_condition(mask, x, y) {
                    t.set(y);
                }
            }
            *tile = repeat(t, 12, w);
        }
        for (y, row) in rows.iter_mut().enumerate() {
            *row = self.rows[y] ^ (layout.data_rows[y] & row_tiles[y % 12]);
        }
        for (x, col) in cols.iter_mut().enumerate() {
            *col = self.cols[x] ^ (layout.data_cols[x] & col_tiles[x % 6]);
        }
        // The format modules are function modules, light in the base: set the dark ones.
        let info = format_info(self.level, mask);
        for (i, places) in format_positions(w).iter().enumerate() {
            if info >> i & 1 == 1 {
                for &(x, y) in places {
                    rows[y].set(x);
                    cols[x].set(y);
                }
            }
        }
    }
}

/// The masked symbol with the lowest penalty, row by row (the first mask on a tie).
fn best_masked<L: Lane>(version: i16, level: EcLevel, data: &[u8], ec: &[u8]) -> Vec<bool> {
    let symbol = Unmasked::<L>::new(version, level, data, ec);
    let width = symbol.layout.width;
    let mut rows = vec![L::ZERO; width];
    let mut cols = vec![L::ZERO; width];
    let mut best = (u32::MAX, 0);
    for mask in 0..8 {
        symbol.mask_into(mask, &mut rows, &mut cols);
        let score = penalty(&rows, &cols, width);
        if score < best.0 {
            best = (score, mask);
        }
    }
    symbol.mask_into(best.1, &mut rows, &mut cols);
    to_bools(&rows, width)
}

fn to_bools<L: Lane>(rows: &[L], width: usize) -> Vec<bool> {
    let mut out = Vec::with_capacity(width * width);
    for row in rows {
        out.extend((0..width).map(|x| row.get(x)));
    }
    out
}

/// ISO/IEC 18004 §7.8.3 penalty on bitsets: N1 runs of five or more (run − 2 each), N2 2×2
/// blocks (3 each), N3 finder-like 1:1:3:1:1 patterns with four light modules on a side,
/// outside the symbol counting as light (40 each), N4 dark/light balance.
fn penalty<L: Lane>(rows: &[L], cols: &[L], width: usize) -> u32 {
    let full = L::low_ones(width as u32);
    let mut score: u32 = rows
        .iter()
        .chain(cols)
        .map(|line| line_penalty(*line, full))
        .sum();
    // N2: the same colour across a pair of rows and along each of them.
    let starts = L::low_ones(width as u32 - 1);
    for pair in rows.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        let block = !(a ^ b) & !(a ^ a >> 1) & !(b ^ b >> 1) & starts;
        score += 3 * block.count();
    }
    // N4
    let dark: u32 = rows.iter().map(|r| r.count()).sum();
    let percent = dark * 100 / (width * width) as u32;
    score + (percent.abs_diff(50) / 5) * 10
}

/// N1 and N3 for one row or column (`full` = the bits inside the symbol).
fn line_penalty<L: Lane>(dark: L, full: L) -> u32 {
    // A run of k ≥ 5 leaves k − 4 bits in `five` and one run start: (k − 4) + 2 = k − 2.
    let runs = |d: L| {
        let five = d & d >> 1 & d >> 2 & d >> 3 & d >> 4;
        five.count() + 2 * (five & !(five << 1)).count()
    };
    let light = !dark & full;
    let mut score = runs(dark) + runs(light);
    // Bit i: modules i..i+7 are dark, light, dark ×3, light, dark.
    let finder = dark & light >> 1 & dark >> 2 & dark >> 3 & dark >> 4 & light >> 5 & dark >> 6;
    if finder != L::ZERO {
        // Outside the symbol is light: ones shifted in below bit 0, and the register has
        // at least four bits past the width.
        let outside = !dark;
        let before = (outside << 1 | L::low_ones(1))
            & (outside << 2 | L::low_ones(2))
            & (outside << 3 | L::low_ones(3))
            & (outside << 4 | L::low_ones(4));
        let after = outside >> 7 & outside >> 8 & outside >> 9 & outside >> 10;
        score += 40 * (finder & (before | after)).count();
    }
    score
}

/// The largest QR version SHC allows.
pub const SHC_MAX_VERSION: i16 = 22;

/// One run of data in one QR mode.
#[derive(Debug, Clone, Copy)]
enum Segment<'a> {
    /// Any bytes, eight bits each.
    Byte(&'a [u8]),
    /// ASCII digits, ten bits per three.
    Numeric(&'a [u8]),
}

impl Segment<'_> {
    fn mode(self) -> Mode {
        match self {
            Segment::Byte(_) => Mode::Byte,
            Segment::Numeric(_) => Mode::Numeric,
        }
    }

    fn data(&self) -> &[u8] {
        match self {
            Segment::Byte(d) | Segment::Numeric(d) => d,
        }
    }

    /// Mode indicator, character count and data bits in `version`, or `None` when the count
    /// overflows that version's count field.
    fn bit_len(self, version: Version) -> Option<usize> {
        let count_bits = self.mode().length_bits_count(version);
        let n = self.data().len();
        (n < 1 << count_bits).then(|| 4 + count_bits + self.mode().data_bits_count(n))
    }

    fn push(self, bits: &mut Bits) -> qrcode::types::QrResult<()> {
        match self {
            Segment::Byte(d) => bits.push_byte_data(d),
            Segment::Numeric(d) => bits.push_numeric_data(d),
        }
    }
}

/// The symbol of the smallest version up to `max_version` that holds `segments`.
fn smallest(max_version: i16, level: EcLevel, segments: &[Segment]) -> Result<Matrix, Error> {
    Matrix::from_bits(fill_smallest(max_version, level, segments)?, level)
}

/// The bits of `segments` in the smallest version up to `max_version` whose data capacity
/// holds them: the length is computed per version, and the bits are filled once.
fn fill_smallest(max_version: i16, level: EcLevel, segments: &[Segment]) -> Result<Bits, Error> {
    let qr = |e: qrcode::types::QrError| Error::Qr(e.to_string());
    for v in 1..=max_version {
        let version = Version::Normal(v);
        let need: Option<usize> = segments.iter().map(|s| s.bit_len(version)).sum();
        let capacity = Bits::new(version).max_len(level).map_err(qr)?;
        if need.is_some_and(|n| n <= capacity) {
            let mut bits = Bits::new(version);
            for s in segments {
                s.push(&mut bits).map_err(qr)?;
            }
            bits.push_terminator(level).map_err(qr)?;
            return Ok(bits);
        }
    }
    Err(Error::Qr(format!(
        "does not fit a version-{max_version} QR at level {level:?}"
    )))
}

/// `shc:/` (byte) + numeric digits, level L, the smallest version up to 22.
///
/// # Errors
/// [`Error::Qr`] when `numeric` holds anything but ASCII digits, or does not fit version 22.
pub fn shc(numeric: &str) -> Result<Matrix, Error> {
    if !numeric.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::Qr(
            "the SHC numeric part must be ASCII digits".into(),
        ));
    }
    smallest(
        SHC_MAX_VERSION,
        EcLevel::L,
        &[
            Segment::Byte(b"shc:/"),
            Segment::Numeric(numeric.as_bytes()),
        ],
    )
}

/// All of `data` in byte mode, level L, the smallest version up to 40.
///
/// # Errors
/// [`Error::Qr`] when it does not fit at all.
pub fn bytes(data: &[u8]) -> Result<Matrix, Error> {
    smallest(40, EcLevel::L, &[Segment::Byte(data)])
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
    use qrcode::canvas::MaskPattern;

    use super::*;

    const SHC_TEXT: &str = "shc:/5676290952432060346029243740446031222959532654603460292540772804336028702864716745222809286133314564376531415906402203064504590856435503414245413640370636654171372412363803043756220467374075323239254334433260573601064529223209606937064323260355043706416528377005407700726452536266395662286239032640536552683663655540032970520707622341643436573005044370";

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

    const FINDER: [bool; 7] = [true, false, true, true, true, false, true];

    /// xorshift64*: reproducible pseudo-random test data without a dependency.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
        fn bytes(&mut self, n: usize) -> Vec<u8> {
            (0..n).map(|_| self.next() as u8).collect()
        }
    }

    /// The penalty module by module, as first written: the oracle for [`penalty`].
    fn penalty_simple(dark: &[bool], w: usize) -> u32 {
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
                            (from..from + 4).all(|k| {
                                k < 0 || k as usize >= w || !at(k as usize, line, horizontal)
                            })
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

    fn lanes<L: Lane>(dark: &[bool], w: usize) -> (Vec<L>, Vec<L>) {
        let mut rows = vec![L::ZERO; w];
        let mut cols = vec![L::ZERO; w];
        for y in 0..w {
            for x in 0..w {
                if dark[y * w + x] {
                    rows[y].set(x);
                    cols[x].set(y);
                }
            }
        }
        (rows, cols)
    }

    fn fast_penalty(dark: &[bool], w: usize) -> u32 {
        let (rows, cols) = lanes::<Wide>(dark, w);
        let wide = penalty(&rows, &cols, w);
        if w + 4 <= 128 {
            let (rows, cols) = lanes::<u128>(dark, w);
            assert_eq!(
                penalty(&rows, &cols, w),
                wide,
                "u128 and Wide disagree, width {w}"
            );
        }
        wide
    }

    /// The oracle: `qrcode`'s own unmasked symbol for these codewords, and its width.
    fn draw(bits: Bits) -> (Canvas, usize) {
        let version = bits.version();
        let (_, data, ec) = codewords(bits, EcLevel::L).unwrap();
        let mut canvas = Canvas::new(version, EcLevel::L);
        canvas.draw_all_functional_patterns();
        canvas.draw_data(&data, &ec);
        (canvas, version.width() as usize)
    }

    /// Bits of `version` filled with `len` random bytes.
    fn random_bits(version: i16, len: usize, rng: &mut Rng) -> Bits {
        let mut bits = Bits::new(Version::Normal(version));
        bits.push_byte_data(&rng.bytes(len)).unwrap();
        bits.push_terminator(EcLevel::L).unwrap();
        bits
    }

    /// Our symbol with each mask equals the crate's `apply_mask` of its own drawing, by rows
    /// and by columns.
    fn assert_masks_match_the_crate<L: Lane>(version: i16, len: usize, rng: &mut Rng) {
        let seed = rng.next();
        let (_, data, ec) =
            codewords(random_bits(version, len, &mut Rng(seed)), EcLevel::L).unwrap();
        let (canvas, w) = draw(random_bits(version, len, &mut Rng(seed)));
        let symbol = Unmasked::<L>::new(version, EcLevel::L, &data, &ec);
        let (mut rows, mut cols) = (vec![L::ZERO; w], vec![L::ZERO; w]);
        for (m, pattern) in MASKS.iter().enumerate() {
            symbol.mask_into(m, &mut rows, &mut cols);
            let ours = to_bools(&rows, w);
            let mut theirs = canvas.clone();
            theirs.apply_mask(*pattern);
            let theirs: Vec<bool> = theirs
                .into_colors()
                .into_iter()
                .map(|c| c == Color::Dark)
                .collect();
            assert!(
                ours == theirs,
                "version {version}, {len} bytes, mask {m}: rows differ"
            );
            let by_cols: Vec<bool> = (0..w * w).map(|i| cols[i % w].get(i / w)).collect();
            assert!(
                by_cols == theirs,
                "version {version}, {len} bytes, mask {m}: columns differ"
            );
        }
    }

    #[test]
    fn every_version_and_mask_equals_the_crates_placement_and_apply_mask() {
        let mut rng = Rng(0x5eed_0001);
        // 1–6 carry no version information, 7 and up do; 27 and up need the wide lane.
        for version in 1..=40 {
            let v = Version::Normal(version);
            let capacity = Bits::new(v).max_len(EcLevel::L).unwrap();
            let full = (capacity - 4 - Mode::Byte.length_bits_count(v)) / 8;
            // Full, and short enough to leave padding codewords.
            for len in [full, full / 3] {
                if version <= 26 {
                    assert_masks_match_the_crate::<u128>(version, len, &mut rng);
                }
                assert_masks_match_the_crate::<Wide>(version, len, &mut rng);
            }
        }
    }

    #[test]
    fn format_information_is_the_standards() {
        // ISO/IEC 18004 Annex C's worked example: level M (00), mask 101 → 100000011001110.
        assert_eq!(format_info(EcLevel::M, 5), 0b100_0000_1100_1110);
        // Level L, mask 0 is the well-known 111011111000100.
        assert_eq!(format_info(EcLevel::L, 0), 0b111_0111_1100_0100);
    }

    #[test]
    fn bitset_penalty_equals_the_module_by_module_one_on_random_grids() {
        let mut rng = Rng(0x5eed_0002);
        for version in 1..=40usize {
            let w = 17 + 4 * version;
            for style in 0..5 {
                let dark: Vec<bool> = match style {
                    // Fair coin, and lopsided (long runs, big blocks, poor balance).
                    0 => (0..w * w).map(|_| rng.below(2) == 0).collect(),
                    1 => (0..w * w).map(|_| rng.below(8) == 0).collect(),
                    // Runs of 1–6 modules: many 1:1:3:1:1 shapes and runs around five.
                    2 => {
                        let mut out = Vec::with_capacity(w * w);
                        let mut colour = false;
                        while out.len() < w * w {
                            let run = 1 + rng.below(6) as usize;
                            out.extend(std::iter::repeat_n(colour, run));
                            colour = !colour;
                        }
                        out.truncate(w * w);
                        out
                    }
                    // Finder shapes planted anywhere, edges included, on mostly light ground.
                    3 => {
                        let mut out: Vec<bool> = (0..w * w).map(|_| rng.below(6) == 0).collect();
                        for _ in 0..w {
                            let (x, y) = (
                                rng.below(w as u64 - 6) as usize,
                                rng.below(w as u64) as usize,
                            );
                            for (k, d) in FINDER.iter().enumerate() {
                                out[y * w + x + k] = *d;
                            }
                        }
                        out
                    }
                    // Finder shapes within four modules of an edge, dark on the inner side,
                    // across and down: only the light outside can make them count.
                    _ => {
                        let mut out: Vec<bool> = (0..w * w).map(|_| rng.below(2) == 0).collect();
                        for line in 0..w {
                            let gap = rng.below(5) as usize;
                            let (start, inner) = if rng.below(2) == 0 {
                                (gap, gap + 7)
                            } else {
                                (w - 7 - gap, w - 8 - gap)
                            };
                            let across = rng.below(2) == 0;
                            let mut put = |i: usize, d: bool| {
                                if across {
                                    out[line * w + i] = d;
                                } else {
                                    out[i * w + line] = d;
                                }
                            };
                            for (k, d) in FINDER.iter().enumerate() {
                                put(start + k, *d);
                            }
                            put(inner, true);
                        }
                        out
                    }
                };
                assert_eq!(
                    fast_penalty(&dark, w),
                    penalty_simple(&dark, w),
                    "width {w}, style {style}"
                );
            }
        }
    }

    #[test]
    fn bitset_penalty_equals_the_module_by_module_one_on_real_symbols() {
        let mut rng = Rng(0x5eed_0003);
        let shc_digits = &SHC_TEXT[5..];
        let shc_bits = fill_smallest(
            SHC_MAX_VERSION,
            EcLevel::L,
            &[
                Segment::Byte(b"shc:/"),
                Segment::Numeric(shc_digits.as_bytes()),
            ],
        )
        .unwrap();
        let vds = rng.bytes(1100);
        let vds_bits = fill_smallest(40, EcLevel::L, &[Segment::Byte(&vds)]).unwrap();
        for bits in [shc_bits, vds_bits] {
            let (canvas, w) = draw(bits);
            for (m, pattern) in MASKS.iter().enumerate() {
                let mut c = canvas.clone();
                c.apply_mask(*pattern);
                let dark: Vec<bool> = c
                    .into_colors()
                    .into_iter()
                    .map(|c| c == Color::Dark)
                    .collect();
                assert_eq!(
                    fast_penalty(&dark, w),
                    penalty_simple(&dark, w),
                    "width {w}, mask {m}"
                );
            }
        }
    }

    #[test]
    fn the_chosen_mask_has_the_lowest_simple_penalty() {
        let m = shc(&SHC_TEXT[5..]).unwrap();
        let w = m.width();
        let chosen = penalty_simple(&m.dark, w);
        let (canvas, _) = draw(
            fill_smallest(
                SHC_MAX_VERSION,
                EcLevel::L,
                &[
                    Segment::Byte(b"shc:/"),
                    Segment::Numeric(&SHC_TEXT.as_bytes()[5..]),
                ],
            )
            .unwrap(),
        );
        for pattern in MASKS {
            let mut c = canvas.clone();
            c.apply_mask(pattern);
            let dark: Vec<bool> = c
                .into_colors()
                .into_iter()
                .map(|c| c == Color::Dark)
                .collect();
            assert!(chosen <= penalty_simple(&dark, w));
        }
    }

    /// Whether `segments` fit `version` by filling the bits, the way the version used to be
    /// found.
    fn fits_by_filling(version: i16, segments: &[Segment]) -> bool {
        let mut bits = Bits::new(Version::Normal(version));
        segments.iter().all(|s| s.push(&mut bits).is_ok())
            && bits.push_terminator(EcLevel::L).is_ok()
    }

    fn assert_smallest_is_the_first_that_fills(max_version: i16, segments: &[Segment]) {
        match fill_smallest(max_version, EcLevel::L, segments) {
            Ok(bits) => {
                let Version::Normal(v) = bits.version() else {
                    panic!("micro version")
                };
                assert!(fits_by_filling(v, segments));
                assert!(v == 1 || !fits_by_filling(v - 1, segments), "version {v}");
                let declared: usize = segments
                    .iter()
                    .map(|s| s.bit_len(bits.version()).unwrap())
                    .sum();
                let mut filled = Bits::new(bits.version());
                segments.iter().for_each(|s| s.push(&mut filled).unwrap());
                assert_eq!(filled.len(), declared);
            }
            Err(_) => assert!(!fits_by_filling(max_version, segments)),
        }
    }

    #[test]
    fn the_version_is_the_first_the_data_fills() {
        let digits: String = (0..2600)
            .map(|i| char::from(b'0' + (i * 7 % 10) as u8))
            .collect();
        for n in 0..=digits.len() {
            let segments = [
                Segment::Byte(b"shc:/"),
                Segment::Numeric(&digits.as_bytes()[..n]),
            ];
            assert_smallest_is_the_first_that_fills(SHC_MAX_VERSION, &segments);
        }
        let bytes = vec![0xa5u8; 3000];
        for n in 0..=bytes.len() {
            assert_smallest_is_the_first_that_fills(40, &[Segment::Byte(&bytes[..n])]);
        }
    }

    #[test]
    fn shc_refuses_what_is_not_digits() {
        assert!(matches!(shc("12a4"), Err(Error::Qr(_))));
        assert!(matches!(shc(&"1".repeat(3000)), Err(Error::Qr(_))));
    }

    #[test]
    fn our_mask_choice_still_decodes() {
        let text = SHC_TEXT;
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
    fn wide_codes_decode() {
        let data: Vec<u8> = (0..1400u32).map(|i| b'A' + (i % 26) as u8).collect();
        let m = bytes(&data).unwrap();
        assert!(
            m.width() + 4 > 128,
            "version {} uses the narrow lane",
            m.version()
        );
        let img = image::load_from_memory(&png(&m, 4).unwrap())
            .unwrap()
            .to_luma8();
        let mut prepared = rqrr::PreparedImage::prepare(img);
        let grids = prepared.detect_grids();
        assert_eq!(grids.len(), 1);
        let (_, decoded) = grids[0].decode().unwrap();
        assert_eq!(decoded.as_bytes(), data);
    }

    #[test]
    fn penalty_prefers_balanced_symbols() {
        let all_dark = vec![true; 21 * 21];
        let half: Vec<bool> = (0..21 * 21).map(|i| (i % 21 + i / 21) % 2 == 0).collect();
        assert!(penalty_simple(&all_dark, 21) > penalty_simple(&half, 21));
        assert!(fast_penalty(&all_dark, 21) > fast_penalty(&half, 21));
    }
}
