//! The request id: one per request a role receives, taken from `X-Request-Id` when a caller
//! (a gateway, a proxy) sends a well-formed one, else made fresh; logged on the request's span,
//! answered in `X-Request-Id`, and sent on by the gateways' clients so one issuance can be
//! followed across app → records or kiosk → center → records.

use std::fmt;

/// The header that carries it.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// A request id: 1–64 characters of `[A-Za-z0-9._-]`, so a hostile caller cannot forge log
/// lines or smuggle data through it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(String);

impl RequestId {
    /// A fresh random id (16 hex digits).
    pub fn fresh() -> Self {
        use rand::RngExt;
        let mut b = [0u8; 8];
        rand::rng().fill(&mut b[..]);
        RequestId(hex::encode(b))
    }

    /// A caller's id, if well-formed.
    pub fn parse(s: &str) -> Option<Self> {
        let ok = !s.is_empty()
            && s.len() <= 64
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        ok.then(|| RequestId(s.to_owned()))
    }

    /// A caller's id when well-formed, else a fresh one.
    pub fn from_header(value: Option<&str>) -> Self {
        value.and_then(Self::parse).unwrap_or_else(Self::fresh)
    }

    /// The id's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

tokio::task_local! {
    static CURRENT: RequestId;
}

/// Run `fut` with `id` as the current request id (what [`current_request_id`] answers inside).
pub async fn scope_request_id<F: Future>(id: RequestId, fut: F) -> F::Output {
    CURRENT.scope(id, fut).await
}

/// The id of the request being served, for the clients that call the next role.
pub fn current_request_id() -> Option<RequestId> {
    CURRENT.try_with(Clone::clone).ok()
}
