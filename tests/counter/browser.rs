//! Real headless Chromium (playwright-core, /usr/bin/chromium) against a standalone counter
//! listener: TOTP login, search, record, MRZ paste, overseas preview, issue and the print
//! page's PDF, which must verify with the romanised name and passport number; then the admin's
//! revocation, review, audit and staff pages. Screenshots
//! land in `$CARGO_TARGET_TMPDIR/counter-shots/`.

use std::path::Path;
use std::process::Command;

use vaxcert::clock::{Clock, SystemClock};
use vaxcert::counter::Server;

use crate::artefacts::{pdf_qr_texts, pdfsig};
use crate::helpers::{Counter, mrz};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_logs_in_with_totp_pastes_mrz_issues_and_prints() {
    let browser_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    assert!(
        browser_dir.join("node_modules/playwright-core").is_dir(),
        "playwright-core is missing: run `npm ci` in tests/browser (./vx setup does)"
    );
    assert!(
        Path::new("/usr/bin/chromium").exists(),
        "Chromium is missing: apt-get install -y chromium fonts-ipaexfont-gothic"
    );
    // The browser computes the TOTP from the wall clock, so the counter's clock stands there.
    let c = Counter::start_at(SystemClock.now(), false).await;
    let policy = c.dir.join("retention.toml");
    std::fs::write(
        &policy,
        "records_years = 7\nissuance_years = 5\naudit_years = 5\narchive_dir = \"archive\"\n",
    )
    .unwrap();
    let state = c
        .state
        .clone()
        .with_retention(vaxcert::records::Policy::load(&policy).unwrap());
    let server = Server::build("127.0.0.1:0".parse().unwrap(), state, None)
        .await
        .unwrap();
    let addr = server.local_addr();
    tokio::spawn(server.run_until_stopped());
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("counter-shots");
    std::fs::create_dir_all(&shots).unwrap();
    let s = &c.chiyoda;
    let a = &c.chiyoda_admin;
    let out = tokio::task::spawn_blocking({
        let out_pdf = c.dir.join("printed.pdf");
        let (dir, shots, s_pw, s_hex) = (
            browser_dir.clone(),
            shots.clone(),
            s.password.clone(),
            hex::encode(&s.secret),
        );
        let (a_pw, a_hex) = (a.password.clone(), hex::encode(&a.secret));
        move || {
            Command::new("node")
                .arg("counter.mjs")
                .current_dir(dir)
                .env("COUNTER_URL", format!("http://{addr}"))
                .env("MUNICIPALITY", "131016")
                .env("LOGIN", "clerk-a")
                .env("PASSWORD", s_pw)
                .env("TOTP_SECRET_HEX", s_hex)
                .env("MRZ", mrz("YAMADA", "TARO", "TK1234567", "850401", 'M'))
                .env("SHOTS", shots)
                .env("OUT_PDF", out_pdf)
                .env("ADMIN_LOGIN", "admin-a")
                .env("ADMIN_PASSWORD", a_pw)
                .env("ADMIN_TOTP_SECRET_HEX", a_hex)
                .output()
                .expect("node is missing: apt-get install -y nodejs npm")
        }
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "counter.mjs failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("\"previewPassport\":\"TK*****67\""),
        "{stdout}"
    );
    let result: serde_json::Value =
        serde_json::from_str(stdout.trim().lines().last().unwrap()).unwrap();
    assert_eq!(result["reprinted"], result["certificateId"], "{result}");
    assert_eq!(result["revoked"], true, "{result}");
    assert_eq!(result["reviewEmpty"], true, "{result}");
    assert_eq!(result["auditOk"], "true", "{result}");
    assert_eq!(result["revocationLogged"], true, "{result}");
    assert_eq!(
        result["csvHeader"], "seq,at_unix,date_jst,actor,action,subject,outcome",
        "{result}"
    );
    assert_eq!(result["totpQr"], true, "{result}");
    assert_eq!(result["foreignFound"], true, "{result}");
    assert_eq!(result["statsCell"], "<10", "{result}");
    assert_eq!(result["retentionDue"], "0", "{result}");
    assert!(
        result["retentionPeriods"]
            .as_str()
            .unwrap()
            .contains("7 年"),
        "{result}"
    );
    assert_eq!(
        result["staffRows"],
        serde_json::json!([
            {"login": "admin-a", "role": "admin", "disabled": "false"},
            {"login": "auditor-a", "role": "clerk", "disabled": "false"},
            {"login": "clerk-a", "role": "clerk", "disabled": "true"},
            {"login": "clerk-chromium", "role": "move-in", "disabled": "false"},
            {"login": "demo-clerk", "role": "clerk", "disabled": "false"},
        ]),
        "{result}"
    );
    assert!(
        result["lastReview"]
            .as_str()
            .unwrap()
            .contains("staff:131016/admin-a"),
        "{result}"
    );
    assert_eq!(result["newcomerRole"], "move-in", "{result}");
    assert_eq!(result["providedDoses"], 2, "{result}");
    assert_eq!(result["newcomerSeesStaff"], false, "{result}");
    let pdf = std::fs::read(c.dir.join("printed.pdf")).unwrap();
    assert!(pdfsig(&pdf, &c.dir).contains("Signature is Valid"));
    let texts = pdf_qr_texts(&pdf, &c.dir);
    let vds: serde_json::Value = serde_json::from_str(
        texts
            .iter()
            .find(|t| t.starts_with('{'))
            .expect("VDS-NC QR"),
    )
    .unwrap();
    assert_eq!(vds["data"]["msg"]["pid"]["n"], "YAMADA TARO");
    assert_eq!(vds["data"]["msg"]["pid"]["i"], "TK1234567");
    assert!(stdout.contains(vds["data"]["msg"]["uvci"].as_str().unwrap()));
    let tail = c.records.audit_tail(1000).await.unwrap();
    for action in [
        "login",
        "search",
        "view",
        "counter-preview",
        "counter-print",
        "reprint",
    ] {
        assert!(
            tail.iter()
                .any(|e| e.action == action && e.actor == "staff:131016/clerk-a"),
            "no {action} audit entry"
        );
    }
    assert!(tail.iter().any(|e| e.action == "revocation-reason"
        && e.actor == "staff:131016/admin-a"
        && e.outcome == "発行誤り / issued in error"));
}
