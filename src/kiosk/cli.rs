//! `vaxcert kiosk`: command-line settings for the terminal agent.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, Result};

use super::{CenterClient, Printer, Server, Settings};

/// `vaxcert kiosk …`
#[derive(Debug, clap::Args)]
pub struct KioskArgs {
    /// The whole configuration in one TOML file (README "Running in production"); the other
    /// flags are then not used.
    #[arg(long, conflicts_with_all = ["center_ca", "cert", "key"])]
    pub config: Option<PathBuf>,
    /// Local UI address; loopback only.
    #[arg(long, default_value = "127.0.0.1:8090")]
    pub listen: SocketAddr,
    /// The issuance center, `https://host:port`.
    #[arg(long, default_value = "https://127.0.0.1:8444")]
    pub center: String,
    /// CA that signed the center's server certificate.
    #[arg(long, required_unless_present_any = ["dev", "config"])]
    pub center_ca: Option<PathBuf>,
    /// This kiosk's client certificate (its CN is the terminal id).
    #[arg(long, required_unless_present_any = ["dev", "config"])]
    pub cert: Option<PathBuf>,
    /// Its private key.
    #[arg(long, required_unless_present_any = ["dev", "config"])]
    pub key: Option<PathBuf>,
    /// DEV ONLY: take what is not given from the committed dev material (certs/dev/tls/, as
    /// kiosk-01).
    #[arg(long)]
    pub dev: bool,
    /// PC/SC reader name (default: the first reader).
    #[arg(long)]
    pub reader: Option<String>,
    /// Write certificates as PDFs into this directory instead of printing (tests, demo).
    #[arg(long, conflicts_with = "printer")]
    pub print_dir: Option<PathBuf>,
    /// CUPS destination for `lp` (default: the default printer).
    #[arg(long)]
    pub printer: Option<String>,
    /// Serve `GET /metrics` (Prometheus text, plain HTTP) here; loopback or the monitoring
    /// network only.
    #[arg(long)]
    pub metrics: Option<SocketAddr>,
}

/// Run the agent until stopped.
///
/// # Errors
/// Set-up failures (TLS files, certificate, bind) with their cause.
pub fn run(mut args: KioskArgs) -> Result<()> {
    if let Some(path) = args.config.take() {
        let c: crate::config::KioskConfig =
            crate::config::load(&path).map_err(|e| crate::exit::Coded::new(e.code(), e))?;
        args.listen = c.listen;
        args.center = c.center;
        args.center_ca = Some(c.center_ca);
        args.cert = Some(c.cert);
        args.key = Some(c.key);
        args.reader = c.reader;
        args.print_dir = c.print_dir;
        args.printer = c.printer;
        args.metrics = c.metrics;
    }
    if !args.dev {
        let given = [&args.center_ca, &args.cert, &args.key];
        crate::pki::denylist::refuse_all(given.into_iter().flatten().map(PathBuf::as_path))
            .map_err(|e| crate::exit::Coded::new("dev-key-in-production", e))?;
    }
    let dev = |name: &str| crate::dev::tls_dir().join(name);
    let center_ca = args.center_ca.unwrap_or_else(|| dev("server-ca.crt.pem"));
    let cert = args.cert.unwrap_or_else(|| dev("kiosk-01.crt.pem"));
    let key = args.key.unwrap_or_else(|| dev("kiosk-01.key.pem"));
    let center = CenterClient::new(&args.center, &center_ca, &cert, &key)?;
    let terminal_id = common_name(&cert)?;
    let printer = match args.print_dir {
        Some(dir) => {
            anyhow::ensure!(
                dir.is_dir(),
                "--print-dir {} is not a directory",
                dir.display()
            );
            Printer::Dir(dir)
        }
        None => Printer::Lp {
            destination: args.printer,
        },
    };
    let settings = Settings {
        listen: args.listen,
        center,
        terminal_id,
        reader: args.reader,
        printer,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("tokio runtime")?;
    rt.block_on(async {
        if let Some(addr) = args.metrics {
            crate::http::serve_metrics(addr).await?;
        }
        let server = Server::build(settings).await?;
        let addr = server.local_addr();
        // Tests and the demo read this line to find the port.
        crate::http::announce(format_args!("kiosk listening on http://{addr}/"));
        tracing::info!(%addr, "kiosk agent started");
        server.run_until_stopped().await?;
        Ok(())
    })
}

/// The CN of the kiosk's client certificate: the terminal id the card signature binds and the
/// center reads from the TLS handshake.
fn common_name(cert: &std::path::Path) -> Result<String> {
    use der::DecodePem;
    let pem = std::fs::read(cert).with_context(|| format!("reading {}", cert.display()))?;
    let c = x509_cert::Certificate::from_pem(&pem)
        .with_context(|| format!("{} is not a PEM certificate", cert.display()))?;
    let subject = c.tbs_certificate().subject().to_string();
    subject
        .split(',')
        .find_map(|part| part.trim().strip_prefix("CN=").map(str::to_owned))
        .with_context(|| format!("{} has no CN", cert.display()))
}
