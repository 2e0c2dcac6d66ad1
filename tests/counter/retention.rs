//! The admin's retention page: nothing due at first; six years after a resident is marked
//! 死亡 they are listed, and one button deletes them (audited); clerks are refused, and without
//! a policy the page says so.

use axum::http::StatusCode;
use vaxcert::records::{AtenaNo, Policy};

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_deletes_what_the_policy_makes_due() {
    let c = Counter::start().await;
    let m = vaxcert::domain::MunicipalityCode::parse(CHIYODA).unwrap();
    c.records
        .import_targets(
            "1004,678901234562,伊藤,さくら,イトウ,サクラ,20000229,2,0000000004,2\n".as_bytes(),
            &m,
            "test",
            &|_| {},
        )
        .await
        .unwrap();
    let mut plain = c.browser();
    plain.login(&c, &c.chiyoda_admin).await;
    let p = plain.get("/retention").await;
    assert!(
        p.body.contains("id=\"retention-unconfigured\""),
        "{}",
        p.body
    );

    let file = c.dir.join("retention.toml");
    std::fs::write(
        &file,
        "records_years = 5\nissuance_years = 5\naudit_years = 5\narchive_dir = \"archive\"\n",
    )
    .unwrap();
    let app =
        vaxcert::counter::router(c.state.clone().with_retention(Policy::load(&file).unwrap()));
    c.clock.advance(30);
    let mut admin = c.browser_of(app.clone());
    admin.login(&c, &c.chiyoda_admin).await;
    let p = admin.get("/retention").await;
    assert!(p.body.contains("id=\"due-residents\">0<"), "{}", p.body);
    assert!(!p.body.contains("id=\"retention-apply\""));

    c.clock.advance(6 * 366 * 86_400);
    let mut admin = c.browser_of(app.clone());
    admin.login(&c, &c.chiyoda_admin).await;
    let p = admin.get("/retention").await;
    assert!(
        p.body.contains("<code class=\"due-resident\">1004</code>"),
        "{}",
        p.body
    );
    let mut clerk = c.browser_of(app);
    clerk.login(&c, &c.chiyoda).await;
    let p = clerk.get("/retention").await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    let p = clerk.post("/retention/apply", &[]).await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);

    let p = admin.post("/retention/apply", &[]).await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    assert!(
        p.body
            .contains("id=\"retention-deleted\" data-residents=\"1\""),
        "{}",
        p.body
    );
    assert!(p.body.contains("id=\"due-residents\">0<"), "{}", p.body);
    assert!(
        c.records
            .record_by_atena(&m, &AtenaNo::parse("1004").unwrap())
            .await
            .unwrap()
            .is_none()
    );
    let tail = c.records.audit_tail(50).await.unwrap();
    assert!(tail.iter().any(|e| e.action == "retention-delete-resident"
        && e.subject.as_deref() == Some("1004")
        && e.actor == "staff:131016/admin-a"));
    c.records.verify_audit().await.unwrap();
}
