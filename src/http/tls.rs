//! TLS for our listeners and clients (rustls on `ring`, NOTES): PEM loading, server configs with
//! client certificates (mTLS, optionally pinned to exact certificates), an axum [`Listener`]
//! that finishes handshakes off the accept loop and hands each connection's client certificate
//! to the handlers as [`Peer`], and client configs for the gateways' calls to records.
//!
//! A client without an acceptable certificate is refused during the handshake: no request of
//! it ever reaches a handler.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use rustls::client::danger::HandshakeSignatureValid;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, RootCertStore, SignatureScheme};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

/// Why TLS material could not be loaded or assembled.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A PEM file is missing or holds no certificate/key.
    #[error("{path}: {reason}")]
    Pem {
        /// The file.
        path: String,
        /// What was wrong.
        reason: String,
    },
    /// rustls refused the configuration.
    #[error("TLS configuration: {0}")]
    Config(String),
    /// Binding the listener failed.
    #[error("cannot listen on {addr}: {reason}")]
    Bind {
        /// The address.
        addr: String,
        /// The OS error.
        reason: String,
    },
}

impl TlsError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            TlsError::Pem { .. } => "tls-pem",
            TlsError::Config(_) => "tls-config",
            TlsError::Bind { .. } => "listen-failed",
        }
    }
}

fn pem_err(path: &Path, e: impl std::fmt::Display) -> TlsError {
    TlsError::Pem {
        path: path.display().to_string(),
        reason: e.to_string(),
    }
}

/// Every certificate in a PEM file, leaf first.
///
/// # Errors
/// [`TlsError::Pem`] when the file is unreadable or holds none.
pub fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| pem_err(path, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_err(path, e))?;
    if certs.is_empty() {
        return Err(pem_err(path, "no certificate"));
    }
    Ok(certs)
}

/// A private key from a PEM file (PKCS#8 or SEC1).
///
/// # Errors
/// [`TlsError::Pem`].
pub fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| pem_err(path, e))
}

/// A certificate revocation list from a PEM or DER file.
///
/// # Errors
/// [`TlsError::Pem`] when the file is unreadable or holds none.
pub fn load_crl(
    path: &Path,
) -> Result<rustls::pki_types::CertificateRevocationListDer<'static>, TlsError> {
    use rustls::pki_types::CertificateRevocationListDer;
    let bytes = std::fs::read(path).map_err(|e| pem_err(path, e))?;
    if bytes.starts_with(b"-----") {
        CertificateRevocationListDer::from_pem_slice(&bytes).map_err(|e| pem_err(path, e))
    } else if bytes.first() == Some(&0x30) {
        Ok(CertificateRevocationListDer::from(bytes))
    } else {
        Err(pem_err(path, "not a CRL (PEM or DER)"))
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn roots(ca: &Path) -> Result<RootCertStore, TlsError> {
    let mut store = RootCertStore::empty();
    for c in load_certs(ca)? {
        store
            .add(c)
            .map_err(|e| TlsError::Config(format!("{}: {e}", ca.display())))?;
    }
    Ok(store)
}

/// Who may connect to a server.
#[derive(Debug, Clone)]
pub enum ClientAuth {
    /// Anyone (the public app gateway).
    None,
    /// A client certificate issued by this CA (the kiosks → center).
    Ca(std::path::PathBuf),
    /// As [`ClientAuth::Ca`], and not revoked by any of these CRLs (PEM or DER) of that CA:
    /// a lost or stolen kiosk is cut off at the handshake.
    CaRevoking {
        /// The issuing CA.
        ca: std::path::PathBuf,
        /// Its certificate revocation lists.
        crls: Vec<std::path::PathBuf>,
    },
    /// A client certificate issued by this CA *and* byte-equal to one of these (the gateways →
    /// records).
    Pinned {
        /// The issuing CA.
        ca: std::path::PathBuf,
        /// The exact certificates accepted.
        certs: Vec<std::path::PathBuf>,
    },
}

/// A server's TLS identity and who may connect.
#[derive(Debug, Clone)]
pub struct ServerTls {
    /// Certificate chain (PEM).
    pub cert: std::path::PathBuf,
    /// Private key (PEM).
    pub key: std::path::PathBuf,
    /// Client authentication.
    pub client_auth: ClientAuth,
}

impl ServerTls {
    /// The rustls server configuration.
    ///
    /// # Errors
    /// [`TlsError`].
    pub fn config(&self) -> Result<rustls::ServerConfig, TlsError> {
        let builder = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Config(e.to_string()))?;
        let verifier: Option<Arc<dyn ClientCertVerifier>> = match &self.client_auth {
            ClientAuth::None => None,
            ClientAuth::Ca(ca) => Some(
                WebPkiClientVerifier::builder_with_provider(Arc::new(roots(ca)?), provider())
                    .build()
                    .map_err(|e| TlsError::Config(e.to_string()))?,
            ),
            ClientAuth::CaRevoking { ca, crls } => {
                let mut lists = Vec::new();
                for path in crls {
                    lists.push(load_crl(path)?);
                }
                Some(
                    WebPkiClientVerifier::builder_with_provider(Arc::new(roots(ca)?), provider())
                        .with_crls(lists)
                        .build()
                        .map_err(|e| TlsError::Config(e.to_string()))?,
                )
            }
            ClientAuth::Pinned { ca, certs } => {
                let inner =
                    WebPkiClientVerifier::builder_with_provider(Arc::new(roots(ca)?), provider())
                        .build()
                        .map_err(|e| TlsError::Config(e.to_string()))?;
                let mut pinned = Vec::new();
                for p in certs {
                    pinned.push(load_certs(p)?.remove(0));
                }
                Some(Arc::new(PinnedVerifier { inner, pinned }))
            }
        };
        let builder = match verifier {
            Some(v) => builder.with_client_cert_verifier(v),
            None => builder.with_no_client_auth(),
        };
        let mut cfg = builder
            .with_single_cert(load_certs(&self.cert)?, load_key(&self.key)?)
            .map_err(|e| TlsError::Config(e.to_string()))?;
        cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(cfg)
    }
}

/// A WebPKI client verifier that additionally accepts only the pinned leaf certificates.
#[derive(Debug)]
struct PinnedVerifier {
    inner: Arc<dyn ClientCertVerifier>,
    pinned: Vec<CertificateDer<'static>>,
}

impl ClientCertVerifier for PinnedVerifier {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let ok = self
            .inner
            .verify_client_cert(end_entity, intermediates, now)?;
        if self
            .pinned
            .iter()
            .any(|p| p.as_ref() == end_entity.as_ref())
        {
            Ok(ok)
        } else {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// A client's TLS identity and the CA it trusts for servers.
#[derive(Debug, Clone)]
pub struct ClientTls {
    /// The server CA (PEM).
    pub server_ca: std::path::PathBuf,
    /// Our client certificate (PEM), if the server asks for one.
    pub cert: Option<std::path::PathBuf>,
    /// Its key.
    pub key: Option<std::path::PathBuf>,
}

impl ClientTls {
    /// The rustls client configuration.
    ///
    /// # Errors
    /// [`TlsError`].
    pub fn config(&self) -> Result<rustls::ClientConfig, TlsError> {
        let b = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Config(e.to_string()))?
            .with_root_certificates(roots(&self.server_ca)?);
        match (&self.cert, &self.key) {
            (Some(c), Some(k)) => b
                .with_client_auth_cert(load_certs(c)?, load_key(k)?)
                .map_err(|e| TlsError::Config(e.to_string())),
            _ => Ok(b.with_no_client_auth()),
        }
    }
}

/// What a handler knows about the connection: the peer address and, over mTLS, the client's
/// leaf certificate (DER).
#[derive(Debug, Clone)]
pub struct Peer {
    /// The remote address.
    pub addr: SocketAddr,
    /// The client certificate, when one was presented and accepted.
    pub cert: Option<Arc<Vec<u8>>>,
}

impl Peer {
    /// The client certificate's subject CN (the kiosk's terminal id).
    pub fn common_name(&self) -> Option<String> {
        use der::Decode;
        let cert = x509_cert::Certificate::from_der(self.cert.as_ref()?).ok()?;
        // RFC 4514 text, most specific first: `CN=kiosk-01,O=vaxcert DEV,C=JP`.
        let subject = cert.tbs_certificate().subject().to_string();
        subject
            .split(',')
            .find_map(|rdn| rdn.trim().strip_prefix("CN="))
            .filter(|cn| !cn.is_empty())
            .map(str::to_owned)
    }
}

impl Connected<IncomingStream<'_, TlsListener>> for Peer {
    fn connect_info(stream: IncomingStream<'_, TlsListener>) -> Self {
        stream.remote_addr().clone()
    }
}

impl Connected<IncomingStream<'_, TcpListener>> for Peer {
    fn connect_info(stream: IncomingStream<'_, TcpListener>) -> Self {
        Peer {
            addr: *stream.remote_addr(),
            cert: None,
        }
    }
}

/// A TCP listener whose connections arrive TLS-established. Handshakes run in their own tasks,
/// so a slow or refused client never holds up the others; refused handshakes are logged at
/// debug level and dropped.
#[derive(Debug)]
pub struct TlsListener {
    local: SocketAddr,
    rx: tokio::sync::mpsc::Receiver<(TlsStream<TcpStream>, Peer)>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TlsListener {
    /// Bind `addr` (port 0 allowed) and start accepting.
    ///
    /// # Errors
    /// [`TlsError::Bind`].
    pub async fn bind(addr: SocketAddr, config: rustls::ServerConfig) -> Result<Self, TlsError> {
        let tcp = TcpListener::bind(addr).await.map_err(|e| TlsError::Bind {
            addr: addr.to_string(),
            reason: e.to_string(),
        })?;
        let local = tcp.local_addr().map_err(|e| TlsError::Bind {
            addr: addr.to_string(),
            reason: e.to_string(),
        })?;
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let handshakes = Arc::new(tokio::sync::Semaphore::new(
            super::listener::limits().max_handshakes.max(1),
        ));
        let (tx, rx) = tokio::sync::mpsc::channel(256);
        let task = tokio::spawn(async move {
            loop {
                let (sock, addr) = match tcp.accept().await {
                    Ok(x) => x,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = sock.set_nodelay(true);
                let Ok(handshake) = handshakes.clone().try_acquire_owned() else {
                    tracing::debug!(%addr, "too many TLS handshakes in flight; dropped");
                    continue;
                };
                let acceptor = acceptor.clone();
                let tx = tx.clone();
                tokio::spawn(async move {
                    let _handshake = handshake;
                    let hs = tokio::time::timeout(
                        std::time::Duration::from_secs(10),
                        acceptor.accept(sock),
                    )
                    .await;
                    match hs {
                        Ok(Ok(stream)) => {
                            let cert = stream
                                .get_ref()
                                .1
                                .peer_certificates()
                                .and_then(|c| c.first())
                                .map(|c| Arc::new(c.as_ref().to_vec()));
                            let _ = tx.send((stream, Peer { addr, cert })).await;
                        }
                        Ok(Err(e)) => tracing::debug!(%addr, error = %e, "TLS handshake refused"),
                        Err(_) => tracing::debug!(%addr, "TLS handshake timed out"),
                    }
                });
            }
        });
        Ok(TlsListener { local, rx, task })
    }
}

impl Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = Peer;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.rx.recv().await {
            Some(x) => x,
            // The accept task only ends when aborted; then nothing will ever arrive.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(Peer {
            addr: self.local,
            cert: None,
        })
    }
}

/// A bound listener, TLS-established or plain TCP (loopback and tests), that every role serves
/// its router on with [`Peer`] as the connection info and a graceful shutdown.
#[derive(Debug)]
pub enum Bound {
    /// Connections arrive TLS-established.
    Tls(TlsListener),
    /// Plain TCP.
    Plain(TcpListener),
}

impl Bound {
    /// Serve `router` until `shutdown` completes.
    ///
    /// # Errors
    /// I/O errors of the server loop.
    pub async fn serve(
        self,
        router: axum::Router,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        match self {
            Bound::Tls(l) => super::listener::serve(l, router, shutdown, |p| p).await,
            Bound::Plain(l) => {
                super::listener::serve(l, router, shutdown, |addr| Peer { addr, cert: None }).await
            }
        }
    }
}
