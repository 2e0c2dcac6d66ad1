//! `vaxcert records serve`: open the record system, assemble the issuance service from the
//! configured keys, bind the internal API and run until stopped; the audit head is sealed at
//! shutdown.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::Args;

use super::{ServeSettings, Server};
use crate::card::TrustSet;
use crate::card::challenge::{ChallengeKey, Challenges};
use crate::cli::Coded;
use crate::clock::SystemClock;
use crate::http::tls::{ClientAuth, ServerTls};
use crate::records::counter;
use crate::records::{IssuanceService, IssuanceSettings, Records};

/// `vaxcert records serve …`
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Internal API address (mTLS; port 0 picks one, printed on start).
    #[arg(long, default_value = "127.0.0.1:8443")]
    pub listen: SocketAddr,
    /// Where jwks.json and crl/ are written (created if missing).
    #[arg(long, default_value = "vaxcert-publication")]
    pub publication_dir: PathBuf,
    /// Trusted J-LIS CA keys: 5000033 (production), 6000033 (JPKI test cards), dev.
    #[arg(long, default_value = "5000033")]
    pub trust: String,
    /// TLS folder: records.{crt,key}.pem, gateway-ca.crt.pem, app-gateway.crt.pem,
    /// center.crt.pem (default: the dev ones in certs/dev/tls/).
    #[arg(long)]
    pub tls_dir: Option<PathBuf>,
    /// Challenge HMAC key file (64 hex digits; default: the dev key).
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
    Coded {
        code,
        message: e.to_string(),
    }
    .into()
}

/// Run the internal API until Ctrl-C / SIGTERM, then seal the audit head.
///
/// # Errors
/// Start-up failures, with a stable code.
pub async fn run(records: Records, args: ServeArgs) -> Result<()> {
    let records = Arc::new(records);
    let trust = TrustSet::parse(&args.trust).map_err(|e| coded("trust", e))?;
    let key = match &args.challenge_key {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("cannot read {}", p.display()))?;
            ChallengeKey::from_hex(&text)
                .ok_or_else(|| coded("config", format!("{}: not 64 hex digits", p.display())))?
        }
        None => crate::pki::dev::challenge_key().map_err(|e| coded(e.code(), e))?,
    };
    // Only dev keys exist so far (DESIGN §5: `issue` refuses non-dev keys); PKCS#11 comes later.
    let service = IssuanceService::dev(
        records.clone(),
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
    let mut settings = ServeSettings::dev(args.listen);
    if let Some(d) = &args.tls_dir {
        settings.server_cert = d.join("records.crt.pem");
        settings.server_key = d.join("records.key.pem");
        settings.gateway_ca = d.join("gateway-ca.crt.pem");
        settings.app_client_cert = d.join("app-gateway.crt.pem");
        settings.center_client_cert = d.join("center.crt.pem");
    }
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
    ui.map_err(|e| coded(e.code(), e))?;
    api.context("internal API server failed")
}
