//! Independent checks of issued artefacts, shared by the channel test binaries: ES256 over the
//! SHC with the p256 crate against the published JWKS, `pdfsig` on the PDF, and the QR codes
//! read back from pixels (poppler's `pdftoppm` at 300 dpi, then `rqrr` and zbar's `zbarimg`).

#![allow(dead_code)] // each test binary uses a part

use std::io::Read;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::ecdsa::signature::Verifier;
use serde_json::Value;

/// The compact JWS inside `shc:/…` (pairs of digits, each + 45).
pub(crate) fn jws_from_numeric(text: &str) -> String {
    let digits = text.strip_prefix("shc:/").expect("shc:/ prefix");
    digits
        .as_bytes()
        .chunks(2)
        .map(|p| (((p[0] - b'0') * 10 + (p[1] - b'0')) + 45) as char)
        .collect()
}

/// Verify an `shc:/` text against the JWKS (by `kid`) and return the inflated payload.
pub(crate) fn verify_shc(shc: &str, jwks: &Value) -> Value {
    let jws = jws_from_numeric(shc);
    let parts: Vec<&str> = jws.split('.').collect();
    assert_eq!(parts.len(), 3);
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == header["kid"])
        .expect("the SHC's kid is in our JWKS");
    let mut sec1 = vec![4u8];
    sec1.extend(URL_SAFE_NO_PAD.decode(jwk["x"].as_str().unwrap()).unwrap());
    sec1.extend(URL_SAFE_NO_PAD.decode(jwk["y"].as_str().unwrap()).unwrap());
    let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(&sec1).unwrap();
    let sig =
        p256::ecdsa::Signature::from_slice(&URL_SAFE_NO_PAD.decode(parts[2]).unwrap()).unwrap();
    key.verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &sig)
        .expect("ES256 signature verifies under our JWKS");
    let deflated = URL_SAFE_NO_PAD.decode(parts[1]).unwrap();
    let mut out = Vec::new();
    flate2::read::DeflateDecoder::new(&deflated[..])
        .read_to_end(&mut out)
        .unwrap();
    serde_json::from_slice(&out).unwrap()
}

/// `pdfsig`'s verdict on a PDF (poppler-utils); the bytes are written into `dir`.
pub(crate) fn pdfsig(pdf: &[u8], dir: &Path) -> String {
    let p = dir.join("certificate.pdf");
    std::fs::write(&p, pdf).unwrap();
    let out = std::process::Command::new("pdfsig")
        .arg(&p)
        .output()
        .expect("pdfsig (poppler-utils) is installed: run ./vx setup");
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

/// The PDF's text as `pdftotext -layout` extracts it (poppler, an independent reader).
pub(crate) fn pdf_text(pdf: &[u8], dir: &Path) -> String {
    let p = dir.join("text-source.pdf");
    std::fs::write(&p, pdf).unwrap();
    let out = std::process::Command::new("pdftotext")
        .args(["-layout", "-enc", "UTF-8"])
        .arg(&p)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils) is installed: run ./vx setup");
    assert!(out.status.success(), "pdftotext failed");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The texts of every QR code on the PDF's first page, rendered at 300 dpi, as read by `rqrr`
/// and by `zbarimg` (two independent decoders; `rqrr` alone now and then misses a symbol that
/// zbar and phone scanners read).
pub(crate) fn pdf_qr_texts(pdf: &[u8], dir: &Path) -> Vec<String> {
    let file = dir.join("qr-source.pdf");
    std::fs::write(&file, pdf).unwrap();
    let prefix = dir.join("qr-page"); // pdftoppm appends ".png"
    let out = std::process::Command::new("pdftoppm")
        .args(["-r", "300", "-gray", "-png", "-singlefile"])
        .arg(&file)
        .arg(&prefix)
        .output()
        .expect("poppler-utils is installed (./vx setup)");
    assert!(
        out.status.success(),
        "pdftoppm: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let img = image::open(dir.join("qr-page.png")).unwrap().to_luma8();
    let mut prepared = rqrr::PreparedImage::prepare(img);
    let mut texts: Vec<String> = prepared
        .detect_grids()
        .into_iter()
        .filter_map(|g| g.decode().ok().map(|(_, t)| t))
        .collect();
    let zbar = std::process::Command::new("zbarimg")
        .args(["--quiet", "--raw", "-Sdisable", "-Sqrcode.enable"])
        .arg(dir.join("qr-page.png"))
        .output()
        .expect("zbarimg (zbar-tools) is installed (./vx setup)");
    for t in String::from_utf8_lossy(&zbar.stdout).lines() {
        if !t.is_empty() && !texts.iter().any(|x| x == t) {
            texts.push(t.to_owned());
        }
    }
    texts
}
