//! The agent on its own: loopback only, no-store everywhere, card presence through real pcscd,
//! and clear answers when the center is unreachable.

use crate::helpers::{SimCard, curl, kiosk, post_json, slot, tmpdir, vaxcert};

/// Nothing listens here: the center is unreachable for these tests.
const NO_CENTER: &str = "https://127.0.0.1:9";

#[test]
fn refuses_to_listen_beyond_loopback() {
    let print = tmpdir();
    let out = vaxcert()
        .args([
            "kiosk",
            "--dev",
            "--listen",
            "0.0.0.0:0",
            "--center",
            NO_CENTER,
        ])
        .arg("--print-dir")
        .arg(print.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("loopback only"), "{err}");
}

#[test]
fn a_missing_client_certificate_is_a_clear_set_up_error() {
    let print = tmpdir();
    let out = vaxcert()
        .args([
            "kiosk",
            "--dev",
            "--listen",
            "127.0.0.1:0",
            "--cert",
            "certs/dev/tls/nope.crt.pem",
        ])
        .arg("--print-dir")
        .arg(print.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("nope.crt.pem"), "{err}");
}

#[test]
fn every_response_says_no_store_and_the_ui_is_served() {
    let print = tmpdir();
    let (_agent, url) = kiosk(NO_CENTER, print.path(), "Virtual PCD 00 00");
    for path in ["/", "/kiosk.js", "/kiosk.css", "/api/municipalities"] {
        let r = curl(&[&format!("{url}{path}")]);
        assert!(
            r.to_ascii_lowercase().contains("cache-control: no-store"),
            "{path}: {r}"
        );
    }
    let index = curl(&[&format!("{url}/")]);
    assert!(index.contains("マイナンバーカード") && index.contains("My Number Card"));
}

#[test]
fn an_unreachable_center_is_a_problem_document_not_a_hang() {
    let print = tmpdir();
    let (_agent, url) = kiosk(NO_CENTER, print.path(), "Virtual PCD 00 00");
    let r = curl(&[&format!("{url}/api/municipalities")]);
    assert!(r.starts_with("HTTP/1.1 503"), "{r}");
    assert!(r.contains("\"code\":\"center-unreachable\""), "{r}");
    assert!(r.contains("交付センター"), "{r}");
}

#[test]
fn confirm_without_a_preview_is_refused() {
    let print = tmpdir();
    let (_agent, url) = kiosk(NO_CENTER, print.path(), "Virtual PCD 00 00");
    let r = curl(&["-X", "POST", &format!("{url}/api/confirm")]);
    assert!(r.starts_with("HTTP/1.1 409"), "{r}");
    assert!(r.contains("\"code\":\"no-preview\""), "{r}");
    assert_eq!(std::fs::read_dir(print.path()).unwrap().count(), 0);
}

/// `POST /api/read` with `body`, as the touch screen sends it.
fn post_read(url: &str, body: &str) -> String {
    post_json(&format!("{url}/api/read"), body)
}

#[test]
fn a_malformed_pin_never_leaves_the_agent() {
    let print = tmpdir();
    let (agent, url) = kiosk(NO_CENTER, print.path(), "Virtual PCD 00 00");
    let r = post_read(
        &url,
        r#"{"municipality":"131016","kind":"domestic","pin":"12a4"}"#,
    );
    assert!(r.starts_with("HTTP/1.1 4"), "{r}");
    assert!(!agent.output().contains("12a4"), "the PIN was logged");
}

/// Consent comes before the card: a read without the terms version the consent screen shows
/// is refused before the agent touches the card or calls the center (there is none here).
#[test]
fn no_card_is_read_without_the_terms_accepted() {
    let print = tmpdir();
    let (_agent, url) = kiosk(NO_CENTER, print.path(), "Virtual PCD 00 00");
    for body in [
        r#"{"municipality":"131016","kind":"domestic","pin":"1234"}"#,
        r#"{"municipality":"131016","kind":"domestic","pin":"1234","terms_version":""}"#,
    ] {
        let r = post_read(&url, body);
        assert!(r.starts_with("HTTP/1.1 400"), "{r}");
        assert!(r.contains("terms-not-accepted"), "{r}");
    }
    // With the version, the agent goes on to the card and the center (unreachable here).
    let r = post_read(
        &url,
        &format!(
            r#"{{"municipality":"131016","kind":"domestic","pin":"1234","terms_version":"{}"}}"#,
            vaxcert::protocol::TERMS_VERSION
        ),
    );
    assert!(!r.contains("terms-not-accepted"), "{r}");
}

#[test]
fn card_presence_follows_the_reader() {
    let print = tmpdir();
    let s = slot();
    let reader = s.reader_name();
    let (agent, url) = kiosk(NO_CENTER, print.path(), &reader);
    let present = |want: bool| {
        let r = curl(&[&format!("{url}/api/card")]);
        assert!(
            r.contains(&format!("\"present\":{want}")),
            "{r}\n{}",
            agent.output()
        );
    };
    present(false);
    let mut card = SimCard::insert("default", s);
    present(true);
    card.pull_out();
    present(false);
}

#[test]
fn the_agent_answers_health_readiness_and_metrics_on_its_own_listener() {
    use crate::helpers::{Proc, url_in};
    let print = tmpdir();
    let mut cmd = vaxcert();
    cmd.args([
        "kiosk",
        "--dev",
        "--listen",
        "127.0.0.1:0",
        "--center",
        NO_CENTER,
        "--metrics",
        "127.0.0.1:0",
    ])
    .arg("--print-dir")
    .arg(print.path());
    // The metrics listener announces itself first, then the UI.
    let (mut agent, metrics) = Proc::start(cmd, "kiosk-metrics", "metrics on");
    let metrics = url_in(&metrics);
    let ui = agent.next_line_with("kiosk listening on");
    let url = url_in(&ui);
    assert!(curl(&[&format!("{url}/healthz")]).starts_with("HTTP/1.1 200"));
    let r = curl(&[&format!("{url}/readyz")]);
    assert!(r.starts_with("HTTP/1.1 503"), "no center: not ready: {r}");
    let r = curl(&[&format!("{url}/api/municipalities")]);
    assert!(r.contains("center-unreachable"), "{r}");
    let text = curl(&[&metrics]);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    for series in [
        r#"vaxcert_http_requests_total{route="/healthz",method="GET",status="200"} 1"#,
        r#"vaxcert_refusals_total{code="not-ready",status="503"} 1"#,
        r#"vaxcert_refusals_total{code="center-unreachable",status="503"} 1"#,
    ] {
        assert!(text.lines().any(|l| l == series), "{series} in\n{text}");
    }
}

#[test]
fn only_the_kiosks_own_page_may_use_the_agent() {
    let print = tmpdir();
    let (_agent, url) = kiosk(NO_CENTER, print.path(), "Virtual PCD 00 00");
    let hostport = url.trim_start_matches("http://").to_owned();
    let port = hostport.rsplit(':').next().unwrap().to_owned();
    // A DNS-rebinding page reaches the agent under its own name.
    let r = curl(&["-H", "Host: evil.example", &format!("{url}/api/card")]);
    assert!(r.starts_with("HTTP/1.1 403"), "{r}");
    assert!(r.contains("\"code\":\"host-refused\""), "{r}");
    // Another page in the kiosk browser posts across sites: its Origin gives it away.
    for origin in ["http://evil.example", "null", "https://127.0.0.1:1"] {
        let r = curl(&[
            "-X",
            "POST",
            "-H",
            &format!("Origin: {origin}"),
            &format!("{url}/api/reset"),
        ]);
        assert!(r.starts_with("HTTP/1.1 403"), "{origin}: {r}");
        assert!(r.contains("\"code\":\"origin-refused\""), "{r}");
    }
    // The page itself, by any of its loopback names.
    for host in [hostport.clone(), format!("localhost:{port}")] {
        let r = curl(&[
            "-X",
            "POST",
            "-H",
            &format!("Host: {host}"),
            "-H",
            &format!("Origin: http://{host}"),
            &format!("{url}/api/reset"),
        ]);
        assert!(!r.starts_with("HTTP/1.1 403"), "{host}: {r}");
    }
}
