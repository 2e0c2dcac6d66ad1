//! HTTP face of the verifier: `POST /v1/verify` (JSON in, verdicts out) and the `/verify` page
//! (camera scan with the bundled jsQR decoder, BarcodeDetector when present). [`router`] is what
//! the app gateway mounts; `vaxcert verify serve` runs it alone. Errors are
//! `application/problem+json` with a stable `code`. Stateless: nothing is stored or logged
//! about the certificates seen.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use super::{Report, TrustStore, Verdict, cli::parse_at};
use crate::clock::{Clock, SystemClock};

const PAGE: &str = include_str!("../../templates/verify/index.html");
const PAGE_JS: &str = include_str!("../../templates/verify/verify.js");
const JSQR: &str = include_str!("../../templates/verify/jsQR.js");
/// Request bodies larger than this are refused (a phone photo fits; base64 adds a third).
const BODY_LIMIT: usize = 12 * 1024 * 1024;
/// Inputs one request may carry (texts, text and image together): a person's certificates,
/// not a batch job. Past it the request is refused before any is verified.
pub const MAX_INPUTS: usize = 16;
/// The longest text one input may be: a whole `.smart-health-card` file of several cards fits.
pub const MAX_TEXT_BYTES: usize = 64 * 1024;

/// How much verification one server does at once, and how long a request may take.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Requests verified at once (each on a blocking thread); others wait for a slot.
    pub concurrent: usize,
    /// How long a request waits for a slot before `503 verifier-busy`.
    pub queue_wait: std::time::Duration,
    /// How long a request's verification may take before `503 verify-timeout`. The work
    /// keeps its slot until it ends, so slow requests cannot pile up beyond `concurrent`.
    pub time_budget: std::time::Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            concurrent: std::thread::available_parallelism().map_or(2, |n| n.get()),
            queue_wait: std::time::Duration::from_secs(2),
            time_budget: std::time::Duration::from_secs(10),
        }
    }
}

/// What the handlers share.
#[derive(Debug, Clone)]
pub struct VerifyState {
    trust: Arc<std::sync::RwLock<Arc<TrustStore>>>,
    clock: Arc<dyn Clock>,
    limits: Limits,
    slots: Arc<tokio::sync::Semaphore>,
    /// Pictures searched at once: a 16-megapixel picture takes about 120 MiB while it is
    /// decoded, scaled and searched, so half the slots (at least one) may hold one.
    picture_slots: Arc<tokio::sync::Semaphore>,
}

impl VerifyState {
    /// A state over this trust store and clock, with the default [`Limits`].
    pub fn new(trust: TrustStore, clock: Arc<dyn Clock>) -> Self {
        Self::with_limits(trust, clock, Limits::default())
    }

    /// Replace what is trusted from the next request on (the app gateway reloads its own
    /// issuer's JWKS and CRLs from records so).
    pub fn set_trust(&self, trust: TrustStore) {
        let mut t = self
            .trust
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *t = Arc::new(trust);
    }

    /// A state with explicit limits.
    pub fn with_limits(trust: TrustStore, clock: Arc<dyn Clock>, limits: Limits) -> Self {
        VerifyState {
            trust: Arc::new(std::sync::RwLock::new(Arc::new(trust))),
            clock,
            limits,
            slots: Arc::new(tokio::sync::Semaphore::new(limits.concurrent.max(1))),
            picture_slots: Arc::new(tokio::sync::Semaphore::new((limits.concurrent / 2).max(1))),
        }
    }
}

/// `503` with `Retry-After`: the verifier is at its limit, not broken.
fn busy(code: &'static str, title: &str, ja: &str) -> Response {
    let mut r = crate::http::Problem::new(503, code, title, ja).into_response();
    r.headers_mut().insert(
        header::RETRY_AFTER,
        axum::http::HeaderValue::from_static("2"),
    );
    r
}

/// The routes: `POST /v1/verify`, `GET /verify` and its two scripts.
pub fn router(state: VerifyState) -> Router {
    Router::new()
        .route("/v1/verify", post(verify))
        .route("/verify", get(page))
        .route("/verify/verify.js", get(page_js))
        .route("/verify/jsQR.js", get(jsqr))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state)
}

/// `POST /v1/verify` body: texts (each what one QR holds, or a whole file's text) and/or one
/// base64 PNG/JPEG; optional `at`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct VerifyRequest {
    #[serde(default)]
    texts: Bounded,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    image_base64: Option<String>,
    #[serde(default)]
    at: Option<String>,
}

/// `texts`, kept to [`MAX_INPUTS`] + 1 entries while the rest are only counted, so a body of
/// half a million empty strings costs no more memory than one of seventeen.
#[derive(Debug, Default)]
struct Bounded {
    kept: Vec<String>,
    count: usize,
}

impl<'de> Deserialize<'de> for Bounded {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Bounded;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a list of texts")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Bounded, A::Error> {
                let mut b = Bounded::default();
                while b.count <= MAX_INPUTS {
                    match seq.next_element::<String>()? {
                        Some(t) => {
                            b.kept.push(t);
                            b.count += 1;
                        }
                        None => return Ok(b),
                    }
                }
                while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {
                    b.count += 1;
                }
                Ok(b)
            }
        }
        d.deserialize_seq(V)
    }
}

/// A problem document (RFC 9457).
/// A refusal of `POST /v1/verify` as the one problem document every role answers.
fn problem(status: StatusCode, code: &'static str, title: String) -> Response {
    let ja = match code {
        "request-malformed" => "要求の形式が正しくありません。",
        "at-malformed" => "at は RFC 3339 の時刻ではありません。",
        "too-many-inputs" => "1回の要求で確認できる証明書の数を超えています。",
        "input-too-large" => "入力が大きすぎます。",
        "image-base64-malformed" => "画像の base64 が正しくありません。",
        "request-empty" => "確認する証明書がありません。",
        _ => "システムで問題が発生しました。もう一度お試しください。",
    };
    crate::http::Problem::new(status.as_u16(), code, title, ja).into_response()
}

async fn verify(
    State(state): State<VerifyState>,
    body: Result<Json<VerifyRequest>, JsonRejection>,
) -> Response {
    let Json(req) = match body {
        Ok(b) => b,
        Err(e) => {
            return problem(
                e.status(),
                "request-malformed",
                "expected JSON {texts:[…]} or {text} or {image_base64}".into(),
            );
        }
    };
    let at = match req.at.as_deref() {
        None => state.clock.now(),
        Some(s) => match parse_at(Some(s)) {
            Ok(t) => t,
            Err(_) => {
                return problem(
                    StatusCode::BAD_REQUEST,
                    "at-malformed",
                    "at is not an RFC 3339 time".into(),
                );
            }
        },
    };
    let count =
        req.texts.count + usize::from(req.text.is_some()) + usize::from(req.image_base64.is_some());
    if count > MAX_INPUTS {
        return problem(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too-many-inputs",
            format!("at most {MAX_INPUTS} inputs per request; this one has {count}"),
        );
    }
    if req
        .texts
        .kept
        .iter()
        .chain(req.text.as_ref())
        .any(|t| t.len() > MAX_TEXT_BYTES)
    {
        return problem(
            StatusCode::PAYLOAD_TOO_LARGE,
            "input-too-large",
            format!("each text may be at most {MAX_TEXT_BYTES} bytes"),
        );
    }
    let mut inputs: Vec<Vec<u8>> = req.texts.kept.into_iter().map(String::into_bytes).collect();
    if let Some(t) = req.text {
        inputs.push(t.into_bytes());
    }
    let has_picture = req.image_base64.is_some();
    if let Some(img) = req.image_base64 {
        match super::b64::std(img.trim()) {
            Some(bytes) => inputs.push(bytes),
            None => {
                return problem(
                    StatusCode::BAD_REQUEST,
                    "image-base64-malformed",
                    "image_base64 is not base64".into(),
                );
            }
        }
    }
    if inputs.is_empty() {
        return problem(
            StatusCode::BAD_REQUEST,
            "request-empty",
            "give texts, text or image_base64".into(),
        );
    }
    let trust = state
        .trust
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    let slot =
        match tokio::time::timeout(state.limits.queue_wait, state.slots.clone().acquire_owned())
            .await
        {
            Ok(Ok(slot)) => slot,
            _ => {
                return busy(
                    "verifier-busy",
                    "The verifier is busy. Please try again in a moment.",
                    "確認が混み合っています。少し待ってからお試しください。",
                );
            }
        };
    let picture_slot = if has_picture {
        match tokio::time::timeout(
            state.limits.queue_wait,
            state.picture_slots.clone().acquire_owned(),
        )
        .await
        {
            Ok(Ok(p)) => Some(p),
            _ => {
                return busy(
                    "verifier-busy",
                    "The verifier is busy. Please try again in a moment.",
                    "確認が混み合っています。少し待ってからお試しください。",
                );
            }
        }
    } else {
        None
    };
    let work = tokio::task::spawn_blocking(move || {
        let reports = super::verify_inputs(&inputs, &trust, at);
        drop((slot, picture_slot));
        reports
    });
    let reports: Vec<Report> = match tokio::time::timeout(state.limits.time_budget, work).await {
        Ok(Ok(r)) => r,
        Err(_) => {
            return busy(
                "verify-timeout",
                "Verification took too long. Please try again with a clearer picture.",
                "確認に時間がかかりすぎました。鮮明な画像でもう一度お試しください。",
            );
        }
        Ok(Err(_)) => {
            return problem(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "verification failed".into(),
            );
        }
    };
    let overall = if reports.iter().all(|r| r.verdict == Verdict::Valid) {
        Verdict::Valid
    } else if reports.iter().any(|r| r.verdict == Verdict::Invalid) {
        Verdict::Invalid
    } else {
        Verdict::UnknownIssuer
    };
    let mut resp =
        Json(serde_json::json!({ "verdict": overall, "results": reports })).into_response();
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    resp
}

fn static_text(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}

async fn page() -> Response {
    static_text("text/html; charset=utf-8", PAGE)
}

async fn page_js() -> Response {
    static_text("text/javascript; charset=utf-8", PAGE_JS)
}

async fn jsqr() -> Response {
    static_text("text/javascript; charset=utf-8", JSQR)
}

/// Serve [`router`] on `listen` until interrupted; prints the bound URL first.
///
/// # Errors
/// The address cannot be bound.
pub fn serve(
    listen: &str,
    trust: TrustStore,
    limits: Limits,
    metrics: Option<std::net::SocketAddr>,
) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        if let Some(addr) = metrics {
            crate::http::serve_metrics(addr).await?;
        }
        let at = tokio::net::lookup_host(listen)
            .await?
            .next()
            .ok_or_else(|| anyhow::anyhow!("{listen}: no address"))?;
        // Offline: nothing to depend on, so ready whenever it is up.
        let ready: crate::http::ReadyCheck = Arc::new(|| Box::pin(async { Ok(()) }));
        let app = router(VerifyState::with_limits(
            trust,
            Arc::new(SystemClock),
            limits,
        ))
        .merge(crate::http::health(ready));
        let server = crate::http::Server::bind(at, None, app).await?;
        crate::http::announce(format_args!(
            "vaxcert verify: listening on http://{}/verify",
            server.local_addr()
        ));
        server.run_until_stopped().await?;
        Ok(())
    })
}
