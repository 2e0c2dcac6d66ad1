//! `vaxcert center serve`: the kiosk center's command line.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Result;
use clap::{Args, Subcommand};

use super::{Server, Settings};
use crate::card::TrustSet;
use crate::cli::Coded;
use crate::clock::SystemClock;
use crate::http::tls::ClientAuth;

/// `vaxcert center …`
#[derive(Debug, Subcommand)]
pub enum CenterCommand {
    /// Serve the kiosk API over mTLS (stateless; verifies card evidence, relays to records).
    Serve(ServeArgs),
}

/// `vaxcert center serve …`
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Kiosk-facing address (mTLS; port 0 picks one, printed on start).
    #[arg(long, default_value = "127.0.0.1:8444")]
    pub listen: SocketAddr,
    /// Records' internal API.
    #[arg(long, default_value = "https://127.0.0.1:8443")]
    pub records_url: String,
    /// Trusted J-LIS CA keys: 5000033 (production), 6000033 (JPKI test cards), dev.
    #[arg(long, default_value = "5000033")]
    pub trust: String,
    /// TLS folder: center-server.{crt,key}.pem, kiosk-ca.crt.pem, server-ca.crt.pem,
    /// center.{crt,key}.pem (default: the dev ones in certs/dev/tls/).
    #[arg(long)]
    pub tls_dir: Option<PathBuf>,
}

/// Run the center until Ctrl-C / SIGTERM.
///
/// # Errors
/// Start-up failures, with a stable code.
pub fn run(command: CenterCommand) -> Result<()> {
    let CenterCommand::Serve(args) = command;
    let trust = TrustSet::parse(&args.trust).map_err(|e| Coded {
        code: "trust",
        message: e.to_string(),
    })?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let mut s = Settings::dev(args.listen, &args.records_url, trust);
        if let Some(d) = &args.tls_dir {
            s.tls.cert = d.join("center-server.crt.pem");
            s.tls.key = d.join("center-server.key.pem");
            s.tls.client_auth = ClientAuth::Ca(d.join("kiosk-ca.crt.pem"));
            s.records_tls.server_ca = d.join("server-ca.crt.pem");
            s.records_tls.cert = Some(d.join("center.crt.pem"));
            s.records_tls.key = Some(d.join("center.key.pem"));
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
