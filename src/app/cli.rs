//! `vaxcert app serve`: the public gateway's command line.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;
use clap::{Args, Subcommand};

use super::{Server, Settings};
use crate::exit::Coded;

/// `vaxcert app …`
#[derive(Debug, Subcommand)]
pub enum AppCommand {
    /// Serve the public app API (stateless; relays to records over mTLS).
    Serve(ServeArgs),
}

/// `vaxcert app serve …`
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The whole configuration in one TOML file (README "Running in production"); the other
    /// flags are then not used.
    #[arg(long, conflicts_with_all = ["tls_dir", "plain_http"])]
    pub config: Option<PathBuf>,
    /// Public address (port 0 picks one, printed on start).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Records' internal API: one URL, or one per replica, comma-separated (calls are spread
    /// over them; an unreachable one is passed over).
    #[arg(long, default_value = "https://127.0.0.1:8443")]
    pub records_url: String,
    /// TLS folder: app-server.{crt,key}.pem, server-ca.crt.pem, app-gateway.{crt,key}.pem.
    #[arg(long, required_unless_present_any = ["dev", "config"])]
    pub tls_dir: Option<PathBuf>,
    /// DEV ONLY: take what is not given from the committed dev material (certs/dev/).
    #[arg(long)]
    pub dev: bool,
    /// Serve plain HTTP (behind a TLS-terminating proxy).
    #[arg(long)]
    pub plain_http: bool,
    /// Requests per second per client address (bursts of twice that).
    #[arg(long, default_value_t = 20)]
    pub rate_limit: u32,
    /// Worker threads.
    #[arg(long, default_value_t = 2)]
    pub threads: usize,
    /// Serve `GET /metrics` (Prometheus text, plain HTTP) here; loopback or the monitoring
    /// network only.
    #[arg(long)]
    pub metrics: Option<SocketAddr>,
    /// What the `/verify` page and `POST /v1/verify` trust.
    #[command(flatten)]
    pub trust: crate::verify::cli::TrustArgs,
}

/// Run the gateway until Ctrl-C / SIGTERM.
///
/// # Errors
/// Start-up failures, with a stable code.
pub fn run(command: AppCommand) -> Result<()> {
    let AppCommand::Serve(mut args) = command;
    if let Some(path) = args.config.take() {
        let c: crate::config::AppConfig =
            crate::config::load(&path).map_err(|e| Coded::new(e.code(), e))?;
        args.listen = c.listen;
        args.records_url = c.records_url;
        args.tls_dir = Some(c.tls_dir);
        args.plain_http = c.plain_http;
        args.rate_limit = c.rate_limit;
        args.threads = c.threads;
        args.trust.trust_dir = c.trust_dir;
        args.metrics = c.metrics;
    }
    if !args.dev {
        if args.trust.trust_dev {
            return Err(Coded::new(
                "dev-key-in-production",
                "--trust-dev trusts the dev issuer: for --dev, the demo and tests only",
            )
            .into());
        }
        if let Some(d) = &args.tls_dir {
            let names = [
                "app-server.crt.pem",
                "app-server.key.pem",
                "server-ca.crt.pem",
                "app-gateway.crt.pem",
                "app-gateway.key.pem",
            ];
            let files: Vec<PathBuf> = names.iter().map(|n| d.join(n)).collect();
            crate::pki::denylist::refuse_all(files.iter().map(PathBuf::as_path))
                .map_err(|e| Coded::new("dev-key-in-production", e))?;
        }
    }
    let verifier_trust = args.trust.load()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads.max(1))
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
        let mut s = Settings::in_tls_dir(args.listen, &args.records_url, &tls_dir);
        if args.plain_http {
            s.tls = None;
        }
        s.rate_per_sec = args.rate_limit;
        s.verifier_trust = verifier_trust;
        s.publication_ttl = Duration::from_secs(60);
        let server = Server::build(&s).await.map_err(|e| Coded {
            code: match e.code() {
                "listen-failed" => "listen-failed",
                "tls-pem" => "tls-pem",
                _ => "config",
            },
            message: e.to_string(),
        })?;
        let scheme = if s.tls.is_some() { "https" } else { "http" };
        crate::http::announce(format_args!(
            "app gateway: listening on {scheme}://{}",
            server.local_addr()
        ));
        server.run_until_stopped().await?;
        Ok(())
    })
}
