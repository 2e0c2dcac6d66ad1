//! Per-client rate limits: a token bucket per remote address, in memory (nothing is written),
//! answering `429 rate-limited` with `Retry-After` when a client's bucket is empty.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;

use axum::extract::{ConnectInfo, State};
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use governor::{DefaultKeyedRateLimiter, Quota};

use crate::http::Problem;
use crate::http::tls::Peer;

/// How many client addresses are remembered before idle ones are forgotten.
const MAX_CLIENTS: usize = 100_000;

/// A GCRA limit per client address (`governor`): `rate` per second, bursts of `2 × rate`.
#[derive(Debug, Clone)]
pub struct RateLimit {
    limiter: Arc<DefaultKeyedRateLimiter<IpAddr>>,
}

impl RateLimit {
    /// `per_sec` requests per second per client (at least 1).
    pub fn new(per_sec: u32) -> Self {
        let rate = NonZeroU32::new(per_sec.max(1)).unwrap_or(NonZeroU32::MIN);
        let burst = rate.saturating_mul(NonZeroU32::new(2).unwrap_or(NonZeroU32::MIN));
        RateLimit {
            limiter: Arc::new(DefaultKeyedRateLimiter::keyed(
                Quota::per_second(rate).allow_burst(burst),
            )),
        }
    }

    /// Take one request's worth for `ip`; `false` when its budget is spent.
    pub fn allow(&self, ip: IpAddr) -> bool {
        if self.limiter.len() > MAX_CLIENTS {
            // Forget clients whose budget is full again rather than grow without bound.
            self.limiter.retain_recent();
        }
        self.limiter.check_key(&ip).is_ok()
    }
}

pub(super) async fn limit(
    State(limit): State<RateLimit>,
    ConnectInfo(peer): ConnectInfo<Peer>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if limit.allow(peer.addr.ip()) {
        return next.run(req).await;
    }
    let mut r = Problem::new(
        429,
        "rate-limited",
        "Too many requests. Please wait a moment.",
        "リクエストが多すぎます。しばらくお待ちください。",
    )
    .into_response();
    r.headers_mut()
        .insert("retry-after", HeaderValue::from_static("1"));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_empties_per_client() {
        let l = RateLimit::new(2);
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let other: IpAddr = "192.0.2.2".parse().unwrap();
        for _ in 0..4 {
            assert!(l.allow(ip));
        }
        assert!(!l.allow(ip));
        assert!(l.allow(other), "buckets are per client");
    }
}
