//! The counter flow: search by each key, record view (audited), MRZ with check digits,
//! preview.

use axum::http::StatusCode;

use serde_json::Value;

use crate::artefacts::{pdf_qr_texts, pdfsig, verify_shc};
use crate::helpers::{Counter, mrz};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_view_mrz_preview() {
    let c = Counter::start().await;
    let mut b = c.browser();
    b.login(&c, &c.chiyoda).await;
    for fields in [
        vec![("by", "atena"), ("atena", "1001")],
        vec![("by", "ken"), ("ken_no", "0000000001")],
        vec![
            ("by", "name"),
            ("family", "山田"),
            ("given", "太郎"),
            ("birth_date", "1985-04-01"),
        ],
    ] {
        let p = b.post("/search", &fields).await;
        assert_eq!(p.status, StatusCode::OK);
        assert!(p.body.contains("href=\"/residents/1001\""), "{fields:?}");
    }
    let p = b.post("/search", &[("by", "ken"), ("ken_no", "12")]).await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);

    let before = c.records.audit_tail(1000).await.unwrap().len();
    let p = b.get("/residents/1001").await;
    assert_eq!(p.status, StatusCode::OK);
    assert!(p.body.contains("山田　太郎") && p.body.contains("FA5765"));
    assert!(!p.body.contains("123456789018"), "MyNumber must be masked");
    let tail = c.records.audit_tail(1000).await.unwrap();
    assert_eq!(tail.len(), before + 1);
    assert!(tail.iter().any(|e| e.action == "view"
        && e.subject.as_deref() == Some("1001")
        && e.actor == "staff:131016/clerk-a"));

    // Overseas preview needs the passport first.
    let p = b
        .post("/residents/1001/preview", &[("kind", "overseas")])
        .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p.body.contains("passport-required"));

    // A wrong check digit, a wrong shape, a birth date that is not the record's.
    let good = mrz("YAMADA", "TARO", "TK1234567", "850401", 'M');
    let mut bad = good.clone().into_bytes();
    let n = bad.len();
    bad[n - 1] = if bad[n - 1] == b'0' { b'1' } else { b'0' };
    let bad = String::from_utf8(bad).unwrap();
    let p = b.post("/residents/1001/passport", &[("mrz", &bad)]).await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        p.body.contains("data-code=\"mrz-check-digit\""),
        "{}",
        p.body
    );
    let p = b
        .post("/residents/1001/passport", &[("mrz", "P<JPNYAMADA")])
        .await;
    assert!(p.body.contains("data-code=\"mrz-invalid\""));
    let other = mrz("YAMADA", "TARO", "TK1234567", "850402", 'M');
    let p = b.post("/residents/1001/passport", &[("mrz", &other)]).await;
    assert!(p.body.contains("data-code=\"mrz-birth-date-mismatch\""));

    let p = b
        .post(
            "/residents/1001/passport",
            &[("mrz", &good.replace('\n', "\r\n"))],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    let p = b.get("/residents/1001").await;
    assert!(p.body.contains("YAMADA TARO") && p.body.contains("TK*****67"));
    assert!(!p.body.contains("TK1234567"));

    let p = b
        .post("/residents/1001/preview", &[("kind", "overseas")])
        .await;
    assert_eq!(p.status, StatusCode::OK);
    assert!(p.body.contains("id=\"preview-roman\">YAMADA TARO<"));
    assert!(p.body.contains("TK*****67"));
    assert!(p.body.contains("id=\"issue\""));
    let tail = c.records.audit_tail(1000).await.unwrap();
    assert!(
        tail.iter()
            .any(|e| e.action == "counter-preview" && e.subject.as_deref() == Some("1001"))
    );
}

/// The PDF's VDS-NC (the QR that is JSON, not `shc:/`).
fn vdsnc_of(texts: &[String]) -> Value {
    let t = texts
        .iter()
        .find(|t| t.starts_with('{'))
        .expect("a VDS-NC QR on the overseas certificate");
    serde_json::from_str(t).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_and_print_an_overseas_certificate() {
    let c = Counter::start().await;
    let mut b = c.browser();
    b.login(&c, &c.chiyoda).await;
    let good = mrz("YAMADA", "TARO", "TK1234567", "850401", 'M');
    b.get("/residents/1001").await;
    let p = b.post("/residents/1001/passport", &[("mrz", &good)]).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    b.post("/residents/1001/preview", &[("kind", "overseas")])
        .await;
    let p = b
        .post("/residents/1001/issue", &[("kind", "overseas")])
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    let print = p.location.unwrap();
    let id = print.strip_prefix("/certificates/").unwrap().to_owned();
    assert_eq!(id.len(), 12, "{id}");
    let page = b.get(&print).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body
            .contains(&format!("src=\"/certificates/{id}/pdf\""))
    );
    let pdf = b.get(&format!("/certificates/{id}/pdf")).await;
    assert_eq!(pdf.status, StatusCode::OK);
    assert_eq!(pdf.content_type.as_deref(), Some("application/pdf"));
    assert!(pdfsig(&pdf.bytes, &c.dir).contains("Signature is Valid"));

    // From pixels: the SHC verifies under the published JWKS and names the resident; the
    // VDS-NC carries the romanised name and the passport number from the MRZ.
    let texts = pdf_qr_texts(&pdf.bytes, &c.dir);
    let jwks: Value = serde_json::from_str(
        &std::fs::read_to_string(c.dir.join("publication/jwks.json")).unwrap(),
    )
    .unwrap();
    let shc = texts.iter().find(|t| t.starts_with("shc:/")).unwrap();
    let payload = verify_shc(shc, &jwks);
    assert!(payload.to_string().contains("山田"), "{payload}");
    let vds = vdsnc_of(&texts);
    let pid = &vds["data"]["msg"]["pid"];
    assert_eq!(pid["n"], "YAMADA TARO", "{vds}");
    assert_eq!(pid["i"], "TK1234567", "{vds}");
    assert_eq!(vds["data"]["msg"]["uvci"], id.as_str());

    // The issuance is recorded with its audit entry; printing is audited as a view.
    let tail = c.records.audit_tail(1000).await.unwrap();
    assert!(
        tail.iter()
            .any(|e| e.action == "counter-print" && e.subject.as_deref() == Some(id.as_str()))
    );
    assert!(
        tail.iter()
            .any(|e| e.actor == "staff:131016/clerk-a" && e.action.contains("issu"))
    );

    // Another session (even of the same municipality) cannot fetch this PDF.
    c.clock.advance(30); // the next TOTP step: a code is accepted once
    let mut other = c.browser();
    other.login(&c, &c.chiyoda).await;
    let p = other.get(&format!("/certificates/{id}/pdf")).await;
    assert_eq!(p.status, StatusCode::NOT_FOUND);
    assert!(p.body.contains("certificate-not-in-session"));

    // A dose deleted after issuance: the resident's page flags the certificate.
    let page = other.get("/residents/1001").await;
    assert!(!page.body.contains("data-stale"), "{}", page.body);
    let m = vaxcert::domain::MunicipalityCode::parse("131016").unwrap();
    let atena = vaxcert::records::AtenaNo::parse("1001").unwrap();
    c.records
        .delete_dose(&m, &atena, 3, "entered twice", "test")
        .await
        .unwrap();
    let page = other.get("/residents/1001").await;
    assert!(
        page.body.contains("data-stale=\"record-changed\"") && page.body.contains(&id),
        "{}",
        page.body
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resident_who_moved_out_is_not_issued_at_the_counter() {
    let c = Counter::start().await;
    let m = vaxcert::domain::MunicipalityCode::parse("131016").unwrap();
    c.records
        .import_targets(
            "1002,234567890121,鈴木,花子,スズキ,ハナコ,19920715,2,0000000002,1\n".as_bytes(),
            &m,
            "test",
            &|_| {},
        )
        .await
        .unwrap();
    let mut b = c.browser();
    b.login(&c, &c.chiyoda).await;
    let p = b
        .post("/residents/1002/issue", &[("kind", "domestic")])
        .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", p.body);
    assert!(
        p.body.contains("data-code=\"resident-moved-out\""),
        "{}",
        p.body
    );
}

/// Revocation at the counter is the admin's: one certificate with a reason, and every
/// certificate issued from data since changed in one step (each audited, each rid in the CRL).
/// A clerk sees neither.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_revokes_one_certificate_and_the_stale_ones_in_one_step() {
    let c = Counter::start().await;
    let mut clerk = c.browser();
    clerk.login(&c, &c.chiyoda).await;
    let first = issue_domestic(&mut clerk, "1001").await;
    let second = issue_domestic(&mut clerk, "1001").await;
    let third = issue_domestic(&mut clerk, "1002").await;

    // A clerk may neither review nor revoke, and sees no revoke form.
    let page = clerk.get("/residents/1001").await;
    assert!(!page.body.contains("/revoke"), "{}", page.body);
    let p = clerk.get("/review").await;
    assert!(p.body.contains("data-code=\"forbidden\""), "{}", p.body);
    let p = clerk
        .post(&format!("/certificates/{first}/revoke"), &[("reason", "x")])
        .await;
    assert!(p.body.contains("data-code=\"forbidden\""), "{}", p.body);

    c.clock.advance(30);
    let mut admin = c.browser();
    admin.login(&c, &c.chiyoda_admin).await;
    let page = admin.get("/residents/1001").await;
    assert!(
        page.body.contains(&format!("id=\"revoke-{first}\"")),
        "{}",
        page.body
    );
    let p = admin
        .post(
            &format!("/certificates/{first}/revoke"),
            &[("reason", "issued in error")],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    assert_eq!(p.location.as_deref(), Some("/residents/1001"));
    let page = admin.get("/residents/1001").await;
    assert!(!page.body.contains(&format!("id=\"revoke-{first}\"")));
    // Another municipality's certificate ID is not found, and nothing is revoked.
    let p = admin
        .post("/certificates/AAAAAAAAAAAA/revoke", &[("reason", "x")])
        .await;
    assert!(
        p.body.contains("data-code=\"certificate-unknown\""),
        "{}",
        p.body
    );

    // The record changes: a dose of 1001 deleted, 1002 moved out.
    let page = admin.get("/review").await;
    assert!(page.body.contains("id=\"none-stale\""), "{}", page.body);
    let m = vaxcert::domain::MunicipalityCode::parse("131016").unwrap();
    c.records
        .delete_dose(
            &m,
            &vaxcert::records::AtenaNo::parse("1001").unwrap(),
            3,
            "entered twice",
            "test",
        )
        .await
        .unwrap();
    c.records
        .import_targets(
            "1002,234567890121,鈴木,花子,スズキ,ハナコ,19920715,2,0000000002,1\n".as_bytes(),
            &m,
            "test",
            &|_| {},
        )
        .await
        .unwrap();
    let page = admin.get("/review").await;
    for (id, why) in [(&second, "record-changed"), (&third, "moved-out")] {
        assert!(
            page.body.contains(&format!(
                "data-certificate=\"{id}\"><td><code>{id}</code></td><td><a href=\"/residents/"
            )),
            "{}",
            page.body
        );
        assert!(page.body.contains(&format!("data-why=\"{why}\"")));
    }
    assert!(!page.body.contains(&format!("data-certificate=\"{first}\"")));
    let p = admin
        .post("/review/revoke", &[("reason", "records corrected")])
        .await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    assert!(p.body.contains("data-revoked=\"2\""), "{}", p.body);
    assert!(p.body.contains("id=\"none-stale\""), "{}", p.body);

    let tail = c.records.audit_tail(1000).await.unwrap();
    let reasons: Vec<&str> = tail
        .iter()
        .filter(|e| e.action == "revocation-reason" && e.actor == "staff:131016/admin-a")
        .map(|e| e.outcome.as_str())
        .collect();
    assert_eq!(reasons.len(), 3, "{reasons:?}");
    assert!(reasons.contains(&"issued in error"));
    assert!(reasons.contains(&"records corrected (moved-out)"));
    let jwks: Value = serde_json::from_str(
        &std::fs::read_to_string(c.dir.join("publication/jwks.json")).unwrap(),
    )
    .unwrap();
    let kid = jwks["keys"][0]["kid"].as_str().unwrap();
    let crl: Value = serde_json::from_str(
        &std::fs::read_to_string(c.dir.join(format!("publication/crl/{kid}.json"))).unwrap(),
    )
    .unwrap();
    assert_eq!(crl["rids"].as_array().unwrap().len(), 3, "{crl}");
}

/// A reprint keeps the certificate's ID (audited), and only while its record still says what
/// it said; a revoked certificate is not printed again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_prints_again_with_the_same_id_until_its_record_changes() {
    let c = Counter::start().await;
    let mut b = c.browser();
    b.login(&c, &c.chiyoda).await;
    let id = issue_domestic(&mut b, "1001").await;
    let page = b.get("/residents/1001").await;
    assert!(
        page.body.contains(&format!("id=\"reprint-{id}\"")),
        "{}",
        page.body
    );
    let p = b.post(&format!("/certificates/{id}/reprint"), &[]).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    assert_eq!(p.location, Some(format!("/certificates/{id}")));
    let pdf = b.get(&format!("/certificates/{id}/pdf")).await;
    assert_eq!(pdf.status, StatusCode::OK);
    assert!(pdfsig(&pdf.bytes, &c.dir).contains("Signature is Valid"));
    let tail = c.records.audit_tail(100).await.unwrap();
    assert!(
        tail.iter()
            .any(|e| e.action == "reprint" && e.outcome == id && e.actor == "staff:131016/clerk-a"),
        "{tail:?}"
    );

    // The record changes: no reprint, a clear refusal.
    let m = vaxcert::domain::MunicipalityCode::parse("131016").unwrap();
    c.records
        .delete_dose(
            &m,
            &vaxcert::records::AtenaNo::parse("1001").unwrap(),
            3,
            "entered twice",
            "test",
        )
        .await
        .unwrap();
    let page = b.get("/residents/1001").await;
    assert!(!page.body.contains(&format!("id=\"reprint-{id}\"")));
    let p = b.post(&format!("/certificates/{id}/reprint"), &[]).await;
    assert!(
        p.body.contains("data-code=\"record-changed\""),
        "{}",
        p.body
    );

    // Revoked: refused too.
    let other = issue_domestic(&mut b, "1002").await;
    c.records
        .revoke_by_id(
            &vaxcert::domain::CertificateId::parse(&other).unwrap(),
            "test",
            "test",
        )
        .await
        .unwrap();
    b.get("/residents/1002").await;
    let p = b.post(&format!("/certificates/{other}/reprint"), &[]).await;
    assert!(
        p.body.contains("data-code=\"certificate-revoked\""),
        "{}",
        p.body
    );
}

/// The auditor's page: its own municipality's entries only, searched by action or subject,
/// exported as CSV (audited, never a MyNumber), with `audit verify`'s result. Clerks are
/// refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_auditor_searches_and_exports_the_municipalitys_audit_log() {
    let c = Counter::start().await;
    let mut clerk = c.browser();
    clerk.login(&c, &c.chiyoda).await;
    clerk.get("/residents/1001").await;
    let mut other = c.browser();
    other.login(&c, &c.fukuoka).await;
    let p = clerk.get("/audit").await;
    assert!(p.body.contains("data-code=\"forbidden\""), "{}", p.body);
    let p = clerk.get("/audit.csv").await;
    assert!(p.body.contains("data-code=\"forbidden\""), "{}", p.body);

    let mut auditor = c.browser();
    auditor.login(&c, &c.chiyoda_auditor).await;
    let page = auditor.get("/audit").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(
        page.body.contains("id=\"audit-verify\" data-ok=\"true\""),
        "{}",
        page.body
    );
    // Actors are HTML-escaped (`/` as `&#x2f;`): look for the logins.
    assert!(page.body.contains("clerk-a</td>"), "{}", page.body);
    assert!(
        !page.body.contains("clerk-b</td>"),
        "another municipality's entry"
    );
    let page = auditor.get("/audit?action=view&subject=1001").await;
    let rows = page.body.matches("<tr data-action=").count();
    assert_eq!(rows, page.body.matches("<tr data-action=\"view\"").count());
    assert!(rows >= 1, "{}", page.body);
    let p = auditor.get("/audit?action=%3Cscript%3E").await;
    assert!(p.body.contains("data-code=\"invalid-input\""), "{}", p.body);

    let csv = auditor.get("/audit.csv?action=login").await;
    assert_eq!(csv.status, StatusCode::OK);
    assert_eq!(csv.content_type.as_deref(), Some("text/csv; charset=utf-8"));
    let text = String::from_utf8(csv.bytes.to_vec()).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("seq,at_unix,date_jst,actor,action,subject,outcome")
    );
    let rest: Vec<&str> = lines.collect();
    assert!(rest.iter().all(|l| l.contains(",login,")), "{text}");
    assert!(
        rest.iter().any(|l| l.contains("staff:131016/clerk-a")),
        "{text}"
    );
    assert!(!text.contains("401307/"), "{text}");
    assert!(
        !text
            .chars()
            .collect::<Vec<_>>()
            .windows(12)
            .any(|w| w.iter().all(char::is_ascii_digit)),
        "no 12-digit number (MyNumber) in the export"
    );
    let tail = c.records.audit_tail(100).await.unwrap();
    for action in ["audit-search", "audit-export"] {
        assert!(
            tail.iter()
                .any(|e| e.action == action && e.actor == "staff:131016/auditor-a"),
            "no {action} entry"
        );
    }
}

/// Issue a domestic certificate at the counter for `atena`; its certificate ID.
pub(crate) async fn issue_domestic(b: &mut crate::helpers::Browser, atena: &str) -> String {
    b.get(&format!("/residents/{atena}")).await;
    let p = b
        .post(
            &format!("/residents/{atena}/issue"),
            &[("kind", "domestic")],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    p.location
        .unwrap()
        .strip_prefix("/certificates/")
        .unwrap()
        .to_owned()
}
