//! Problem documents as axum responses: `application/problem+json` with the problem's status,
//! and `Cache-Control: no-store` (nothing a gateway answers may be kept).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::Problem;

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self).unwrap_or_default();
        let mut r = (status, body).into_response();
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        r.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if status == StatusCode::SERVICE_UNAVAILABLE {
            // Every 503 says when to come back; a handler may have set its own.
            r.headers_mut()
                .entry(header::RETRY_AFTER)
                .or_insert(HeaderValue::from_static("2"));
        }
        r.extensions_mut().insert(RefusedWith(self.code));
        r
    }
}

/// The problem code an answer carries, for the refusal metric (no body parsing).
#[derive(Debug, Clone)]
struct RefusedWith(String);

/// The trace id for an `internal` problem (the detail goes to the log under it): the current
/// request id, so the answer, the logs of every role it crossed and the problem agree.
pub fn trace_id() -> String {
    crate::telemetry::current_request_id()
        .unwrap_or_else(crate::telemetry::RequestId::fresh)
        .to_string()
}

/// Every request of every role: a request id (the caller's `X-Request-Id` when well-formed,
/// else fresh) current for the handler and answered back; one tracing span (method, route
/// template and request id only: bodies carry card evidence, paths may carry ids); one line
/// with the status when it ends; and the request, latency and refusal metrics.
pub async fn trace_request(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    use crate::telemetry::{REQUEST_ID_HEADER, RequestId, metrics, scope_request_id};
    use tracing::Instrument;
    let id = RequestId::from_header(
        req.headers()
            .get(REQUEST_ID_HEADER)
            .and_then(|v| v.to_str().ok()),
    );
    let route = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or("unmatched", |m| m.as_str())
        .to_owned();
    let method = req.method().to_string();
    let span = tracing::info_span!("request", %method, %route, request_id = %id);
    let started = std::time::Instant::now();
    let mut r = scope_request_id(id.clone(), async move {
        let r = next.run(req).await;
        tracing::info!(status = r.status().as_u16(), "answered");
        r
    })
    .instrument(span)
    .await;
    let status = r.status().as_u16();
    metrics::http_request(&route, &method, status, started.elapsed());
    if let Some(RefusedWith(code)) = r.extensions().get::<RefusedWith>() {
        metrics::refused(code, status);
    }
    if let Ok(v) = HeaderValue::from_str(id.as_str()) {
        r.headers_mut().insert(REQUEST_ID_HEADER, v);
    }
    r
}

/// Completes on Ctrl-C or SIGTERM: the servers' graceful shutdown.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

/// Print a server's start-up line (its address) on stdout for whoever started it. A closed
/// stdout (the starter stopped reading) must not bring a running server down, so write errors
/// are ignored instead of panicking like `println!`.
pub fn announce(line: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = out.write_fmt(line);
    let _ = out.write_all(b"\n");
    let _ = out.flush();
}
