//! Shared set-up: the dev renderer and signer, realistic QR payloads from the vectors, sample
//! documents, and wrappers around the poppler and OpenSSL tools.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use vaxcert::catalogue;
use vaxcert::clock::UnixTime;
use vaxcert::domain::{BirthDate, Kind};
use vaxcert::formats::Dose;
use vaxcert::formats::pdf::{CertificateDocument, PdfRenderer, PdfSigner};
use vaxcert::formats::qr::Matrix;

/// 2026-11-22 09:30:00 UTC.
pub const SIGNED_AT: UnixTime = UnixTime(1_795_339_800);
/// The default persona's MyNumber (certs/dev/personas/default.toml): it must never appear.
pub const PERSONA_MY_NUMBER: &str = "123456789018";
pub const CERTIFICATE_ID: &str = "K7Q2M9XA4TRD";
pub const NAME_KANJI: &str = "山田　太郎";
pub const NAME_ROMAN: &str = "YAMADA TARO";

pub fn crate_path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// Built once per test binary: parsing the 6 MB font is the slow part.
pub fn renderer() -> &'static PdfRenderer {
    static R: OnceLock<PdfRenderer> = OnceLock::new();
    R.get_or_init(|| PdfRenderer::bundled().expect("dev renderer"))
}

pub fn signer() -> &'static PdfSigner {
    static S: OnceLock<PdfSigner> = OnceLock::new();
    S.get_or_init(|| {
        PdfSigner::from_pem_files(
            &crate_path("certs/dev/pdf/signer.key.pem"),
            &crate_path("certs/dev/pdf/signer.crt.pem"),
        )
        .expect("dev PDF signer (certs/dev/pdf)")
    })
}

/// A real Japanese SMART Health Card (`shc:/` + 1,670 digits).
pub fn shc_text() -> String {
    let p = crate_path("../shared/vectors/code4fukui-SMARTHealthCards-es/example.js.shc.txt");
    std::fs::read_to_string(&p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .trim()
        .to_owned()
}

/// The Japanese VDS-NC sample, compacted (about 1.8 KB, a version-36 QR at level L).
pub fn vdsnc_text() -> String {
    let p = crate_path(
        "../shared/vectors/KDE-khealthcertificate/autotests/data/icao/jpn-triple-vaccine.txt",
    );
    let raw = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let v: serde_json::Value = serde_json::from_str(&raw).unwrap();
    let v = match v {
        serde_json::Value::Array(mut a) => a.remove(0),
        other => other,
    };
    serde_json::to_string(&v).unwrap()
}

/// The QR the issuer would draw: SHC as `shc:/` bytes + numeric, anything else in byte mode.
pub fn qr(text: &str) -> Matrix {
    match text.strip_prefix("shc:/") {
        Some(digits) => vaxcert::formats::qr::shc(digits).unwrap(),
        None => vaxcert::formats::qr::bytes(text.as_bytes()).unwrap(),
    }
}

/// Owns everything a [`CertificateDocument`] borrows.
pub struct Sample {
    pub kind: Kind,
    pub shc: Matrix,
    pub vdsnc: Option<Matrix>,
    pub doses: Vec<Dose>,
}

pub fn doses(n: usize) -> Vec<Dose> {
    const ROWS: [(&str, &str, &str); 7] = [
        ("2021-06-01", "pfizer-comirnaty", "FA5765"),
        ("2021-06-22", "pfizer-comirnaty", "FA7338"),
        ("2022-01-15", "moderna-spikevax", "3005236"),
        ("2022-07-30", "takeda-nuvaxovid", "4300052"),
        ("2022-11-05", "pfizer-comirnaty-bivalent-ba45", "GK1234"),
        ("2023-06-10", "moderna-spikevax", "AS0012"),
        ("2023-11-20", "pfizer-comirnaty", "HH5678"),
    ];
    ROWS.iter()
        .take(n)
        .enumerate()
        .map(|(i, (date, code, lot))| Dose {
            seq: i as u8 + 1,
            date: BirthDate::parse(date).expect("date"),
            product: catalogue::product(code).expect("catalogue product"),
            lot: (*lot).to_owned(),
        })
        .collect()
}

impl Sample {
    pub fn domestic() -> Self {
        Sample {
            kind: Kind::Domestic,
            shc: qr(&shc_text()),
            vdsnc: None,
            doses: doses(3),
        }
    }

    pub fn overseas() -> Self {
        Sample {
            kind: Kind::Overseas,
            shc: qr(&shc_text()),
            vdsnc: Some(qr(&vdsnc_text())),
            doses: doses(3),
        }
    }

    pub fn doc(&self) -> CertificateDocument<'_> {
        let overseas = self.kind == Kind::Overseas;
        CertificateDocument {
            kind: self.kind,
            name_kanji: NAME_KANJI,
            name_roman: overseas.then_some(NAME_ROMAN),
            former_name: None,
            alias: None,
            passport_number: overseas.then_some("TK1234500"),
            nationality: overseas.then_some("JPN"),
            birth_date: BirthDate::parse("19850401").unwrap(),
            doses: &self.doses,
            certificate_id: CERTIFICATE_ID,
            issued_on: "2026-11-22",
            municipality: "東京都千代田区",
            shc_qr: &self.shc,
            vdsnc_qr: self.vdsnc.as_ref(),
        }
    }

    pub fn signed_pdf(&self) -> Vec<u8> {
        let pdf = renderer().render(&self.doc()).expect("render");
        signer().sign(&pdf, SIGNED_AT).expect("sign")
    }
}

/// Run a tool that the tests need; a missing tool fails with the fix.
pub fn tool(name: &str, args: &[&str]) -> Output {
    Command::new(name).args(args).output().unwrap_or_else(|e| {
        panic!(
            "cannot run {name} ({e}): install it with `apt-get install poppler-utils openssl` \
             (./vx installs it)"
        )
    })
}

/// A fresh scratch folder under the target directory.
pub fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("pdf-tests")
        .join(format!("{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub fn write(dir: &Path, file: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(file);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// `pdftotext -layout` of the file.
pub fn pdftotext(pdf: &Path) -> String {
    let out = tool("pdftotext", &["-layout", pdf.to_str().unwrap(), "-"]);
    assert!(
        out.status.success(),
        "pdftotext: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `pdfsig` output (stdout and stderr together) and whether it exited 0.
pub fn pdfsig(pdf: &Path) -> (String, bool) {
    let out = tool("pdfsig", &[pdf.to_str().unwrap()]);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (text, out.status.success())
}

/// Render page 1 at `dpi` in grey to a PNG next to the PDF.
pub fn render_png(pdf: &Path, dpi: u32) -> PathBuf {
    let prefix = pdf.with_file_name(format!("page-{dpi}"));
    let out = tool(
        "pdftoppm",
        &[
            "-r",
            &dpi.to_string(),
            "-gray",
            "-png",
            "-singlefile",
            pdf.to_str().unwrap(),
            prefix.to_str().unwrap(),
        ],
    );
    assert!(
        out.status.success(),
        "pdftoppm: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    prefix.with_extension("png")
}

/// Every QR code rqrr finds on page 1 at `dpi`: its text and its four corners in pixels.
///
/// rqrr groups finder patterns across the whole picture, and with two large codes side by side
/// it sometimes pairs one code's finders with the other's and builds a grid that does not
/// decode (zbar reads the same page). A camera frames one code at a time: when the whole page
/// gives such a grid, each half of the page is read on its own, and every grid found there must
/// decode.
pub fn qr_grids(pdf: &Path, dpi: u32) -> Vec<(String, [(i32, i32); 4])> {
    let img = image::open(render_png(pdf, dpi)).unwrap().to_luma8();
    type Found = Vec<(Option<String>, [(i32, i32); 4])>;
    let grids = |img: image::GrayImage, dx: i32| -> Found {
        rqrr::PreparedImage::prepare(img)
            .detect_grids()
            .into_iter()
            .map(|g| {
                let b = g.bounds.map(|p| (p.x + dx, p.y));
                (g.decode().ok().map(|d| d.1), b)
            })
            .collect()
    };
    let whole = grids(img.clone(), 0);
    let found = if whole.iter().all(|(text, _)| text.is_some()) {
        whole
    } else {
        let half = img.width() / 2;
        let left = image::imageops::crop_imm(&img, 0, 0, half, img.height()).to_image();
        let right =
            image::imageops::crop_imm(&img, half, 0, img.width() - half, img.height()).to_image();
        let mut both = grids(left, 0);
        both.extend(grids(right, half as i32));
        both
    };
    found
        .into_iter()
        .map(|(text, b)| (text.expect("a QR grid that does not decode"), b))
        .collect()
}

/// The texts of every QR code rqrr decodes on page 1 at `dpi`.
pub fn decode_qrs(pdf: &Path, dpi: u32) -> Vec<String> {
    qr_grids(pdf, dpi)
        .into_iter()
        .map(|(text, _)| text)
        .collect()
}

/// The texts zbar (`zbarimg`, Debian zbar-tools) decodes on page 1 at `dpi`.
pub fn zbar(pdf: &Path, dpi: u32) -> Vec<String> {
    let png = render_png(pdf, dpi);
    let out = Command::new("zbarimg")
        .args(["-q", "--raw", "-Sdisable", "-Sqrcode.enable"])
        .arg(&png)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run zbarimg ({e}): install it with `apt-get install zbar-tools` (./vx installs it)")
        });
    assert!(out.status.success(), "zbarimg found nothing at {dpi} dpi");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}
