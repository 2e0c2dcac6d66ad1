//! The answering side between deployments: `POST /internal/v1/move-in-queries` on its own
//! mTLS listener. Only the peers' pinned client certificates connect, and each may ask only as
//! the municipalities the settings give it; the answer comes from
//! [`Records::answer_move_in`], which audits the provision.

use std::sync::Arc;

use axum::Router;
use axum::extract::{ConnectInfo, State};
use axum::response::Json;
use axum::routing::post;

use super::{Error, PeerSettings, Settings, WireAnswer, WireQuery};
use crate::card::MyNumber;
use crate::domain::MunicipalityCode;
use crate::http::Problem;
use crate::http::tls::{ClientAuth, Peer, ServerTls, load_certs};
use crate::records::Records;

#[derive(Clone)]
struct AppState {
    records: Arc<Records>,
    /// Each peer's exact client certificate (DER), its name and who it may ask as.
    peers: Arc<Vec<KnownPeer>>,
}

/// A peer's exact client certificate (DER), its name, and the municipalities it may ask as.
type KnownPeer = (Vec<u8>, String, Vec<MunicipalityCode>);

/// The move-in listener of `records serve --move-in-config`.
#[derive(Debug)]
pub struct Server;

impl Server {
    /// Bind the listener the settings name.
    ///
    /// # Errors
    /// [`Error::Config`] when `listen`, the server certificate or the client CA is missing, or
    /// TLS material is unusable.
    pub async fn build(
        records: Arc<Records>,
        settings: &Settings,
    ) -> Result<crate::http::Server, Error> {
        let missing = |what: &str| Error::Config(format!("{what} is required to answer queries"));
        let listen = settings.listen.ok_or_else(|| missing("listen"))?;
        let tls = ServerTls {
            cert: settings
                .server_cert
                .clone()
                .ok_or_else(|| missing("server_cert"))?,
            key: settings
                .server_key
                .clone()
                .ok_or_else(|| missing("server_key"))?,
            client_auth: ClientAuth::Pinned {
                ca: settings
                    .client_ca
                    .clone()
                    .ok_or_else(|| missing("client_ca"))?,
                certs: settings
                    .peers
                    .iter()
                    .map(|p| p.client_cert.clone())
                    .collect(),
            },
        };
        let peers = settings
            .peers
            .iter()
            .map(|p: &PeerSettings| {
                let der = load_certs(&p.client_cert)
                    .map_err(|e| Error::Config(e.to_string()))?
                    .into_iter()
                    .next()
                    .ok_or_else(|| {
                        Error::Config(format!("{}: no certificate", p.client_cert.display()))
                    })?;
                Ok((der.to_vec(), p.name.clone(), p.municipalities.clone()))
            })
            .collect::<Result<Vec<_>, Error>>()?;
        let state = AppState {
            records,
            peers: Arc::new(peers),
        };
        let router = Router::new()
            .route("/internal/v1/move-in-queries", post(answer))
            .with_state(state);
        crate::http::Server::bind(listen, Some(&tls), router)
            .await
            .map_err(|e| Error::Config(e.to_string()))
    }
}

fn refused(status: u16, code: &str, en: &str, ja: &str) -> Problem {
    Problem::new(status, code, en, ja)
}

async fn answer(
    State(s): State<AppState>,
    ConnectInfo(peer): ConnectInfo<Peer>,
    crate::http::JsonBody(q): crate::http::JsonBody<WireQuery>,
) -> Result<Json<WireAnswer>, Problem> {
    let Some((_, name, may)) = s
        .peers
        .iter()
        .find(|(der, ..)| peer.cert.as_deref() == Some(der))
    else {
        return Err(refused(
            403,
            "move-in-forbidden",
            "This client may not ask.",
            "この接続元からは照会できません。",
        ));
    };
    if !may.contains(&q.from) {
        return Err(refused(
            403,
            "move-in-forbidden",
            "This peer may not ask for that municipality.",
            "この接続元はその市区町村として照会できません。",
        ));
    }
    let Ok(my_number) = MyNumber::parse(q.my_number.as_bytes()) else {
        return Err(refused(
            422,
            "move-in-invalid",
            "The 個人番号 is not valid.",
            "個人番号が正しくありません。",
        ));
    };
    let asked_by = format!("peer:{name}/{}", q.asked_by);
    match s
        .records
        .answer_move_in(&q.to, &q.from, &q.query_id, &my_number, &asked_by)
        .await
    {
        Ok(doses) => Ok(Json(WireAnswer {
            query_id: q.query_id,
            doses,
        })),
        Err(e) => Err(match e.code() {
            "move-in-no-match" => refused(
                404,
                e.code(),
                "No resident of the former municipality has this 個人番号.",
                "転出元に該当する住民がいません。",
            ),
            "move-in-not-moved-out" => refused(
                409,
                e.code(),
                "The resident has not moved out of the former municipality.",
                "転出元で転出の記録がありません。",
            ),
            "municipality-unknown" => refused(
                404,
                e.code(),
                "This deployment does not hold that municipality.",
                "照会先の市区町村はここにありません。",
            ),
            _ => {
                let trace = crate::http::trace_id();
                tracing::error!(trace_id = %trace, error = %e, "move-in answer failed");
                Problem::internal(&trace)
            }
        }),
    }
}
