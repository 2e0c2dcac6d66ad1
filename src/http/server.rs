//! The one way every role serves its router: bind first (TLS-established or plain TCP, port 0
//! allowed) so the address is known, then serve with [`Peer`] as the connection info until a
//! shutdown future completes. Each role's `Server::build` makes its router and hands it here;
//! every request then gets its request id, span and metrics ([`super::trace_request`]).

use std::net::SocketAddr;

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::serve::Listener as _;

use super::tls::{Bound, ServerTls, TlsError, TlsListener};

/// A bound listener with the router it will serve.
#[derive(Debug)]
pub struct Server {
    bound: Bound,
    local: SocketAddr,
    router: Router,
}

impl Server {
    /// Bind `addr` now; with `tls`, connections arrive TLS-established (client certificates as
    /// `tls` says), else plain TCP.
    ///
    /// # Errors
    /// [`TlsError`] for unusable TLS material or an address that cannot be bound.
    pub async fn bind(
        addr: SocketAddr,
        tls: Option<&ServerTls>,
        router: Router,
    ) -> Result<Self, TlsError> {
        let bind_err = |e: std::io::Error| TlsError::Bind {
            addr: addr.to_string(),
            reason: e.to_string(),
        };
        let (bound, local) = match tls {
            Some(tls) => {
                let l = TlsListener::bind(addr, tls.config()?).await?;
                let local = l.local_addr().map(|p| p.addr).map_err(bind_err)?;
                (Bound::Tls(l), local)
            }
            None => {
                let l = tokio::net::TcpListener::bind(addr)
                    .await
                    .map_err(bind_err)?;
                let local = l.local_addr().map_err(bind_err)?;
                (Bound::Plain(l), local)
            }
        };
        Ok(Server {
            bound,
            local,
            router: router.layer(axum::middleware::from_fn(super::trace_request)),
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Serve until `shutdown` completes.
    ///
    /// # Errors
    /// I/O errors of the server loop.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        self.bound.serve(self.router, shutdown).await
    }

    /// Serve until the process is stopped (Ctrl-C / SIGTERM).
    ///
    /// # Errors
    /// I/O errors of the server loop.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.run_until(super::shutdown_signal()).await
    }
}

/// Middleware: `Cache-Control: no-store` on every answer that does not set its own (nothing a
/// vaxcert server answers may be kept by a cache).
pub async fn no_store(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let mut r = next.run(req).await;
    r.headers_mut()
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    r
}

/// What `/readyz` asks: whether the role's dependencies answer (the database for records, a
/// records replica for the gateways, the center for the kiosk agent). `Err` says which not.
pub type ReadyCheck = std::sync::Arc<
    dyn Fn() -> std::pin::Pin<Box<dyn Future<Output = Result<(), String>> + Send>> + Send + Sync,
>;

/// `GET /healthz` (the process answers) and `GET /readyz` (its dependencies answer: `200`, or
/// `503` with `Retry-After` and the problem code `not-ready`), for load balancers. Mounted
/// outside rate limits; they say nothing about any person.
pub fn health(ready: ReadyCheck) -> Router {
    use axum::routing::get;
    Router::new()
        .route(
            "/healthz",
            get(|| async { axum::Json(serde_json::json!({"status": "ok"})) }),
        )
        .route(
            "/readyz",
            get(move || {
                let ready = ready.clone();
                async move {
                    match ready().await {
                        Ok(()) => {
                            axum::Json(serde_json::json!({"status": "ready"})).into_response()
                        }
                        Err(why) => {
                            tracing::warn!(reason = %why, "not ready");
                            let mut r = super::Problem::new(
                                503,
                                "not-ready",
                                "A dependency does not answer.",
                                "依存するサービスが応答していません。",
                            )
                            .into_response();
                            r.headers_mut()
                                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
                            r
                        }
                    }
                }
            }),
        )
}

/// Start the role's metrics listener: plain HTTP `GET /metrics` in Prometheus' text format, on
/// its own address (loopback or the monitoring network, never the public listener), served
/// until the process stops. Installs the recorder first, so the role's metrics start counting.
///
/// # Errors
/// [`TlsError::Bind`] when the address cannot be bound.
pub async fn serve_metrics(addr: SocketAddr) -> Result<SocketAddr, TlsError> {
    use axum::routing::get;
    crate::telemetry::metrics::install();
    let router = Router::new().route(
        "/metrics",
        get(|| async {
            (
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/plain; version=0.0.4"),
                )],
                crate::telemetry::metrics::render(),
            )
        }),
    );
    let server = Server::bind(addr, None, router).await?;
    let local = server.local_addr();
    super::announce(format_args!("metrics on http://{local}/metrics"));
    tokio::spawn(async move {
        if let Err(e) = server.run_until_stopped().await {
            tracing::error!(error = %e, "metrics listener stopped");
        }
    });
    Ok(local)
}

/// `GET /openapi.json`: a role's OpenAPI 3.1 document (compiled in from `templates/openapi/`;
/// `tests/contract` and schemathesis keep it true).
pub fn openapi(document: &'static str) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        document,
    )
        .into_response()
}
