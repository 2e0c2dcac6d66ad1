//! Shared set-up: the `vaxcert` binary, throw-away trust folders built from the vectors at run
//! time (never committed), and JSON verdicts.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value;

pub const VECTORS: &str = "../shared/vectors";
/// The fixed "now" of the vector tests.
pub const NOW: &str = "2026-11-22T00:00:00Z";
pub const SPEC_ISS: &str = "https://spec.smarthealth.cards/examples/issuer";
pub const DEV_TOOLS: &str = "smart-on-fhir-health-cards-dev-tools/testdata";

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn vector(rel: &str) -> PathBuf {
    let p = root().join(VECTORS).join(rel);
    assert!(
        p.exists(),
        "missing vector {} (../shared/vectors must sit beside the crate)",
        p.display()
    );
    p
}

pub fn vaxcert() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_vaxcert"));
    c.current_dir(root()).env("VAXCERT_LOG", "error");
    c
}

/// A folder under the system temp dir, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "vaxcert-verify-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

/// An SHC issuer folder in a trust store: `iss`, `jwks.json`, `crl/` from a `.well-known`.
pub fn add_shc_issuer(store: &Path, name: &str, iss: &str, well_known: &Path) {
    let dir = store.join("shc").join(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("iss"), format!("{iss}\n")).unwrap();
    std::fs::copy(well_known.join("jwks.json"), dir.join("jwks.json")).unwrap();
    if well_known.join("crl").is_dir() {
        copy_dir(&well_known.join("crl"), &dir.join("crl"));
    }
}

/// The trust stores the vector table names.
pub enum Trust {
    /// The committed store, `certs/trust/`.
    Store,
    /// A temporary store.
    Temp(TempDir),
}

impl Trust {
    pub fn path(&self) -> PathBuf {
        match self {
            Trust::Store => root().join("certs/trust"),
            Trust::Temp(t) => t.path().to_path_buf(),
        }
    }

    /// `store`, `none`, `spec` (the SMART spec example issuer), `badcrl-NAME` (a dev-tools CRL
    /// case) or `ctx` (the EU test file's own DSC, `TESTCTX.CERTIFICATE`).
    pub fn named(name: &str, file: &Path) -> Trust {
        match name {
            "store" => Trust::Store,
            "none" => Trust::Temp(TempDir::new("none")),
            "spec" => {
                let t = TempDir::new("spec");
                add_shc_issuer(
                    t.path(),
                    "smart-spec-example",
                    SPEC_ISS,
                    &vector("smart-on-fhir-health-cards/examples/issuer/.well-known"),
                );
                Trust::Temp(t)
            }
            "ctx" => {
                let t = TempDir::new("ctx");
                let v: Value = serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap();
                let der = base64_std(v["TESTCTX"]["CERTIFICATE"].as_str().unwrap());
                std::fs::create_dir_all(t.path().join("dcc/ctx")).unwrap();
                std::fs::write(t.path().join("dcc/ctx/dsc.der"), der).unwrap();
                Trust::Temp(t)
            }
            other => {
                let n = other
                    .strip_prefix("badcrl-")
                    .unwrap_or_else(|| panic!("unknown trust {other:?} in the table"));
                let t = TempDir::new("badcrl");
                add_shc_issuer(
                    t.path(),
                    "badcrl",
                    &format!(
                        "https://raw.githubusercontent.com/smart-on-fhir/health-cards-dev-tools/main/testdata/badcrl/{n}"
                    ),
                    &vector(&format!("{DEV_TOOLS}/badcrl/{n}/.well-known")),
                );
                Trust::Temp(t)
            }
        }
    }
}

/// The default persona's domestic SHC from our dev issuer (`vaxcert issue` into `dir`): its
/// `.shc` file's text.
pub fn dev_domestic_shc(dir: &Path) -> String {
    let out = vaxcert()
        .args([
            "issue",
            "--persona",
            "certs/dev/personas/default.toml",
            "--kind",
            "domestic",
            "--out",
        ])
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "vaxcert issue: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let shc = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "shc"))
        .expect("an .shc file");
    std::fs::read_to_string(shc).unwrap().trim().to_string()
}

pub fn base64_std(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

/// The result of one `vaxcert verify --json` run.
pub struct Verdicts {
    pub reports: Vec<Value>,
    pub status: i32,
    pub stderr: String,
}

impl Verdicts {
    pub fn verdicts(&self) -> String {
        self.join("verdict")
    }

    pub fn reasons(&self) -> String {
        self.join("reason")
    }

    fn join(&self, key: &str) -> String {
        self.reports
            .iter()
            .map(|r| r[key].as_str().unwrap_or("?").to_string())
            .collect::<Vec<_>>()
            .join("+")
    }
}

/// `vaxcert verify --json --trust T --at AT ARGS…`, with optional stdin.
pub fn verify(trust: &Path, at: &str, args: &[&std::ffi::OsStr], stdin: Option<&[u8]>) -> Verdicts {
    let mut c = vaxcert();
    c.arg("verify")
        .arg("--json")
        .arg("--trust")
        .arg(trust)
        .arg("--at")
        .arg(at);
    c.args(args);
    c.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    c.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = c.spawn().expect("run vaxcert");
    if let Some(input) = stdin {
        use std::io::Write;
        let mut s = child.stdin.take().unwrap();
        let input = input.to_vec();
        std::thread::spawn(move || {
            let _ = s.write_all(&input);
        });
    }
    let out: Output = child.wait_with_output().unwrap();
    parse(out)
}

pub fn parse(out: Output) -> Verdicts {
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!stderr.contains("panicked"), "vaxcert panicked: {stderr}");
    let v: Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}\nstderr: {stderr}"));
    let reports = match v {
        Value::Array(a) => a,
        one => vec![one],
    };
    Verdicts {
        reports,
        status: out.status.code().unwrap_or(-1),
        stderr,
    }
}

/// `vaxcert verify serve --listen 127.0.0.1:0` on a trust folder; killed on drop.
pub struct Server {
    child: std::process::Child,
    /// `http://127.0.0.1:PORT`
    pub base: String,
}

impl Server {
    pub fn spawn(trust: &Path) -> Server {
        Server::spawn_with(trust, &[])
    }

    /// As [`Server::spawn`], with extra flags (e.g. `--trust-dev`).
    pub fn spawn_with(trust: &Path, extra: &[&str]) -> Server {
        use std::io::BufRead;
        let mut child = vaxcert()
            .args(["verify", "serve", "--listen", "127.0.0.1:0", "--trust"])
            .arg(trust)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start vaxcert verify serve");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .trim()
            .rsplit(' ')
            .next()
            .unwrap_or_default()
            .to_string();
        assert!(
            url.starts_with("http://127.0.0.1:"),
            "no bound URL printed: {line:?}"
        );
        println!("verify serve bound at {url}");
        let base = url.trim_end_matches("/verify").to_string();
        Server { child, base }
    }

    /// One HTTP/1.1 request; returns (status, content type, body).
    pub fn request(&self, method: &str, path: &str, body: Option<&str>) -> (u16, String, String) {
        let (status, head, body) = self.request_with_headers(method, path, body);
        let ctype = head
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-type")
                    .then(|| v.trim().to_string())
            })
            .unwrap_or_default();
        (status, ctype, body)
    }

    /// One HTTP/1.1 request; returns (status, the whole head in lower case, body).
    pub fn request_with_headers(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
    ) -> (u16, String, String) {
        use std::io::{Read, Write};
        let addr = self.base.trim_start_matches("http://");
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        let body = body.unwrap_or("");
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).unwrap();
        let text = String::from_utf8_lossy(&raw).to_string();
        let (head, rest) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let status: u16 = head.split(' ').nth(1).unwrap_or("0").parse().unwrap_or(0);
        let body = if head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
        {
            dechunk(rest)
        } else {
            rest.to_string()
        };
        (status, head.to_ascii_lowercase(), body)
    }
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&rest[..n]);
        s = &rest[n + 2..];
    }
    out
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
