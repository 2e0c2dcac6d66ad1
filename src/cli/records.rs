//! `vaxcert records …`: opens the record system, then runs a storage command
//! (`crate::records::cli`), or one of the two that need the issuance room: `serve`, the records
//! process (the internal API and the counter over one issuance service), and `revoke`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};

use crate::card::TrustSet;
use crate::card::challenge::{ChallengeKey, Challenges};
use crate::clock::SystemClock;
use crate::config::RecordsConfig;
use crate::counter;
use crate::domain::{CertificateId, MunicipalityCode};
use crate::exit::Coded;
use crate::http::tls::{ClientAuth, ServerTls};
use crate::issuance::api::{ServeSettings, Server};
use crate::issuance::{
    IssuanceService, IssuanceSettings, Manifest, SigningKeyFiles, SigningKeys, TokenKey,
};
use crate::records::{KeyPaths, Records, RecordsSettings};

/// `vaxcert records [--database-url URL] [--keys-dir DIR | --dev] …`
#[derive(Debug, Args)]
pub struct RecordsArgs {
    /// `sqlite://PATH` (embedded) or `postgres://USER@HOST:PORT/DB`.
    #[arg(long, global = true, default_value = "sqlite://vaxcert-records.db")]
    pub database_url: String,
    /// Folder with the record keys: mynumber-hmac.key, mynumber-aes.key, totp-aes.key,
    /// audit-checkpoint.key.pem.
    #[arg(long, global = true)]
    pub keys_dir: Option<PathBuf>,
    /// DEV ONLY: take every key, secret and TLS file not given from the committed dev
    /// material (certs/dev/), and allow `--trust dev`.
    #[arg(long, global = true)]
    pub dev: bool,
    /// Also append every signed audit checkpoint to this file, outside the database (and
    /// check the database against it in `audit verify`).
    #[arg(long, global = true)]
    pub checkpoint_copy: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: RecordsCommand,
}

/// The record system's commands.
#[derive(Debug, Subcommand)]
pub enum RecordsCommand {
    /// Storage: municipalities, imports, staff, audit, demo data.
    #[command(flatten)]
    Storage(crate::records::cli::StorageCommand),
    /// Serve the internal API to the two gateways over mTLS (see README "Issuance channels").
    Serve(Box<ServeArgs>),
    /// Revoke a certificate: mark it in the database, audit the reason, add its rid to the CRL.
    Revoke {
        /// The 12-character certificate ID.
        certificate_id: String,
        /// Why (recorded in the audit log).
        #[arg(long)]
        reason: String,
        /// Where jwks.json and crl/ are published (as given to `records serve`).
        #[arg(long, default_value = "vaxcert-publication")]
        publication_dir: PathBuf,
    },
    /// List the certificates in force issued from data since changed (a dose corrected or
    /// deleted, the resident marked 転出 or 死亡).
    StaleCertificates {
        /// The municipality.
        #[arg(long)]
        municipality: MunicipalityCode,
        /// One JSON array instead of lines.
        #[arg(long)]
        json: bool,
    },
    /// Revoke, in one step, every certificate `stale-certificates` lists: each audited with the
    /// reason, each rid added to its CRL.
    RevokeStale {
        /// The municipality.
        #[arg(long)]
        municipality: MunicipalityCode,
        /// Why (recorded in the audit log with what changed).
        #[arg(long)]
        reason: String,
        /// Where jwks.json and crl/ are published (as given to `records serve`).
        #[arg(long, default_value = "vaxcert-publication")]
        publication_dir: PathBuf,
    },
}

/// `vaxcert records serve …`
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The whole configuration in one TOML file (see README "Running in production"); the
    /// other serve flags and `--keys-dir`/`--database-url` are then not used.
    #[arg(long, conflicts_with_all = ["tls_dir", "signing_keys_dir", "iss", "challenge_key", "token_key"])]
    pub config: Option<PathBuf>,
    /// Internal API address (mTLS; port 0 picks one, printed on start).
    #[arg(long, default_value = "127.0.0.1:8443")]
    pub listen: SocketAddr,
    /// Where jwks.json and crl/ are written (created if missing).
    #[arg(long, default_value = "vaxcert-publication")]
    pub publication_dir: PathBuf,
    /// Trusted J-LIS CA keys: 5000033 (production), 6000033 (JPKI test cards), dev (--dev).
    #[arg(long, default_value = "5000033")]
    pub trust: String,
    /// TLS folder: records.{crt,key}.pem, gateway-ca.crt.pem, app-gateway.crt.pem,
    /// center.crt.pem.
    #[arg(long)]
    pub tls_dir: Option<PathBuf>,
    /// Signing keys folder: shc/issuer.{key,crt}.pem, icao/bsc.{key,crt}.pem,
    /// pdf/signer.{key,crt}.pem.
    #[arg(long)]
    pub signing_keys_dir: Option<PathBuf>,
    /// The SHC `iss`: the issuer URL where `/.well-known/jwks.json` is published.
    #[arg(long)]
    pub iss: Option<String>,
    /// Challenge HMAC key file (64 hex digits).
    #[arg(long)]
    pub challenge_key: Option<PathBuf>,
    /// Preview-token sealing key file (64 hex digits), the same for every records replica
    /// (with `--dev`, the committed dev key).
    #[arg(long)]
    pub token_key: Option<PathBuf>,
    /// Challenge and preview-token lifetime in seconds.
    #[arg(long, default_value_t = 120)]
    pub ttl: i64,
    /// Do not render PDFs (the SHC and VDS-NC are still signed).
    #[arg(long)]
    pub no_pdf: bool,
    /// A terms-of-use version residents may have accepted (repeatable; default: the version
    /// vaxcert ships).
    #[arg(long = "terms-version", default_values_t = [crate::protocol::TERMS_VERSION.to_owned()])]
    pub terms_versions: Vec<String>,
    /// The counter UI's own internal listener (HTTPS with records' server certificate; staff
    /// log in with ID, password and TOTP).
    #[arg(long, default_value = "127.0.0.1:8445")]
    pub counter_listen: SocketAddr,
    /// Serve the counter over plain HTTP (local demos behind a TLS-terminating proxy only;
    /// cookies are then not marked Secure).
    #[arg(long)]
    pub counter_plain_http: bool,
    /// A proxy in front of the counter whose `X-Forwarded-For` names the client (repeatable).
    #[arg(long = "counter-trusted-proxy")]
    pub counter_trusted_proxies: Vec<std::net::IpAddr>,
    /// Serve `GET /metrics` (Prometheus text, plain HTTP) here; loopback or the monitoring
    /// network only.
    #[arg(long)]
    pub metrics: Option<SocketAddr>,
    /// 転入照会 with other deployments (`move-in.toml`: our client identity, the peers, and
    /// where we answer theirs). Without it, queries stay within this deployment.
    #[arg(long)]
    pub move_in_config: Option<PathBuf>,
    /// `retention.toml`: apply it every day (each municipality's deletions, then the audit
    /// archive), and show it on the admins' retention page.
    #[arg(long)]
    pub retention_policy: Option<PathBuf>,
}

fn coded(code: &'static str, e: impl std::fmt::Display) -> anyhow::Error {
    Coded::new(code, e).into()
}

/// A path the operator must give, or the dev one under `--dev`.
fn given_or_dev(
    given: Option<PathBuf>,
    dev: bool,
    flag: &str,
    dev_path: impl FnOnce() -> PathBuf,
) -> Result<PathBuf> {
    match (given, dev) {
        (Some(p), _) => Ok(p),
        (None, true) => Ok(dev_path()),
        (None, false) => Err(coded(
            "config",
            format!("{flag} is required (or --dev for the committed dev material)"),
        )),
    }
}

/// Run `vaxcert records …`.
///
/// # Errors
/// Whatever failed, with a stable code.
pub fn run(args: RecordsArgs) -> Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(run_async(args))
}

async fn run_async(args: RecordsArgs) -> Result<()> {
    if let RecordsCommand::Serve(serve) = &args.command
        && let Some(path) = &serve.config
    {
        let c: RecordsConfig = crate::config::load(path).map_err(|e| coded(e.code(), e))?;
        return serve_from_config(c, args.dev).await;
    }
    let keys = match (args.keys_dir, args.dev) {
        (Some(d), _) => KeyPaths::in_dir(&d),
        (None, true) => crate::dev::record_keys(),
        (None, false) => {
            return Err(coded(
                "config",
                "--keys-dir is required (or --dev for the committed dev material)",
            ));
        }
    };
    let mut settings = RecordsSettings::new(&args.database_url, keys);
    settings.checkpoint_copy = args.checkpoint_copy.clone();
    let records = Records::open(&settings, Arc::new(SystemClock))
        .await
        .map_err(|e| coded(e.code(), e))?;
    let r = match args.command {
        RecordsCommand::Serve(serve) => return run_serve(records, *serve, args.dev).await,
        RecordsCommand::Storage(cmd) => crate::records::cli::run(&records, cmd).await,
        RecordsCommand::Revoke {
            certificate_id,
            reason,
            publication_dir,
        } => revoke(&records, &certificate_id, &reason, &publication_dir).await,
        RecordsCommand::StaleCertificates { municipality, json } => {
            stale(&records, &municipality, json).await
        }
        RecordsCommand::RevokeStale {
            municipality,
            reason,
            publication_dir,
        } => revoke_stale(&records, &municipality, &reason, &publication_dir).await,
    };
    records.close().await.map_err(|e| coded(e.code(), e))?;
    r
}

async fn stale(records: &Records, municipality: &MunicipalityCode, json: bool) -> Result<()> {
    let list = crate::issuance::review::stale_certificates(records, municipality)
        .await
        .map_err(|e| coded(e.code(), e))?;
    if json {
        println!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(());
    }
    for s in &list {
        println!(
            "{} {} {} {} {} {}",
            s.certificate_id,
            s.atena,
            crate::date::iso(crate::date::jst(s.issued_at)),
            s.channel,
            s.kind,
            s.why.as_str()
        );
    }
    println!(
        "{} certificate(s) in {municipality} issued from data since changed",
        list.len()
    );
    Ok(())
}

async fn revoke_stale(
    records: &Records,
    municipality: &MunicipalityCode,
    reason: &str,
    publication_dir: &Path,
) -> Result<()> {
    let done = crate::issuance::review::revoke_stale(
        records,
        municipality,
        reason,
        "cli",
        publication_dir,
    )
    .await
    .map_err(|e| coded(e.code(), e))?;
    for (s, r) in &done {
        println!(
            "certificate {} ({}) revoked; rid {} added to CRL {} (version {})",
            s.certificate_id,
            s.why.as_str(),
            r.rid,
            r.kid,
            r.crl_version
        );
    }
    println!("{} certificate(s) revoked in {municipality}", done.len());
    Ok(())
}

async fn revoke(
    records: &Records,
    certificate_id: &str,
    reason: &str,
    publication_dir: &Path,
) -> Result<()> {
    let id =
        CertificateId::parse(certificate_id).map_err(|e| coded("certificate-id-invalid", e))?;
    let r = crate::issuance::revoke::revoke(records, &id, reason, "cli", publication_dir)
        .await
        .map_err(|e| coded(e.code(), e))?;
    println!(
        "certificate {} ({}) revoked; rid {} added to CRL {} (version {})",
        r.certificate_id, r.municipality, r.rid, r.kid, r.crl_version
    );
    Ok(())
}

/// Everything `records serve` runs with, from flags or from a configuration file.
struct Plan {
    trust: TrustSet,
    challenge_key: ChallengeKey,
    token_key: TokenKey,
    signing: SigningKeyFiles,
    tls_dir: PathBuf,
    publication_dir: PathBuf,
    ttl: i64,
    pdf: bool,
    terms_versions: Vec<String>,
    listen: SocketAddr,
    counter_listen: SocketAddr,
    counter_plain_http: bool,
    counter_trusted_proxies: Vec<std::net::IpAddr>,
    metrics: Option<SocketAddr>,
    move_in: Option<crate::move_in::Settings>,
    retention: Option<crate::records::Policy>,
}

fn retention_policy(path: Option<&Path>) -> Result<Option<crate::records::Policy>> {
    path.map(|p| crate::records::Policy::load(p).map_err(|e| coded(e.code(), e)))
        .transpose()
}

fn move_in_settings(path: Option<&Path>) -> Result<Option<crate::move_in::Settings>> {
    path.map(|p| crate::move_in::Settings::load(p).map_err(|e| coded(e.code(), e)))
        .transpose()
}

fn hex_key<K>(path: &Path, parse: impl Fn(&str) -> Option<K>) -> Result<K> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    parse(&text).ok_or_else(|| coded("config", format!("{}: not 64 hex digits", path.display())))
}

fn trust_set(spec: &str, dev: bool) -> Result<TrustSet> {
    if dev {
        crate::dev::trust_set(spec)
    } else {
        TrustSet::parse(spec)
    }
    .map_err(|e| match e {
        crate::card::TrustError::DevOnly => coded("dev-key-in-production", e),
        e => coded("trust", e),
    })
}

/// Production never touches dev material: every key, secret, certificate and TLS file the
/// plan names is checked, and the first dev one stops the start, named.
fn refuse_denylist(plan: &Plan, record_keys: &KeyPaths) -> Result<()> {
    let tls = ServeSettings::in_tls_dir(plan.listen, &plan.tls_dir);
    let mut files: Vec<&Path> = vec![
        &record_keys.mynumber_hmac,
        &record_keys.mynumber_aes,
        &record_keys.totp_aes,
        &record_keys.audit_signing,
        &tls.server_cert,
        &tls.server_key,
        &tls.gateway_ca,
        &tls.app_client_cert,
        &tls.center_client_cert,
    ];
    files.extend(plan.signing.certificates());
    files.extend(plan.signing.key_files());
    if let Some(m) = &plan.move_in {
        files.extend(m.files());
    }
    for f in files {
        crate::pki::denylist::refuse(f).map_err(|e| coded("dev-key-in-production", e))?;
    }
    Ok(())
}

async fn serve_from_config(c: RecordsConfig, dev: bool) -> Result<()> {
    let database_url = c.database_url().map_err(|e| coded(e.code(), e))?;
    let hsm = c
        .hsm
        .as_ref()
        .map(crate::config::HsmSettings::resolve)
        .transpose()
        .map_err(|e| coded(e.code(), e))?;
    let manifest = Manifest::load(&c.signing_keys_dir).map_err(|e| coded(e.code(), e))?;
    let signing = manifest
        .files(&c.signing_keys_dir, hsm)
        .map_err(|e| coded(e.code(), e))?;
    let extra = c
        .card_ca_keys
        .iter()
        .map(crate::config::CardCaKey::load)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| coded(e.code(), e))?;
    let plan = Plan {
        trust: trust_set(&c.trust, dev)?.with(extra),
        challenge_key: hex_key(&c.challenge_key, ChallengeKey::from_hex)?,
        token_key: hex_key(&c.token_key, TokenKey::from_hex)?,
        signing,
        tls_dir: c.tls_dir.clone(),
        publication_dir: c.publication_dir.clone(),
        ttl: c.ttl,
        pdf: !c.no_pdf,
        terms_versions: c.terms_versions.clone(),
        listen: c.listen,
        counter_listen: c.counter_listen,
        counter_plain_http: c.counter_plain_http,
        counter_trusted_proxies: c.counter_trusted_proxies.clone(),
        metrics: c.metrics,
        move_in: move_in_settings(c.move_in.as_deref())?,
        retention: retention_policy(c.retention_policy.as_deref())?,
    };
    let record_keys = KeyPaths::in_dir(&c.keys_dir);
    for secret in [c.challenge_key.as_path(), c.token_key.as_path()] {
        if !dev {
            crate::pki::denylist::refuse(secret).map_err(|e| coded("dev-key-in-production", e))?;
            crate::pki::signer::check_owner_only(secret).map_err(|e| coded(e.code(), e))?;
        }
    }
    if !dev {
        refuse_denylist(&plan, &record_keys)?;
    }
    let mut settings = RecordsSettings::new(&database_url, record_keys);
    settings.checkpoint_copy = c.audit_checkpoint_copy.clone();
    let records = Records::open(&settings, Arc::new(SystemClock))
        .await
        .map_err(|e| coded(e.code(), e))?;
    run_plan(records, plan).await
}

/// Run the internal API and the counter until Ctrl-C / SIGTERM, then seal the audit head.
async fn run_serve(records: Records, args: ServeArgs, dev: bool) -> Result<()> {
    let challenge_key = match (&args.challenge_key, dev) {
        (Some(p), _) => hex_key(p, ChallengeKey::from_hex)?,
        (None, true) => crate::dev::challenge_key().map_err(|e| coded(e.code(), e))?,
        (None, false) => {
            return Err(coded(
                "config",
                "--challenge-key is required (or --dev for the committed dev material)",
            ));
        }
    };
    let token_key = match (&args.token_key, dev) {
        (Some(p), _) => hex_key(p, TokenKey::from_hex)?,
        (None, true) => crate::dev::token_key().map_err(|e| coded(e.code(), e))?,
        (None, false) => {
            return Err(coded(
                "config",
                "--token-key is required (or --dev for the committed dev material)",
            ));
        }
    };
    let signing = match (args.signing_keys_dir, dev) {
        (Some(d), _) if d.join("signing.toml").exists() => Manifest::load(&d)
            .and_then(|m| m.files(&d, None))
            .map_err(|e| coded(e.code(), e))?,
        (Some(d), _) => {
            let iss = args
                .iss
                .clone()
                .ok_or_else(|| coded("config", "--iss is required with --signing-keys-dir"))?;
            SigningKeyFiles::in_dir(&d, &iss)
        }
        (None, true) => crate::dev::signing_keys(),
        (None, false) => {
            return Err(coded(
                "config",
                "--signing-keys-dir is required (or --dev for the committed dev material)",
            ));
        }
    };
    let plan = Plan {
        trust: trust_set(&args.trust, dev)?,
        challenge_key,
        token_key,
        signing,
        tls_dir: given_or_dev(args.tls_dir, dev, "--tls-dir", crate::dev::tls_dir)?,
        publication_dir: args.publication_dir,
        ttl: args.ttl,
        pdf: !args.no_pdf,
        terms_versions: args.terms_versions,
        listen: args.listen,
        counter_listen: args.counter_listen,
        counter_plain_http: args.counter_plain_http,
        counter_trusted_proxies: args.counter_trusted_proxies,
        metrics: args.metrics,
        move_in: move_in_settings(args.move_in_config.as_deref())?,
        retention: retention_policy(args.retention_policy.as_deref())?,
    };
    if !dev {
        refuse_denylist(&plan, records.key_paths())?;
        for p in [&args.challenge_key, &args.token_key].into_iter().flatten() {
            crate::pki::denylist::refuse(p).map_err(|e| coded("dev-key-in-production", e))?;
        }
    }
    run_plan(records, plan).await
}

/// The daily retention task: each municipality's deletions under its policy, then the audit
/// archive; the first run a minute after the start. Failures are logged and retried next day.
fn spawn_retention(records: Arc<Records>, policy: crate::records::Policy) {
    let weak = Arc::downgrade(&records);
    drop(records);
    tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_secs(60)).await;
        let mut day = tokio::time::interval(std::time::Duration::from_secs(86_400));
        loop {
            day.tick().await;
            let Some(records) = weak.upgrade() else {
                return;
            };
            match records.retention_daily(&policy).await {
                Ok((done, archived)) => tracing::info!(
                    municipalities = done.len(),
                    residents = done.iter().map(|(_, d)| d.residents.len()).sum::<usize>(),
                    issuances = done.iter().map(|(_, d)| d.issuances.len()).sum::<usize>(),
                    archived = archived.map(|a| a.last),
                    "retention applied"
                ),
                Err(e) => tracing::error!(code = e.code(), error = %e, "retention failed"),
            }
        }
    });
}

async fn run_plan(records: Records, plan: Plan) -> Result<()> {
    let records = Arc::new(records);
    if let Some(addr) = plan.metrics {
        crate::http::serve_metrics(addr)
            .await
            .map_err(|e| coded(e.code(), e))?;
        let r = records.clone();
        crate::telemetry::metrics::on_scrape(move || {
            let (in_use, idle) = r.pool_use();
            crate::telemetry::metrics::pool(in_use, idle);
        });
    }
    let keys = SigningKeys::load(&plan.signing).map_err(|e| coded(e.code(), e))?;
    let renderer = crate::formats::pdf::PdfRenderer::bundled().map_err(|e| coded(e.code(), e))?;
    let service = IssuanceService::new(
        records.clone(),
        keys,
        Arc::new(renderer),
        Challenges::new(plan.challenge_key, plan.ttl),
        plan.trust,
        Arc::new(SystemClock),
        IssuanceSettings {
            challenge_ttl_secs: plan.ttl,
            token_ttl_secs: plan.ttl,
            publication_dir: plan.publication_dir.clone(),
            pdf: plan.pdf,
        },
    )
    .map_err(|e| coded(e.code(), e))?;
    let service = service
        .with_token_key(plan.token_key)
        .with_accepted_terms(plan.terms_versions);
    let settings = ServeSettings::in_tls_dir(plan.listen, &plan.tls_dir);
    let service = Arc::new(service);
    let counter_tls = ServerTls {
        cert: settings.server_cert.clone(),
        key: settings.server_key.clone(),
        client_auth: ClientAuth::None,
    };
    let mut counter_state = counter::State::new(
        service.clone(),
        Arc::new(SystemClock),
        counter::Settings {
            secure_cookies: !plan.counter_plain_http,
            trusted_proxies: plan.counter_trusted_proxies.clone(),
            ..counter::Settings::default()
        },
    );
    let mut move_in_server = None;
    if let Some(policy) = &plan.retention {
        counter_state = counter_state.with_retention(policy.clone());
        spawn_retention(records.clone(), policy.clone());
    }
    if let Some(m) = &plan.move_in {
        counter_state = counter_state.with_move_in(
            crate::move_in::Exchange::with_peers(records.clone(), m)
                .map_err(|e| coded(e.code(), e))?,
        );
        if m.listen.is_some() {
            let s = crate::move_in::Server::build(records.clone(), m)
                .await
                .map_err(|e| coded(e.code(), e))?;
            crate::http::announce(format_args!(
                "records: move-in queries answered on https://{}",
                s.local_addr()
            ));
            move_in_server = Some(s);
        }
    }
    let counter = counter::Server::build(
        plan.counter_listen,
        counter_state,
        (!plan.counter_plain_http).then_some(&counter_tls),
    )
    .await
    .map_err(|e| coded(e.code(), e))?;
    let server = Server::build(&settings, service)
        .await
        .map_err(|e| coded(e.code(), e))?;
    crate::http::announce(format_args!(
        "records: internal API on https://{}",
        server.local_addr()
    ));
    crate::http::announce(format_args!(
        "records: counter UI on {}://{}/",
        if plan.counter_plain_http {
            "http"
        } else {
            "https"
        },
        counter.local_addr()
    ));
    let (stop, _) = tokio::sync::watch::channel(false);
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let (api, ui, peers, ()) = tokio::join!(
        server.run_until(stopped(stop.subscribe())),
        counter.run_until(stopped(stop.subscribe())),
        async {
            match move_in_server {
                Some(s) => s.run_until(stopped(stop.subscribe())).await,
                None => Ok(()),
            }
        },
        async {
            crate::http::shutdown_signal().await;
            let _ = stop.send(true);
        }
    );
    match Arc::try_unwrap(records) {
        Ok(rec) => rec.close().await.map_err(|e| coded(e.code(), e))?,
        Err(_) => tracing::warn!("records still shared at shutdown; audit head not sealed"),
    }
    ui.map_err(|e| coded("counter-failed", e))?;
    peers.map_err(|e| coded("move-in-failed", e))?;
    api.context("internal API server failed")
}
