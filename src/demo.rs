//! DEV ONLY. `vaxcert demo`: the whole system on localhost (DESIGN §2). It seeds a fresh
//! SQLite record system, starts records (internal API + counter), the app gateway, the kiosk
//! center, a virtual card in a vpcd reader and the kiosk agent, each as its own process with
//! the dev keys, then issues one sample certificate through the real kiosk path (the agent's
//! local API, the card over PC/SC, mTLS to the center, records) and prints the URLs.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use clap::Args;
use serde_json::{Value, json};

use crate::card_sim::Persona;
use crate::exit::Coded;

/// `vaxcert demo …`
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Persona whose virtual card is inserted (its resident is in the demo records).
    #[arg(long, default_value = "certs/dev/personas/default.toml")]
    pub persona: PathBuf,
    /// vpcd slot (reader "Virtual PCD 00 0N").
    #[arg(long, default_value_t = 0)]
    pub slot: u8,
    /// Working folder: records.db, publication/, print/, logs/ (recreated on every run).
    #[arg(long, default_value = ".vx/demo")]
    pub dir: PathBuf,
    /// Let every role pick a free port instead of the fixed demo ports.
    #[arg(long)]
    pub any_port: bool,
    /// Stop after the sample certificate instead of serving until Ctrl-C.
    #[arg(long)]
    pub once: bool,
}

/// The fixed demo ports (with `--any-port`, 0 each).
struct Ports {
    records: u16,
    counter: u16,
    app: u16,
    center: u16,
    kiosk: u16,
}

/// One running role: its process, the URLs it printed, and its log file.
struct Role {
    name: &'static str,
    child: Child,
    urls: Vec<String>,
}

impl Role {
    /// Start `vaxcert ARGS…`, wait until it has printed `markers.len()` lines with the given
    /// markers, and keep the URLs found in them. stderr and the rest of stdout go to the log.
    fn start(name: &'static str, args: &[&str], logs: &Path, markers: &[&str]) -> Result<Role> {
        let log = logs.join(format!("{name}.log"));
        let err = std::fs::File::create(&log)
            .with_context(|| format!("cannot create {}", log.display()))?;
        let mut child = Command::new(std::env::current_exe()?)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(err)
            .spawn()
            .with_context(|| format!("cannot start {name}"))?;
        let stdout = child.stdout.take().ok_or_else(|| anyhow!("no stdout"))?;
        let mut role = Role {
            name,
            child,
            urls: Vec::new(),
        };
        let mut lines = BufReader::new(stdout).lines();
        for marker in markers {
            loop {
                let Some(line) = lines.next().transpose()? else {
                    let tail = std::fs::read_to_string(&log).unwrap_or_default();
                    bail!(
                        "{name} stopped before it was ready; its log ({}):\n{}",
                        log.display(),
                        tail.lines().rev().take(15).collect::<Vec<_>>().join("\n")
                    );
                };
                if line.contains(marker) {
                    if let Some(url) = line.split_whitespace().find(|w| w.starts_with("http")) {
                        role.urls.push(url.trim_end_matches('/').to_owned());
                    }
                    break;
                }
            }
        }
        // Keep draining stdout so the role never blocks on a full pipe.
        let mut rest = std::fs::OpenOptions::new().append(true).open(&log)?;
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                let _ = writeln!(rest, "{line}");
            }
        });
        Ok(role)
    }

    fn url(&self) -> &str {
        self.urls.first().map_or("", String::as_str)
    }
}

impl Drop for Role {
    fn drop(&mut self) {
        // SIGTERM first, so records seals its audit head; the card simulator ends on EOF.
        drop(self.child.stdin.take());
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        tracing::warn!(role = self.name, "did not stop; killing it");
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Fresh working folders: the demo never reuses a database from an earlier run.
fn prepare(dir: &Path) -> Result<()> {
    for f in ["records.db", "records.db-wal", "records.db-shm"] {
        let p = dir.join(f);
        if p.exists() {
            std::fs::remove_file(&p).with_context(|| format!("cannot remove {}", p.display()))?;
        }
    }
    for d in ["publication", "print", "logs"] {
        let p = dir.join(d);
        if p.exists() {
            std::fs::remove_dir_all(&p)
                .with_context(|| format!("cannot remove {}", p.display()))?;
        }
        std::fs::create_dir_all(&p).with_context(|| format!("cannot create {}", p.display()))?;
    }
    Ok(())
}

/// `records seed-demo`: demo municipalities, residents, doses and the counter login. Returns
/// the lines that describe the login (password, TOTP secret and URI).
fn seed(db: &str) -> Result<Vec<String>> {
    let out = Command::new(std::env::current_exe()?)
        .args(["records", "--dev", "--database-url", db, "seed-demo"])
        .output()
        .context("cannot run records seed-demo")?;
    if !out.status.success() {
        bail!(
            "records seed-demo failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let text = String::from_utf8_lossy(&out.stdout);
    Ok(text
        .lines()
        .skip_while(|l| !l.starts_with("counter login"))
        .map(str::to_owned)
        .collect())
}

/// Run the demo.
///
/// # Errors
/// A role that does not start, or a sample issuance that fails, with the role's log tail.
pub fn run(args: &DemoArgs) -> Result<()> {
    let persona = Persona::load(&args.persona)?;
    let dir = &args.dir;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    prepare(dir)?;
    let logs = dir.join("logs");
    let ports = if args.any_port {
        Ports {
            records: 0,
            counter: 0,
            app: 0,
            center: 0,
            kiosk: 0,
        }
    } else {
        Ports {
            records: 8443,
            counter: 8445,
            app: 8080,
            center: 8444,
            kiosk: 8090,
        }
    };
    let at = |p: u16| format!("127.0.0.1:{p}");
    let db = format!("sqlite://{}", dir.join("records.db").display());
    println!("vaxcert demo (DEV ONLY: dev keys, demo residents, a virtual card)");
    let login = seed(&db)?;

    let publication = dir.join("publication");
    let records = Role::start(
        "records",
        &[
            "records",
            "--dev",
            "--database-url",
            &db,
            "serve",
            "--listen",
            &at(ports.records),
            "--counter-listen",
            &at(ports.counter),
            "--counter-plain-http",
            "--trust",
            "dev",
            "--publication-dir",
            &publication.display().to_string(),
        ],
        &logs,
        &["internal API on", "counter UI on"],
    )?;
    let app = Role::start(
        "app",
        &[
            "app",
            "serve",
            "--dev",
            "--listen",
            &at(ports.app),
            "--plain-http",
            "--records-url",
            records.url(),
            "--trust-dev",
        ],
        &logs,
        &["listening on"],
    )?;
    let center = Role::start(
        "center",
        &[
            "center",
            "serve",
            "--dev",
            "--listen",
            &at(ports.center),
            "--records-url",
            records.url(),
            "--trust",
            "dev",
        ],
        &logs,
        &["kiosk API on"],
    )?;
    let reader = format!("Virtual PCD 00 {:02}", args.slot);
    let card = Role::start(
        "card",
        &[
            "card-sim",
            "--until-stdin-closes",
            "--slot",
            &args.slot.to_string(),
            "--persona",
            &args.persona.display().to_string(),
        ],
        &logs,
        &[],
    )?;
    let print = dir.join("print");
    let kiosk = Role::start(
        "kiosk",
        &[
            "kiosk",
            "--dev",
            "--listen",
            &at(ports.kiosk),
            "--center",
            center.url(),
            "--reader",
            &reader,
            "--print-dir",
            &print.display().to_string(),
        ],
        &logs,
        &["kiosk listening on"],
    )?;

    println!("Issuing a sample certificate through the kiosk (card in {reader:?})…");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let pin = zeroize::Zeroizing::new(String::from_utf8_lossy(persona.pin.as_bytes()).into_owned());
    let id = rt
        .block_on(kiosk_issue(kiosk.url(), &pin))
        .with_context(|| format!("the sample issuance failed; logs in {}", logs.display()))?;
    let pdf = print.join(format!("{id}.pdf"));
    if !pdf.is_file() {
        bail!("the kiosk printed nothing at {}", pdf.display());
    }

    println!();
    println!("Sample certificate {id}: {}", pdf.display());
    println!("  check it: pdfsig {}", pdf.display());
    println!();
    println!(
        "Kiosk screen      {}/   (the virtual card stays in the reader; its PIN is in {})",
        kiosk.url(),
        args.persona.display()
    );
    println!(
        "Counter           {}/",
        records.urls.get(1).map_or("", String::as_str)
    );
    for l in &login {
        println!("  {l}");
    }
    println!(
        "Verifier          {}/verify   (trusts the dev issuer)",
        app.url()
    );
    println!(
        "App API           {}/v1/challenges, /v1/previews, /v1/certificates",
        app.url()
    );
    println!(
        "Records (mTLS)    {}   Center (mTLS)  {}",
        records.url(),
        center.url()
    );
    println!("Logs              {}", logs.display());
    std::io::stdout().flush().ok();
    if args.once {
        return Ok(());
    }
    println!("Press Ctrl-C to stop.");
    rt.block_on(crate::http::shutdown_signal());
    drop((kiosk, card, center, app, records));
    Ok(())
}

/// The kiosk agent's local API, called the way its touch screen does: municipality, card,
/// PIN and kind, preview, confirm (print). Returns the certificate ID.
async fn kiosk_issue(kiosk: &str, pin: &str) -> Result<String> {
    // Plain HTTP to the agent on loopback; reqwest still wants a TLS provider chosen (NOTES: ring).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()?;
    let answer = |r: reqwest::Response| async move {
        let status = r.status();
        let body: Value = r.json().await.unwrap_or(Value::Null);
        if status.is_success() {
            Ok(body)
        } else {
            Err(anyhow::Error::from(Coded {
                code: "demo-kiosk",
                message: format!("kiosk answered {status}: {body}"),
            }))
        }
    };
    let list = answer(
        http.get(format!("{kiosk}/api/municipalities"))
            .send()
            .await?,
    )
    .await?;
    if !list.to_string().contains("131016") {
        bail!("the center does not offer 131016: {list}");
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let card = answer(http.get(format!("{kiosk}/api/card")).send().await?).await?;
        if card["present"] == true {
            break;
        }
        if Instant::now() > deadline {
            bail!("no card in the kiosk's reader: {card}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let read = http
        .post(format!("{kiosk}/api/read"))
        .json(&json!({
            "municipality": "131016", "kind": "domestic", "pin": pin,
            "terms_version": crate::protocol::TERMS_VERSION,
        }))
        .send()
        .await?;
    let preview = answer(read).await?;
    println!(
        "  preview: {} ({}), {} doses",
        preview["certificate"]["name"].as_str().unwrap_or("?"),
        preview["certificate"]["birth_date"].as_str().unwrap_or("?"),
        preview["certificate"]["doses"]
            .as_array()
            .map_or(0, Vec::len)
    );
    let done = answer(http.post(format!("{kiosk}/api/confirm")).send().await?).await?;
    done["certificate_id"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| anyhow!("the kiosk did not say which certificate it printed: {done}"))
}
