//! `vaxcert app serve`: the public, stateless app gateway (DESIGN §2, §7). It checks what it
//! can without secrets (the passport MRZ's check digits, the device id), rate-limits per
//! client, and relays to records over mTLS with its pinned client certificate. It holds no
//! database and no keys and writes no files; JWKS and CRLs are cached in memory from records.
//!
//! ```text
//! POST /v1/challenges                  → ChallengeResponse
//! POST /v1/previews                    PreviewRequest (+ optional TD3 MRZ) → PreviewResponse
//! POST /v1/certificates                CertificateRequest → CertificateResponse (SHC, VDS-NC, PDF)
//! GET  /.well-known/jwks.json          cached from records
//! GET  /.well-known/crl/{kid}.json     cached from records
//! GET  /verify, POST /v1/verify        the verifier (crate::verify::http), own trust store
//! ```
//!
//! May import: `protocol` (the records client), `verify`, `formats::mrz`, `http`, `domain`.
//! Never `records`, `issuance` or `dev` (the CLI's `--dev` switch alone reaches dev material).

pub mod cli;
mod ratelimit;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};

use crate::domain::Channel;
use crate::formats::mrz::Td3Mrz;
use crate::http::Problem;
use crate::http::tls::{ClientTls, ServerTls, TlsError};
use crate::protocol::client::{self as api, Client};
use crate::protocol::{CertificateRequest, InternalPreviewRequest, PreviewRequest};
use crate::verify::TrustStore;
use crate::verify::http::VerifyState;

pub use ratelimit::RateLimit;

/// Settings of the app gateway.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Where to listen (port 0 allowed).
    pub listen: SocketAddr,
    /// Public HTTPS identity; `None` serves plain HTTP (behind a TLS-terminating proxy, or tests).
    pub tls: Option<ServerTls>,
    /// Records' internal API, e.g. `https://127.0.0.1:8443`.
    pub records_url: String,
    /// The gateway's mTLS identity towards records.
    pub records_tls: ClientTls,
    /// Requests per second per client address, with a burst of twice that.
    pub rate_per_sec: u32,
    /// How long JWKS and CRLs are cached.
    pub publication_ttl: Duration,
    /// What `/verify` and `POST /v1/verify` trust (DESIGN §6).
    pub verifier_trust: TrustStore,
}

impl Settings {
    /// The TLS material in one folder, under the standard names: HTTPS with
    /// `app-server.{crt,key}.pem`, records' CA `server-ca.crt.pem`, and the gateway's client
    /// identity `app-gateway.{crt,key}.pem`.
    pub fn in_tls_dir(listen: SocketAddr, records_url: &str, d: &std::path::Path) -> Self {
        Settings {
            listen,
            tls: Some(ServerTls {
                cert: d.join("app-server.crt.pem"),
                key: d.join("app-server.key.pem"),
                client_auth: crate::http::tls::ClientAuth::None,
            }),
            records_url: records_url.to_owned(),
            records_tls: ClientTls {
                server_ca: d.join("server-ca.crt.pem"),
                cert: Some(d.join("app-gateway.crt.pem")),
                key: Some(d.join("app-gateway.key.pem")),
            },
            rate_per_sec: 20,
            publication_ttl: Duration::from_secs(60),
            verifier_trust: TrustStore::default(),
        }
    }
}

#[derive(Clone)]
struct AppState {
    records: Client,
    cache: Arc<Mutex<HashMap<String, (tokio::time::Instant, serde_json::Value)>>>,
    ttl: Duration,
}

/// The app gateway's builder: [`Server::build`] binds it and returns the shared
/// [`crate::http::Server`].
#[derive(Debug)]
pub struct Server;

/// Why the gateway could not start.
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

impl Server {
    /// Bind the public listener and build the records client.
    ///
    /// # Errors
    /// [`Error`].
    pub async fn build(settings: &Settings) -> Result<crate::http::Server, Error> {
        let records = Client::new(&settings.records_url, &settings.records_tls)?;
        let state = AppState {
            records,
            cache: Arc::default(),
            ttl: settings.publication_ttl,
        };
        let verifier = VerifyState::new(
            settings.verifier_trust.clone(),
            Arc::new(crate::clock::SystemClock),
        );
        spawn_issuer_reload(
            state.records.clone(),
            verifier.clone(),
            settings.verifier_trust.clone(),
            settings.publication_ttl,
        );
        let records = state.records.clone();
        let ready: crate::http::ReadyCheck = Arc::new(move || {
            let r = records.clone();
            Box::pin(async move { r.jwks().await.map(drop).map_err(|e| e.to_string()) })
        });
        let router = router(state, verifier, RateLimit::new(settings.rate_per_sec))
            .merge(crate::http::health(ready));
        Ok(crate::http::Server::bind(settings.listen, settings.tls.as_ref(), router).await?)
    }
}

fn router(state: AppState, verifier: VerifyState, limit: RateLimit) -> Router {
    let api = Router::new()
        .route("/v1/challenges", post(challenge))
        .route("/v1/previews", post(preview))
        .route("/v1/certificates", post(certificate))
        .route("/.well-known/jwks.json", get(jwks))
        .route("/.well-known/crl/{kid}", get(crl))
        .route(
            "/openapi.json",
            get(|| async {
                crate::http::openapi(include_str!("../../templates/openapi/app.json"))
            }),
        )
        .with_state(state)
        .merge(crate::verify::http::router(verifier));
    api.layer(axum::middleware::from_fn_with_state(
        limit,
        ratelimit::limit,
    ))
    .layer(axum::middleware::from_fn(crate::http::no_store))
}

fn relay_err(e: api::Error) -> Problem {
    match &e {
        api::Error::Problem(_) => {}
        _ => tracing::error!(error = %e, "records unreachable"),
    }
    e.to_problem()
}

async fn challenge(State(s): State<AppState>) -> Result<Response, Problem> {
    let c = s.records.challenge().await.map_err(relay_err)?;
    Ok(Json(c).into_response())
}

fn bad_request(code: &str, en: &str, ja: &str) -> Problem {
    Problem::new(400, code, en, ja)
}

/// The device id the app binds into the card signature: 1–64 ASCII letters, digits, `-`, `_`.
fn device_id(req: &PreviewRequest) -> Result<String, Problem> {
    match req.device_id.as_deref() {
        Some(d)
            if !d.is_empty()
                && d.len() <= 64
                && d.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
        {
            Ok(d.to_owned())
        }
        _ => Err(bad_request(
            "device-id-invalid",
            "The app must send its device id (1-64 letters, digits, - or _).",
            "アプリの端末 ID が正しくありません。",
        )),
    }
}

#[tracing::instrument(skip_all)]
async fn preview(
    State(s): State<AppState>,
    crate::http::JsonBody(req): crate::http::JsonBody<PreviewRequest>,
) -> Result<Response, Problem> {
    let terminal_id = device_id(&req)?;
    if let Some(mrz) = &req.passport_mrz {
        // Checked here too, so a bad MRZ costs records nothing.
        Td3Mrz::parse(mrz).map_err(|e| {
            bad_request(e.code(), &e.to_string(), "旅券の MRZ が正しくありません。")
        })?;
    }
    let internal = InternalPreviewRequest {
        channel: Channel::App,
        terminal_id,
        request: req,
    };
    let p = s.records.preview(&internal).await.map_err(relay_err)?;
    Ok(Json(p).into_response())
}

#[tracing::instrument(skip_all)]
async fn certificate(
    State(s): State<AppState>,
    crate::http::JsonBody(req): crate::http::JsonBody<CertificateRequest>,
) -> Result<Response, Problem> {
    if req.preview_token.len() > 4096 {
        return Err(bad_request(
            "preview-token-invalid",
            "the preview token is invalid",
            "確認の有効期限が切れたか、無効です。",
        ));
    }
    let c = s.records.certificate(&req).await.map_err(relay_err)?;
    Ok(Json(c).into_response())
}

impl AppState {
    async fn cached<F, Fut>(&self, key: &str, fetch: F) -> Result<Response, Problem>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<serde_json::Value, api::Error>>,
    {
        let now = tokio::time::Instant::now();
        let hit = self.cache.lock().ok().and_then(|c| {
            c.get(key)
                .filter(|(at, _)| now < *at)
                .map(|(_, v)| v.clone())
        });
        let v = match hit {
            Some(v) => v,
            None => {
                let v = fetch().await.map_err(relay_err)?;
                if let Ok(mut c) = self.cache.lock() {
                    c.insert(key.to_owned(), (now + self.ttl, v.clone()));
                }
                v
            }
        };
        let mut r = Json(v).into_response();
        let max_age = format!("public, max-age={}", self.ttl.as_secs());
        if let Ok(h) = HeaderValue::from_str(&max_age) {
            r.headers_mut().insert(header::CACHE_CONTROL, h);
        }
        r.headers_mut().insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        );
        Ok(r)
    }
}

async fn jwks(State(s): State<AppState>) -> Result<Response, Problem> {
    let records = s.records.clone();
    s.cached("jwks", || async move { records.jwks().await })
        .await
}

async fn crl(
    State(s): State<AppState>,
    UrlPath(file): UrlPath<String>,
) -> Result<Response, Problem> {
    let kid = file.strip_suffix(".json").unwrap_or(&file).to_owned();
    let records = s.records.clone();
    let key = format!("crl/{kid}");
    s.cached(&key, || async move { records.crl(&kid).await })
        .await
}

/// Keep the gateway's verifier trusting this deployment's own issuer as records publishes it:
/// every `every`, the JWKS and each key's CRL are fetched from records and replace the last
/// ones, so a `records revoke` answers `revoked` at `/verify` and `POST /v1/verify` within
/// the CRL cache time. A CRL that cannot be fetched is left out, and the verifier then
/// refuses that key's cards (`crl-unavailable`) rather than miss a revocation.
fn spawn_issuer_reload(records: Client, verifier: VerifyState, base: TrustStore, every: Duration) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every.max(Duration::from_millis(100)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match own_issuer(&records).await {
                Ok(issuer) => {
                    let mut trust = base.clone();
                    trust.replace_shc_issuer(issuer);
                    verifier.set_trust(trust);
                }
                Err(why) => tracing::warn!(reason = %why, "own issuer not reloaded"),
            }
        }
    });
}

/// This deployment's SHC issuer from records: its `iss` is the SAN URI of the keys' `x5c`.
async fn own_issuer(records: &Client) -> Result<crate::verify::trust::ShcIssuer, String> {
    use crate::verify::trust::{ShcIssuer, parse_crl, parse_jwks};
    let origin = std::path::Path::new("records:/internal/v1/jwks");
    let jwks = records.jwks().await.map_err(|e| e.to_string())?;
    let bytes = serde_json::to_vec(&jwks).map_err(|e| e.to_string())?;
    let keys = parse_jwks(&bytes, origin).map_err(|e| e.to_string())?;
    let iss = keys
        .iter()
        .find_map(|k| k.leaf.as_ref()?.san_uris.first().cloned())
        .ok_or("no key of the JWKS names its issuer (x5c SAN URI)")?;
    let mut crls = std::collections::BTreeMap::new();
    for key in keys.iter().filter(|k| k.crl_version.is_some_and(|v| v > 0)) {
        let fetched = records.crl(&key.kid).await.map_err(|e| e.to_string());
        let parsed = fetched.and_then(|v| {
            let bytes = serde_json::to_vec(&v).map_err(|e| e.to_string())?;
            parse_crl(&bytes, origin).map_err(|e| e.to_string())
        });
        match parsed {
            Ok((kid, crl)) if kid == key.kid => {
                crls.insert(kid, crl);
            }
            Ok(_) => tracing::warn!(kid = %key.kid, "records answered another key's CRL"),
            Err(why) => tracing::warn!(kid = %key.kid, reason = %why, "CRL not reloaded"),
        }
    }
    Ok(ShcIssuer {
        iss,
        name: "this-issuer".into(),
        display_name: None,
        keys,
        crls,
    })
}
