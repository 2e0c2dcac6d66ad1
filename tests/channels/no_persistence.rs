//! No persistence, proven: the app gateway, the center and the kiosk agent run under
//! bubblewrap with the whole filesystem read-only (the agent may write only its print
//! directory). 20 issuances go through each channel: the app; the center as a kiosk talks to
//! it; the kiosk agent with the virtual card in a vpcd reader; and the counter inside records,
//! over real HTTP with a TOTP login. Afterwards the records database has gained only issuance
//! rows, audit entries and used challenges, the print directory holds exactly the kiosk's 20
//! PDFs, and no process's log holds a test MyNumber, a PIN or card bytes (the app gateway and the
//! kiosk agent log JSON lines, records and the center text: both forms are scanned).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::time::Duration;

use base64::Engine;
use vaxcert::domain::{Channel, Kind};

use crate::counter::{CounterSession, counter_login};
use crate::helpers::*;

/// A served role: its process and the address it printed (records prints a second one, the
/// counter's).
struct Role {
    child: Child,
    url: String,
    second_url: Option<String>,
}

impl Drop for Role {
    fn drop(&mut self) {
        // SIGTERM first, so records seals its audit head.
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        for _ in 0..100 {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(cmd: std::process::Command, log: std::path::PathBuf) -> Role {
    start_marked(cmd, log, "https://", 1)
}

/// Start a role and take the URL (starting with `scheme`) from its first stdout line, and any
/// URL from the next `lines - 1` lines.
fn start_marked(
    mut cmd: std::process::Command,
    log: std::path::PathBuf,
    scheme: &str,
    lines: usize,
) -> Role {
    let mut child = cmd
        .env("VAXCERT_LOG", "debug")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("start a role");
    let mut line = String::new();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    stdout.read_line(&mut line).unwrap();
    let mut second_url = None;
    for _ in 1..lines {
        let mut next = String::new();
        stdout.read_line(&mut next).unwrap();
        second_url = next
            .split_whitespace()
            .find(|w| w.starts_with("http"))
            .map(|u| u.trim_end_matches('/').to_owned());
    }
    // Keep reading, so later start-up lines never meet a closed pipe.
    std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with(scheme))
        .unwrap_or_else(|| {
            panic!(
                "no address in {line:?}; log: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            )
        })
        .to_owned();
    Role {
        child,
        url,
        second_url,
    }
}

fn bwrap(args: &[&str]) -> std::process::Command {
    bwrap_writable(args, None)
}

/// As [`bwrap`], with one directory bound writable.
fn bwrap_writable(args: &[&str], writable: Option<&std::path::Path>) -> std::process::Command {
    let probe = std::process::Command::new("bwrap")
        .args([
            "--ro-bind",
            "/",
            "/",
            "--dev",
            "/dev",
            "--proc",
            "/proc",
            "true",
        ])
        .status();
    assert!(
        matches!(probe, Ok(s) if s.success()),
        "bubblewrap must run: apt-get install -y bubblewrap (./vx setup installs it)"
    );
    let mut c = std::process::Command::new("bwrap");
    c.args([
        "--ro-bind",
        "/",
        "/",
        "--dev",
        "/dev",
        "--proc",
        "/proc",
        "--die-with-parent",
    ]);
    if let Some(w) = writable {
        c.arg("--bind").arg(w).arg(w);
    }
    c.arg("--")
        .arg(env!("CARGO_BIN_EXE_vaxcert"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    c
}

#[test]
fn app_center_kiosk_and_counter_issue_and_only_records_persists() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("records.db");
    let url = format!("sqlite://{}", db.display());
    let publication = dir.path().join("publication");
    let seed = vaxcert()
        .args(["records", "--dev", "--database-url", &url, "seed-demo"])
        .output()
        .unwrap();
    assert!(
        seed.status.success(),
        "{}",
        String::from_utf8_lossy(&seed.stderr)
    );

    let records = start_marked(
        {
            let mut c = vaxcert();
            c.args([
                "records",
                "--dev",
                "--database-url",
                &url,
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--counter-listen",
                "127.0.0.1:0",
                "--counter-plain-http",
                "--trust",
                "dev",
                "--publication-dir",
            ])
            .arg(&publication);
            c
        },
        dir.path().join("records.log"),
        "https://",
        2,
    );
    let app = start(
        bwrap(&[
            "--log-format=json",
            "app",
            "serve",
            "--dev",
            "--listen",
            "127.0.0.1:0",
            "--records-url",
            &records.url,
            "--rate-limit",
            "1000",
        ]),
        dir.path().join("app.log"),
    );
    let center = start(
        bwrap(&[
            "center",
            "serve",
            "--dev",
            "--listen",
            "127.0.0.1:0",
            "--records-url",
            &records.url,
            "--trust",
            "dev",
        ]),
        dir.path().join("center.log"),
    );
    let print = dir.path().join("print");
    std::fs::create_dir_all(&print).unwrap();
    let card = SimCard::insert("default");
    let agent = start_marked(
        bwrap_writable(
            &[
                "--log-format=json",
                "kiosk",
                "--dev",
                "--listen",
                "127.0.0.1:0",
                "--center",
                &center.url,
                "--reader",
                &card.reader_name(),
                "--print-dir",
                print.to_str().unwrap(),
            ],
            Some(&print),
        ),
        dir.path().join("kiosk.log"),
        "http://",
        1,
    );
    let before = row_counts(&db);

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let phone = client(None);
        let kiosk = client(Some("kiosk-01"));
        let _ = rustls::crypto::ring::default_provider().install_default();
        let local = reqwest::Client::new();
        let (password, secret) = counter_login(&String::from_utf8_lossy(&seed.stdout));
        let mut counter =
            CounterSession::login(records.second_url.as_deref().unwrap(), &password, &secret).await;
        for i in 0..20 {
            let device = format!("phone-{i:02}");
            let ch = post(
                &phone,
                &format!("{}/v1/challenges", app.url),
                &serde_json::json!({}),
            )
            .await;
            if ch.status != 200 {
                panic!(
                    "challenge {i}: {ch:?}\n--- app.log\n{}\n--- records.log\n{}",
                    std::fs::read_to_string(dir.path().join("app.log")).unwrap_or_default(),
                    std::fs::read_to_string(dir.path().join("records.log")).unwrap_or_default()
                );
            }
            let ch = ch.ok();
            let b = binding(Channel::App, &device, "131016", Kind::Domestic);
            let ev = evidence_for("default", ch["challenge"].as_str().unwrap(), &b);
            let p = post(
                &phone,
                &format!("{}/v1/previews", app.url),
                &preview_body("131016", Kind::Domestic, ev, None, Some(&device)),
            )
            .await
            .ok();
            let c = post(
                &phone,
                &format!("{}/v1/certificates", app.url),
                &serde_json::json!({"preview_token": p["preview_token"]}),
            )
            .await
            .ok();
            assert!(c["shc"].as_str().unwrap().starts_with("shc:/"));

            let ch = post(
                &kiosk,
                &format!("{}/v1/kiosk/challenges", center.url),
                &serde_json::json!({}),
            )
            .await
            .ok();
            let b = binding(Channel::Kiosk, "kiosk-01", "401307", Kind::Domestic);
            let ev = evidence_for("kyusei", ch["challenge"].as_str().unwrap(), &b);
            let p = post(
                &kiosk,
                &format!("{}/v1/kiosk/previews", center.url),
                &preview_body("401307", Kind::Domestic, ev, None, None),
            )
            .await
            .ok();
            let c = post(
                &kiosk,
                &format!("{}/v1/kiosk/certificates", center.url),
                &serde_json::json!({"preview_token": p["preview_token"]}),
            )
            .await
            .ok();
            assert!(!c["pdf_base64"].as_str().unwrap().is_empty());

            // The kiosk agent, as its touch screen calls it: the card over PC/SC, then print.
            let r = post(
                &local,
                &format!("{}/api/read", agent.url.trim_end_matches('/')),
                &serde_json::json!({
                    "municipality": "131016", "kind": "domestic", "pin": "1234",
                    "terms_version": vaxcert::protocol::TERMS_VERSION,
                }),
            )
            .await
            .ok();
            assert!(r["certificate"]["name"].as_str().unwrap().contains("山田"));
            let done = post(
                &local,
                &format!("{}/api/confirm", agent.url.trim_end_matches('/')),
                &serde_json::json!({}),
            )
            .await
            .ok();
            assert!(done["certificate_id"].is_string());

            // The counter, as staff use it: issue, then the print page's PDF.
            assert!(counter.issue().await.starts_with(b"%PDF"));
        }
    });
    drop(agent);
    drop(card);
    drop(app);
    drop(center);
    drop(records);

    let after = row_counts(&db);
    let mut grew: BTreeMap<String, i64> = BTreeMap::new();
    for (t, n) in &after {
        let d = n - before.get(t).copied().unwrap_or(0);
        if d != 0 {
            grew.insert(t.clone(), d);
        }
    }
    assert_eq!(grew.remove("issuance"), Some(80), "{grew:?}");
    assert_eq!(grew.remove("certificate_id"), Some(80), "{grew:?}");
    // The 60 card challenges (the counter needs none). Redeemed preview tokens are held in
    // records' memory: only that process can open them.
    assert_eq!(grew.remove("used_challenge"), Some(60), "{grew:?}");
    assert!(
        grew.remove("audit_log").unwrap_or(0) >= 160,
        "a lookup and an issuance each; the counter's issuance and print"
    );
    let printed: Vec<_> = std::fs::read_dir(&print).unwrap().collect();
    assert_eq!(printed.len(), 20, "the kiosk wrote only its 20 printouts");
    grew.remove("audit_checkpoint");
    assert!(grew.is_empty(), "nothing else was written: {grew:?}");

    let secrets = ["123456789018", "567890123457", "456789012346"];
    for name in ["records.log", "app.log", "center.log", "kiosk.log"] {
        let log = std::fs::read_to_string(dir.path().join(name)).unwrap();
        assert!(!log.is_empty() || name != "app.log", "{name} was captured");
        if name == "app.log" || name == "kiosk.log" {
            // Started with --log-format json: the secret scan covers that form too.
            for line in log.lines().filter(|l| !l.trim().is_empty()) {
                serde_json::from_str::<serde_json::Value>(line)
                    .unwrap_or_else(|e| panic!("{name}: not a JSON line ({e}): {line}"));
            }
        }
        for s in secrets {
            assert!(!log.contains(s), "{name} holds a test MyNumber");
        }
        let ef0001 = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(
            evidence_for(
                "default",
                &vaxcert::card::challenge::Challenges::new(
                    vaxcert::dev::challenge_key().unwrap(),
                    120,
                )
                .issue(vaxcert::clock::UnixTime(0))
                .to_base64(),
                &binding(Channel::App, "x", "131016", Kind::Domestic),
            )
            .files
            .ef0001
            .clone(),
        );
        assert!(!log.contains(&ef0001), "{name} holds card bytes");
        for pin in ["\"pin\":\"1234\"", "pin=1234", "pin: 1234", "PIN 1234"] {
            assert!(!log.contains(pin), "{name} holds the PIN");
        }
    }
}
