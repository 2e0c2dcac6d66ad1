//! Foreign residents at the counter: found by a Latin-letter name in any case or by 通称, the
//! 通称 on the record and the preview, and an overseas certificate from a foreign passport
//! whose VDS-NC and SHC carry the Latin name, with 旧姓・別姓・別名 recorded from the passport.

use axum::http::StatusCode;
use serde_json::Value;

use crate::artefacts::{pdf_qr_texts, pdfsig};
use crate::helpers::{Counter, mrz_of};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_resident_is_found_previewed_and_issued_an_overseas_certificate() {
    let c = Counter::start().await;
    let mut b = c.browser();
    b.login(&c, &c.chiyoda).await;
    let search = |family: &'static str, given: &'static str, born: &'static str| {
        [
            ("by", "name"),
            ("family", family),
            ("given", given),
            ("birth_date", born),
        ]
    };
    let p = b
        .post("/search", &search("smith", "john william", "1979-06-23"))
        .await;
    assert!(p.body.contains("href=\"/residents/1005\""), "{}", p.body);
    assert!(p.body.contains("SMITH JOHN WILLIAM"), "{}", p.body);
    let p = b
        .post("/search", &search("金田", "太浩", "1990-12-05"))
        .await;
    assert!(p.body.contains("href=\"/residents/1006\""), "{}", p.body);
    assert!(p.body.contains("通称 金田 太浩"), "{}", p.body);

    let p = b.get("/residents/1006").await;
    assert!(
        p.body.contains("id=\"resident-alias\">金田 太浩<"),
        "{}",
        p.body
    );
    let p = b
        .post("/residents/1006/preview", &[("kind", "domestic")])
        .await;
    assert!(
        p.body.contains("id=\"preview-name\">KIM TAEHO<"),
        "{}",
        p.body
    );
    assert!(
        p.body.contains("id=\"preview-alias\">金田 太浩<"),
        "{}",
        p.body
    );
    // Issued: the SHC names the legal name; the paper prints the 通称 beside the birth date.
    let id = crate::flow::issue_domestic(&mut b, "1006").await;
    let pdf = b.get(&format!("/certificates/{id}/pdf")).await;
    assert!(pdfsig(&pdf.bytes, &c.dir).contains("Signature is Valid"));
    std::fs::write(c.dir.join("tsushou-domestic.pdf"), &pdf.bytes).unwrap();

    // An overseas certificate for 1005 from a US passport, with a former name recorded.
    let m = mrz_of("USA", "SMITH", "JOHN<WILLIAM", "C03005988", "790623", 'M');
    b.get("/residents/1005").await;
    let p = b
        .post(
            "/residents/1005/passport",
            &[("mrz", &m), ("former_name", "JONES")],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    let p = b
        .post("/residents/1005/preview", &[("kind", "overseas")])
        .await;
    assert!(
        p.body.contains("id=\"preview-roman\">SMITH JOHN WILLIAM<"),
        "{}",
        p.body
    );
    assert!(p.body.contains("JONES"), "{}", p.body);
    let p = b
        .post("/residents/1005/issue", &[("kind", "overseas")])
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    let id = p.location.unwrap().rsplit('/').next().unwrap().to_owned();
    let pdf = b.get(&format!("/certificates/{id}/pdf")).await;
    assert_eq!(pdf.status, StatusCode::OK);
    assert!(pdfsig(&pdf.bytes, &c.dir).contains("Signature is Valid"));
    std::fs::write(c.dir.join("foreign-overseas.pdf"), &pdf.bytes).unwrap();
    let texts = pdf_qr_texts(&pdf.bytes, &c.dir);
    let shc = c.shc_of(&pdf.bytes);
    let names = &shc["vc"]["credentialSubject"]["fhirBundle"]["entry"][0]["resource"]["name"];
    assert_eq!(names[0]["family"], "SMITH", "{shc}");
    assert_eq!(names[0]["given"][0], "JOHN WILLIAM", "{shc}");
    let vds: Value =
        serde_json::from_str(texts.iter().find(|t| t.starts_with('{')).unwrap()).unwrap();
    assert_eq!(
        vds["data"]["msg"]["pid"]["n"], "SMITH JOHN WILLIAM",
        "{vds}"
    );
    assert_eq!(vds["data"]["msg"]["pid"]["i"], "C03005988", "{vds}");
}
