//! Sessions: secure cookies, the 15-minute idle timeout on the injected clock, TOTP replay
//! refused, logout.

use axum::http::StatusCode;

use crate::helpers::Counter;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_cookie_is_httponly_samesite_strict_and_secure() {
    let c = Counter::start().await;
    let mut b = c.browser();
    let p = b.login_with(&c.chiyoda, &c.code(&c.chiyoda)).await;
    let cookie = p
        .set_cookies
        .iter()
        .find(|s| s.starts_with("vx_counter="))
        .expect("session cookie");
    for attr in ["HttpOnly", "SameSite=Strict", "Secure", "Path=/"] {
        assert!(cookie.contains(attr), "{cookie} lacks {attr}");
    }
    let page = b.get("/search").await;
    assert!(page.body.contains("clerk-a"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_for_15_minutes_logs_out() {
    let c = Counter::start().await;
    let mut b = c.browser();
    b.login(&c, &c.chiyoda).await;
    // Activity within the window keeps the session alive.
    c.clock.advance(14 * 60);
    assert_eq!(b.get("/search").await.status, StatusCode::OK);
    c.clock.advance(14 * 60);
    assert_eq!(b.get("/residents/1001").await.status, StatusCode::OK);
    // Then 15 minutes and a second of nothing.
    c.clock.advance(15 * 60 + 1);
    let p = b.get("/residents/1001").await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert_eq!(p.location.as_deref(), Some("/login?expired=1"));
    // The session is gone for good, not just this once.
    let p = b.get("/search").await;
    assert_eq!(p.location.as_deref(), Some("/login"));
    let p = b.get("/login?expired=1").await;
    assert!(p.body.contains("15 minutes without activity"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_totp_code_is_accepted_once() {
    let c = Counter::start().await;
    let code = c.code(&c.chiyoda);
    let mut first = c.browser();
    assert_eq!(
        first.login_with(&c.chiyoda, &code).await.status,
        StatusCode::SEE_OTHER
    );
    let mut second = c.browser();
    let p = second.login_with(&c.chiyoda, &code).await;
    assert_eq!(p.status, StatusCode::UNAUTHORIZED);
    assert!(p.body.contains("data-code=\"totp-replay\""), "{}", p.body);
    assert!(!second.jar.contains_key("vx_counter"));
    // The next step's code works.
    c.clock.advance(30);
    let p = second.login_with(&c.chiyoda, &c.code(&c.chiyoda)).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_and_logout() {
    let c = Counter::start().await;
    let mut b = c.browser();
    b.get("/login").await;
    let p = b
        .post(
            "/login",
            &[
                ("municipality", "131016"),
                ("login", "clerk-a"),
                ("password", "wrong"),
                ("totp", &c.code(&c.chiyoda)),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::UNAUTHORIZED);
    assert!(p.body.contains("data-code=\"login-failed\""));
    b.login(&c, &c.chiyoda).await;
    let p = b.post("/logout", &[]).await;
    assert_eq!(p.location.as_deref(), Some("/login"));
    assert_eq!(b.get("/search").await.location.as_deref(), Some("/login"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_sessions_are_swept_on_a_timer_without_being_touched() {
    let c = Counter::start_with(
        crate::helpers::NOW,
        vaxcert::counter::Settings {
            sweep_every: std::time::Duration::from_millis(20),
            ..vaxcert::counter::Settings::default()
        },
    )
    .await;
    // Served for real, which is what starts the sweeper.
    let server =
        vaxcert::counter::Server::build("127.0.0.1:0".parse().unwrap(), c.state.clone(), None)
            .await
            .unwrap();
    let mut b = c.browser();
    b.login(&c, &c.chiyoda).await;
    assert_eq!(c.state.live_sessions(), 1);
    c.clock.advance(14 * 60);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(c.state.live_sessions(), 1, "not idle long enough yet");
    // Nobody comes back: the session (and whatever it held) goes anyway.
    c.clock.advance(60 + 1);
    for _ in 0..500 {
        if c.state.live_sessions() == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(c.state.live_sessions(), 0);
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_slow_down_follows_the_client_behind_a_trusted_proxy_by_its_ipv6_64() {
    let proxy: std::net::IpAddr = "10.9.9.9".parse().unwrap();
    let c = Counter::start_with(
        crate::helpers::NOW,
        vaxcert::counter::Settings {
            trusted_proxies: vec![proxy],
            ..vaxcert::counter::Settings::default()
        },
    )
    .await;
    let attempt = |peer: &str, forwarded: &str, login: &'static str| {
        let mut b = c.browser();
        b.peer = Some(format!("{peer}:40000").parse().unwrap());
        b.headers = vec![("x-forwarded-for", forwarded.to_owned())];
        let ghost = crate::helpers::Staff {
            municipality: crate::helpers::CHIYODA,
            login,
            password: "wrong".into(),
            secret: Vec::new(),
        };
        async move { b.login_with(&ghost, "000000").await.status }
    };
    // Three failures (each a different login, so only the address counts) from one IPv6
    // address, forwarded by the trusted proxy.
    for login in ["ghost-a", "ghost-b", "ghost-c"] {
        let s = attempt("10.9.9.9", "192.0.2.1, 2001:db8:1:2::10", login).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
    }
    // Another address of the same /64 is the same client: slowed down.
    let s = attempt("10.9.9.9", "2001:db8:1:2:ffff::99", "ghost-d").await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
    // Another /64 is another client.
    let s = attempt("10.9.9.9", "2001:db8:1:3::10", "ghost-e").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    // From anyone but the trusted proxy the header means nothing: the peer is the client.
    let s = attempt("10.8.8.8", "2001:db8:1:2::10", "ghost-f").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}
