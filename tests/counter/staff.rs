//! The admin's staff pages over HTTP: add a login (its secrets shown once), change its role,
//! disable it (its open session ends), enable it, reset its authenticator, lift a slow-down,
//! and the periodic review; clerks and other municipalities' logins are refused.

use axum::http::StatusCode;

use crate::helpers::*;
use crate::totp::base32_decode;

fn between<'a>(body: &'a str, start: &str, end: &str) -> &'a str {
    let i = body
        .find(start)
        .unwrap_or_else(|| panic!("no {start} in {body}"))
        + start.len();
    &body[i..i + body[i..].find(end).unwrap()]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_adds_changes_disables_and_resets_a_login() {
    let c = Counter::start().await;
    let mut clerk = c.browser();
    clerk.login(&c, &c.chiyoda).await;
    let p = clerk.get("/staff").await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    assert!(!p.body.contains("id=\"nav-staff\""));

    let mut admin = c.browser();
    let p = admin.login(&c, &c.chiyoda_admin).await;
    assert!(p.body.contains("id=\"nav-staff\""), "{}", p.body);
    let p = admin.get("/staff").await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    for login in ["admin-a", "clerk-a", "auditor-a"] {
        assert!(
            p.body.contains(&format!("data-login=\"{login}\"")),
            "{login}"
        );
    }
    assert!(
        !p.body.contains("data-login=\"clerk-b\""),
        "Fukuoka's login"
    );
    // The admin's own row has no actions.
    assert!(!p.body.contains("action=\"/staff/admin-a/"), "{}", p.body);

    let p = admin
        .post("/staff", &[("login", "clerk-new"), ("role", "clerk")])
        .await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    let password = between(&p.body, "id=\"new-password\">", "<").to_owned();
    let secret = between(&p.body, "id=\"new-totp-secret\">", "<").to_owned();
    assert!(p.body.contains("<svg"), "the authenticator QR");
    assert_eq!(password.len(), 20);
    // Shown once: the list page never shows it again.
    let p = admin.get("/staff").await;
    assert!(!p.body.contains(&password));
    assert!(
        p.body
            .contains("data-login=\"clerk-new\" data-role=\"clerk\" data-disabled=\"false\"")
    );
    let new = Staff {
        municipality: CHIYODA,
        login: "clerk-new",
        password,
        secret: base32_decode(&secret),
    };
    let mut newcomer = c.browser();
    newcomer.login(&c, &new).await;
    assert!(
        newcomer
            .get("/audit")
            .await
            .body
            .contains("data-code=\"forbidden\""),
        "a clerk does not read the audit log"
    );

    // A new role reaches the open session at its next request.
    let p = admin
        .post("/staff/clerk-new/role", &[("role", "auditor")])
        .await;
    assert!(
        p.body
            .contains("data-login=\"clerk-new\" data-role=\"auditor\""),
        "{}",
        p.body
    );
    let p = newcomer.get("/audit").await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.body);
    assert!(p.body.contains("id=\"audit-verify\""));

    // Disabled: the open session ends, logins fail.
    let p = admin.post("/staff/clerk-new/disable", &[]).await;
    assert!(
        p.body
            .contains("data-login=\"clerk-new\" data-role=\"auditor\" data-disabled=\"true\"")
    );
    let p = newcomer.get("/search").await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert_eq!(p.location.as_deref(), Some("/login?disabled=1"));
    assert!(
        newcomer
            .get("/login?disabled=1")
            .await
            .body
            .contains("id=\"login-disabled\"")
    );
    c.clock.advance(30);
    let p = newcomer.login_with(&new, &c.code(&new)).await;
    assert_eq!(p.status, StatusCode::UNAUTHORIZED);

    // Enabled again, with a new authenticator: the old codes stop working.
    admin.post("/staff/clerk-new/enable", &[]).await;
    let p = admin.post("/staff/clerk-new/reset-totp", &[]).await;
    let reset = between(&p.body, "id=\"new-totp-secret\">", "<").to_owned();
    c.clock.advance(30);
    let p = newcomer.login_with(&new, &c.code(&new)).await;
    assert_eq!(p.status, StatusCode::UNAUTHORIZED);
    let new = Staff {
        secret: base32_decode(&reset),
        ..new
    };
    // Two failures above: the login is slowed down; the admin sees it and lifts it.
    c.clock.advance(30);
    let p = newcomer.login_with(&new, "000000").await;
    assert_ne!(p.status, StatusCode::SEE_OTHER);
    let p = admin.get("/staff").await;
    assert!(
        p.body.contains("data-login=\"clerk-new\" data-role=\"auditor\" data-disabled=\"false\" data-unused=\"false\" data-throttled=\"true\""),
        "{}",
        p.body
    );
    let p = admin.post("/staff/clerk-new/unlock", &[]).await;
    assert!(p.body.contains("data-throttled=\"false\""));
    c.clock.advance(30);
    let p = newcomer.login_with(&new, &c.code(&new)).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);

    // Not one's own login, not another municipality's, not an unknown action.
    let p = admin.post("/staff/admin-a/disable", &[]).await;
    assert_eq!(p.status, StatusCode::CONFLICT);
    assert!(p.body.contains("data-code=\"own-login\""));
    let p = admin.post("/staff/clerk-b/disable", &[]).await;
    assert_eq!(p.status, StatusCode::NOT_FOUND);
    assert!(p.body.contains("data-code=\"staff-not-found\""));
    let p = admin.post("/staff/clerk-a/delete", &[]).await;
    assert!(p.body.contains("data-code=\"invalid-input\""));
    let p = admin
        .post("/staff", &[("login", "clerk-a"), ("role", "clerk")])
        .await;
    assert!(p.body.contains("data-code=\"staff-exists\""));
    let p = admin
        .post("/staff/clerk-a/disable", &[("csrf", "forged")])
        .await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    let p = clerk.post("/staff/auditor-a/disable", &[]).await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);

    // The periodic review: every login with its last use, confirmed with one button.
    let p = admin.get("/staff").await;
    assert!(
        p.body
            .contains("id=\"last-review\">定期確認の記録はありません")
    );
    let p = admin.post("/staff/review", &[]).await;
    assert!(p.body.contains("前回の定期確認"), "{}", p.body);
    let tail = c.records.audit_tail(300).await.unwrap();
    for action in [
        "staff-add",
        "staff-role",
        "staff-disable",
        "staff-enable",
        "staff-totp-reset",
        "staff-unlock",
        "staff-review",
        "staff-list",
    ] {
        assert!(
            tail.iter()
                .any(|e| e.action == action && e.actor == "staff:131016/admin-a"),
            "no {action} entry"
        );
    }
}

/// A login that was never used for the review period is flagged on the review page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_review_flags_logins_unused_for_ninety_days() {
    let c = Counter::start().await;
    let mut admin = c.browser();
    admin.login(&c, &c.chiyoda_admin).await;
    let p = admin.get("/staff").await;
    assert!(p.body.contains("data-login=\"clerk-a\" data-role=\"clerk\" data-disabled=\"false\" data-unused=\"false\""), "{}", p.body);
    c.clock.advance(91 * 24 * 3600);
    let mut admin = c.browser();
    admin.login(&c, &c.chiyoda_admin).await;
    let p = admin.get("/staff").await;
    assert!(p.body.contains("data-login=\"clerk-a\" data-role=\"clerk\" data-disabled=\"false\" data-unused=\"true\""), "{}", p.body);
    assert!(p.body.contains("data-login=\"admin-a\" data-role=\"admin\" data-disabled=\"false\" data-unused=\"false\""), "{}", p.body);
}
