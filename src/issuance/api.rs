//! The internal API of `vaxcert records serve` (DESIGN §2, §7): what the two gateways call.
//! The only stateful process, never internet-facing. mTLS accepts only the two gateways' pinned client
//! certificates (from the gateway CA, never the kiosk CA); the certificate says which gateway
//! called, and so which channel the request may claim.
//!
//! ```text
//! POST /internal/v1/challenges     → ChallengeResponse
//! POST /internal/v1/previews       InternalPreviewRequest → PreviewResponse (evidence verified)
//! POST /internal/v1/certificates   CertificateRequest → CertificateResponse
//! GET  /internal/v1/municipalities (the center gets participating ones only)
//! GET  /internal/v1/jwks, /internal/v1/crl/{kid}
//! ```
//!
//! The counter UI (`crate::counter`) runs on its own internal listener, started beside this one
//! by `vaxcert records serve` and sharing its issuance service.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Path as UrlPath, State};
use axum::routing::{get, post};
use axum::{Json, Router};

use super::IssuanceService;
use crate::domain::Channel;
use crate::http::Problem;
use crate::http::tls::{ClientAuth, Peer, ServerTls, TlsError, load_certs};
use crate::protocol::{
    CertificateRequest, CertificateResponse, ChallengeResponse, InternalPreviewRequest,
    MunicipalityEntry, PreviewResponse,
};

/// Settings of the internal API listener.
#[derive(Debug, Clone)]
pub struct ServeSettings {
    /// Where to listen (port 0 allowed).
    pub listen: SocketAddr,
    /// Records' server certificate and key.
    pub server_cert: PathBuf,
    /// Its key.
    pub server_key: PathBuf,
    /// The CA that issued the gateways' client certificates.
    pub gateway_ca: PathBuf,
    /// The app gateway's exact client certificate.
    pub app_client_cert: PathBuf,
    /// The center's exact client certificate.
    pub center_client_cert: PathBuf,
}

impl ServeSettings {
    /// The TLS material in one folder, under the standard names: `records.{crt,key}.pem`,
    /// `gateway-ca.crt.pem`, `app-gateway.crt.pem`, `center.crt.pem`.
    pub fn in_tls_dir(listen: SocketAddr, d: &std::path::Path) -> Self {
        ServeSettings {
            listen,
            server_cert: d.join("records.crt.pem"),
            server_key: d.join("records.key.pem"),
            gateway_ca: d.join("gateway-ca.crt.pem"),
            app_client_cert: d.join("app-gateway.crt.pem"),
            center_client_cert: d.join("center.crt.pem"),
        }
    }
}

#[derive(Clone)]
struct AppState {
    service: Arc<IssuanceService>,
    app_cert: Arc<Vec<u8>>,
    center_cert: Arc<Vec<u8>>,
}

impl AppState {
    /// Which gateway called: the pinned certificate decides the channel.
    fn channel(&self, peer: &Peer) -> Result<Channel, Problem> {
        match peer.cert.as_deref() {
            Some(c) if c == self.app_cert.as_slice() => Ok(Channel::App),
            Some(c) if c == self.center_cert.as_slice() => Ok(Channel::Kiosk),
            _ => Err(Problem::new(
                403,
                "client-not-allowed",
                "This client may not call records.",
                "この接続元は許可されていません。",
            )),
        }
    }
}

/// The internal API's builder: [`Server::build`] binds it and returns the shared
/// [`crate::http::Server`].
#[derive(Debug)]
pub struct Server;

impl Server {
    /// Bind the internal API listener.
    ///
    /// # Errors
    /// [`TlsError`] for unusable TLS material or a busy address.
    pub async fn build(
        settings: &ServeSettings,
        service: Arc<IssuanceService>,
    ) -> Result<crate::http::Server, TlsError> {
        let tls = ServerTls {
            cert: settings.server_cert.clone(),
            key: settings.server_key.clone(),
            client_auth: ClientAuth::Pinned {
                ca: settings.gateway_ca.clone(),
                certs: vec![
                    settings.app_client_cert.clone(),
                    settings.center_client_cert.clone(),
                ],
            },
        };
        let state = AppState {
            service,
            app_cert: Arc::new(load_certs(&settings.app_client_cert)?.remove(0).to_vec()),
            center_cert: Arc::new(load_certs(&settings.center_client_cert)?.remove(0).to_vec()),
        };
        let records = state.service.records().clone();
        let router = router(state).merge(crate::http::health(records_ready(records)));
        crate::http::Server::bind(settings.listen, Some(&tls), router).await
    }
}

/// Records is ready when its database answers.
pub fn records_ready(records: Arc<crate::records::Records>) -> crate::http::ReadyCheck {
    Arc::new(move || {
        let r = records.clone();
        Box::pin(async move { r.ping().await.map_err(|e| e.to_string()) })
    })
}

fn router(state: AppState) -> Router {
    Router::new()
        .route("/internal/v1/challenges", post(challenge))
        .route("/internal/v1/previews", post(preview))
        .route("/internal/v1/certificates", post(certificate))
        .route("/internal/v1/municipalities", get(municipalities))
        .route("/internal/v1/jwks", get(jwks))
        .route("/internal/v1/crl/{kid}", get(crl))
        .with_state(state)
}

fn fail<E>(e: E) -> Problem
where
    E: Into<super::Error>,
{
    let e = e.into();
    let trace = crate::http::trace_id();
    let p = e.to_problem(&trace);
    if p.code == "internal" {
        tracing::error!(trace_id = %trace, error = %e, "records request failed");
    } else {
        tracing::info!(code = %p.code, "records request refused");
    }
    p
}

async fn challenge(
    State(s): State<AppState>,
    ConnectInfo(peer): ConnectInfo<Peer>,
) -> Result<Json<ChallengeResponse>, Problem> {
    s.channel(&peer)?;
    Ok(Json(s.service.challenge()))
}

#[tracing::instrument(skip_all)]
async fn preview(
    State(s): State<AppState>,
    ConnectInfo(peer): ConnectInfo<Peer>,
    crate::http::JsonBody(req): crate::http::JsonBody<InternalPreviewRequest>,
) -> Result<Json<PreviewResponse>, Problem> {
    let channel = s.channel(&peer)?;
    if req.channel != channel {
        return Err(Problem::new(
            403,
            "channel-not-allowed",
            "This gateway may not request for that channel.",
            "この経路からは申請できません。",
        ));
    }
    s.service.preview(&req).await.map(Json).map_err(fail)
}

#[tracing::instrument(skip_all)]
async fn certificate(
    State(s): State<AppState>,
    ConnectInfo(peer): ConnectInfo<Peer>,
    crate::http::JsonBody(req): crate::http::JsonBody<CertificateRequest>,
) -> Result<Json<CertificateResponse>, Problem> {
    let channel = s.channel(&peer)?;
    s.service
        .issue(&req.preview_token, channel, req.terminal_id.as_deref())
        .await
        .map(|a| Json(a.into()))
        .map_err(fail)
}

async fn municipalities(
    State(s): State<AppState>,
    ConnectInfo(peer): ConnectInfo<Peer>,
) -> Result<Json<Vec<MunicipalityEntry>>, Problem> {
    let channel = s.channel(&peer)?;
    s.service
        .municipalities(channel)
        .await
        .map(Json)
        .map_err(fail)
}

fn read_published(path: &std::path::Path) -> Result<Json<serde_json::Value>, Problem> {
    let text = std::fs::read_to_string(path)
        .map_err(|_| Problem::new(404, "not-found", "Not published.", "公開されていません。"))?;
    serde_json::from_str(&text).map(Json).map_err(|e| {
        let trace = crate::http::trace_id();
        tracing::error!(trace_id = %trace, error = %e, path = %path.display(), "bad publication file");
        Problem::internal(&trace)
    })
}

async fn jwks(
    State(s): State<AppState>,
    ConnectInfo(peer): ConnectInfo<Peer>,
) -> Result<Json<serde_json::Value>, Problem> {
    s.channel(&peer)?;
    read_published(&s.service.publication_dir().join("jwks.json"))
}

async fn crl(
    State(s): State<AppState>,
    ConnectInfo(peer): ConnectInfo<Peer>,
    UrlPath(kid): UrlPath<String>,
) -> Result<Json<serde_json::Value>, Problem> {
    s.channel(&peer)?;
    let kid = kid.trim_end_matches(".json");
    if kid.is_empty()
        || !kid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(Problem::new(
            404,
            "not-found",
            "No such key.",
            "見つかりません。",
        ));
    }
    read_published(&s.service.publication_dir().join(format!("crl/{kid}.json")))
}
