//! Shared set-up: the agent process, virtual cards in vpcd slots (machine-wide locks, as in
//! `tests/card/helpers.rs`), curl for plain HTTP, and node + playwright-core for Chromium.

#![allow(dead_code)]

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use vaxcert::card::reader::Reader;

pub(crate) fn vaxcert() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_vaxcert"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    c
}

pub(crate) fn tmpdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("kiosk-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap()
}

/// A child process killed on drop, with its stdout+stderr captured into files.
pub(crate) struct Proc {
    pub child: Child,
    pub log: PathBuf,
    lines: std::sync::mpsc::Receiver<String>,
}

impl Proc {
    /// Start `cmd`, wait for a stdout line containing `marker`, return (proc, that line).
    pub(crate) fn start(mut cmd: Command, name: &str, marker: &str) -> (Proc, String) {
        let log = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("{name}-{}.log", std::process::id()));
        let mut child = cmd
            .env("VAXCERT_LOG", "debug")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(File::create(&log).unwrap())
            .spawn()
            .unwrap_or_else(|e| panic!("{name} does not start: {e}"));
        let out = child.stdout.take().unwrap();
        // Keep draining stdout so the child never blocks on a full pipe; lines queue here.
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut proc = Proc { child, log, lines };
        let line = proc.next_line_with(marker);
        (proc, line)
    }

    /// The next stdout line containing `marker` (earlier lines are skipped).
    pub(crate) fn next_line_with(&mut self, marker: &str) -> String {
        loop {
            match self.lines.recv() {
                Ok(line) if line.contains(marker) => return line,
                Ok(_) => {}
                Err(_) => {
                    let _ = self.child.wait();
                    panic!("exited before saying {marker:?}:\n{}", self.output());
                }
            }
        }
    }

    pub(crate) fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The URL in a "… listening on http://ADDR/" line.
pub(crate) fn url_in(line: &str) -> String {
    let start = line.find("http").expect("a URL in the line");
    line[start..].trim().trim_end_matches('/').to_owned()
}

/// Start the agent against `center`, printing into `print_dir`, reading `reader`.
pub(crate) fn kiosk(center: &str, print_dir: &Path, reader: &str) -> (Proc, String) {
    let mut cmd = vaxcert();
    cmd.args([
        "kiosk",
        "--dev",
        "--listen",
        "127.0.0.1:0",
        "--center",
        center,
        "--reader",
        reader,
    ])
    .arg("--print-dir")
    .arg(print_dir);
    let (p, line) = Proc::start(cmd, "kiosk", "kiosk listening on");
    (p, url_in(&line))
}

/// `curl -s -i` (status line + headers + body) for plain local HTTP.
pub(crate) fn curl(args: &[&str]) -> String {
    let out = Command::new("curl")
        .args(["-s", "-i", "--max-time", "30"])
        .args(args)
        .output()
        .expect("curl is installed (./vx setup)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `curl` POST of a JSON `body` to `url`: status line, headers and body.
pub(crate) fn post_json(url: &str, body: &str) -> String {
    curl(&[
        "-X",
        "POST",
        "-H",
        "content-type: application/json",
        "--data",
        body,
        url,
    ])
}

fn require_pcscd() {
    assert!(
        Path::new("/run/pcscd/pcscd.comm").exists(),
        "pcscd is not running: run the tests through `./vx test`, which starts pcscd with vpcd"
    );
}

/// Exclusive use of one vpcd reader slot (same lock files as tests/card).
pub(crate) struct Slot {
    pub n: u8,
    _lock: File,
}

pub(crate) fn slot() -> Slot {
    require_pcscd();
    let dir = std::env::temp_dir();
    loop {
        for n in 0..2u8 {
            let f = File::create(dir.join(format!("vaxcert-vpcd-slot-{n}.lock"))).unwrap();
            if f.try_lock().is_ok() {
                return Slot { n, _lock: f };
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

impl Slot {
    pub(crate) fn reader_name(&self) -> String {
        format!("Virtual PCD 00 {:02}", self.n)
    }
    pub(crate) fn reader(&self) -> Reader {
        Reader::open(Some(&self.reader_name())).unwrap()
    }
}

/// A persona's virtual card in a slot; pulled out on drop.
pub(crate) struct SimCard {
    child: Option<Child>,
    persona: String,
    pub slot: Slot,
}

impl SimCard {
    pub(crate) fn insert(persona: &str, slot: Slot) -> Self {
        let mut card = SimCard {
            child: None,
            persona: persona.to_owned(),
            slot,
        };
        card.put_in();
        card
    }

    /// Put the card (back) in the reader.
    pub(crate) fn put_in(&mut self) {
        let reader = self.slot.reader();
        let _ = reader.wait(false, Duration::from_secs(5));
        for _ in 0..4 {
            let child = vaxcert()
                .args([
                    "card-sim",
                    "--until-stdin-closes",
                    "--slot",
                    &self.slot.n.to_string(),
                ])
                .arg("--persona")
                .arg(format!("certs/dev/personas/{}.toml", self.persona))
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            self.child = Some(child);
            if reader.wait(true, Duration::from_secs(3)).is_ok() {
                return;
            }
            self.pull_out();
            std::thread::sleep(Duration::from_millis(500));
        }
        panic!(
            "the virtual card did not appear in {}",
            self.slot.reader_name()
        );
    }

    /// Take the card out of the reader.
    pub(crate) fn pull_out(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = self.slot.reader().wait(false, Duration::from_secs(10));
    }
}

impl Drop for SimCard {
    fn drop(&mut self) {
        self.pull_out();
    }
}

/// node_modules for the browser drivers; `./vx` runs `npm ci` there.
pub(crate) fn require_browser() {
    assert!(
        Path::new("/usr/bin/chromium").exists(),
        "Chromium is missing: apt-get install -y chromium fonts-ipaexfont-gothic (./vx setup)"
    );
    assert!(
        Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/browser/node_modules/playwright-core"
        ))
        .exists(),
        "playwright-core is missing: (cd tests/browser && npm ci) — ./vx setup does it"
    );
}

/// Run a driver script in tests/browser with `env`; returns (exit ok, its JSON line).
pub(crate) fn run_browser(script: &str, env: &[(&str, &str)]) -> (bool, serde_json::Value, String) {
    require_browser();
    let out = Command::new("node")
        .arg(script)
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/browser"))
        .envs(env.iter().copied())
        .output()
        .expect("node is installed (./vx setup)");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let json = stdout
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str(l).ok())
        .unwrap_or(serde_json::Value::Null);
    (out.status.success(), json, format!("{stdout}\n{stderr}"))
}
