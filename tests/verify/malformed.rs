//! Hostile and broken inputs: each gives `invalid` with a stable reason, exit status 1, and no
//! panic (helpers::parse fails the test on any panic message).

use std::io::Write;

use crate::helpers::{NOW, TempDir, Verdicts, vector, verify};

fn via_stdin(input: &[u8]) -> Verdicts {
    let empty = TempDir::new("empty-trust");
    verify(empty.path(), NOW, &["-".as_ref()], Some(input))
}

fn assert_invalid(got: &Verdicts, reason: &str) {
    assert_eq!(got.verdicts(), "invalid", "{:?}", got.reports);
    assert_eq!(got.reasons(), reason, "{:?}", got.reports);
    assert_eq!(got.status, 1);
}

fn base45(data: &[u8]) -> String {
    const A: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";
    let mut s = String::new();
    for c in data.chunks(2) {
        if let [a, b] = *c {
            let n = u32::from(a) * 256 + u32::from(b);
            for d in [n % 45, (n / 45) % 45, n / 2025] {
                s.push(A[d as usize] as char);
            }
        } else {
            let n = u32::from(c[0]);
            s.push(A[(n % 45) as usize] as char);
            s.push(A[(n / 45) as usize] as char);
        }
    }
    s
}

fn zlib(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn deflate_raw(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn b64url(data: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(data)
}

#[test]
fn empty_inputs() {
    assert_invalid(&via_stdin(b""), "empty-input");
    assert_invalid(&via_stdin(b" \n\t\n"), "empty-input");
    assert_invalid(&via_stdin("\u{feff}".as_bytes()), "empty-input");
}

#[test]
fn a_megabyte_of_digits() {
    let digits = "7".repeat(1024 * 1024);
    assert_invalid(&via_stdin(digits.as_bytes()), "unrecognised-input");
    // With the prefix the pairs decode (77 = 'z'), giving one long token that is no JWS.
    let shc = format!("shc:/{digits}");
    let got = via_stdin(shc.as_bytes());
    assert_eq!(got.verdicts(), "invalid");
    assert_eq!(got.reasons(), "jws-malformed", "{:?}", got.reports);
    let odd = format!("shc:/{}", "1".repeat(1024 * 1024 + 1));
    assert_invalid(&via_stdin(odd.as_bytes()), "shc-numeric-malformed");
}

#[test]
fn a_deflate_bomb_in_an_shc() {
    let header = b64url(br#"{"alg":"ES256","zip":"DEF","kid":"x"}"#);
    let bomb = deflate_raw(&vec![b' '; 64 * 1024 * 1024]);
    assert!(bomb.len() < 100 * 1024, "the bomb compresses well");
    let jws = format!("{header}.{}.{}", b64url(&bomb), b64url(&[0u8; 64]));
    assert_invalid(&via_stdin(jws.as_bytes()), "inflate-too-large");
}

#[test]
fn a_deflate_bomb_in_an_hc1() {
    let bomb = zlib(&vec![0u8; 64 * 1024 * 1024]);
    let hc1 = format!("HC1:{}", base45(&bomb));
    assert_invalid(&via_stdin(hc1.as_bytes()), "inflate-too-large");
}

#[test]
fn a_truncated_jws() {
    let jws = std::fs::read_to_string(vector(
        "smart-on-fhir-health-cards/examples/example-00-d-jws.txt",
    ))
    .unwrap();
    let jws = jws.trim();
    // Cut inside the payload: two parts only.
    let cut = &jws[..jws.find('.').unwrap() + 200];
    assert_invalid(&via_stdin(cut.as_bytes()), "unrecognised-input");
    // Cut inside the signature: three parts, a short signature. The issuer is unknown here,
    // but a truncated signature is caught before the trust store is asked.
    let short = &jws[..jws.len() - 10];
    let got = via_stdin(short.as_bytes());
    assert_eq!(got.verdicts(), "unknown-issuer", "{:?}", got.reports);
    let spec = crate::helpers::Trust::named("spec", std::path::Path::new(""));
    let got = verify(&spec.path(), NOW, &["-".as_ref()], Some(short.as_bytes()));
    assert_invalid(&got, "signature-not-raw");
    // Cut inside the compressed payload, keeping three parts.
    let mut parts: Vec<&str> = jws.split('.').collect();
    let p = &parts[1][..parts[1].len() / 8 * 4];
    parts[1] = p;
    let got = via_stdin(parts.join(".").as_bytes());
    assert_invalid(&got, "inflate-failed");
}

#[test]
fn bad_base45() {
    assert_invalid(&via_stdin(b"HC1:abc!!"), "base45-invalid");
    assert_invalid(&via_stdin(b"HC1:GGW"), "base45-invalid");
    assert_invalid(&via_stdin(b"HC1:A"), "base45-invalid");
}

#[test]
fn cbor_nesting_bombs() {
    // 100 000 nested one-element arrays.
    let mut deep = vec![0x81u8; 100_000];
    deep.push(0x00);
    let hc1 = format!("HC1:{}", base45(&zlib(&deep)));
    assert_invalid(&via_stdin(hc1.as_bytes()), "cbor-malformed");
    // Nested maps and tags.
    let mut tags = Vec::new();
    for _ in 0..50_000 {
        tags.extend_from_slice(&[0xd8, 0x3d]);
    }
    tags.push(0x00);
    let hc1 = format!("HC1:{}", base45(&zlib(&tags)));
    assert_invalid(&via_stdin(hc1.as_bytes()), "cbor-malformed");
    // An array that claims four billion elements.
    let liar = [0x9b, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x00];
    let hc1 = format!("HC1:{}", base45(&zlib(&liar)));
    assert_invalid(&via_stdin(hc1.as_bytes()), "cbor-malformed");
    // A good COSE shell whose protected header is a nesting bomb.
    let mut cose = vec![0xd2, 0x84, 0x59];
    let mut inner = vec![0xa1u8; 20_000];
    inner.push(0x01);
    cose.extend_from_slice(&(inner.len() as u16).to_be_bytes());
    cose.extend_from_slice(&inner);
    cose.extend_from_slice(&[0xa0, 0x40, 0x40]);
    let hc1 = format!("HC1:{}", base45(&zlib(&cose)));
    assert_invalid(&via_stdin(hc1.as_bytes()), "cbor-malformed");
}

#[test]
fn deep_json_and_junk() {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert_invalid(&via_stdin(deep.as_bytes()), "unrecognised-input");
    let deep_obj = format!(
        "{{\"data\":{}1{}, \"sig\":{{}}}}",
        "[".repeat(5000),
        "]".repeat(5000)
    );
    assert_invalid(&via_stdin(deep_obj.as_bytes()), "unrecognised-input");
    assert_invalid(
        &via_stdin(&[0xff, 0xfe, 0x00, 0x01, 0x80]),
        "unrecognised-input",
    );
    assert_invalid(
        &via_stdin(b"\x89PNG\r\n\x1a\nnot really"),
        "image-undecodable",
    );
    assert_invalid(
        &via_stdin(&[0xff, 0xd8, 0xff, 0xe0, 0, 0]),
        "image-undecodable",
    );
    assert_invalid(&via_stdin(b"{\"data\":{},\"sig\":{}}"), "vdsnc-malformed");
    assert_invalid(&via_stdin(b"a.b.c"), "jws-malformed");
    assert_invalid(&via_stdin(b"shc:/1/0/00"), "shc-chunks-invalid");
    assert_invalid(&via_stdin(b"shc:/99"), "shc-numeric-malformed");
}

#[test]
fn hostile_svgs() {
    let paint = "M0 0.5h200".repeat(200_000);
    let svg = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 200 200"><path stroke="#000000" d="{paint}"/></svg>"##
    );
    assert_invalid(&via_stdin(svg.as_bytes()), "image-undecodable");
    let junk = r##"<svg viewBox="0 0 29 29"><path stroke="#000" d="M4 4.5h7 Z q 1 2"/></svg>"##;
    assert_invalid(&via_stdin(junk.as_bytes()), "image-undecodable");
    let blank = r##"<svg viewBox="0 0 29 29"><path stroke="#000" d="M4 4.5h1"/></svg>"##;
    assert_invalid(&via_stdin(blank.as_bytes()), "qr-unreadable");
}

#[test]
fn more_than_the_input_cap() {
    let big = vec![b'7'; 9 * 1024 * 1024];
    assert_invalid(&via_stdin(&big), "input-too-large");
}
