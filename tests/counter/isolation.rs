//! Staff of one municipality cannot find, view or count another's residents through the UI.

use axum::http::StatusCode;

use crate::helpers::Counter;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_of_chiyoda_cannot_reach_fukuoka_residents() {
    let c = Counter::start().await;
    let mut a = c.browser();
    let dash = a.login(&c, &c.chiyoda).await;
    // Count: 千代田区 holds 7 demo residents; 福岡市's one is not counted.
    assert!(
        dash.body.contains("id=\"resident-count\">7<"),
        "{}",
        dash.body
    );
    // Find: 佐藤　美咲 (福岡市, 宛名番号 2001, 券番号 0000000101) by every route.
    for fields in [
        vec![("by", "atena"), ("atena", "2001")],
        vec![("by", "ken"), ("ken_no", "0000000101")],
        vec![
            ("by", "name"),
            ("family", "佐藤"),
            ("given", "美咲"),
            ("birth_date", "1988-03-10"),
        ],
    ] {
        let p = a.post("/search", &fields).await;
        assert_eq!(p.status, StatusCode::OK);
        assert!(p.body.contains("id=\"no-results\""), "{fields:?}");
        // The form echoes what was typed; the resident herself must not appear.
        assert!(!p.body.contains("href=\"/residents/2001\""), "{fields:?}");
        assert!(!p.body.contains("サトウ"), "{fields:?}");
    }
    // View, passport, preview, issue: all not found.
    let p = a.get("/residents/2001").await;
    assert_eq!(p.status, StatusCode::NOT_FOUND);
    assert!(!p.body.contains("佐藤"));
    let mrz = crate::helpers::mrz("SATO", "MISAKI", "TR1234567", "880310", 'F');
    let p = a.post("/residents/2001/passport", &[("mrz", &mrz)]).await;
    assert_eq!(p.status, StatusCode::NOT_FOUND);
    let p = a
        .post("/residents/2001/preview", &[("kind", "domestic")])
        .await;
    assert_eq!(p.status, StatusCode::NOT_FOUND);
    assert!(!p.body.contains("佐藤"));

    // The same searches by 福岡市's own clerk find her.
    let mut b = c.browser();
    let dash = b.login(&c, &c.fukuoka).await;
    assert!(dash.body.contains("id=\"resident-count\">2<"));
    let p = b
        .post("/search", &[("by", "atena"), ("atena", "2001")])
        .await;
    assert!(p.body.contains("佐藤　美咲"));
    assert_eq!(b.get("/residents/2001").await.status, StatusCode::OK);
    // …and cannot see 千代田区's.
    assert_eq!(b.get("/residents/1001").await.status, StatusCode::NOT_FOUND);
}
