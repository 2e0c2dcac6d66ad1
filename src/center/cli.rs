//! `vaxcert center serve`: the kiosk center's command line.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Result;
use clap::{Args, Subcommand};

use super::{Server, Settings};
use crate::card::TrustSet;
use crate::clock::SystemClock;
use crate::exit::Coded;

/// `vaxcert center …`
#[derive(Debug, Subcommand)]
pub enum CenterCommand {
    /// Serve the kiosk API over mTLS (stateless; verifies card evidence, relays to records).
    Serve(ServeArgs),
}

/// `vaxcert center serve …`
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The whole configuration in one TOML file (README "Running in production"); the other
    /// flags are then not used.
    #[arg(long, conflicts_with = "tls_dir")]
    pub config: Option<PathBuf>,
    /// Kiosk-facing address (mTLS; port 0 picks one, printed on start).
    #[arg(long, default_value = "127.0.0.1:8444")]
    pub listen: SocketAddr,
    /// Records' internal API: one URL, or one per replica, comma-separated (calls are spread
    /// over them; an unreachable one is passed over).
    #[arg(long, default_value = "https://127.0.0.1:8443")]
    pub records_url: String,
    /// Trusted J-LIS CA keys: 5000033 (production), 6000033 (JPKI test cards), dev.
    #[arg(long, default_value = "5000033")]
    pub trust: String,
    /// TLS folder: center-server.{crt,key}.pem, kiosk-ca.crt.pem, server-ca.crt.pem,
    /// center.{crt,key}.pem.
    #[arg(long, required_unless_present_any = ["dev", "config"])]
    pub tls_dir: Option<PathBuf>,
    /// DEV ONLY: take what is not given from the committed dev material (certs/dev/), and
    /// allow `--trust dev`.
    #[arg(long)]
    pub dev: bool,
    /// The kiosk CA's revocation list (PEM or DER, repeatable): kiosks it revokes fail the
    /// handshake. Read at start.
    #[arg(long = "kiosk-crl")]
    pub kiosk_crls: Vec<PathBuf>,
    /// Serve `GET /metrics` (Prometheus text, plain HTTP) here; loopback or the monitoring
    /// network only.
    #[arg(long)]
    pub metrics: Option<SocketAddr>,
}

/// Run the center until Ctrl-C / SIGTERM.
///
/// # Errors
/// Start-up failures, with a stable code.
pub fn run(command: CenterCommand) -> Result<()> {
    let CenterCommand::Serve(mut args) = command;
    let mut extra = Vec::new();
    if let Some(path) = args.config.take() {
        let c: crate::config::CenterConfig =
            crate::config::load(&path).map_err(|e| Coded::new(e.code(), e))?;
        args.listen = c.listen;
        args.records_url = c.records_url;
        args.tls_dir = Some(c.tls_dir);
        args.trust = c.trust;
        args.metrics = c.metrics;
        args.kiosk_crls = c.kiosk_crls;
        extra = c
            .card_ca_keys
            .iter()
            .map(crate::config::CardCaKey::load)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| Coded::new(e.code(), e))?;
    }
    if !args.dev
        && let Some(d) = &args.tls_dir
    {
        let names = [
            "center-server.crt.pem",
            "center-server.key.pem",
            "kiosk-ca.crt.pem",
            "server-ca.crt.pem",
            "center.crt.pem",
            "center.key.pem",
        ];
        let files: Vec<PathBuf> = names.iter().map(|n| d.join(n)).collect();
        crate::pki::denylist::refuse_all(files.iter().map(PathBuf::as_path))
            .map_err(|e| Coded::new("dev-key-in-production", e))?;
    }
    let trust = if args.dev {
        crate::dev::trust_set(&args.trust)
    } else {
        TrustSet::parse(&args.trust)
    }
    .map_err(|e| match e {
        crate::card::TrustError::DevOnly => Coded::new("dev-key-in-production", e),
        e => Coded::new("trust", e),
    })?
    .with(extra);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async move {
        if let Some(addr) = args.metrics {
            crate::http::serve_metrics(addr)
                .await
                .map_err(|e| Coded::new(e.code(), e))?;
        }
        let tls_dir = match args.tls_dir {
            Some(d) => d,
            None => crate::dev::tls_dir(),
        };
        let mut s = Settings::in_tls_dir(args.listen, &args.records_url, trust, &tls_dir);
        if !args.kiosk_crls.is_empty() {
            s.tls.client_auth = crate::http::tls::ClientAuth::CaRevoking {
                ca: tls_dir.join("kiosk-ca.crt.pem"),
                crls: args.kiosk_crls.clone(),
            };
        }
        let server = Server::build(&s, Arc::new(SystemClock))
            .await
            .map_err(|e| Coded {
                code: if e.code() == "listen-failed" {
                    "listen-failed"
                } else {
                    "config"
                },
                message: e.to_string(),
            })?;
        crate::http::announce(format_args!(
            "center: kiosk API on https://{}",
            server.local_addr()
        ));
        server.run_until_stopped().await?;
        Ok(())
    })
}
