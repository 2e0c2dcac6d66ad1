//! The OpenAPI contract of the two public APIs, kept true: the app gateway and the kiosk
//! center serve their documents at `/openapi.json` (compiled in from `templates/openapi/`),
//! every documented operation is routed, and schemathesis (PyPI, in the venv `./vx test`
//! makes) sends generated and mutated requests to both running roles: no 5xx, every status,
//! content type, header and body as documented, every error a problem document with a code.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// A role's process, killed on drop, and the lines it announced.
struct Role {
    child: Child,
    lines: Vec<String>,
}

impl Drop for Role {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(args: &[&str], until: &str) -> Role {
    let mut child = Command::new(env!("CARGO_BIN_EXE_vaxcert"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut lines = Vec::new();
    while !lines.iter().any(|l: &String| l.starts_with(until)) {
        match out.next() {
            Some(Ok(l)) => lines.push(l),
            _ => panic!("{args:?} did not start: {lines:?}"),
        }
    }
    std::thread::spawn(move || for _ in out {});
    Role { child, lines }
}

impl Role {
    fn url(&self, prefix: &str) -> String {
        self.lines
            .iter()
            .find_map(|l| l.strip_prefix(prefix))
            .unwrap()
            .trim_end_matches('/')
            .to_owned()
    }
}

fn tls(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("certs/dev/tls")
        .join(name)
        .display()
        .to_string()
}

/// curl, with the kiosk's client certificate for the center.
fn curl(url: &str, kiosk: bool) -> (String, String) {
    let mut c = Command::new("curl");
    c.args(["-s", "--max-time", "20", "-w", "\n%{http_code}"]);
    if kiosk {
        c.args(["--cacert", &tls("server-ca.crt.pem")])
            .args(["--cert", &tls("kiosk-01.crt.pem")])
            .args(["--key", &tls("kiosk-01.key.pem")]);
    }
    let out = c.arg(url).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, status) = text.rsplit_once('\n').unwrap_or((&text, ""));
    (body.to_owned(), status.to_owned())
}

const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,\
response_schema_conformance,response_headers_conformance";

#[test]
fn both_public_apis_keep_their_openapi_contract_under_schemathesis() {
    let st = std::env::var("VAXCERT_SCHEMATHESIS").unwrap_or_else(|_| {
        panic!("VAXCERT_SCHEMATHESIS is not set: run the tests through ./vx test, which installs schemathesis in .vx/venv")
    });
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("records.db").display());
    let seed = Command::new(env!("CARGO_BIN_EXE_vaxcert"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["records", "--dev", "--database-url", &db, "seed-demo"])
        .output()
        .unwrap();
    assert!(seed.status.success());
    let publication = dir.path().join("publication");
    let records = start(
        &[
            "records",
            "--dev",
            "--database-url",
            &db,
            "serve",
            "--trust",
            "dev",
            "--listen",
            "127.0.0.1:0",
            "--counter-listen",
            "127.0.0.1:0",
            "--counter-plain-http",
            "--publication-dir",
            publication.to_str().unwrap(),
        ],
        "records: counter UI on ",
    );
    let api = records.url("records: internal API on ");
    let app = start(
        &[
            "app",
            "serve",
            "--dev",
            "--plain-http",
            "--listen",
            "127.0.0.1:0",
            "--records-url",
            &api,
            "--rate-limit",
            "100000",
        ],
        "app gateway: listening on ",
    );
    let center = start(
        &[
            "center",
            "serve",
            "--dev",
            "--trust",
            "dev",
            "--listen",
            "127.0.0.1:0",
            "--records-url",
            &api,
        ],
        "center: kiosk API on ",
    );
    let app_url = app.url("app gateway: listening on ");
    let center_url = center.url("center: kiosk API on ");

    for (url, kiosk, file) in [
        (&app_url, false, "templates/openapi/app.json"),
        (&center_url, true, "templates/openapi/center.json"),
    ] {
        // The document served is the one in the tree, and it is OpenAPI 3.1.
        let (body, status) = curl(&format!("{url}/openapi.json"), kiosk);
        assert_eq!(status, "200");
        let served: serde_json::Value = serde_json::from_str(&body).unwrap();
        let committed: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(file)).unwrap(),
        )
        .unwrap();
        assert_eq!(served, committed, "{file}");
        assert_eq!(served["openapi"], "3.1.0");
        // Every documented GET without parameters is routed (POSTs are schemathesis's).
        for (path, ops) in served["paths"].as_object().unwrap() {
            if ops.get("get").is_some() && !path.contains('{') {
                let (_, status) = curl(&format!("{url}{path}"), kiosk);
                assert!(status != "404" && status != "405", "{path}: {status}");
            }
        }
    }

    let run = |url: &str, kiosk: bool| {
        let mut c = Command::new(&st);
        c.args(["run", &format!("{url}/openapi.json"), "--checks", CHECKS])
            .args([
                "--max-time",
                "20",
                "--workers",
                "2",
                "--no-color",
                "--seed",
                "20261204",
            ]);
        if kiosk {
            c.args(["--tls-verify", &tls("server-ca.crt.pem")])
                .args(["--request-cert", &tls("kiosk-01.crt.pem")])
                .args(["--request-cert-key", &tls("kiosk-01.key.pem")]);
        }
        let out = c.current_dir(dir.path()).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(out.status.success(), "schemathesis against {url}:\n{text}");
        text
    };
    let app_report = run(&app_url, false);
    let center_report = run(&center_url, true);
    for report in [&app_report, &center_report] {
        assert!(report.contains("passed"), "{report}");
    }
    // What schemathesis tried, for the run's log (`--no-capture` shows it).
    println!("--- app gateway\n{app_report}\n--- center\n{center_report}");
    drop((app, center, records));
}
