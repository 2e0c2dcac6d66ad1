//! `vaxcert bench faults` (DEV ONLY): the records-at-scale fault scenario. It starts two records
//! replicas over a PostgreSQL primary with a synchronous hot standby (the URL names both hosts)
//! and two app gateways that know both replicas, drives whole issuances through the gateways,
//! and meanwhile:
//! 1. `kill -9`s one replica, and starts it again;
//! 2. restarts the PostgreSQL primary (immediate mode: a crash);
//! 3. stops the primary and promotes the standby.
//!
//! Every issuance is written to a ledger (JSON lines: when, outcome, certificate ID). At the end
//! the tool reads the database that is then primary and reports requests sent, certificates
//! received, the error window of each fault, rows lost (a received certificate missing from
//! `issuance`), rows doubled (a certificate ID twice), issuance rows nobody was answered for
//! beyond the failed requests, and whether `audit verify` passes. `tests/faults` runs a short
//! schedule and checks the ledger against the database itself.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use clap::Args;
use serde::Serialize;

use super::Card;
use crate::domain::MunicipalityCode;
use crate::http::tls::ClientTls;

/// `vaxcert bench faults …`
#[derive(Debug, Args)]
pub struct FaultArgs {
    /// The PostgreSQL primary, `postgres://USER@HOST:PORT/DB`.
    #[arg(long)]
    pub primary_url: String,
    /// Its streaming-replication hot standby (same user and database).
    #[arg(long)]
    pub standby_url: String,
    /// The primary's data directory (for `pg_ctl restart` and `stop`).
    #[arg(long)]
    pub primary_data: PathBuf,
    /// The standby's data directory (for `pg_ctl promote`).
    #[arg(long)]
    pub standby_data: PathBuf,
    /// Folder holding `pg_ctl`.
    #[arg(long, default_value = "/usr/lib/postgresql/15/bin")]
    pub pg_bin: PathBuf,
    /// Seconds the whole run lasts; the faults come at 20 %, 45 % and 70 % of it.
    #[arg(long, default_value_t = 60)]
    pub duration: u64,
    /// Issuances in flight at once.
    #[arg(long, default_value_t = 4)]
    pub concurrency: usize,
    /// Where the replicas publish, the ledger and the report go.
    #[arg(long)]
    pub work_dir: PathBuf,
    /// Persona whose dev card key signs.
    #[arg(long, default_value = "certs/dev/personas/default.toml")]
    pub persona: PathBuf,
}

/// One fault and what the clients saw of it.
#[derive(Debug, Clone, Serialize)]
pub struct FaultWindow {
    /// What was done.
    pub fault: String,
    /// Seconds from the start of the run when it was done.
    pub at_secs: f64,
    /// Issuances that failed between this fault and the next (or the end).
    pub errors: u64,
    /// Seconds from the fault to the end of the last failed issuance before the next fault:
    /// how long clients saw errors (0 when none did).
    pub window_secs: f64,
    /// The slowest issuance that ended between this fault and the next, in milliseconds
    /// (a fault may slow issuances down without failing them).
    pub slowest_ms: f64,
}

/// What `bench faults` found (also written to `report.json` in the work folder).
#[derive(Debug, Clone, Serialize)]
pub struct FaultReport {
    /// Issuances attempted.
    pub requests: u64,
    /// Certificates received.
    pub certificates: u64,
    /// Failures by code.
    pub failures: std::collections::BTreeMap<String, u64>,
    /// Certificate requests whose outcome the client never learned (transport failures).
    pub unknown_outcomes: u64,
    /// The faults.
    pub windows: Vec<FaultWindow>,
    /// Issuance rows in the database at the end.
    pub issuance_rows: u64,
    /// Issuance audit entries at the end.
    pub issuance_audit_entries: u64,
    /// Received certificates missing from `issuance` (target 0).
    pub rows_lost: u64,
    /// Certificate IDs received twice for different requests, or present twice (target 0).
    pub rows_doubled: u64,
    /// Issuance rows for which no client got an answer, beyond the requests that failed with
    /// an unknown outcome (target 0).
    pub rows_unexplained: u64,
    /// Whether `audit verify` passed on the database that is primary at the end.
    pub audit_intact: bool,
    /// Issuances that succeeded after the standby was promoted.
    pub after_failover: u64,
}

/// Kills the child processes it holds when dropped (a failing run leaves nothing behind).
struct Children(Vec<Option<Child>>);

impl Drop for Children {
    fn drop(&mut self) {
        for c in self.0.iter_mut().flatten() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Run `pg_ctl` (as `postgres` when this is root) off the async workers. Its output goes to a
/// file: a postmaster it starts keeps inherited pipes open for good.
async fn pg_ctl(bin: &Path, log: &Path, args: &[&str]) -> Result<()> {
    let pg_ctl = bin.join("pg_ctl");
    let log = log.to_owned();
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    tokio::task::spawn_blocking(move || -> Result<()> {
        let as_root = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| o.stdout.trim_ascii() == b"0");
        let mut cmd = if as_root {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&pg_ctl);
            c
        } else {
            Command::new(&pg_ctl)
        };
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)?;
        let status = cmd
            .args(&args)
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .status()?;
        if !status.success() {
            bail!("pg_ctl {} failed: see {}", args.join(" "), log.display());
        }
        Ok(())
    })
    .await?
}

/// `postgres://USER@HOST1:PORT1,HOST2:PORT2/DB`: both hosts, as `records serve` takes them.
fn both_hosts(primary: &str, standby: &str) -> Result<String> {
    let host = |url: &str| -> Result<(String, String, String)> {
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| anyhow!("{url}: no scheme"))?;
        let (user, rest) = rest.rsplit_once('@').unwrap_or(("", rest));
        let (hostport, db) = rest.split_once('/').unwrap_or((rest, "postgres"));
        Ok((
            format!(
                "{scheme}://{}",
                if user.is_empty() {
                    String::new()
                } else {
                    format!("{user}@")
                }
            ),
            hostport.to_owned(),
            db.to_owned(),
        ))
    };
    let (prefix, a, db) = host(primary)?;
    let (_, b, _) = host(standby)?;
    Ok(format!("{prefix}{a},{b}/{db}"))
}

struct Stack {
    exe: PathBuf,
    url: String,
    work: PathBuf,
    records_ports: [u16; 2],
    children: Children,
}

impl Stack {
    fn records(&self, i: usize) -> Result<Child> {
        let log = std::fs::File::create(self.work.join(format!("records-{i}.log")))?;
        Ok(Command::new(&self.exe)
            .args([
                "records",
                "--dev",
                "--database-url",
                &self.url,
                "serve",
                "--trust",
                "dev",
            ])
            .args(["--listen", &format!("127.0.0.1:{}", self.records_ports[i])])
            .args(["--counter-listen", "127.0.0.1:0", "--no-pdf"])
            .arg("--publication-dir")
            .arg(self.work.join(format!("publication-{i}")))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()?)
    }

    fn gateway(&self, port: u16, i: usize) -> Result<Child> {
        let log = std::fs::File::create(self.work.join(format!("app-{i}.log")))?;
        let records = self
            .records_ports
            .iter()
            .map(|p| format!("https://127.0.0.1:{p}"))
            .collect::<Vec<_>>()
            .join(",");
        Ok(Command::new(&self.exe)
            .args(["app", "serve", "--dev", "--records-url", &records])
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(["--rate-limit", "100000"])
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()?)
    }
}

async fn wait_ready(client: &reqwest::Client, url: &str) -> Result<()> {
    for _ in 0..200 {
        if let Ok(r) = client.get(format!("{url}/readyz")).send().await
            && r.status().is_success()
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("{url} did not become ready")
}

async fn wait_port(port: u16) {
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// One ledger line.
#[derive(Debug, Clone, Serialize)]
struct Entry {
    /// Seconds from the start when the issuance ended.
    t: f64,
    /// `ok` or the failure code.
    outcome: String,
    /// The certificate received.
    #[serde(skip_serializing_if = "Option::is_none")]
    certificate_id: Option<String>,
    /// How long the whole issuance took, in milliseconds.
    ms: f64,
}

/// Run the scenario.
///
/// # Errors
/// Set-up failures; a run where the stack never issued.
pub async fn run(args: FaultArgs) -> Result<FaultReport> {
    std::fs::create_dir_all(&args.work_dir)?;
    let work = args.work_dir.canonicalize()?;
    let url = both_hosts(&args.primary_url, &args.standby_url)?;
    // The demo's residents, municipalities and doses, on the primary.
    let seed = Command::new(std::env::current_exe()?)
        .args([
            "records",
            "--dev",
            "--database-url",
            &args.primary_url,
            "seed-demo",
        ])
        .output()?;
    if !seed.status.success() {
        bail!("seed-demo: {}", String::from_utf8_lossy(&seed.stderr));
    }
    let mut stack = Stack {
        exe: std::env::current_exe()?,
        url,
        work: work.clone(),
        records_ports: [free_port()?, free_port()?],
        children: Children(Vec::new()),
    };
    for i in 0..2 {
        let c = stack.records(i)?;
        stack.children.0.push(Some(c));
    }
    let gateway_ports = [free_port()?, free_port()?];
    for (i, p) in gateway_ports.iter().enumerate() {
        let c = stack.gateway(*p, i)?;
        stack.children.0.push(Some(c));
    }
    let tls = ClientTls {
        server_ca: crate::dev::tls_dir().join("server-ca.crt.pem"),
        cert: None,
        key: None,
    };
    let client = reqwest::Client::builder()
        .use_preconfigured_tls(tls.config()?)
        .timeout(Duration::from_secs(30))
        .build()?;
    let targets: Vec<String> = gateway_ports
        .iter()
        .map(|p| format!("https://127.0.0.1:{p}"))
        .collect();
    for t in &targets {
        wait_ready(&client, t).await?;
    }

    let card = Arc::new(Card::load(&args.persona).context("loading the persona's dev card")?);
    let municipality = MunicipalityCode::parse("131016").map_err(|e| anyhow!("{e}"))?;
    let started = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let ledger = Arc::new(std::sync::Mutex::new(Vec::<Entry>::new()));
    let mut workers = Vec::new();
    for w in 0..args.concurrency.max(1) {
        let (client, card, stop, ledger) =
            (client.clone(), card.clone(), stop.clone(), ledger.clone());
        let target = targets[w % targets.len()].clone();
        let municipality = municipality.clone();
        workers.push(tokio::spawn(async move {
            let device = format!("faults-{w:04}");
            while !stop.load(Ordering::Relaxed) {
                let began = Instant::now();
                let r = super::one(&client, &target, &card, &device, &municipality, false, 5).await;
                let e = Entry {
                    t: started.elapsed().as_secs_f64(),
                    outcome: r.as_ref().map_or_else(Clone::clone, |_| "ok".to_owned()),
                    certificate_id: r
                        .ok()
                        .and_then(|c| c["certificate_id"].as_str().map(str::to_owned)),
                    ms: began.elapsed().as_secs_f64() * 1000.0,
                };
                if e.certificate_id.is_none() {
                    // Failing fast must not become a busy loop.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                ledger
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .push(e);
            }
        }));
    }

    // The schedule.
    let total = Duration::from_secs(args.duration.max(10));
    let at = |f: f64| total.mul_f64(f);
    let sleep_until = |d: Duration| tokio::time::sleep_until((started + d).into());
    let mut faults: Vec<(String, f64)> = Vec::new();
    let since = |s: Instant| s.duration_since(started).as_secs_f64();

    // Progress on stderr every 5 s, so a long run shows where it is.
    let progress = {
        let (ledger, stop) = (ledger.clone(), stop.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_secs(5)).await;
                let (ok, failed) = ledger
                    .lock()
                    .map(|l| {
                        let ok = l.iter().filter(|e| e.certificate_id.is_some()).count();
                        (ok, l.len() - ok)
                    })
                    .unwrap_or_default();
                eprintln!(
                    "{:>6.1} s: {ok} certificates, {failed} failed",
                    started.elapsed().as_secs_f64()
                );
            }
        })
    };
    let say = |what: &str| eprintln!("{:>6.1} s: {what}", started.elapsed().as_secs_f64());

    sleep_until(at(0.20)).await;
    say("kill -9 records replica 1");
    faults.push(("kill -9 records replica 1".into(), since(Instant::now())));
    if let Some(c) = stack.children.0[0].as_mut() {
        c.kill()?;
        c.wait()?;
    }
    sleep_until(at(0.30)).await;
    say("start records replica 1 again");
    let again = stack.records(0)?;
    stack.children.0[0] = Some(again);
    wait_port(stack.records_ports[0]).await;

    sleep_until(at(0.45)).await;
    say("restart the PostgreSQL primary");
    faults.push((
        "restart the PostgreSQL primary (immediate)".into(),
        since(Instant::now()),
    ));
    let data = args.primary_data.to_string_lossy().into_owned();
    let pg_log = work.join("pg_ctl.log");
    // The server's own log goes beside its data (only postgres may write there).
    let server_log = args.primary_data.join("server.log");
    let server_log = server_log.to_string_lossy().into_owned();
    pg_ctl(
        &args.pg_bin,
        &pg_log,
        &[
            "-D",
            &data,
            "-l",
            &server_log,
            "-m",
            "immediate",
            "-w",
            "restart",
        ],
    )
    .await?;
    say("primary restarted");

    sleep_until(at(0.70)).await;
    say("stop the primary, promote the standby");
    faults.push((
        "stop the primary, promote the standby".into(),
        since(Instant::now()),
    ));
    pg_ctl(
        &args.pg_bin,
        &pg_log,
        &["-D", &data, "-m", "immediate", "-w", "stop"],
    )
    .await?;
    let standby = args.standby_data.to_string_lossy().into_owned();
    pg_ctl(&args.pg_bin, &pg_log, &["-D", &standby, "-w", "promote"]).await?;
    say("standby promoted");

    sleep_until(total).await;
    say("stopping the load");
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.await?;
    }
    progress.abort();
    say("checking the ledger against the database");
    drop(stack.children);

    let ledger = ledger
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    let mut lines = String::new();
    for e in &ledger {
        lines.push_str(&serde_json::to_string(e)?);
        lines.push('\n');
    }
    std::fs::write(work.join("ledger.jsonl"), lines)?;
    let report = check(&args, &ledger, &faults).await?;
    std::fs::write(
        work.join("report.json"),
        serde_json::to_vec_pretty(&report)?,
    )?;
    Ok(report)
}

/// Compare the ledger with the database that is primary at the end (the promoted standby).
async fn check(
    args: &FaultArgs,
    ledger: &[Entry],
    faults: &[(String, f64)],
) -> Result<FaultReport> {
    let mut failures = std::collections::BTreeMap::<String, u64>::new();
    let mut received = std::collections::HashMap::<String, u64>::new();
    for e in ledger {
        match &e.certificate_id {
            Some(id) => *received.entry(id.clone()).or_default() += 1,
            None => *failures.entry(e.outcome.clone()).or_default() += 1,
        }
    }
    let unknown_outcomes = failures
        .iter()
        .filter(|(k, _)| k.starts_with("certificate:"))
        .map(|(_, v)| *v)
        .sum();
    let windows = faults
        .iter()
        .enumerate()
        .map(|(i, (fault, t0))| {
            let t1 = faults.get(i + 1).map_or(f64::INFINITY, |f| f.1);
            let during: Vec<&Entry> = ledger.iter().filter(|e| e.t >= *t0 && e.t < t1).collect();
            let failed: Vec<&&Entry> = during
                .iter()
                .filter(|e| e.certificate_id.is_none())
                .collect();
            FaultWindow {
                fault: fault.clone(),
                at_secs: *t0,
                errors: failed.len() as u64,
                window_secs: failed.iter().map(|e| e.t - t0).fold(0.0, f64::max),
                slowest_ms: during.iter().map(|e| e.ms).fold(0.0, f64::max),
            }
        })
        .collect();
    let after_failover = faults.last().map_or(0, |(_, t0)| {
        ledger
            .iter()
            .filter(|e| e.t >= *t0 && e.certificate_id.is_some())
            .count() as u64
    });

    use sqlx::Connection;
    let mut db = sqlx::PgConnection::connect(&args.standby_url).await?;
    let rows: Vec<(String,)> = sqlx::query_as("SELECT certificate_id FROM issuance")
        .fetch_all(&mut db)
        .await?;
    let (audit_entries,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM audit_log WHERE action = 'issuance'")
            .fetch_one(&mut db)
            .await?;
    db.close().await?;
    let mut in_db = std::collections::HashMap::<String, u64>::new();
    for (id,) in &rows {
        *in_db.entry(id.clone()).or_default() += 1;
    }
    let rows_lost = received
        .keys()
        .filter(|id| !in_db.contains_key(*id))
        .count() as u64;
    let rows_doubled = received.values().filter(|n| **n > 1).count() as u64
        + in_db.values().filter(|n| **n > 1).count() as u64;
    let unanswered = in_db
        .keys()
        .filter(|id| !received.contains_key(*id))
        .count() as u64;
    let records = crate::records::Records::open(
        &crate::records::RecordsSettings::new(&args.standby_url, crate::dev::record_keys()),
        Arc::new(crate::clock::SystemClock),
    )
    .await?;
    let audit_intact = records.verify_audit().await.is_ok();
    Ok(FaultReport {
        requests: ledger.len() as u64,
        certificates: received.values().sum(),
        failures,
        unknown_outcomes,
        windows,
        issuance_rows: rows.len() as u64,
        issuance_audit_entries: u64::try_from(audit_entries).unwrap_or(0),
        rows_lost,
        rows_doubled,
        rows_unexplained: unanswered.saturating_sub(unknown_outcomes),
        audit_intact,
        after_failover,
    })
}

/// Print the report for a person.
pub fn print(r: &FaultReport) {
    println!(
        "requests {}, certificates received {}, unknown outcomes {}",
        r.requests, r.certificates, r.unknown_outcomes
    );
    for w in &r.windows {
        println!(
            "  {:<45} at {:>5.1} s: {} errors within {:.2} s; slowest issuance {:.0} ms",
            w.fault, w.at_secs, w.errors, w.window_secs, w.slowest_ms
        );
    }
    if !r.failures.is_empty() {
        println!("failures: {:?}", r.failures);
    }
    println!(
        "issuance rows {}, issuance audit entries {}, rows lost {}, rows doubled {}, unexplained rows {}, audit {}, issued after failover {}",
        r.issuance_rows,
        r.issuance_audit_entries,
        r.rows_lost,
        r.rows_doubled,
        r.rows_unexplained,
        if r.audit_intact { "intact" } else { "BROKEN" },
        r.after_failover
    );
}
