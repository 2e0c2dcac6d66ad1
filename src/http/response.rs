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
        r
    }
}

/// A fresh trace id for an `internal` problem: the detail goes to the log under it.
pub fn trace_id() -> String {
    use rand::RngExt;
    let mut b = [0u8; 8];
    rand::rng().fill(&mut b[..]);
    hex::encode(b)
}

/// One tracing span per request (method and path only: bodies carry card evidence), and one
/// line with the status when it ends.
pub async fn trace_request(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    use tracing::Instrument;
    let span = tracing::info_span!("request", method = %req.method(), path = %req.uri().path());
    async move {
        let r = next.run(req).await;
        tracing::info!(status = r.status().as_u16(), "answered");
        r
    }
    .instrument(span)
    .await
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
