//! `vaxcert kiosk`: the terminal agent of a convenience-store kiosk (DESIGN §2, §7).
//!
//! It serves the touch-screen UI in `kiosk/` on 127.0.0.1 only, watches the card reader through
//! PC/SC, takes the PIN from the page and hands it only to the card, reads the card binding the
//! center's challenge, relays the evidence to the center over mTLS, and prints the PDF. It keeps
//! nothing between residents: one pending preview token in memory, dropped on confirm, reset or
//! a new read; every response says `Cache-Control: no-store`.
//!
//! May import: `protocol`, `card` (the reader), `http`, `domain`. Never `records`, `issuance`
//! or `dev`.

pub mod center;
pub mod cli;
pub mod print;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, Zeroizing};

use crate::card::challenge::Binding;
use crate::card::reader::Reader;
use crate::card::{self, CardEvidence, Pin};
use crate::domain::{Channel, Kind, MunicipalityCode};
use crate::http::Problem;
use crate::protocol::{CertificatePreview, MunicipalityEntry, PreviewRequest};

pub use center::CenterClient;
pub use print::Printer;

/// Everything that can go wrong in the kiosk agent.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The agent must listen on a loopback address only.
    #[error("the kiosk agent listens on loopback only, not {0}")]
    NotLoopback(SocketAddr),
    /// Binding the local listener failed.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The kiosk's TLS material is missing or unusable.
    #[error("kiosk TLS set-up: {0}")]
    Tls(String),
    /// The center could not be reached or answered nonsense.
    #[error("center unreachable: {0}")]
    Center(String),
    /// The center refused, with its problem document.
    #[error("center refused: {}", .0.code)]
    CenterRefused(Box<Problem>),
    /// Reading the card failed.
    #[error(transparent)]
    Card(#[from] card::Error),
    /// Printing failed.
    #[error("printing failed: {0}")]
    Print(String),
    /// A card read asked for before the resident accepted the terms of use.
    #[error("the terms of use were not accepted")]
    TermsNotAccepted,
    /// Confirm without a current preview (already issued, reset, or never previewed).
    #[error("no preview to confirm")]
    NoPreview,
    /// The page sent something malformed.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// The HTTP server failed.
    #[error("server: {0}")]
    Serve(std::io::Error),
}

impl Error {
    /// Stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            Error::NotLoopback(_) => "kiosk-not-loopback",
            Error::Bind { .. } => "kiosk-bind",
            Error::Tls(_) => "kiosk-tls",
            Error::Center(_) => "center-unreachable",
            Error::CenterRefused(_) => "center-refused",
            Error::Card(e) => e.code(),
            Error::Print(_) => "print-failed",
            Error::NoPreview => "no-preview",
            Error::TermsNotAccepted => "terms-not-accepted",
            Error::BadRequest(_) => "bad-request",
            Error::Serve(_) => "kiosk-serve",
        }
    }

    /// What the page shows.
    fn problem(&self) -> Problem {
        match self {
            Error::CenterRefused(p) => (**p).clone(),
            Error::Card(e) => e.to_problem(),
            Error::Center(_) | Error::Tls(_) => Problem::new(
                503,
                self.code(),
                "The issuance center cannot be reached. Please try again later.",
                "交付センターに接続できません。しばらくしてからお試しください。",
            ),
            Error::Print(_) => Problem::new(
                500,
                self.code(),
                "The printer failed. Please ask the store staff.",
                "印刷できませんでした。店員にお知らせください。",
            ),
            Error::TermsNotAccepted => Problem::new(
                400,
                self.code(),
                "Please accept the terms of use first.",
                "ご利用にあたっての内容に同意してください。",
            ),
            Error::NoPreview => Problem::new(
                409,
                self.code(),
                "Please start again.",
                "最初からやり直してください。",
            ),
            Error::BadRequest(_) => Problem::new(
                400,
                self.code(),
                "Please start again.",
                "最初からやり直してください。",
            ),
            Error::NotLoopback(_) | Error::Bind { .. } | Error::Serve(_) => {
                Problem::new(500, self.code(), "Kiosk failure.", "端末の故障です。")
            }
        }
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        // Card errors and center refusals are the resident's path, not faults; log the code.
        tracing::info!(code = self.code(), "kiosk request refused");
        self.problem().into_response()
    }
}

/// How the agent is set up.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Local UI address (loopback only; port 0 picks one).
    pub listen: SocketAddr,
    /// The center client.
    pub center: CenterClient,
    /// This kiosk's identity as the center knows it: its client certificate's CN.
    pub terminal_id: String,
    /// PC/SC reader name (default: the first reader).
    pub reader: Option<String>,
    /// Where certificates go.
    pub printer: Printer,
}

/// The one pending issuance: the preview token for the resident at the kiosk now.
#[derive(Default)]
struct Pending(Option<Zeroizing<String>>);

struct Agent {
    center: CenterClient,
    terminal_id: String,
    reader: Option<String>,
    printer: Printer,
    pending: Mutex<Pending>,
}

impl Agent {
    fn clear(&self) {
        if let Ok(mut p) = self.pending.lock() {
            p.0 = None;
        }
    }
}

/// The agent's builder: [`Server::build`] binds it (loopback only) and returns the shared
/// [`crate::http::Server`].
#[derive(Debug)]
pub struct Server;

impl Server {
    /// Bind the local listener (loopback only).
    ///
    /// # Errors
    /// [`Error::NotLoopback`], [`Error::Bind`].
    pub async fn build(settings: Settings) -> Result<crate::http::Server, Error> {
        if !settings.listen.ip().is_loopback() {
            return Err(Error::NotLoopback(settings.listen));
        }
        let agent = Arc::new(Agent {
            center: settings.center,
            terminal_id: settings.terminal_id,
            reader: settings.reader,
            printer: settings.printer,
            pending: Mutex::new(Pending::default()),
        });
        let center = agent.clone();
        let ready: crate::http::ReadyCheck = Arc::new(move || {
            let a = center.clone();
            Box::pin(async move {
                a.center
                    .municipalities()
                    .await
                    .map(drop)
                    .map_err(|e| e.to_string())
            })
        });
        let bound = Arc::new(std::sync::OnceLock::new());
        let server = crate::http::Server::bind(
            settings.listen,
            None,
            router(agent).merge(crate::http::health(ready)).layer(
                axum::middleware::from_fn_with_state(bound.clone(), same_origin),
            ),
        )
        .await
        .map_err(|e| Error::Bind {
            addr: settings.listen,
            source: std::io::Error::other(e.to_string()),
        })?;
        let _ = bound.set(server.local_addr());
        Ok(server)
    }
}

/// Only the kiosk's own page may talk to the agent: the `Host` must name the agent's loopback
/// address (a DNS-rebinding page arrives under its own name), and an `Origin`, which browsers
/// send on every cross-site and every scripted POST, must be the agent's own. A local
/// non-browser client (the demo, tests) sends no `Origin` and passes on the `Host` alone.
async fn same_origin(
    State(bound): State<Arc<std::sync::OnceLock<SocketAddr>>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let Some(addr) = bound.get().copied() else {
        return next.run(req).await;
    };
    let (host_ok, origin_ok) = {
        let port = addr.port();
        let ours = |host: &str| {
            host == format!("127.0.0.1:{port}")
                || host == format!("localhost:{port}")
                || host == format!("[::1]:{port}")
                || host == addr.to_string()
        };
        let get = |name: header::HeaderName| {
            req.headers()
                .get(name)
                .map(|v| v.to_str().unwrap_or("\u{fffd}").to_owned())
        };
        (
            get(header::HOST).is_some_and(|h| ours(&h)),
            get(header::ORIGIN).is_none_or(|o| o.strip_prefix("http://").is_some_and(ours)),
        )
    };
    if host_ok && origin_ok {
        return next.run(req).await;
    }
    let code = if host_ok {
        "origin-refused"
    } else {
        "host-refused"
    };
    tracing::warn!(code, "a request from outside the kiosk page was refused");
    Problem::new(
        403,
        code,
        "Only the kiosk's own page may use the agent.",
        "この端末の画面以外からは利用できません。",
    )
    .into_response()
}

const INDEX_HTML: &str = include_str!("../../kiosk/index.html");
const KIOSK_CSS: &str = include_str!("../../kiosk/kiosk.css");
const KIOSK_JS: &str = include_str!("../../kiosk/kiosk.js");

fn router(agent: Arc<Agent>) -> Router {
    Router::new()
        .route(
            "/",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                    INDEX_HTML,
                )
            }),
        )
        .route(
            "/kiosk.css",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
                    KIOSK_CSS,
                )
            }),
        )
        .route(
            "/kiosk.js",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
                    KIOSK_JS,
                )
            }),
        )
        .route("/api/municipalities", get(municipalities))
        .route("/api/card", get(card_status))
        .route("/api/read", post(read))
        .route("/api/confirm", post(confirm))
        .route("/api/reset", post(reset))
        .layer(axum::middleware::map_response(security_headers))
        .layer(axum::middleware::from_fn(crate::http::no_store))
        .with_state(agent)
}

/// The kiosk page may load only its own files and may not be framed.
async fn security_headers(mut r: Response) -> Response {
    let h = r.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'self'; frame-ancestors 'none'"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    r
}

#[tracing::instrument(skip_all)]
async fn municipalities(
    State(agent): State<Arc<Agent>>,
) -> Result<Json<Vec<MunicipalityEntry>>, Error> {
    let mut list = agent.center.municipalities().await?;
    // The center lists participating ones only; never offer another even if it did.
    list.retain(|m| m.kiosk);
    Ok(Json(list))
}

#[derive(Serialize)]
struct CardStatus {
    present: bool,
}

#[tracing::instrument(skip_all)]
async fn card_status(State(agent): State<Arc<Agent>>) -> Result<Json<CardStatus>, Error> {
    let name = agent.reader.clone();
    let present = tokio::task::spawn_blocking(move || {
        Reader::open(name.as_deref()).and_then(|r| r.card_present())
    })
    .await
    .map_err(|e| Error::BadRequest(e.to_string()))??;
    Ok(Json(CardStatus { present }))
}

/// The page's read request. The PIN is wiped as soon as it is parsed.
#[derive(Deserialize)]
struct ReadRequest {
    municipality: MunicipalityCode,
    kind: Kind,
    pin: String,
    /// The terms version shown on the consent screen and accepted there.
    #[serde(default)]
    terms_version: Option<String>,
}

#[derive(Serialize)]
struct ReadResponse {
    certificate: CertificatePreview,
}

#[tracing::instrument(skip_all)]
async fn read(
    State(agent): State<Arc<Agent>>,
    Json(mut req): Json<ReadRequest>,
) -> Result<Json<ReadResponse>, Error> {
    agent.clear();
    let pin = Pin::parse(&req.pin);
    req.pin.zeroize();
    // No consent, no card read: the card is not touched without a terms version.
    let terms_version = req
        .terms_version
        .take()
        .filter(|v| !v.is_empty() && v.len() <= 32)
        .ok_or(Error::TermsNotAccepted)?;
    let pin = pin?;
    let challenge = agent.center.challenge().await?.challenge;
    let binding = Binding {
        channel: Channel::Kiosk,
        terminal_id: agent.terminal_id.clone(),
        municipality: req.municipality.clone(),
        kind: req.kind,
    };
    let digest = binding.digest(&challenge);
    let name = agent.reader.clone();
    let (files, signature) = tokio::task::spawn_blocking(move || {
        let reader = Reader::open(name.as_deref())?;
        reader.read_and_sign(&pin, &digest, Duration::from_secs(3))
    })
    .await
    .map_err(|e| Error::BadRequest(e.to_string()))??;
    let evidence = CardEvidence {
        files,
        challenge,
        challenge_signature: signature,
    };
    let preview = agent
        .center
        .preview(&PreviewRequest {
            municipality: req.municipality,
            kind: req.kind,
            evidence,
            passport_mrz: None,
            device_id: None,
            terms_version: Some(terms_version),
        })
        .await?;
    if let Ok(mut p) = agent.pending.lock() {
        p.0 = Some(Zeroizing::new(preview.preview_token));
    }
    Ok(Json(ReadResponse {
        certificate: mask(preview.certificate),
    }))
}

/// Defence in depth: the center already masks the passport number; keep at most the first two
/// and last two characters whatever it sends.
fn mask(mut c: CertificatePreview) -> CertificatePreview {
    if let Some(p) = c.passport_number_masked.as_mut() {
        let chars: Vec<char> = p.chars().collect();
        if chars.len() > 4 {
            let n = chars.len();
            *p = chars
                .iter()
                .enumerate()
                .map(|(i, ch)| if i < 2 || i >= n - 2 { *ch } else { '*' })
                .collect();
        }
    }
    c
}

#[derive(Serialize)]
struct ConfirmResponse {
    certificate_id: String,
}

#[tracing::instrument(skip_all)]
async fn confirm(State(agent): State<Arc<Agent>>) -> Result<Json<ConfirmResponse>, Error> {
    let token = agent
        .pending
        .lock()
        .ok()
        .and_then(|mut p| p.0.take())
        .ok_or(Error::NoPreview)?;
    let cert = agent.center.certificate(&token).await?;
    drop(token);
    let pdf = Zeroizing::new(
        base64::engine::general_purpose::STANDARD
            .decode(cert.pdf_base64.as_bytes())
            .map_err(|e| Error::Center(format!("PDF is not base64: {e}")))?,
    );
    let printer = agent.printer.clone();
    let id = cert.certificate_id.clone();
    tokio::task::spawn_blocking(move || printer.print(&id, &pdf))
        .await
        .map_err(|e| Error::Print(e.to_string()))??;
    tracing::info!(certificate_id = %cert.certificate_id, "certificate printed");
    Ok(Json(ConfirmResponse {
        certificate_id: cert.certificate_id,
    }))
}

async fn reset(State(agent): State<Arc<Agent>>) -> StatusCode {
    agent.clear();
    StatusCode::NO_CONTENT
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_consent_screen_shows_the_terms_version_records_accepts() {
        let attr = format!("data-terms-version=\"{}\"", crate::protocol::TERMS_VERSION);
        assert!(
            INDEX_HTML.contains(&attr),
            "kiosk/index.html must carry {attr}"
        );
    }

    #[test]
    fn mask_keeps_two_each_side() {
        let c = CertificatePreview {
            kind: Kind::Overseas,
            name: "x".into(),
            alias: None,
            name_roman: None,
            birth_date: "2000-01-01".into(),
            doses: vec![],
            municipality_name: "m".into(),
            passport_number_masked: Some("TK1234567".into()),
        };
        assert_eq!(mask(c).passport_number_masked.as_deref(), Some("TK*****67"));
    }
}
