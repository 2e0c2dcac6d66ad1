//! The `stats` role at the counter: it lands on the statistics, sees counts only (small cells
//! suppressed, CSV export), and every page that shows a resident, a dose, an issuance or the
//! audit log refuses it.

use axum::http::StatusCode;
use vaxcert::records::Role;

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stats_role_sees_counts_and_no_resident() {
    let c = Counter::start().await;
    let mut clerk = c.browser();
    clerk.login(&c, &c.chiyoda).await;
    let issued = crate::flow::issue_domestic(&mut clerk, "1001").await;
    let state = c.chiyoda_staff("state-a", Role::Stats).await;
    let mut b = c.browser();
    let p = b.login_with(&state, &c.code(&state)).await;
    assert_eq!(p.location.as_deref(), Some("/stats"));
    let p = b.get("/stats").await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    assert!(
        p.body.contains(
            "data-municipality=\"131016\" data-channel=\"counter\" data-kind=\"domestic\""
        ),
        "{}",
        p.body
    );
    assert!(
        p.body.contains("<td class=\"issued\">&lt;10</td>"),
        "{}",
        p.body
    );
    assert!(
        !p.body.contains("山田") && !p.body.contains("1001"),
        "{}",
        p.body
    );
    assert!(!p.body.contains("href=\"/search\""));
    // A range without that day: no cell; a malformed date: refused.
    let p = b.get("/stats?from=2030-01-01&to=").await;
    assert!(p.body.contains("id=\"no-stats\""), "{}", p.body);
    let p = b.get("/stats?from=2027-13-01").await;
    assert!(p.body.contains("data-code=\"invalid-input\""), "{}", p.body);
    let csv = b.get("/stats.csv").await;
    assert_eq!(csv.content_type.as_deref(), Some("text/csv; charset=utf-8"));
    assert!(
        csv.body
            .starts_with("municipality,day,channel,kind,issued,revoked\n")
    );
    assert!(csv.body.contains(",counter,domestic,<10,0"), "{}", csv.body);

    for path in [
        "/search".to_owned(),
        "/residents/1001".to_owned(),
        "/audit".to_owned(),
        "/audit.csv".to_owned(),
        "/review".to_owned(),
        "/staff".to_owned(),
        format!("/certificates/{issued}/pdf"),
    ] {
        let p = b.get(&path).await;
        assert_ne!(p.status, StatusCode::OK, "{path}");
        assert!(!p.body.contains("山田"), "{path}: {}", p.body);
    }
    for (path, fields) in [
        ("/search", vec![("by", "atena"), ("atena", "1001")]),
        ("/residents/1001/preview", vec![("kind", "domestic")]),
        ("/residents/1001/issue", vec![("kind", "domestic")]),
        (&*format!("/certificates/{issued}/reprint"), vec![]),
    ] {
        let p = b.post(path, &fields).await;
        assert!(
            p.status == StatusCode::FORBIDDEN || p.status == StatusCode::NOT_FOUND,
            "{path}: {} {}",
            p.status,
            p.body
        );
        assert!(!p.body.contains("山田"), "{path}: {}", p.body);
    }
    // A clerk reads no statistics.
    let p = clerk.get("/stats").await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
}
