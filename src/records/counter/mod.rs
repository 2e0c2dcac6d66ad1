//! The counter UI (DESIGN §7): server-rendered HTML for municipal staff on an internal
//! listener. Login by municipality + ID + password + TOTP (the record system's staff
//! functions), search by 宛名番号, 券番号 or name + birth date, the record view, passport data
//! by pasting the MRZ (TD3, every check digit validated), a preview of what the certificate
//! will say, issuance and printing.
//!
//! ```text
//! router(State)   axum routes; every page and form goes through `session::Sessions`
//!   ├ session     in-memory sessions: random IDs, CSRF tokens, 15-minute idle timeout
//!   └ pages       handlers + minijinja templates from `templates/counter/`
//! ```
//!
//! Cookies are HttpOnly and SameSite=Strict, and Secure when [`Settings::secure_cookies`]
//! says the listener is behind TLS. Every form carries a CSRF token. Every page that shows
//! resident data writes an audit entry (search and view through [`Records::search`] and
//! [`Records::view`], the preview on its own).

mod error;
mod pages;
mod session;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};

pub use error::Error;

use super::Records;
use crate::clock::Clock;

/// How long a session may stay idle before staff must log in again.
pub const IDLE_TIMEOUT_SECS: i64 = 15 * 60;

/// Counter settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Mark cookies `Secure` (set when the listener is served over TLS).
    pub secure_cookies: bool,
    /// Idle timeout in seconds (DESIGN §7: 15 minutes).
    pub idle_timeout_secs: i64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            secure_cookies: true,
            idle_timeout_secs: IDLE_TIMEOUT_SECS,
        }
    }
}

/// What the counter routes share: the record system, the clock (injected in tests for the
/// idle timeout) and the live sessions.
#[derive(Clone, Debug)]
pub struct State {
    records: Arc<Records>,
    clock: Arc<dyn Clock>,
    settings: Settings,
    sessions: Arc<session::Sessions>,
}

impl State {
    /// A counter over `records`, taking time from `clock`.
    pub fn new(records: Arc<Records>, clock: Arc<dyn Clock>, settings: Settings) -> Self {
        State {
            records,
            clock,
            settings,
            sessions: Arc::new(session::Sessions::default()),
        }
    }
}

/// The counter's routes. `records serve` binds the counter listener and serves this router
/// with `into_make_service_with_connect_info::<SocketAddr>()` (the peer address feeds the
/// login slow-down).
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
        .route("/assets/counter.css", get(pages::css))
        .layer(axum::middleware::map_response(pages::security_headers))
        .with_state(state)
}

/// A standalone counter listener, for tests and local runs (`records serve` mounts
/// [`router`] on its own listener in production).
#[derive(Debug)]
pub struct Server {
    listener: tokio::net::TcpListener,
    app: Router,
}

impl Server {
    /// Bind `addr` (port 0 allowed) now, so the address is known before serving.
    ///
    /// # Errors
    /// [`Error::Bind`].
    pub async fn build(addr: SocketAddr, state: State) -> Result<Self, Error> {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| Error::Bind(e.to_string()))?;
        Ok(Server {
            listener,
            app: router(state),
        })
    }

    /// The bound address.
    ///
    /// # Errors
    /// [`Error::Bind`].
    pub fn local_addr(&self) -> Result<SocketAddr, Error> {
        self.listener
            .local_addr()
            .map_err(|e| Error::Bind(e.to_string()))
    }

    /// Serve until the process stops.
    ///
    /// # Errors
    /// [`Error::Bind`] when the listener fails.
    pub async fn run_until_stopped(self) -> Result<(), Error> {
        axum::serve(
            self.listener,
            self.app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .map_err(|e| Error::Bind(e.to_string()))
    }
}
