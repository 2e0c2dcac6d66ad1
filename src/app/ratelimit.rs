//! Per-client rate limits: a token bucket per remote address, in memory (nothing is written),
//! answering `429 rate-limited` with `Retry-After` when a client's bucket is empty.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use axum::extract::{ConnectInfo, State};
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use tokio::time::Instant;

use crate::http::Problem;
use crate::http::tls::Peer;

/// Token buckets keyed by client address: `rate` per second, bursts of `2 × rate`.
#[derive(Debug, Clone)]
pub struct RateLimit {
    rate: f64,
    burst: f64,
    buckets: Arc<Mutex<HashMap<IpAddr, (f64, Instant)>>>,
}

impl RateLimit {
    /// `per_sec` requests per second per client (at least 1).
    pub fn new(per_sec: u32) -> Self {
        let rate = f64::from(per_sec.max(1));
        RateLimit {
            rate,
            burst: rate * 2.0,
            buckets: Arc::default(),
        }
    }

    /// Take one token for `ip`; `false` when the bucket is empty.
    pub fn allow(&self, ip: IpAddr) -> bool {
        let now = Instant::now();
        let Ok(mut b) = self.buckets.lock() else {
            return true;
        };
        if b.len() > 100_000 {
            // Forget idle clients rather than grow without bound.
            let burst = self.burst;
            let rate = self.rate;
            b.retain(|_, (tokens, at)| {
                *tokens + now.duration_since(*at).as_secs_f64() * rate < burst
            });
        }
        let (tokens, at) = b.entry(ip).or_insert((self.burst, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * self.rate).min(self.burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
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
