//! What the channels refuse, each with its own code: TLS identities at the handshake, used or
//! expired challenges, used preview tokens, tampered cards, municipalities and residents that
//! may not be served.

use vaxcert::domain::{Channel, Kind, MunicipalityCode};

use crate::helpers::*;

const DEVICE: &str = "phone-test-0002";
const KIOSK: &str = "kiosk-01";

async fn app_challenge(stack: &Stack) -> String {
    post(
        &client(None),
        &format!("{}/v1/challenges", stack.app_url),
        &serde_json::json!({}),
    )
    .await
    .ok()["challenge"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn kiosk_challenge(stack: &Stack, c: &reqwest::Client) -> String {
    post(
        c,
        &format!("{}/v1/kiosk/challenges", stack.center_url),
        &serde_json::json!({}),
    )
    .await
    .ok()["challenge"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kiosk_without_a_client_certificate_is_refused_at_the_handshake() {
    let stack = Stack::spawn().await;
    let r = client(None)
        .get(format!("{}/v1/kiosk/municipalities", stack.center_url))
        .send()
        .await;
    assert!(r.is_err(), "no HTTP answer without a certificate: {r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_certificate_presented_by_a_kiosk_is_refused_at_the_handshake() {
    let stack = Stack::spawn().await;
    for cert in ["app-gateway", "center"] {
        let r = client(Some(cert))
            .get(format!("{}/v1/kiosk/municipalities", stack.center_url))
            .send()
            .await;
        assert!(r.is_err(), "{cert} at the center: {r:?}");
    }
    // And the other way: records takes only the two pinned gateway certificates.
    for cert in [Some("kiosk-01"), None] {
        let r = client(cert)
            .post(format!("{}/internal/v1/challenges", stack.records_url))
            .json(&serde_json::json!({}))
            .send()
            .await;
        assert!(r.is_err(), "{cert:?} at records: {r:?}");
    }
    let ok = get(
        &client(Some(KIOSK)),
        &format!("{}/v1/kiosk/municipalities", stack.center_url),
    )
    .await
    .ok();
    let codes: Vec<&str> = ok
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["code"].as_str().unwrap())
        .collect();
    assert_eq!(
        codes,
        ["131016", "401307"],
        "participating municipalities only"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reused_and_expired_challenges_are_refused() {
    let stack = Stack::spawn().await;
    let c = client(None);
    let b = binding(Channel::App, DEVICE, "131016", Kind::Domestic);
    let ch = app_challenge(&stack).await;
    let ev = evidence_for("default", &ch, &b);
    let url = format!("{}/v1/previews", stack.app_url);
    post(
        &c,
        &url,
        &preview_body("131016", Kind::Domestic, ev.clone(), None, Some(DEVICE)),
    )
    .await
    .ok();
    post(
        &c,
        &url,
        &preview_body("131016", Kind::Domestic, ev, None, Some(DEVICE)),
    )
    .await
    .assert_problem("challenge-reused");

    let ch = app_challenge(&stack).await;
    let ev = evidence_for("default", &ch, &b);
    stack.clock.advance(121);
    post(
        &c,
        &url,
        &preview_body("131016", Kind::Domestic, ev, None, Some(DEVICE)),
    )
    .await
    .assert_problem("challenge-expired");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_preview_token_redeems_once_and_expires() {
    let stack = Stack::spawn().await;
    let c = client(None);
    let b = binding(Channel::App, DEVICE, "131016", Kind::Domestic);
    let url = format!("{}/v1/previews", stack.app_url);
    let certs = format!("{}/v1/certificates", stack.app_url);
    let ev = evidence_for("default", &app_challenge(&stack).await, &b);
    let p = post(
        &c,
        &url,
        &preview_body("131016", Kind::Domestic, ev, None, Some(DEVICE)),
    )
    .await
    .ok();
    let body = serde_json::json!({ "preview_token": p["preview_token"] });
    let first = post(&c, &certs, &body).await.ok();
    let again = post(&c, &certs, &body).await.ok();
    assert_eq!(again["certificate_id"], first["certificate_id"]);
    // Once its certificate is revoked, the token gives nothing more.
    let id =
        vaxcert::records::CertificateId::parse(first["certificate_id"].as_str().unwrap()).unwrap();
    stack
        .records
        .revoke_certificate(&MunicipalityCode::parse("131016").unwrap(), &id, "test")
        .await
        .unwrap();
    post(&c, &certs, &body)
        .await
        .assert_problem("preview-token-reused");

    let ev = evidence_for("default", &app_challenge(&stack).await, &b);
    let p = post(
        &c,
        &url,
        &preview_body("131016", Kind::Domestic, ev, None, Some(DEVICE)),
    )
    .await
    .ok();
    stack.clock.advance(121);
    post(
        &c,
        &certs,
        &serde_json::json!({ "preview_token": p["preview_token"] }),
    )
    .await
    .assert_problem("preview-token-expired");

    let mut forged = p["preview_token"].as_str().unwrap().to_owned();
    forged.replace_range(20..21, if &forged[20..21] == "A" { "B" } else { "A" });
    post(&c, &certs, &serde_json::json!({ "preview_token": forged }))
        .await
        .assert_problem("preview-token-invalid");
    // A token from the app cannot be redeemed through the kiosk center.
    let ev = evidence_for("default", &app_challenge(&stack).await, &b);
    let p = post(
        &c,
        &url,
        &preview_body("131016", Kind::Domestic, ev, None, Some(DEVICE)),
    )
    .await
    .ok();
    post(
        &client(Some(KIOSK)),
        &format!("{}/v1/kiosk/certificates", stack.center_url),
        &serde_json::json!({ "preview_token": p["preview_token"] }),
    )
    .await
    .assert_problem("preview-token-channel");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_card_is_refused_by_the_center_and_by_records() {
    let stack = Stack::spawn().await;
    let k = client(Some(KIOSK));
    let b = binding(Channel::Kiosk, KIOSK, "131016", Kind::Domestic);
    let mut ev = evidence_for("default", &kiosk_challenge(&stack, &k).await, &b);
    let last = ev.files.ef0002.len() - 1;
    ev.files.ef0002[last] ^= 0x01;
    post(
        &k,
        &format!("{}/v1/kiosk/previews", stack.center_url),
        &preview_body("131016", Kind::Domestic, ev, None, None),
    )
    .await
    .assert_problem("card-attributes-tampered");

    let a = binding(Channel::App, DEVICE, "131016", Kind::Domestic);
    let mut ev = evidence_for("default", &app_challenge(&stack).await, &a);
    ev.files.ef0001[5] ^= 0x01;
    post(
        &client(None),
        &format!("{}/v1/previews", stack.app_url),
        &preview_body("131016", Kind::Domestic, ev, None, Some(DEVICE)),
    )
    .await
    .assert_problem("card-mynumber-tampered");

    // A signature made for one device does not serve another.
    let ev = evidence_for("default", &app_challenge(&stack).await, &a);
    post(
        &client(None),
        &format!("{}/v1/previews", stack.app_url),
        &preview_body("131016", Kind::Domestic, ev, None, Some("another-phone")),
    )
    .await
    .assert_problem("card-signature-mismatch");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kiosk_serves_participating_municipalities_and_known_passports_only() {
    let stack = Stack::spawn().await;
    let k = client(Some(KIOSK));
    let previews = format!("{}/v1/kiosk/previews", stack.center_url);
    // 𠮷田　一郎 lives in 大阪市 (271004), which does not take part in kiosk issuance.
    let b = binding(Channel::Kiosk, KIOSK, "271004", Kind::Domestic);
    let ev = evidence_for("yoshi", &kiosk_challenge(&stack, &k).await, &b);
    post(
        &k,
        &previews,
        &preview_body("271004", Kind::Domestic, ev, None, None),
    )
    .await
    .assert_problem("municipality-not-participating");

    let b = binding(Channel::Kiosk, KIOSK, "131016", Kind::Overseas);
    let ev = evidence_for("default", &kiosk_challenge(&stack, &k).await, &b);
    post(
        &k,
        &previews,
        &preview_body("131016", Kind::Overseas, ev, None, None),
    )
    .await
    .assert_problem("overseas-needs-passport-history");

    // The kiosk works for a domestic certificate.
    let b = binding(Channel::Kiosk, KIOSK, "131016", Kind::Domestic);
    let ev = evidence_for("default", &kiosk_challenge(&stack, &k).await, &b);
    let p = post(
        &k,
        &previews,
        &preview_body("131016", Kind::Domestic, ev, None, None),
    )
    .await
    .ok();
    post(
        &k,
        &format!("{}/v1/kiosk/certificates", stack.center_url),
        &serde_json::json!({ "preview_token": p["preview_token"] }),
    )
    .await
    .ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resident_who_moved_out_is_sent_to_the_new_municipality() {
    let stack = Stack::spawn().await;
    let m = MunicipalityCode::parse("131016").unwrap();
    stack
        .records
        .import_targets(
            "1002,234567890121,鈴木,花子,スズキ,ハナコ,19920715,2,0000000002,1\n".as_bytes(),
            &m,
            "test",
            &|_| {},
        )
        .await
        .unwrap();
    let b = binding(Channel::App, DEVICE, "131016", Kind::Domestic);
    let ev = evidence_for("long-address", &app_challenge(&stack).await, &b);
    post(
        &client(None),
        &format!("{}/v1/previews", stack.app_url),
        &preview_body("131016", Kind::Domestic, ev, None, Some(DEVICE)),
    )
    .await
    .assert_problem("resident-moved-out");
}

/// Replicas share the sealing key, so a token opens anywhere; it redeems only where the
/// database recorded its challenge with the same evidence digest at preview.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_preview_token_redeems_only_against_the_database_that_recorded_its_evidence() {
    let (here, elsewhere) = (Stack::spawn().await, Stack::spawn().await);
    let c = client(None);
    let b = binding(Channel::App, DEVICE, "131016", Kind::Domestic);
    let ev = evidence_for("default", &app_challenge(&here).await, &b);
    let p = post(
        &c,
        &format!("{}/v1/previews", here.app_url),
        &preview_body("131016", Kind::Domestic, ev, None, Some(DEVICE)),
    )
    .await
    .ok();
    let body = serde_json::json!({ "preview_token": p["preview_token"] });
    post(&c, &format!("{}/v1/certificates", elsewhere.app_url), &body)
        .await
        .assert_problem("preview-token-invalid");
    post(&c, &format!("{}/v1/certificates", here.app_url), &body)
        .await
        .ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_preview_token_redeems_only_at_the_terminal_that_previewed() {
    let stack = Stack::spawn().await;
    // kiosk-01 previews; kiosk-02 (another valid kiosk) tries to redeem, whatever it claims.
    let k1 = client(Some(KIOSK));
    let b = binding(Channel::Kiosk, KIOSK, "131016", Kind::Domestic);
    let ev = evidence_for("default", &kiosk_challenge(&stack, &k1).await, &b);
    let p = post(
        &k1,
        &format!("{}/v1/kiosk/previews", stack.center_url),
        &preview_body("131016", Kind::Domestic, ev, None, None),
    )
    .await
    .ok();
    let certs = format!("{}/v1/kiosk/certificates", stack.center_url);
    post(
        &client(Some("kiosk-02")),
        &certs,
        &serde_json::json!({ "preview_token": p["preview_token"], "terminal_id": KIOSK }),
    )
    .await
    .assert_problem("preview-token-terminal");
    // The refusal did not use the token up: the kiosk that previewed still redeems it.
    post(
        &k1,
        &certs,
        &serde_json::json!({ "preview_token": p["preview_token"] }),
    )
    .await
    .ok();

    // The app: a token redeemed with another device's id is refused.
    let c = client(None);
    let b = binding(Channel::App, DEVICE, "131016", Kind::Domestic);
    let ev = evidence_for("default", &app_challenge(&stack).await, &b);
    let p = post(
        &c,
        &format!("{}/v1/previews", stack.app_url),
        &preview_body("131016", Kind::Domestic, ev, None, Some(DEVICE)),
    )
    .await
    .ok();
    let certs = format!("{}/v1/certificates", stack.app_url);
    post(
        &c,
        &certs,
        &serde_json::json!({ "preview_token": p["preview_token"], "terminal_id": "phone-other" }),
    )
    .await
    .assert_problem("preview-token-terminal");
    post(
        &c,
        &certs,
        &serde_json::json!({ "preview_token": p["preview_token"], "terminal_id": DEVICE }),
    )
    .await
    .ok();
}

/// The dev kiosk CA's CRL revoking `kiosk-02`, made by OpenSSL's `ca`.
fn kiosk_crl(dir: &std::path::Path) -> std::path::PathBuf {
    let tls = crate_path("certs/dev/tls");
    std::fs::write(dir.join("index.txt"), "").unwrap();
    std::fs::write(dir.join("crlnumber"), "01\n").unwrap();
    std::fs::write(
        dir.join("ca.cnf"),
        format!(
            "[ca]\ndefault_ca = kiosk\n[kiosk]\ndatabase = {d}/index.txt\ncrlnumber = {d}/crlnumber\n\
             certificate = {t}/kiosk-ca.crt.pem\nprivate_key = {t}/kiosk-ca.key.pem\n\
             default_md = sha256\ndefault_crl_days = 30\n",
            d = dir.display(),
            t = tls.display()
        ),
    )
    .unwrap();
    let openssl = |args: &[&str]| {
        let out = std::process::Command::new("openssl")
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let cnf = dir.join("ca.cnf");
    let cnf = cnf.to_str().unwrap();
    let revoked = tls.join("kiosk-02.crt.pem");
    openssl(&["ca", "-config", cnf, "-revoke", revoked.to_str().unwrap()]);
    let crl = dir.join("kiosk-ca.crl.pem");
    openssl(&[
        "ca",
        "-config",
        cnf,
        "-gencrl",
        "-out",
        crl.to_str().unwrap(),
    ]);
    crl
}

#[test]
fn the_center_refuses_a_kiosk_its_ca_revoked() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let crl = kiosk_crl(dir.path());
    let mut center = vaxcert()
        .args([
            "center",
            "serve",
            "--dev",
            "--trust",
            "dev",
            "--listen",
            "127.0.0.1:0",
        ])
        .args(["--records-url", "https://127.0.0.1:9", "--kiosk-crl"])
        .arg(&crl)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(center.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("center: kiosk API on ")
        .unwrap_or_else(|| panic!("center did not start: {line}"))
        .to_owned();
    let status = |kiosk: &str| {
        let tls = crate_path("certs/dev/tls");
        let out = std::process::Command::new("curl")
            .args([
                "-s",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "--max-time",
                "20",
            ])
            .arg("--cacert")
            .arg(tls.join("server-ca.crt.pem"))
            .arg("--cert")
            .arg(tls.join(format!("{kiosk}.crt.pem")))
            .arg("--key")
            .arg(tls.join(format!("{kiosk}.key.pem")))
            .arg(format!("{url}/healthz"))
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert_eq!(status("kiosk-01"), "200", "a kiosk in good standing");
    assert_eq!(
        status("kiosk-02"),
        "000",
        "the revoked kiosk fails the handshake"
    );
    let _ = center.kill();
    let _ = center.wait();
}

/// A gateway given several records replicas passes over one that is down, and while none
/// answers it refuses at once with 503, `records-unavailable` and `Retry-After`, never hangs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_passes_over_a_dead_replica_and_says_503_when_none_answers() {
    let stack = Stack::spawn().await;
    let dead = || {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("https://{}", l.local_addr().unwrap())
    };
    let gateway = |records: String| async move {
        let mut s = vaxcert::app::Settings::in_tls_dir(
            "127.0.0.1:0".parse().unwrap(),
            &records,
            &vaxcert::dev::tls_dir(),
        );
        s.rate_per_sec = 10_000;
        let app = vaxcert::app::Server::build(&s).await.unwrap();
        let url = format!("https://{}", app.local_addr());
        tokio::spawn(app.run_until(std::future::pending::<()>()));
        url
    };
    let c = client(None);
    let some = gateway(format!("{},{}", dead(), stack.records_url)).await;
    for _ in 0..4 {
        post(&c, &format!("{some}/v1/challenges"), &serde_json::json!({}))
            .await
            .ok();
    }
    let none = gateway(format!("{},{}", dead(), dead())).await;
    let r = c
        .post(format!("{none}/v1/challenges"))
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    assert!(r.headers().contains_key("retry-after"));
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["code"], "records-unavailable", "{body}");
}

/// Consent first: an app preview without an accepted terms version is refused before the card
/// evidence is looked at (its challenge is still unused afterwards), and the version accepted
/// is kept with the issuance.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_preview_without_the_terms_accepted_and_the_version_is_kept() {
    let stack = Stack::spawn().await;
    let c = client(None);
    let b = binding(Channel::App, DEVICE, "131016", Kind::Domestic);
    let ch = app_challenge(&stack).await;
    let ev = evidence_for("default", &ch, &b);
    let url = format!("{}/v1/previews", stack.app_url);
    let mut body = preview_body("131016", Kind::Domestic, ev, None, Some(DEVICE));
    for terms in [None, Some("1999-01-01"), Some("")] {
        match terms {
            None => {
                body.as_object_mut().unwrap().remove("terms_version");
            }
            Some(t) => body["terms_version"] = t.into(),
        }
        let r = post(&c, &url, &body).await;
        assert_eq!(r.status, 400, "{terms:?}: {}", r.body);
        r.assert_problem("terms-not-accepted");
    }
    body["terms_version"] = vaxcert::protocol::TERMS_VERSION.into();
    let p = post(&c, &url, &body).await.ok();
    let cert = post(
        &c,
        &format!("{}/v1/certificates", stack.app_url),
        &serde_json::json!({ "preview_token": p["preview_token"] }),
    )
    .await
    .ok();
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); print(c.execute('select terms_version from issuance where certificate_id = ?', (sys.argv[2],)).fetchone()[0])",
        ])
        .arg(&stack.db_path)
        .arg(cert["certificate_id"].as_str().unwrap())
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        vaxcert::protocol::TERMS_VERSION,
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
