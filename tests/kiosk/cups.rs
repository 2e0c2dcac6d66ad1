//! Real printing at the kiosk: the agent prints through CUPS's `lp` to a cups-pdf queue on a
//! throw-away cupsd configured as README's kiosk section says (`PreserveJobFiles No`,
//! `PreserveJobHistory No`). The printed page must carry the certificate (its SHC QR, read back
//! from pixels, verifies against the published JWKS), and nothing of the job may be left in
//! CUPS's spool or cache afterwards, nor in cups-pdf's own spool.
//!
//! cups-pdf reads its settings from /etc/cups only: `./vx` writes
//! `/etc/cups/cups-pdf-vaxcert-test.conf` (output into `/var/spool/vaxcert-test-pdf`).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use crate::artefacts::{pdf_qr_texts, verify_shc};
use crate::e2e::{center, records};
use crate::helpers::{Proc, SimCard, curl, post_json as post, slot, tmpdir, url_in, vaxcert};

const QUEUE: &str = "vaxcert-test";
const OUT: &str = "/var/spool/vaxcert-test-pdf";
const CUPS_PDF_SPOOL: &str = "/var/spool/cups-pdf/SPOOL";

/// A cupsd of our own: its own configuration, spool, cache and socket, stopped on drop.
struct Cupsd {
    dir: tempfile::TempDir,
    child: Child,
}

impl Cupsd {
    fn start() -> Cupsd {
        assert!(
            Path::new("/usr/sbin/cupsd").exists()
                && Path::new("/usr/lib/cups/backend/cups-pdf").exists(),
            "cups and printer-driver-cups-pdf are not installed: run the tests through ./vx test"
        );
        assert!(
            Path::new(&format!("/etc/cups/cups-pdf-{QUEUE}.conf")).exists(),
            "/etc/cups/cups-pdf-{QUEUE}.conf is missing: run the tests through ./vx test"
        );
        // Filters run as `lp`: the folder must be reachable, its TempDir writable, by lp.
        let dir = tempfile::Builder::new()
            .prefix("vaxcert-cupsd-")
            .tempdir_in("/tmp")
            .unwrap();
        let d = dir.path();
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
        for sub in ["conf", "spool", "cache", "state", "log", "tmp"] {
            std::fs::create_dir(d.join(sub)).unwrap();
        }
        std::fs::set_permissions(d.join("tmp"), std::fs::Permissions::from_mode(0o1777)).unwrap();
        let p = |sub: &str| d.join(sub).display().to_string();
        std::fs::write(
            d.join("conf/cups-files.conf"),
            format!(
                "ServerRoot {}\nRequestRoot {}\nCacheDir {}\nStateDir {}\nTempDir {}\n\
                 ErrorLog {}/error_log\nAccessLog {}/access_log\nPageLog {}/page_log\n\
                 User lp\nGroup lp\nSystemGroup root\n",
                p("conf"),
                p("spool"),
                p("cache"),
                p("state"),
                p("tmp"),
                p("log"),
                p("log"),
                p("log"),
            ),
        )
        .unwrap();
        // The two settings the README asks of a kiosk's cupsd.
        std::fs::write(
            d.join("conf/cupsd.conf"),
            format!(
                "Listen {}/cups.sock\nLogLevel info\nPreserveJobFiles No\nPreserveJobHistory No\n\
                 WebInterface No\nBrowsing No\n<Location />\n  Order allow,deny\n  Allow all\n\
                 </Location>\n",
                d.display()
            ),
        )
        .unwrap();
        let child = Command::new("/usr/sbin/cupsd")
            .args(["-f", "-c"])
            .arg(d.join("conf/cupsd.conf"))
            .arg("-s")
            .arg(d.join("conf/cups-files.conf"))
            .spawn()
            .expect("cupsd starts");
        let cups = Cupsd { dir, child };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !cups.socket().exists() {
            assert!(Instant::now() < deadline, "cupsd did not open its socket");
            std::thread::sleep(Duration::from_millis(100));
        }
        let out = cups
            .command("lpadmin")
            .args(["-p", QUEUE, "-E", "-v"])
            .arg(format!("cups-pdf:/{QUEUE}"))
            .args(["-P", "/usr/share/ppd/cups-pdf/CUPS-PDF_opt.ppd"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "lpadmin: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        cups
    }

    fn socket(&self) -> PathBuf {
        self.dir.path().join("cups.sock")
    }

    /// A CUPS client command talking to this cupsd.
    fn command(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.env("CUPS_SERVER", self.socket());
        c
    }

    fn files_in(&self, sub: &str) -> Vec<String> {
        files_in(&self.dir.path().join(sub))
    }

    fn stop(&mut self) {
        // SIGTERM: cupsd writes its job cache on the way out.
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

impl Drop for Cupsd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn files_in(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .filter(|e| e.path().is_file())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn the_kiosk_prints_through_cups_and_cups_keeps_nothing() {
    for f in files_in(Path::new(OUT)) {
        std::fs::remove_file(Path::new(OUT).join(f)).unwrap();
    }
    let mut cups = Cupsd::start();
    let dir = tmpdir();
    let (records_proc, records_url) = records(dir.path());
    let (center_proc, center_url) = center(&records_url);
    let s = slot();
    let reader = s.reader_name();
    let _card = SimCard::insert("default", s);
    let mut cmd = vaxcert();
    cmd.args(["kiosk", "--dev", "--listen", "127.0.0.1:0", "--center"])
        .arg(&center_url)
        .args(["--reader", &reader, "--printer", QUEUE])
        .env("CUPS_SERVER", cups.socket());
    let (agent, line) = Proc::start(cmd, "kiosk-cups", "kiosk listening on");
    let url = url_in(&line);

    let deadline = Instant::now() + Duration::from_secs(20);
    while !curl(&[&format!("{url}/api/card")]).contains("\"present\":true") {
        assert!(Instant::now() < deadline, "no card in {reader}");
        std::thread::sleep(Duration::from_millis(200));
    }
    let read = post(
        &format!("{url}/api/read"),
        &format!(
            r#"{{"municipality":"131016","kind":"domestic","pin":"1234","terms_version":"{}"}}"#,
            vaxcert::protocol::TERMS_VERSION
        ),
    );
    assert!(
        read.starts_with("HTTP/1.1 200"),
        "{read}\n{}",
        agent.output()
    );
    let done = post(&format!("{url}/api/confirm"), "{}");
    assert!(
        done.starts_with("HTTP/1.1 200"),
        "{done}\n--- agent\n{}\n--- center\n{}\n--- records\n{}",
        agent.output(),
        center_proc.output(),
        records_proc.output()
    );

    // The page came out of the printer (cups-pdf), and it is the certificate.
    let deadline = Instant::now() + Duration::from_secs(60);
    let printed = loop {
        let pdfs: Vec<String> = files_in(Path::new(OUT))
            .into_iter()
            .filter(|f| f.ends_with(".pdf"))
            .collect();
        if let [one] = pdfs.as_slice() {
            // cups-pdf writes the file, then sets its mode: wait until it is whole.
            let path = Path::new(OUT).join(one);
            let bytes = std::fs::read(&path).unwrap();
            if bytes.ends_with(b"%%EOF\n") || bytes.ends_with(b"%%EOF") {
                break bytes;
            }
        }
        assert!(
            Instant::now() < deadline,
            "nothing printed into {OUT}: {pdfs:?}\n{}",
            std::fs::read_to_string(cups.dir.path().join("log/error_log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(250));
    };
    let work = tmpdir();
    let texts = pdf_qr_texts(&printed, work.path());
    let shc = texts
        .iter()
        .find(|t| t.starts_with("shc:/"))
        .unwrap_or_else(|| panic!("no SHC QR on the printed page: {texts:?}"));
    let jwks: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.path().join("publish/jwks.json")).expect("records published its JWKS"),
    )
    .unwrap();
    verify_shc(shc, &jwks);

    // CUPS finished the job and kept nothing of it: no job or data files in its spool, no
    // job in its cache; cups-pdf's own spool is empty too.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let jobs = cups.command("lpstat").args(["-o"]).output().unwrap();
        if jobs.stdout.is_empty() && cups.files_in("spool").is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "jobs or job files stay: {} {:?}",
            String::from_utf8_lossy(&jobs.stdout),
            cups.files_in("spool")
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    let history = cups
        .command("lpstat")
        .args(["-W", "completed", "-o"])
        .output()
        .unwrap();
    assert!(
        history.stdout.is_empty(),
        "job history kept: {}",
        String::from_utf8_lossy(&history.stdout)
    );
    cups.stop();
    assert!(
        cups.files_in("spool").is_empty(),
        "{:?}",
        cups.files_in("spool")
    );
    let cache = std::fs::read_to_string(cups.dir.path().join("cache/job.cache")).unwrap();
    assert!(!cache.contains("<Job "), "a job in CUPS's cache:\n{cache}");
    assert!(
        files_in(Path::new(CUPS_PDF_SPOOL)).is_empty(),
        "cups-pdf's spool: {:?}",
        files_in(Path::new(CUPS_PDF_SPOOL))
    );
}
