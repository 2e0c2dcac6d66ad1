//! The counter flow: search by each key, record view (audited), MRZ with check digits,
//! preview.

use axum::http::StatusCode;

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
    assert!(p.body.contains("山田 太郎") && p.body.contains("FA5765"));
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
