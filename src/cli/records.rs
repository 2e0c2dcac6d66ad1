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
use crate::counter;
use crate::domain::CertificateId;
use crate::exit::Coded;
use crate::http::tls::{ClientAuth, ServerTls};
use crate::issuance::api::{ServeSettings, Server};
use crate::issuance::{IssuanceService, IssuanceSettings, SigningKeyFiles, SigningKeys};
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
    Serve(ServeArgs),
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
}

/// `vaxcert records serve …`
#[derive(Debug, Args)]
pub struct ServeArgs {
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
    /// Challenge and preview-token lifetime in seconds.
    #[arg(long, default_value_t = 120)]
    pub ttl: i64,
    /// Do not render PDFs (the SHC and VDS-NC are still signed).
    #[arg(long)]
    pub no_pdf: bool,
    /// The counter UI's own internal listener (HTTPS with records' server certificate; staff
    /// log in with ID, password and TOTP).
    #[arg(long, default_value = "127.0.0.1:8445")]
    pub counter_listen: SocketAddr,
    /// Serve the counter over plain HTTP (local demos behind a TLS-terminating proxy only;
    /// cookies are then not marked Secure).
    #[arg(long)]
    pub counter_plain_http: bool,
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
    let settings = RecordsSettings::new(&args.database_url, keys);
    let records = Records::open(&settings, Arc::new(SystemClock))
        .await
        .map_err(|e| coded(e.code(), e))?;
    let r = match args.command {
        RecordsCommand::Serve(serve) => return run_serve(records, serve, args.dev).await,
        RecordsCommand::Storage(cmd) => crate::records::cli::run(&records, cmd).await,
        RecordsCommand::Revoke {
            certificate_id,
            reason,
            publication_dir,
        } => revoke(&records, &certificate_id, &reason, &publication_dir).await,
    };
    records.close().await.map_err(|e| coded(e.code(), e))?;
    r
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

/// Run the internal API and the counter until Ctrl-C / SIGTERM, then seal the audit head.
async fn run_serve(records: Records, args: ServeArgs, dev: bool) -> Result<()> {
    let records = Arc::new(records);
    let trust = if dev {
        crate::dev::trust_set(&args.trust)
    } else {
        TrustSet::parse(&args.trust)
    }
    .map_err(|e| coded("trust", e))?;
    let key = match (&args.challenge_key, dev) {
        (Some(p), _) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("cannot read {}", p.display()))?;
            ChallengeKey::from_hex(&text)
                .ok_or_else(|| coded("config", format!("{}: not 64 hex digits", p.display())))?
        }
        (None, true) => crate::dev::challenge_key().map_err(|e| coded(e.code(), e))?,
        (None, false) => {
            return Err(coded(
                "config",
                "--challenge-key is required (or --dev for the committed dev material)",
            ));
        }
    };
    let signing = match (args.signing_keys_dir, dev) {
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
    let keys = SigningKeys::load(&signing).map_err(|e| coded(e.code(), e))?;
    let tls_dir = given_or_dev(args.tls_dir, dev, "--tls-dir", crate::dev::tls_dir)?;
    let renderer = crate::formats::pdf::PdfRenderer::bundled().map_err(|e| coded(e.code(), e))?;
    let service = IssuanceService::new(
        records.clone(),
        keys,
        Arc::new(renderer),
        Challenges::new(key, args.ttl),
        trust,
        Arc::new(SystemClock),
        IssuanceSettings {
            challenge_ttl_secs: args.ttl,
            token_ttl_secs: args.ttl,
            publication_dir: args.publication_dir.clone(),
            pdf: !args.no_pdf,
        },
    )
    .map_err(|e| coded(e.code(), e))?;
    let settings = ServeSettings::in_tls_dir(args.listen, &tls_dir);
    let service = Arc::new(service);
    let counter_tls = ServerTls {
        cert: settings.server_cert.clone(),
        key: settings.server_key.clone(),
        client_auth: ClientAuth::None,
    };
    let counter = counter::Server::build(
        args.counter_listen,
        counter::State::new(
            service.clone(),
            Arc::new(SystemClock),
            counter::Settings {
                secure_cookies: !args.counter_plain_http,
                ..counter::Settings::default()
            },
        ),
        (!args.counter_plain_http).then_some(&counter_tls),
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
        if args.counter_plain_http {
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
    let (api, ui, ()) = tokio::join!(
        server.run_until(stopped(stop.subscribe())),
        counter.run_until(stopped(stop.subscribe())),
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
    api.context("internal API server failed")
}
