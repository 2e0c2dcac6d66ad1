//! Independent decoding and verification helpers.

use std::path::Path;
use std::process::Command;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use p256::ecdsa::signature::Verifier;
use serde_json::Value;

pub const MRZ_SATO: &str =
    "P<JPNSATO<<MISAKI<<<<<<<<<<<<<<<<<<<<<<<<<<<,TK12345671JPN8803104F3001019<<<<<<<<<<<<<<08";

pub fn vaxcert() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_vaxcert"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    c
}

/// Decode every QR in a PNG with rqrr: (version, text).
pub fn decode_png(path: &Path) -> Vec<(usize, String)> {
    let img = image::open(path).unwrap().to_luma8();
    let mut prepared = rqrr::PreparedImage::prepare(img);
    prepared
        .detect_grids()
        .into_iter()
        .map(|g| {
            let (meta, text) = g.decode().unwrap();
            (meta.version.0, text)
        })
        .collect()
}

/// `shc:/digits` → the JWS.
pub fn jws_from_numeric(text: &str) -> String {
    let digits = text.strip_prefix("shc:/").expect("shc:/ prefix");
    digits
        .as_bytes()
        .chunks(2)
        .map(|p| (((p[0] - b'0') * 10 + (p[1] - b'0')) + 45) as char)
        .collect()
}

/// The dev issuer's public key, from the published JWKS.
pub fn dev_jwk() -> Value {
    let jwks: Value =
        serde_json::from_str(&std::fs::read_to_string("certs/dev/shc/jwks.json").unwrap()).unwrap();
    jwks["keys"][0].clone()
}

pub fn p256_from_jwk(jwk: &Value) -> p256::ecdsa::VerifyingKey {
    let mut sec1 = vec![4u8];
    sec1.extend(URL_SAFE_NO_PAD.decode(jwk["x"].as_str().unwrap()).unwrap());
    sec1.extend(URL_SAFE_NO_PAD.decode(jwk["y"].as_str().unwrap()).unwrap());
    p256::ecdsa::VerifyingKey::from_sec1_bytes(&sec1).unwrap()
}

/// Verify a compact JWS with RustCrypto and return (header, payload bytes as sent).
pub fn verify_jws(jws: &str, key: &p256::ecdsa::VerifyingKey) -> (Value, Vec<u8>) {
    let parts: Vec<&str> = jws.split('.').collect();
    assert_eq!(parts.len(), 3, "compact JWS");
    let sig_bytes = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
    assert_eq!(sig_bytes.len(), 64, "raw R‖S, not DER");
    let sig = p256::ecdsa::Signature::from_slice(&sig_bytes).unwrap();
    key.verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &sig)
        .expect("ES256 signature verifies");
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
    (header, URL_SAFE_NO_PAD.decode(parts[1]).unwrap())
}

/// Raw-inflate with Python's zlib (wbits = -15): a decoder that shares nothing with ours.
pub fn python_inflate(deflated: &[u8]) -> Vec<u8> {
    let out = Command::new("python3")
        .args(["-c", "import sys,zlib; sys.stdout.buffer.write(zlib.decompress(sys.stdin.buffer.read(), -15))"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(deflated)?;
            c.wait_with_output()
        })
        .expect("python3 runs");
    assert!(out.status.success(), "raw DEFLATE inflates");
    out.stdout
}

/// Verify a VDS-NC with OpenSSL: Python canonicalises `data` (sorted keys, no whitespace,
/// which is RFC 8785 for these integer-and-string documents), the raw signature becomes DER,
/// and `openssl dgst` checks it under the key in `cer`.
pub fn openssl_verify_vdsnc(doc: &Value, dir: &Path) -> bool {
    let canon_py = Command::new("python3")
        .args(["-c", "import sys,json; d=json.load(sys.stdin)['data']; sys.stdout.write(json.dumps(d, sort_keys=True, separators=(',',':'), ensure_ascii=False))"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(doc.to_string().as_bytes())?;
            c.wait_with_output()
        })
        .unwrap();
    std::fs::write(dir.join("data.bin"), &canon_py.stdout).unwrap();
    let pad = |s: &str| s.trim_end_matches('=').to_owned();
    let cer = URL_SAFE_NO_PAD
        .decode(pad(doc["sig"]["cer"].as_str().unwrap()))
        .unwrap();
    std::fs::write(dir.join("cer.der"), &cer).unwrap();
    let raw = URL_SAFE_NO_PAD
        .decode(pad(doc["sig"]["sigvl"].as_str().unwrap()))
        .unwrap();
    let der = p256::ecdsa::Signature::from_slice(&raw).unwrap().to_der();
    std::fs::write(dir.join("sig.der"), der.as_bytes()).unwrap();
    let ok = Command::new("sh")
        .arg("-c")
        .arg("openssl x509 -inform DER -in cer.der -pubkey -noout > pub.pem && openssl dgst -sha256 -verify pub.pem -signature sig.der data.bin")
        .current_dir(dir)
        .output()
        .unwrap();
    ok.status.success()
}

pub fn b64_std(s: &str) -> Vec<u8> {
    STANDARD.decode(s).unwrap()
}
