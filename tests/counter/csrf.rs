//! Every form refuses a missing or wrong CSRF token, before it does anything.

use axum::http::StatusCode;

use crate::helpers::Counter;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_without_the_login_csrf_cookie_is_refused() {
    let c = Counter::start().await;
    let mut b = c.browser();
    b.get("/login").await;
    b.jar.clear();
    let p = b
        .post(
            "/login",
            &[
                ("municipality", "131016"),
                ("login", c.chiyoda.login),
                ("password", &c.chiyoda.password),
                ("totp", &c.code(&c.chiyoda)),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    assert!(p.body.contains("data-code=\"csrf\""), "{}", p.body);
    // The refused attempt did not spend the code: a proper login with it works.
    let mut b = c.browser();
    b.login(&c, &c.chiyoda).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forms_with_a_wrong_token_are_refused() {
    let c = Counter::start().await;
    let mut b = c.browser();
    b.login(&c, &c.chiyoda).await;
    for (path, fields) in [
        (
            "/search",
            vec![("by", "atena"), ("atena", "1001"), ("csrf", "forged")],
        ),
        ("/residents/1001/passport", vec![("mrz", "x"), ("csrf", "")]),
        (
            "/residents/1001/preview",
            vec![("kind", "domestic"), ("csrf", "forged")],
        ),
        (
            "/residents/1001/issue",
            vec![("kind", "domestic"), ("csrf", "forged")],
        ),
        ("/logout", vec![("csrf", "forged")]),
    ] {
        let p = b.post(path, &fields).await;
        assert_eq!(p.status, StatusCode::FORBIDDEN, "{path}");
        assert!(p.body.contains("data-code=\"csrf\""), "{path}");
    }
    // Still logged in (the forged logout did nothing), and the real token works.
    let p = b
        .post("/search", &[("by", "atena"), ("atena", "1001")])
        .await;
    assert_eq!(p.status, StatusCode::OK);
    assert!(p.body.contains("山田　太郎"));
}
