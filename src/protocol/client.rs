//! `protocol::client::Client`: how the two gateways call the records internal API over mTLS, with
//! their own pinned client certificate. Records' problem documents come back unchanged as
//! [`Error::Problem`]; a transport failure is [`Error::Unavailable`]. The gateways hold this
//! client and nothing else of records: no database, no keys.

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

/// An mTLS client of the records internal API. Cheap to clone (a connection pool inside).
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
}

impl Client {
    /// A client of `base_url` (e.g. `https://127.0.0.1:8443`) with this TLS identity.
    ///
    /// # Errors
    /// [`Error::Tls`], [`Error::Unavailable`] if the HTTP client cannot be built.
    pub fn new(base_url: &str, tls: &ClientTls) -> Result<Self, Error> {
        let http = reqwest::Client::builder()
            .use_preconfigured_tls(tls.config()?)
            .timeout(std::time::Duration::from_secs(30))
            .pool_max_idle_per_host(64)
            .build()
            .map_err(|e| Error::Unavailable(e.to_string()))?;
        Ok(Client {
            http,
            base: base_url.trim_end_matches('/').to_owned(),
        })
    }

    async fn answer<T: serde::de::DeserializeOwned>(
        r: Result<reqwest::Response, reqwest::Error>,
    ) -> Result<T, Error> {
        let r = r.map_err(|e| Error::Unavailable(without_url(&e)))?;
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

    async fn post<B: serde::Serialize, T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, Error> {
        let req = self.http.post(format!("{}{path}", self.base)).json(body);
        Self::answer(with_request_id(req).send().await).await
    }

    async fn get<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<T, Error> {
        let req = self.http.get(format!("{}{path}", self.base));
        Self::answer(with_request_id(req).send().await).await
    }

    /// A fresh challenge.
    ///
    /// # Errors
    /// As [`Error`].
    pub async fn challenge(&self) -> Result<ChallengeResponse, Error> {
        self.post("/internal/v1/challenges", &serde_json::json!({}))
            .await
    }

    /// Verify the evidence and preview the certificate.
    ///
    /// # Errors
    /// Records' refusal ([`Error::Problem`]) or [`Error::Unavailable`].
    pub async fn preview(&self, req: &InternalPreviewRequest) -> Result<PreviewResponse, Error> {
        self.post("/internal/v1/previews", req).await
    }

    /// Redeem a preview token.
    ///
    /// # Errors
    /// Records' refusal ([`Error::Problem`]) or [`Error::Unavailable`].
    pub async fn certificate(
        &self,
        req: &CertificateRequest,
    ) -> Result<CertificateResponse, Error> {
        self.post("/internal/v1/certificates", req).await
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
