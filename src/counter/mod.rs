//! The counter UI (DESIGN §7): server-rendered HTML for municipal staff on an internal
//! listener. Login by municipality + ID + password + TOTP (the record system's staff
//! functions), search by 宛名番号, 券番号 or name + birth date, the record view, passport data
//! by pasting the MRZ (TD3, every check digit validated), a preview of what the certificate
//! will say, issuance and printing.
//!
//! ```text
//! router(State)   axum routes; every page and form goes through `session::Sessions`
//!   ├ session     in-memory sessions: random IDs, CSRF tokens, 15-minute idle timeout
//!   ├ pages       handlers + minijinja templates from `templates/counter/`
//!   ├ move_in     the 転入照会 form on the record page (the `move-in` role)
//!   ├ retention   the admin's retention page (what is due; delete it, audited)
//!   └ staff       the admin's staff pages (add, disable, role, TOTP reset, unlock, review)
//! ```
//!
//! Cookies are HttpOnly and SameSite=Strict, and Secure when [`Settings::secure_cookies`]
//! says the listener is behind TLS. Every form carries a CSRF token. Every page that shows
//! resident data writes an audit entry (search and view through [`Records::search`] and
//! [`Records::view`], the preview on its own).
//!
//! A role of its own (a front end), mounted by `records serve`. May import: `issuance` (to
//! issue), `records` (search, view, audit, login), `formats::mrz`, `http`, `domain`, `clock`.
//! It holds no key and no database handle of its own.

mod error;
mod move_in;
mod pages;
mod retention;
mod session;
mod staff;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};

pub use error::Error;
pub(crate) use pages::parse_forms;

use crate::clock::Clock;
use crate::http::tls::ServerTls;
use crate::issuance::IssuanceService;
use crate::records::Records;

/// How long a session may stay idle before staff must log in again.
pub const IDLE_TIMEOUT_SECS: i64 = 15 * 60;

/// Counter settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Mark cookies `Secure` (set when the listener is served over TLS).
    pub secure_cookies: bool,
    /// Idle timeout in seconds (DESIGN §7: 15 minutes).
    pub idle_timeout_secs: i64,
    /// How often idle sessions are swept away (with the passport data and PDFs they hold),
    /// whether or not anyone touches them again.
    pub sweep_every: std::time::Duration,
    /// Proxies whose `X-Forwarded-For` names the client for the login slow-down (a TLS
    /// terminator in front of the counter); from anyone else the header is ignored.
    pub trusted_proxies: Vec<std::net::IpAddr>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            secure_cookies: true,
            idle_timeout_secs: IDLE_TIMEOUT_SECS,
            sweep_every: std::time::Duration::from_secs(60),
            trusted_proxies: Vec::new(),
        }
    }
}

/// What the counter routes share: the issuance service and its record system, the clock
/// (injected in tests for the idle timeout) and the live sessions.
#[derive(Clone, Debug)]
pub struct State {
    service: Arc<IssuanceService>,
    records: Arc<Records>,
    clock: Arc<dyn Clock>,
    settings: Settings,
    sessions: Arc<session::Sessions>,
    /// 転入照会: within this deployment, and to the peers it is given.
    move_in: Arc<crate::move_in::Exchange>,
    /// The retention policy the admins' page shows and applies, when configured.
    retention: Option<Arc<crate::records::Policy>>,
}

impl State {
    /// A counter issuing through `service` (whose record system it searches), taking time
    /// from `clock`.
    pub fn new(service: Arc<IssuanceService>, clock: Arc<dyn Clock>, settings: Settings) -> Self {
        State {
            records: service.records().clone(),
            move_in: Arc::new(crate::move_in::Exchange::local(service.records().clone())),
            retention: None,
            service,
            clock,
            settings,
            sessions: Arc::new(session::Sessions::default()),
        }
    }

    /// Show and apply this retention policy on the admins' page.
    pub fn with_retention(mut self, policy: crate::records::Policy) -> Self {
        self.retention = Some(Arc::new(policy));
        self
    }

    /// Ask other deployments too (`records serve --move-in-config`).
    pub fn with_move_in(mut self, exchange: crate::move_in::Exchange) -> Self {
        self.move_in = Arc::new(exchange);
        self
    }

    /// Sessions open now (idle ones count until the next sweep).
    pub fn live_sessions(&self) -> usize {
        self.sessions.len()
    }

    /// Sweep idle sessions every `sweep_every` for as long as the counter runs.
    fn spawn_sweeper(&self) {
        let sessions = Arc::downgrade(&self.sessions);
        let (clock, idle, every) = (
            self.clock.clone(),
            self.settings.idle_timeout_secs,
            self.settings.sweep_every,
        );
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(s) = sessions.upgrade() else { return };
                let left = s.sweep(clock.now(), idle);
                crate::telemetry::metrics::counter_sessions(left);
            }
        });
    }
}

/// The counter's routes. [`Server`] serves them with `into_make_service_with_connect_info::<Peer>()`
/// (the peer address feeds the login slow-down).
pub fn router(state: State) -> Router {
    Router::new()
        .route("/", get(pages::root))
        .route("/login", get(pages::login_form).post(pages::login))
        .route("/logout", post(pages::logout))
        .route("/search", get(pages::search_form).post(pages::search))
        .route("/residents/{atena}", get(pages::resident))
        .route("/residents/{atena}/passport", post(pages::passport))
        .route("/residents/{atena}/preview", post(pages::preview))
        .route("/residents/{atena}/issue", post(pages::issue))
        .route("/residents/{atena}/move-in", post(move_in::ask))
        .route("/certificates/{id}", get(pages::issued))
        .route("/certificates/{id}/pdf", get(pages::issued_pdf))
        .route("/certificates/{id}/revoke", post(pages::revoke))
        .route("/certificates/{id}/reprint", post(pages::reprint))
        .route("/review", get(pages::review))
        .route("/audit", get(pages::audit_log))
        .route("/audit.csv", get(pages::audit_csv))
        .route("/review/revoke", post(pages::revoke_stale))
        .route("/retention", get(retention::show))
        .route("/retention/apply", post(retention::apply))
        .route("/stats", get(pages::stats))
        .route("/stats.csv", get(pages::stats_csv))
        .route("/staff", get(staff::list).post(staff::add))
        .route("/staff/review", post(staff::confirm_review))
        .route("/staff/{login}/{action}", post(staff::act))
        .route("/assets/counter.css", get(pages::css))
        .route("/assets/print.js", get(pages::print_js))
        .layer(axum::middleware::map_response(pages::security_headers))
        .with_state(state)
}

/// The counter's own internal listener: HTTPS in `records serve` (so the session cookie can be
/// `Secure`), plain HTTP for tests on loopback. [`Server::build`] returns the shared
/// [`crate::http::Server`].
#[derive(Debug)]
pub struct Server;

impl Server {
    /// Bind `addr` (port 0 allowed) now, so the address is known before serving; with `tls`,
    /// connections arrive TLS-established (no client certificate: staff log in).
    ///
    /// # Errors
    /// [`Error::Bind`].
    pub async fn build(
        addr: SocketAddr,
        state: State,
        tls: Option<&ServerTls>,
    ) -> Result<crate::http::Server, Error> {
        let ready = crate::issuance::api::records_ready(state.records.clone());
        state.spawn_sweeper();
        crate::http::Server::bind(addr, tls, router(state).merge(crate::http::health(ready)))
            .await
            .map_err(|e| Error::Bind(e.to_string()))
    }
}
