//! The kiosk agent's client to the issuance center: HTTPS with the kiosk's client certificate
//! (mTLS), trusting only the server CA. The center knows the kiosk by that certificate.

use std::path::Path;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde::de::DeserializeOwned;

use super::Error;
use crate::http::Problem;
use crate::protocol::{
    CertificateRequest, CertificateResponse, ChallengeResponse, MunicipalityEntry, PreviewRequest,
    PreviewResponse,
};

/// Talks to `vaxcert center serve` for one kiosk.
#[derive(Debug, Clone)]
pub struct CenterClient {
    http: reqwest::Client,
    base: String,
}

impl CenterClient {
    /// A client for the center at `base` (`https://host:port`), presenting `cert` + `key` and
    /// trusting only `ca` for the center's own certificate.
    ///
    /// # Errors
    /// [`Error::Tls`] when a PEM file is missing or unusable.
    pub fn new(base: &str, ca: &Path, cert: &Path, key: &Path) -> Result<Self, Error> {
        let tls =
            |what: &Path, e: &dyn std::fmt::Display| Error::Tls(format!("{}: {e}", what.display()));
        let mut roots = rustls::RootCertStore::empty();
        for c in CertificateDer::pem_file_iter(ca).map_err(|e| tls(ca, &e))? {
            roots
                .add(c.map_err(|e| tls(ca, &e))?)
                .map_err(|e| tls(ca, &e))?;
        }
        let chain = CertificateDer::pem_file_iter(cert)
            .map_err(|e| tls(cert, &e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| tls(cert, &e))?;
        let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| tls(key, &e))?;
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| tls(cert, &e))?
            .with_root_certificates(roots)
            .with_client_auth_cert(chain, key_der)
            .map_err(|e| tls(key, &e))?;
        let http = reqwest::Client::builder()
            .use_preconfigured_tls(config)
            .timeout(std::time::Duration::from_secs(20))
            .build()
            .map_err(|e| Error::Tls(e.to_string()))?;
        Ok(CenterClient {
            http,
            base: base.trim_end_matches('/').to_owned(),
        })
    }

    /// `GET /v1/kiosk/municipalities`.
    ///
    /// # Errors
    /// [`Error::Center`] or [`Error::CenterRefused`].
    pub async fn municipalities(&self) -> Result<Vec<MunicipalityEntry>, Error> {
        let r = crate::protocol::client::with_request_id(
            self.http
                .get(format!("{}/v1/kiosk/municipalities", self.base)),
        )
        .send()
        .await;
        answer(r).await
    }

    /// `POST /v1/kiosk/challenges`.
    ///
    /// # Errors
    /// [`Error::Center`] or [`Error::CenterRefused`].
    pub async fn challenge(&self) -> Result<ChallengeResponse, Error> {
        let r = crate::protocol::client::with_request_id(
            self.http.post(format!("{}/v1/kiosk/challenges", self.base)),
        )
        .send()
        .await;
        answer(r).await
    }

    /// `POST /v1/kiosk/previews`.
    ///
    /// # Errors
    /// [`Error::Center`] or [`Error::CenterRefused`].
    pub async fn preview(&self, req: &PreviewRequest) -> Result<PreviewResponse, Error> {
        let r = crate::protocol::client::with_request_id(
            self.http.post(format!("{}/v1/kiosk/previews", self.base)),
        )
        .json(req)
        .send()
        .await;
        answer(r).await
    }

    /// `POST /v1/kiosk/certificates`.
    ///
    /// # Errors
    /// [`Error::Center`] or [`Error::CenterRefused`].
    pub async fn certificate(&self, token: &str) -> Result<CertificateResponse, Error> {
        let r = crate::protocol::client::with_request_id(
            self.http
                .post(format!("{}/v1/kiosk/certificates", self.base)),
        )
        .json(&CertificateRequest {
            preview_token: token.to_owned(),
            // The center names this kiosk from its client certificate.
            terminal_id: None,
        })
        .send()
        .await;
        answer(r).await
    }
}

async fn answer<T: DeserializeOwned>(
    r: Result<reqwest::Response, reqwest::Error>,
) -> Result<T, Error> {
    // Without the URL: it is ours, and the error chain is enough to diagnose.
    let r = r.map_err(|e| Error::Center(e.without_url().to_string()))?;
    let status = r.status();
    if status.is_success() {
        return r
            .json::<T>()
            .await
            .map_err(|e| Error::Center(e.without_url().to_string()));
    }
    match r.json::<Problem>().await {
        Ok(p) => Err(Error::CenterRefused(Box::new(p))),
        Err(_) => Err(Error::Center(format!("HTTP {}", status.as_u16()))),
    }
}
