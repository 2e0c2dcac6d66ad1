//! `vaxcert center serve`: the kiosk issuance center (J-LIS 証明書交付センター, DESIGN §2, §7).
//! Stateless: no database, no keys, no file writes. Kiosks connect over mTLS with a client
//! certificate from the kiosk CA (any other client, a gateway's certificate included, is
//! refused at the handshake); the certificate's CN is the kiosk's terminal id.
//!
//! As J-LIS does, the center verifies the card evidence before relaying: steps 1–4 of DESIGN §3
//! (the files are J-LIS-signed and consistent) and the challenge's expiry. The challenge HMAC,
//! the used set and the card's signature over the binding are records' (step 5), which
//! re-checks everything, participation included.
//!
//! ```text
//! GET  /v1/kiosk/municipalities   participating only (cached 30 s)
//! POST /v1/kiosk/challenges
//! POST /v1/kiosk/previews         PreviewRequest → PreviewResponse
//! POST /v1/kiosk/certificates     CertificateRequest → CertificateResponse
//! ```
//!
//! May import: `protocol` (the records client), `card` (evidence checks), `http`, `domain`,
//! `clock`. Never `records`, `issuance` or `dev`.

pub mod cli;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{ConnectInfo, State};
use axum::routing::{get, post};
use axum::{Json, Router};

use crate::card::TrustSet;
use crate::clock::Clock;
use crate::domain::{Channel, Kind};
use crate::http::Problem;
use crate::http::tls::{ClientAuth, ClientTls, Peer, ServerTls, TlsError};
use crate::protocol::client::{self as api, Client};
use crate::protocol::{
    CertificateRequest, CertificateResponse, ChallengeResponse, InternalPreviewRequest,
    MunicipalityEntry, PreviewRequest, PreviewResponse,
};

/// Settings of the center.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Where kiosks connect (port 0 allowed).
    pub listen: SocketAddr,
    /// The center's server identity; client certificates from the kiosk CA.
    pub tls: ServerTls,
    /// Records' internal API.
    pub records_url: String,
    /// The center's mTLS identity towards records.
    pub records_tls: ClientTls,
    /// J-LIS CA keys the cards must chain to.
    pub trust: TrustSet,
    /// How long the municipality list is cached.
    pub municipalities_ttl: Duration,
}

impl Settings {
    /// The TLS material in one folder, under the standard names: `center-server.{crt,key}.pem`,
    /// `kiosk-ca.crt.pem`, `server-ca.crt.pem`, `center.{crt,key}.pem`.
    pub fn in_tls_dir(
        listen: SocketAddr,
        records_url: &str,
        trust: TrustSet,
        d: &std::path::Path,
    ) -> Self {
        Settings {
            listen,
            tls: ServerTls {
                cert: d.join("center-server.crt.pem"),
                key: d.join("center-server.key.pem"),
                client_auth: ClientAuth::Ca(d.join("kiosk-ca.crt.pem")),
            },
            records_url: records_url.to_owned(),
            records_tls: ClientTls {
                server_ca: d.join("server-ca.crt.pem"),
                cert: Some(d.join("center.crt.pem")),
                key: Some(d.join("center.key.pem")),
            },
            trust,
            municipalities_ttl: Duration::from_secs(30),
        }
    }
}

type MunicipalityCache = Arc<Mutex<Option<(tokio::time::Instant, Vec<MunicipalityEntry>)>>>;

#[derive(Clone)]
struct AppState {
    records: Client,
    trust: TrustSet,
    clock: Arc<dyn Clock>,
    cache: MunicipalityCache,
    ttl: Duration,
}

/// Why the center could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// TLS material or the listen address.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// The records client.
    #[error(transparent)]
    Records(#[from] api::Error),
}

impl Error {
    /// Stable machine-readable code.
    pub fn code(&self) -> &str {
        match self {
            Error::Tls(e) => e.code(),
            Error::Records(e) => e.code(),
        }
    }
}

/// The center's builder: [`Server::build`] binds it and returns the shared
/// [`crate::http::Server`].
#[derive(Debug)]
pub struct Server;

impl Server {
    /// Bind the kiosk listener and build the records client.
    ///
    /// # Errors
    /// [`Error`].
    pub async fn build(
        settings: &Settings,
        clock: Arc<dyn Clock>,
    ) -> Result<crate::http::Server, Error> {
        let records = Client::new(&settings.records_url, &settings.records_tls)?;
        let state = AppState {
            records,
            trust: settings.trust.clone(),
            clock,
            cache: Arc::default(),
            ttl: settings.municipalities_ttl,
        };
        let router = Router::new()
            .route("/v1/kiosk/municipalities", get(municipalities))
            .route("/v1/kiosk/challenges", post(challenge))
            .route("/v1/kiosk/previews", post(preview))
            .route("/v1/kiosk/certificates", post(certificate))
            .route(
                "/openapi.json",
                get(|| async {
                    crate::http::openapi(include_str!("../../templates/openapi/center.json"))
                }),
            )
            .with_state(state.clone())
            .layer(axum::middleware::from_fn(crate::http::no_store));
        let records = state.records.clone();
        let ready: crate::http::ReadyCheck = Arc::new(move || {
            let r = records.clone();
            Box::pin(async move {
                r.municipalities()
                    .await
                    .map(drop)
                    .map_err(|e| e.to_string())
            })
        });
        let router = router.merge(crate::http::health(ready));
        Ok(crate::http::Server::bind(settings.listen, Some(&settings.tls), router).await?)
    }
}

fn relay_err(e: api::Error) -> Problem {
    if !matches!(e, api::Error::Problem(_)) {
        tracing::error!(error = %e, "records unreachable");
    }
    e.to_problem()
}

fn terminal_id(peer: &Peer) -> Result<String, Problem> {
    peer.common_name().ok_or_else(|| {
        Problem::new(
            403,
            "kiosk-unidentified",
            "The kiosk certificate has no name.",
            "端末を確認できません。",
        )
    })
}

impl AppState {
    async fn participating(&self) -> Result<Vec<MunicipalityEntry>, Problem> {
        let now = tokio::time::Instant::now();
        if let Some(list) = self.cache.lock().ok().and_then(|c| {
            c.as_ref()
                .filter(|(at, _)| now < *at)
                .map(|(_, l)| l.clone())
        }) {
            return Ok(list);
        }
        let list: Vec<MunicipalityEntry> = self
            .records
            .municipalities()
            .await
            .map_err(relay_err)?
            .into_iter()
            .filter(|m| m.kiosk)
            .collect();
        if let Ok(mut c) = self.cache.lock() {
            *c = Some((now + self.ttl, list.clone()));
        }
        Ok(list)
    }
}

async fn municipalities(
    State(s): State<AppState>,
) -> Result<Json<Vec<MunicipalityEntry>>, Problem> {
    s.participating().await.map(Json)
}

async fn challenge(State(s): State<AppState>) -> Result<Json<ChallengeResponse>, Problem> {
    s.records.challenge().await.map(Json).map_err(relay_err)
}

#[tracing::instrument(skip_all, fields(kiosk))]
async fn preview(
    State(s): State<AppState>,
    ConnectInfo(peer): ConnectInfo<Peer>,
    crate::http::JsonBody(mut req): crate::http::JsonBody<PreviewRequest>,
) -> Result<Json<PreviewResponse>, Problem> {
    let kiosk = terminal_id(&peer)?;
    tracing::Span::current().record("kiosk", kiosk.as_str());
    // The kiosk's passport data comes from the last issuance (DESIGN [S2]), never the request.
    req.passport_mrz = None;
    req.device_id = None;
    if !s
        .participating()
        .await?
        .iter()
        .any(|m| m.code == req.municipality)
    {
        return Err(Problem::new(
            403,
            "municipality-not-participating",
            format!(
                "municipality {} does not take part in kiosk issuance",
                req.municipality.as_str()
            ),
            "この市区町村はコンビニ交付に参加していません。",
        ));
    }
    // DESIGN §3 steps 1–4 and the challenge's expiry, before anything reaches records.
    if s.clock.now() >= req.evidence.challenge.expires_at() {
        return Err(crate::card::Error::ChallengeExpired.to_problem());
    }
    let files = req.evidence.files.clone();
    let trust = s.trust.clone();
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || {
        let _g = span.enter();
        crate::card::verify_card_files(&files, &trust).map(|_| ())
    })
    .await
    .map_err(|e| {
        let trace = crate::http::trace_id();
        tracing::error!(trace_id = %trace, error = %e, "verification worker failed");
        Problem::internal(&trace)
    })?
    .map_err(|e| {
        tracing::info!(code = e.code(), "card evidence refused at the center");
        e.to_problem()
    })?;
    let internal = InternalPreviewRequest {
        channel: Channel::Kiosk,
        terminal_id: kiosk,
        request: req,
    };
    let kind = internal.request.kind;
    let r = s.records.preview(&internal).await.map_err(relay_err);
    if kind == Kind::Overseas {
        tracing::debug!(ok = r.is_ok(), "overseas preview");
    }
    r.map(Json)
}

#[tracing::instrument(skip_all)]
async fn certificate(
    State(s): State<AppState>,
    ConnectInfo(peer): ConnectInfo<Peer>,
    crate::http::JsonBody(req): crate::http::JsonBody<CertificateRequest>,
) -> Result<Json<CertificateResponse>, Problem> {
    // The kiosk's own id, from its certificate: whatever the body says is replaced.
    let req = CertificateRequest {
        terminal_id: Some(terminal_id(&peer)?),
        ..req
    };
    s.records
        .certificate(&req)
        .await
        .map(Json)
        .map_err(relay_err)
}
