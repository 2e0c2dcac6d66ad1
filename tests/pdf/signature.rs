//! The PAdES signature: poppler's pdfsig accepts it and names the signer, one changed byte
//! anywhere it covers breaks it, and OpenSSL verifies the CMS over the byte range.

use crate::helpers::{Sample, pdfsig, scratch, signer, tool, write};

/// The `/ByteRange` numbers of a signed file.
fn byte_range(pdf: &[u8]) -> [usize; 4] {
    let at = pdf
        .windows(10)
        .position(|w| w == b"/ByteRange")
        .expect("ByteRange")
        + 10;
    let end = at + pdf[at..].iter().position(|b| *b == b']').unwrap();
    let s = std::str::from_utf8(&pdf[at..end]).unwrap();
    let v: Vec<usize> = s
        .trim_matches(|c: char| c == '[' || c.is_whitespace())
        .split_whitespace()
        .map(|n| n.parse().unwrap())
        .collect();
    [v[0], v[1], v[2], v[3]]
}

#[test]
fn pdfsig_reports_the_signature_valid_and_the_signer() {
    let dir = scratch("sig-valid");
    let pdf = Sample::overseas().signed_pdf();
    let (out, _) = pdfsig(&write(&dir, "s.pdf", &pdf));
    assert!(out.contains("Signature is Valid"), "{out}");
    assert!(out.contains("vaxcert DEV PDF signer"), "{out}");
    assert!(out.contains("ETSI.CAdES.detached"), "{out}");
    assert!(out.contains("Total document signed"), "{out}");
    // The whole file is covered except the /Contents hex string.
    let [a, b, c, d] = byte_range(&pdf);
    assert_eq!((a, c + d), (0, pdf.len()));
    assert_eq!(pdf[b], b'<');
    assert_eq!(pdf[c - 1], b'>');
}

#[test]
fn one_changed_byte_in_either_signed_range_makes_it_invalid() {
    let pdf = Sample::domestic().signed_pdf();
    let [_, first_end, second_start, _] = byte_range(&pdf);
    // A byte of the PDF version in the first range; a digit of /M in the second.
    let m = second_start
        + pdf[second_start..]
            .windows(5)
            .position(|w| w == b"(D:20")
            .unwrap();
    for (at, what) in [(7, "header"), (m + 10, "signing time")] {
        assert!(at < first_end || at >= second_start);
        let mut bad = pdf.clone();
        bad[at] = if bad[at] == b'1' { b'2' } else { b'1' };
        let dir = scratch("sig-tamper");
        let (out, _) = pdfsig(&write(&dir, "t.pdf", &bad));
        assert!(!out.contains("Signature is Valid"), "{what}: {out}");
        assert!(out.contains("Digest Mismatch"), "{what}: {out}");
    }
}

#[test]
fn openssl_verifies_the_cms_and_chain_over_the_byte_range_with_ess_signing_certificate_v2() {
    let pdf = Sample::domestic().signed_pdf();
    let [_, b, c, _] = byte_range(&pdf);
    let hex = std::str::from_utf8(&pdf[b + 1..c - 1])
        .unwrap()
        .trim_end_matches('0');
    // Trailing zero padding: the DER ends where its outer length says.
    let mut der = hex::decode(if hex.len() % 2 == 1 {
        format!("{hex}0")
    } else {
        hex.to_owned()
    })
    .unwrap();
    let len = match der[1] {
        n if n < 0x80 => 2 + n as usize,
        0x81 => 3 + der[2] as usize,
        0x82 => 4 + ((der[2] as usize) << 8 | der[3] as usize),
        _ => panic!("unexpected DER length"),
    };
    der.truncate(len);
    let covered = [&pdf[..b], &pdf[c..]].concat();
    let dir = scratch("sig-openssl");
    // The chain is checked too: the signer's certificate under the dev root.
    let root = crate::helpers::crate_path("certs/dev/pdf/root.crt.pem");
    let sig = write(&dir, "sig.der", &der);
    let content = write(&dir, "covered.bin", &covered);
    let out = tool(
        "openssl",
        &[
            "cms",
            "-verify",
            "-binary",
            "-inform",
            "DER",
            "-in",
            sig.to_str().unwrap(),
            "-content",
            content.to_str().unwrap(),
            "-CAfile",
            root.to_str().unwrap(),
            "-purpose",
            "any",
            "-out",
            "/dev/null",
        ],
    );
    assert!(
        out.status.success(),
        "openssl cms -verify: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = tool(
        "openssl",
        &[
            "cms",
            "-cmsout",
            "-print",
            "-inform",
            "DER",
            "-in",
            sig.to_str().unwrap(),
        ],
    );
    let printed = String::from_utf8_lossy(&printed.stdout);
    assert!(
        printed.contains("id-smime-aa-signingCertificateV2"),
        "{printed}"
    );
    assert!(printed.contains("vaxcert DEV PDF signer"), "{printed}");
    assert!(
        !printed.contains("signingTime"),
        "PAdES B-B puts the time in /M only"
    );
    // And OpenSSL refuses it over one changed byte.
    let mut bad = covered.clone();
    bad[100] ^= 1;
    let content = write(&dir, "covered-bad.bin", &bad);
    let out = tool(
        "openssl",
        &[
            "cms",
            "-verify",
            "-binary",
            "-inform",
            "DER",
            "-in",
            sig.to_str().unwrap(),
            "-content",
            content.to_str().unwrap(),
            "-noverify",
            "-out",
            "/dev/null",
        ],
    );
    assert!(!out.status.success());
}

#[test]
fn signed_pdfs_stay_under_150_kb() {
    for sample in [Sample::domestic(), Sample::overseas()] {
        let n = sample.signed_pdf().len();
        assert!(n <= 150 * 1024, "{:?}: {n} bytes", sample.kind);
    }
}

#[test]
fn a_pdf_cannot_be_signed_twice_or_without_the_placeholder() {
    let pdf = Sample::domestic().signed_pdf();
    let again = signer().sign(&pdf, crate::helpers::SIGNED_AT).unwrap_err();
    assert_eq!(again.code(), "pdf-sign-input");
    let err = signer()
        .sign(b"%PDF-1.7\n%%EOF\n", crate::helpers::SIGNED_AT)
        .unwrap_err();
    assert_eq!(err.code(), "pdf-sign-input");
}
