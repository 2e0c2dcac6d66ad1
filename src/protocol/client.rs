//! `protocol::client::Client`: how the two gateways call the records internal API over mTLS, with
//! their own pinned client certificate. Records' problem documents come back unchanged as
//! [`Error::Problem`]; a transport failure is [`Error::Unavailable`]. The gateways hold this
//! client and nothing else of records: no database, no keys.
//!
//! Records runs as several replicas: the client takes their URLs (comma-separated), spreads
//! calls over them in turn, and marks one down for [`DOWN_FOR`] when it cannot be reached.
//! A call moves on to the next replica when that is safe: always when the connection was never
//! made, and after a lost answer only for calls that repeat harmlessly (a certificate request
//! is idempotent on its preview token; a preview is not, since it uses up its challenge).

use crate::http::Problem;
use crate::http::tls::{ClientTls, TlsError};
use crate::protocol::{
    CertificateRequest, CertificateResponse, ChallengeResponse, InternalPreviewRequest,
    MunicipalityEntry, PreviewResponse,
};

/// Why a call to records did not give an answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Records refused or failed, with its problem document.
    #[error("records answered {}: {}", .0.status, .0.code)]
    Problem(Problem),
    /// Records could not be reached, or its answer was not understood.
    #[error("records unavailable: {0}")]
    Unavailable(String),
    /// The client's TLS material is unusable.
    #[error(transparent)]
    Tls(#[from] TlsError),
}

impl Error {
    /// Stable machine-readable code.
    pub fn code(&self) -> &str {
        match self {
            Error::Problem(p) => &p.code,
            Error::Unavailable(_) => "records-unavailable",
            Error::Tls(e) => e.code(),
        }
    }

    /// What a gateway answers: records' problem unchanged (it was made for residents), or 503.
    pub fn to_problem(&self) -> Problem {
        match self {
            Error::Problem(p) => p.clone(),
            _ => Problem::new(
                503,
                "records-unavailable",
                "The service is temporarily unavailable. Please try again later.",
                "ただいま混み合っています。しばらくしてからお試しください。",
            ),
        }
    }
}

/// Pass the current request's id on, so the next role logs under the same id.
pub fn with_request_id(req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
    match crate::telemetry::current_request_id() {
        Some(id) => req.header(crate::telemetry::REQUEST_ID_HEADER, id.as_str()),
        None => req,
    }
}

/// How long a replica that could not be reached is passed over.
pub const DOWN_FOR: std::time::Duration = std::time::Duration::from_secs(2);

/// One records replica and until when it is passed over.
#[derive(Debug)]
struct Replica {
    base: String,
    down_until: std::sync::Mutex<Option<std::time::Instant>>,
}

impl Replica {
    fn is_up(&self, now: std::time::Instant) -> bool {
        self.down_until
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .is_none_or(|t| now >= t)
    }

    fn mark(&self, down: bool) {
        *self
            .down_until
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) =
            down.then(|| std::time::Instant::now() + DOWN_FOR);
    }
}

/// Whether a call may be sent again to another replica after its answer was lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Repeat {
    /// Reads, challenges, and certificate requests (idempotent on the token).
    Harmless,
    /// Previews: the first one may have used up the challenge.
    OnlyIfNeverSent,
}

/// An mTLS client of the records internal API (one or more replicas). Cheap to clone (a
/// connection pool inside).
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    replicas: std::sync::Arc<[Replica]>,
    next: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl Client {
    /// A client of `base_urls`: one URL (e.g. `https://127.0.0.1:8443`) or several,
    /// comma-separated, one per records replica, with this TLS identity.
    ///
    /// # Errors
    /// [`Error::Tls`], [`Error::Unavailable`] if the HTTP client cannot be built or no URL is
    /// given.
    pub fn new(base_urls: &str, tls: &ClientTls) -> Result<Self, Error> {
        let http = reqwest::Client::builder()
            .use_preconfigured_tls(tls.config()?)
            .connect_timeout(std::time::Duration::from_secs(2))
            .timeout(std::time::Duration::from_secs(20))
            .pool_max_idle_per_host(64)
            .build()
            .map_err(|e| Error::Unavailable(e.to_string()))?;
        let replicas: Vec<Replica> = base_urls
            .split(',')
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .map(|u| Replica {
                base: u.trim_end_matches('/').to_owned(),
                down_until: std::sync::Mutex::new(None),
            })
            .collect();
        if replicas.is_empty() {
            return Err(Error::Unavailable("no records URL given".into()));
        }
        Ok(Client {
            http,
            replicas: replicas.into(),
            next: std::sync::Arc::default(),
        })
    }

    async fn answer<T: serde::de::DeserializeOwned>(r: reqwest::Response) -> Result<T, Error> {
        let status = r.status();
        let bytes = r
            .bytes()
            .await
            .map_err(|e| Error::Unavailable(without_url(&e)))?;
        if status.is_success() {
            serde_json::from_slice(&bytes).map_err(|e| Error::Unavailable(e.to_string()))
        } else {
            match serde_json::from_slice::<Problem>(&bytes) {
                Ok(p) => Err(Error::Problem(p)),
                Err(_) => Err(Error::Unavailable(format!("status {status}"))),
            }
        }
    }

    /// Send to the replicas in turn (those marked down last), until one answers or moving on
    /// is no longer safe.
    async fn call<T: serde::de::DeserializeOwned>(
        &self,
        repeat: Repeat,
        build: impl Fn(&str) -> reqwest::RequestBuilder,
    ) -> Result<T, Error> {
        let n = self.replicas.len();
        let start = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let now = std::time::Instant::now();
        let mut order: Vec<&Replica> = (0..n).map(|k| &self.replicas[(start + k) % n]).collect();
        order.sort_by_key(|r| !r.is_up(now));
        let mut last = Error::Unavailable("no records replica answered".into());
        for replica in order {
            match with_request_id(build(&replica.base)).send().await {
                Ok(r) => {
                    replica.mark(false);
                    match Self::answer(r).await {
                        Err(Error::Unavailable(e)) if repeat == Repeat::Harmless => {
                            last = Error::Unavailable(e);
                        }
                        other => return other,
                    }
                }
                Err(e) => {
                    let never_sent = e.is_connect();
                    replica.mark(true);
                    tracing::warn!(replica = %replica.base, error = %without_url(&e), "records replica unreachable");
                    last = Error::Unavailable(without_url(&e));
                    if !never_sent && repeat == Repeat::OnlyIfNeverSent {
                        return Err(last);
                    }
                }
            }
        }
        Err(last)
    }

    async fn post<B: serde::Serialize, T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
        repeat: Repeat,
    ) -> Result<T, Error> {
        self.call(repeat, |base| {
            self.http.post(format!("{base}{path}")).json(body)
        })
        .await
    }

    async fn get<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<T, Error> {
        self.call(Repeat::Harmless, |base| {
            self.http.get(format!("{base}{path}"))
        })
        .await
    }

    /// A fresh challenge.
    ///
    /// # Errors
    /// As [`Error`].
    pub async fn challenge(&self) -> Result<ChallengeResponse, Error> {
        self.post(
            "/internal/v1/challenges",
            &serde_json::json!({}),
            Repeat::Harmless,
        )
        .await
    }

    /// Verify the evidence and preview the certificate.
    ///
    /// # Errors
    /// Records' refusal ([`Error::Problem`]) or [`Error::Unavailable`].
    pub async fn preview(&self, req: &InternalPreviewRequest) -> Result<PreviewResponse, Error> {
        self.post("/internal/v1/previews", req, Repeat::OnlyIfNeverSent)
            .await
    }

    /// Redeem a preview token.
    ///
    /// # Errors
    /// Records' refusal ([`Error::Problem`]) or [`Error::Unavailable`].
    pub async fn certificate(
        &self,
        req: &CertificateRequest,
    ) -> Result<CertificateResponse, Error> {
        self.post("/internal/v1/certificates", req, Repeat::Harmless)
            .await
    }

    /// The municipalities this gateway's channel may offer.
    ///
    /// # Errors
    /// As [`Error`].
    pub async fn municipalities(&self) -> Result<Vec<MunicipalityEntry>, Error> {
        self.get("/internal/v1/municipalities").await
    }

    /// The published JWKS.
    ///
    /// # Errors
    /// As [`Error`].
    pub async fn jwks(&self) -> Result<serde_json::Value, Error> {
        self.get("/internal/v1/jwks").await
    }

    /// The CRL of key `kid`.
    ///
    /// # Errors
    /// As [`Error`].
    pub async fn crl(&self, kid: &str) -> Result<serde_json::Value, Error> {
        if kid.is_empty()
            || !kid
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(Error::Problem(Problem::new(
                404,
                "not-found",
                "No such key.",
                "見つかりません。",
            )));
        }
        self.get(&format!("/internal/v1/crl/{kid}")).await
    }
}

/// The transport error's text (the URL is records' internal address, not a secret).
fn without_url(e: &reqwest::Error) -> String {
    e.to_string()
}
