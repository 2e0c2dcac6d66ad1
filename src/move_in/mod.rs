//! 転入照会 between municipalities: the new municipality's `move-in` staff ask a resident's
//! former municipality for their vaccination records, at the counter.
//!
//! ```text
//! counter ── Exchange::ask ──┬─ former municipality in this deployment:  Records::answer_move_in
//!                            └─ in another deployment: POST /internal/v1/move-in-queries (mTLS)
//!                                 └─ its server (this module's `server`) ── Records::answer_move_in
//! ```
//!
//! Within one deployment the query goes through the same authorised function as across two,
//! never a read of another municipality's tables. Between deployments, each presents its own
//! client certificate; the answering side pins the certificates it accepts and which
//! municipalities each may ask for. The 個人番号 travels only inside that TLS connection and
//! is never logged. Both sides audit the query (`move-in-query`, `move-in-provision`).
//!
//! A role of its own beside the counter (a front end): it holds no database handle but the
//! shared [`Records`], and no key but its TLS identity.

mod server;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

pub use server::Server;

use crate::domain::MunicipalityCode;
use crate::http::Problem;
use crate::records::{AtenaNo, MoveInOutcome, ProvidedDose, Records, StaffSession};

/// Why a query failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The record system refused (role, resident, or the former municipality's answer when it
    /// is in this deployment).
    #[error(transparent)]
    Records(#[from] crate::records::Error),
    /// The former municipality is neither in this deployment nor a configured peer's.
    #[error("no route to municipality {0}: not in this deployment and no peer serves it")]
    NoRoute(MunicipalityCode),
    /// The peer refused, with its problem code.
    #[error("the former municipality refused: {}", .0.code)]
    Refused(Problem),
    /// The peer could not be reached or answered nonsense.
    #[error("the former municipality's record system did not answer: {0}")]
    Unreachable(String),
    /// Configuration or TLS material is unusable.
    #[error("move-in settings: {0}")]
    Config(String),
}

impl Error {
    /// Stable code (a peer's refusal keeps its code when it is one of the exchange's own).
    pub fn code(&self) -> &'static str {
        match self {
            Error::Records(e) => e.code(),
            Error::NoRoute(_) => "move-in-no-route",
            Error::Refused(p) => [
                "move-in-no-match",
                "move-in-not-moved-out",
                "move-in-forbidden",
                "move-in-invalid",
                "municipality-unknown",
            ]
            .into_iter()
            .find(|c| *c == p.code)
            .unwrap_or("move-in-refused"),
            Error::Unreachable(_) => "move-in-unreachable",
            Error::Config(_) => "config",
        }
    }
}

/// The query as it travels between deployments.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WireQuery {
    /// Random, in both sides' audit logs.
    pub query_id: String,
    /// The asking (new) municipality.
    pub from: MunicipalityCode,
    /// The former municipality asked.
    pub to: MunicipalityCode,
    /// The resident's 個人番号, 12 digits (inside mTLS only; never logged).
    pub my_number: Zeroizing<String>,
    /// Who asked: `staff:CODE/LOGIN`.
    pub asked_by: String,
}

impl std::fmt::Debug for WireQuery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "WireQuery({} {} → {})",
            self.query_id, self.from, self.to
        )
    }
}

/// The answer: the one resident's doses.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WireAnswer {
    /// Echoes the query.
    pub query_id: String,
    /// The doses.
    pub doses: Vec<ProvidedDose>,
}

/// One other deployment: the municipalities it holds, where it answers, and the client
/// certificate it presents when it asks us.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeerSettings {
    /// A name for logs and audit entries, e.g. `fukuoka`.
    pub name: String,
    /// The municipalities it holds: we ask it about them, and it may ask as them.
    pub municipalities: Vec<MunicipalityCode>,
    /// Its move-in listener, `https://host:port`.
    pub url: String,
    /// The exact client certificate it presents (PEM).
    pub client_cert: PathBuf,
}

/// `move-in.toml`: this deployment's side of the exchange (README "転入照会").
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Answer other deployments here (mTLS); none: this deployment only asks.
    #[serde(default)]
    pub listen: Option<std::net::SocketAddr>,
    /// Our server certificate and key for `listen`.
    #[serde(default)]
    pub server_cert: Option<PathBuf>,
    /// Its key.
    #[serde(default)]
    pub server_key: Option<PathBuf>,
    /// The CA that issued the peers' client certificates.
    #[serde(default)]
    pub client_ca: Option<PathBuf>,
    /// Our client certificate, presented when we ask.
    pub client_cert: PathBuf,
    /// Its key.
    pub client_key: PathBuf,
    /// The CA that issued the peers' server certificates.
    pub server_ca: PathBuf,
    /// The other deployments.
    #[serde(default, rename = "peer")]
    pub peers: Vec<PeerSettings>,
}

impl Settings {
    /// Read `move-in.toml`; relative paths are taken from its folder.
    ///
    /// # Errors
    /// [`Error::Config`].
    pub fn load(path: &Path) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
        let mut s: Settings = toml::from_str(&text)
            .map_err(|e| Error::Config(format!("{}: {}", path.display(), e.message())))?;
        let base = path.parent().unwrap_or(Path::new("."));
        let at = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        for p in [&mut s.server_cert, &mut s.server_key, &mut s.client_ca]
            .into_iter()
            .flatten()
        {
            at(p);
        }
        at(&mut s.client_cert);
        at(&mut s.client_key);
        at(&mut s.server_ca);
        for peer in &mut s.peers {
            at(&mut peer.client_cert);
        }
        Ok(s)
    }

    /// Every file named, for the production dev-material check.
    pub fn files(&self) -> Vec<&Path> {
        let mut v: Vec<&Path> = vec![&self.client_cert, &self.client_key, &self.server_ca];
        v.extend(
            [&self.server_cert, &self.server_key, &self.client_ca]
                .into_iter()
                .flatten()
                .map(PathBuf::as_path),
        );
        v.extend(self.peers.iter().map(|p| p.client_cert.as_path()));
        v
    }
}

/// Asks former municipalities: in-process when this deployment holds them, else over mTLS.
#[derive(Debug, Clone)]
pub struct Exchange {
    records: Arc<Records>,
    peers: Vec<PeerSettings>,
    http: Option<reqwest::Client>,
}

impl Exchange {
    /// An exchange for one deployment alone (no peers).
    pub fn local(records: Arc<Records>) -> Self {
        Exchange {
            records,
            peers: Vec::new(),
            http: None,
        }
    }

    /// An exchange that also asks the peers in `settings`, as our client certificate.
    ///
    /// # Errors
    /// [`Error::Config`] for unusable TLS material.
    pub fn with_peers(records: Arc<Records>, settings: &Settings) -> Result<Self, Error> {
        let tls = crate::http::tls::ClientTls {
            server_ca: settings.server_ca.clone(),
            cert: Some(settings.client_cert.clone()),
            key: Some(settings.client_key.clone()),
        }
        .config()
        .map_err(|e| Error::Config(e.to_string()))?;
        let http = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .timeout(std::time::Duration::from_secs(20))
            .build()
            .map_err(|e| Error::Config(e.to_string()))?;
        Ok(Exchange {
            records,
            peers: settings.peers.clone(),
            http: Some(http),
        })
    }

    /// Ask `former` for the records of the session's resident `atena`, and store what it
    /// provides. Both sides audit the query, whatever the outcome.
    ///
    /// # Errors
    /// [`Error`]: the role or resident refused here, the former municipality's refusal (its
    /// code), no route, or no answer.
    pub async fn ask(
        &self,
        s: &StaffSession,
        atena: &AtenaNo,
        former: &MunicipalityCode,
    ) -> Result<MoveInOutcome, Error> {
        let query_id = {
            let mut b = [0u8; 12];
            rand::RngExt::fill(&mut rand::rng(), &mut b[..]);
            hex::encode(b)
        };
        let my_number = match self.records.move_in_subject(s, atena).await {
            Ok(n) => n,
            Err(e) => {
                self.records
                    .move_in_refused(s, atena, former, &query_id, e.code())
                    .await?;
                return Err(e.into());
            }
        };
        let asked_by = s.actor().to_owned();
        let answer = if self.records.holds(former).await? {
            self.records
                .answer_move_in(former, s.municipality(), &query_id, &my_number, &asked_by)
                .await
                .map_err(Error::from)
        } else {
            let q = WireQuery {
                query_id: query_id.clone(),
                from: s.municipality().clone(),
                to: former.clone(),
                my_number: Zeroizing::new(
                    String::from_utf8_lossy(my_number.expose_digits()).into_owned(),
                ),
                asked_by,
            };
            self.ask_peer(&q).await
        };
        match answer {
            Ok(doses) => Ok(self
                .records
                .store_moved_in(s, atena, former, &query_id, &doses)
                .await?),
            Err(e) => {
                self.records
                    .move_in_refused(s, atena, former, &query_id, e.code())
                    .await?;
                Err(e)
            }
        }
    }

    async fn ask_peer(&self, q: &WireQuery) -> Result<Vec<ProvidedDose>, Error> {
        let (Some(http), Some(peer)) = (
            &self.http,
            self.peers.iter().find(|p| p.municipalities.contains(&q.to)),
        ) else {
            return Err(Error::NoRoute(q.to.clone()));
        };
        let url = format!(
            "{}/internal/v1/move-in-queries",
            peer.url.trim_end_matches('/')
        );
        let r = http
            .post(&url)
            .json(q)
            .send()
            .await
            .map_err(|e| Error::Unreachable(format!("{}: {e}", peer.name)))?;
        if r.status().is_success() {
            let a: WireAnswer = r
                .json()
                .await
                .map_err(|e| Error::Unreachable(format!("{}: {e}", peer.name)))?;
            if a.query_id != q.query_id {
                return Err(Error::Unreachable(format!(
                    "{}: the answer is for another query",
                    peer.name
                )));
            }
            Ok(a.doses)
        } else {
            let status = r.status().as_u16();
            match r.json::<Problem>().await {
                Ok(p) => Err(Error::Refused(p)),
                Err(_) => Err(Error::Unreachable(format!(
                    "{}: HTTP {status} without a problem document",
                    peer.name
                ))),
            }
        }
    }
}
