//! `vaxcert bench issue`: the load tool (DEV ONLY). It drives the app gateway as many phones
//! would — challenge, preview, certificate — with a persona's committed dev card key signing
//! each bound challenge in-process with `ring` (no PC/SC), and prints throughput, latency
//! percentiles of whole issuances and the CPU split between itself and the servers.
//!
//! PDFs are records' choice (`records serve --no-pdf`); `--pdf` makes the tool insist that every
//! answer carries one, and without it that none does, so a run measures what it says.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};
use clap::{Args, Subcommand};
use rsa::pkcs8::EncodePrivateKey;
use serde_json::{Value, json};

use crate::card::CardFiles;
use crate::card::challenge::{Binding, Challenge};
use crate::domain::{Channel, Kind, MunicipalityCode};
use crate::http::tls::ClientTls;

pub mod faults;

/// `vaxcert bench …`
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Drive the app gateway with whole issuances and report throughput and latency.
    Issue(IssueArgs),
    /// The fault scenario: two gateways, two records replicas, PostgreSQL primary + standby;
    /// kill a replica, restart the primary, promote the standby; report what was lost.
    Faults(faults::FaultArgs),
}

/// `vaxcert bench issue …`
#[derive(Debug, Args)]
pub struct IssueArgs {
    /// The app gateway, e.g. `https://127.0.0.1:8080`.
    #[arg(long)]
    pub target: String,
    /// Issuances in flight at once.
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
    /// Seconds to run.
    #[arg(long, default_value_t = 10)]
    pub duration: u64,
    /// Expect a PDF in every answer (records without --no-pdf).
    #[arg(long)]
    pub pdf: bool,
    /// Persona whose dev card key signs (its resident must exist in records).
    #[arg(long, default_value = "certs/dev/personas/default.toml")]
    pub persona: PathBuf,
    /// The municipality holding the persona's record.
    #[arg(long, default_value = "131016")]
    pub municipality: MunicipalityCode,
    /// CA of the gateway's server certificate.
    #[arg(long, default_value = "certs/dev/tls/server-ca.crt.pem")]
    pub server_ca: PathBuf,
    /// Server process ids whose CPU time to report (repeat).
    #[arg(long = "server-pid")]
    pub server_pids: Vec<u32>,
    /// Worker threads of the tool.
    #[arg(long, default_value_t = 2)]
    pub threads: usize,
    /// Start at most this many issuances per second (paced; latency is then measured at a
    /// fixed offered load). Without it every worker goes as fast as it can.
    #[arg(long)]
    pub rate: Option<u32>,
}

/// Run a bench command.
///
/// # Errors
/// Set-up failures; a run with no successful issuance.
pub fn run(command: BenchCommand) -> Result<()> {
    match command {
        BenchCommand::Issue(args) => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(args.threads.max(1))
            .enable_all()
            .build()?
            .block_on(issue(args)),
        BenchCommand::Faults(args) => {
            let report = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()?
                .block_on(faults::run(args))?;
            faults::print(&report);
            Ok(())
        }
    }
}

/// CPU seconds (user + system) of a process, from `/proc/PID/stat`.
fn cpu_secs(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = f.get(11)?.parse().ok()?;
    let stime: f64 = f.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

struct Card {
    files: CardFiles,
    key: ring::signature::RsaKeyPair,
}

impl Card {
    fn load(persona: &std::path::Path) -> Result<Self> {
        let p = crate::card_sim::Persona::load(persona)?;
        let key = crate::dev::card::load_rsa_key(&p.card_key_path())?;
        let der = key.to_pkcs8_der().map_err(|e| anyhow!("card key: {e}"))?;
        let ring_key = ring::signature::RsaKeyPair::from_pkcs8(der.as_bytes())
            .map_err(|e| anyhow!("card key for ring: {e}"))?;
        let img = crate::card_sim::image::CardImage::build(
            &p,
            &crate::dev::card::DevIssuer::load()?,
            key,
        );
        Ok(Card {
            files: img.card_files(),
            key: ring_key,
        })
    }

    /// INTERNAL AUTHENTICATE's answer: PKCS#1 v1.5 over SHA-256 of the binding message.
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>> {
        let mut sig = vec![0u8; self.key.public().modulus_len()];
        self.key
            .sign(
                &ring::signature::RSA_PKCS1_SHA256,
                &ring::rand::SystemRandom::new(),
                message,
                &mut sig,
            )
            .map_err(|_| anyhow!("signing failed"))?;
        Ok(sig)
    }
}

/// What a failed transport (no HTTP answer) is counted as.
const TRANSPORT: &str = "transport-error";

async fn post(c: &reqwest::Client, url: &str, body: &Value) -> Result<Value, String> {
    let r = c
        .post(url)
        .json(body)
        .send()
        .await
        .map_err(|_| TRANSPORT.to_owned())?;
    let ok = r.status().is_success();
    let v: Value = r.json().await.map_err(|_| TRANSPORT.to_owned())?;
    if ok {
        Ok(v)
    } else {
        Err(v["code"].as_str().unwrap_or("unknown").to_owned())
    }
}

/// One whole issuance as a phone makes it. A certificate request whose answer was lost or
/// that met a 503 is sent again with the same token up to `retries` times (the token is the
/// idempotency key): the answer names the certificate received.
async fn one(
    c: &reqwest::Client,
    target: &str,
    card: &Card,
    device: &str,
    municipality: &MunicipalityCode,
    pdf: bool,
    retries: u32,
) -> Result<Value, String> {
    let ch = post(c, &format!("{target}/v1/challenges"), &json!({})).await?;
    let challenge = Challenge::from_base64(ch["challenge"].as_str().unwrap_or_default())
        .map_err(|e| e.code().to_owned())?;
    let binding = Binding {
        channel: Channel::App,
        terminal_id: device.to_owned(),
        municipality: municipality.clone(),
        kind: Kind::Domestic,
    };
    let signature = card
        .sign(&binding.message(&challenge))
        .map_err(|e| e.to_string())?;
    let evidence = crate::card::CardEvidence {
        files: card.files.clone(),
        challenge,
        challenge_signature: signature,
    };
    let body = serde_json::to_value(crate::protocol::PreviewRequest {
        municipality: municipality.clone(),
        kind: Kind::Domestic,
        evidence,
        passport_mrz: None,
        device_id: Some(device.to_owned()),
        terms_version: Some(crate::protocol::TERMS_VERSION.to_owned()),
    })
    .map_err(|e| e.to_string())?;
    let p = post(c, &format!("{target}/v1/previews"), &body).await?;
    let token = json!({ "preview_token": p["preview_token"] });
    let mut tries = 0;
    let cert = loop {
        match post(c, &format!("{target}/v1/certificates"), &token).await {
            Err(code)
                if tries < retries
                    && (code == TRANSPORT
                        || code == "records-unavailable"
                        || code == "database-unavailable") =>
            {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            // The request may have been recorded before its answer was lost.
            Err(code) if code == TRANSPORT || code.ends_with("-unavailable") => {
                return Err(format!("certificate:{code}"));
            }
            other => break other?,
        }
    };
    let has_pdf = cert["pdf_base64"].as_str().is_some_and(|s| !s.is_empty());
    if has_pdf != pdf {
        return Err(if pdf { "no-pdf" } else { "unexpected-pdf" }.to_owned());
    }
    Ok(cert)
}

async fn issue(args: IssueArgs) -> Result<()> {
    let card = Arc::new(Card::load(&args.persona).context("loading the persona's dev card")?);
    let tls = ClientTls {
        server_ca: args.server_ca.clone(),
        cert: None,
        key: None,
    };
    let client = reqwest::Client::builder()
        .use_preconfigured_tls(tls.config()?)
        .pool_max_idle_per_host(args.concurrency)
        .timeout(Duration::from_secs(30))
        .build()?;
    let target = args.target.trim_end_matches('/').to_owned();
    let stop = Arc::new(AtomicBool::new(false));
    let failures = Arc::new(std::sync::Mutex::new(std::collections::BTreeMap::<
        String,
        u64,
    >::new()));
    let ok = Arc::new(AtomicU64::new(0));
    let pids: Vec<String> = args.server_pids.iter().map(u32::to_string).collect();
    let cpu0_tool = cpu_secs("self").unwrap_or(0.0);
    let cpu0_servers: Vec<f64> = pids.iter().map(|p| cpu_secs(p).unwrap_or(0.0)).collect();
    let started = Instant::now();
    // Paced starts: a ticker hands out one permit per 1/rate seconds.
    let pace = args.rate.filter(|r| *r > 0).map(|rate| {
        let (tx, rx) = tokio::sync::mpsc::channel::<()>(1);
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(rate)));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            while !stop.load(Ordering::Relaxed) {
                tick.tick().await;
                if tx.send(()).await.is_err() {
                    break;
                }
            }
        });
        Arc::new(tokio::sync::Mutex::new(rx))
    });
    let mut tasks = Vec::new();
    for w in 0..args.concurrency.max(1) {
        let (client, card, target, stop, failures, ok) = (
            client.clone(),
            card.clone(),
            target.clone(),
            stop.clone(),
            failures.clone(),
            ok.clone(),
        );
        let municipality = args.municipality.clone();
        let pdf = args.pdf;
        let pace = pace.clone();
        tasks.push(tokio::spawn(async move {
            let device = format!("bench-{w:04}");
            let mut lat = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                if let Some(p) = &pace {
                    let permit = tokio::time::timeout(Duration::from_millis(200), async {
                        p.lock().await.recv().await
                    })
                    .await;
                    if !matches!(permit, Ok(Some(()))) {
                        continue;
                    }
                }
                let t = Instant::now();
                match one(&client, &target, &card, &device, &municipality, pdf, 0).await {
                    Ok(_) => {
                        lat.push(t.elapsed());
                        ok.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(code) => {
                        if let Ok(mut f) = failures.lock() {
                            *f.entry(code).or_default() += 1;
                        }
                    }
                }
            }
            lat
        }));
    }
    tokio::time::sleep(Duration::from_secs(args.duration)).await;
    stop.store(true, Ordering::Relaxed);
    let mut lat: Vec<Duration> = Vec::new();
    for t in tasks {
        lat.extend(t.await?);
    }
    let wall = started.elapsed().as_secs_f64();
    let cpu_tool = cpu_secs("self").unwrap_or(0.0) - cpu0_tool;
    lat.sort();
    let n = lat.len();
    if n == 0 {
        return Err(anyhow!(
            "no issuance succeeded; failures: {:?}",
            failures.lock().map(|f| f.clone()).unwrap_or_default()
        ));
    }
    let pct = |p: f64| lat[((n as f64 * p).ceil() as usize).clamp(1, n) - 1].as_secs_f64() * 1000.0;
    println!(
        "issuances: {n} in {wall:.1} s = {:.0}/s (concurrency {}, {}, pdf {})",
        n as f64 / wall,
        args.concurrency,
        args.rate
            .map_or_else(|| "unpaced".to_owned(), |r| format!("paced at {r}/s")),
        if args.pdf { "yes" } else { "no" }
    );
    println!(
        "latency per issuance (challenge + preview + certificate): p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms",
        pct(0.50),
        pct(0.95),
        pct(0.99)
    );
    let f = failures.lock().map(|f| f.clone()).unwrap_or_default();
    if !f.is_empty() {
        println!("failures: {f:?}");
    }
    println!(
        "cpu: tool {cpu_tool:.1} s ({:.0}% of one core)",
        100.0 * cpu_tool / wall
    );
    for (p, c0) in pids.iter().zip(cpu0_servers) {
        let c = cpu_secs(p).unwrap_or(c0) - c0;
        println!(
            "cpu: server pid {p} {c:.1} s ({:.0}% of one core)",
            100.0 * c / wall
        );
    }
    Ok(())
}
