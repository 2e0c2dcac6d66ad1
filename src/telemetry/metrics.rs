//! Metrics in Prometheus' text format, recorded with the `metrics` facade and rendered by
//! `metrics-exporter-prometheus`; each server role serves them on its own listener
//! (`http::metrics_server`), away from the public one.
//!
//! Every label value is a route template, a method, a status, a channel, a kind, a stable
//! problem code or a verdict: never a name, a MyNumber, a certificate id or an address. The
//! helpers below are the only places metrics are named, so that rule is checked here once.
//!
//! Until [`install`] runs (a role started with a metrics listener), recording is a no-op.

use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
type Sampler = Box<dyn Fn() + Send + Sync>;
static SAMPLERS: Mutex<Vec<Sampler>> = Mutex::new(Vec::new());

/// Latency buckets (seconds): a signature in an HSM at the bottom, a slow card read at the top.
const BUCKETS: &[f64] = &[
    0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Install the process-wide recorder (once; later calls reuse it). One role runs per process,
/// so one recorder serves that role's metrics listener. Should another recorder own the
/// process, metrics stay empty and a warning says why: a monitoring gap must not stop a role.
pub fn install() {
    if HANDLE.get().is_some() {
        return;
    }
    let built = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), BUCKETS)
        .and_then(PrometheusBuilder::install_recorder);
    match built {
        Ok(handle) => {
            let _ = HANDLE.set(handle);
        }
        Err(e) => tracing::warn!(error = %e, "metrics recorder not installed"),
    }
}

/// Run `sample` before every scrape (gauges read from a pool, say).
pub fn on_scrape(sample: impl Fn() + Send + Sync + 'static) {
    if let Ok(mut s) = SAMPLERS.lock() {
        s.push(Box::new(sample));
    }
}

/// The exposition text (empty before [`install`]).
pub fn render() -> String {
    let Some(h) = HANDLE.get() else {
        return String::new();
    };
    if let Ok(s) = SAMPLERS.lock() {
        for sample in s.iter() {
            sample();
        }
    }
    h.run_upkeep();
    h.render()
}

/// One answered HTTP request: `route` is the router's template (`/v1/certificates`,
/// `/.well-known/crl/{kid}`), never the concrete path.
pub fn http_request(route: &str, method: &str, status: u16, took: Duration) {
    let labels = [
        ("route", route.to_owned()),
        ("method", method.to_owned()),
        ("status", status.to_string()),
    ];
    metrics::counter!("vaxcert_http_requests_total", &labels).increment(1);
    metrics::histogram!("vaxcert_http_request_duration_seconds", "route" => route.to_owned())
        .record(took.as_secs_f64());
}

/// An input refused with a problem document, by its stable code.
pub fn refused(code: &str, status: u16) {
    metrics::counter!(
        "vaxcert_refusals_total",
        "code" => code.to_owned(),
        "status" => status.to_string()
    )
    .increment(1);
}

/// One issuance attempt: `outcome` is `issued` or the refusal's stable code.
pub fn issuance(channel: &str, kind: &str, outcome: &str) {
    metrics::counter!(
        "vaxcert_issuances_total",
        "channel" => channel.to_owned(),
        "kind" => kind.to_owned(),
        "outcome" => outcome.to_owned()
    )
    .increment(1);
}

/// One verifier verdict: `reason` is empty for a valid certificate, else the reason's code.
pub fn verdict(format: &str, verdict: &str, reason: &str) {
    metrics::counter!(
        "vaxcert_verifier_verdicts_total",
        "format" => format.to_owned(),
        "verdict" => verdict.to_owned(),
        "reason" => reason.to_owned()
    )
    .increment(1);
}

/// The database pool: connections in use and idle.
pub fn pool(in_use: u32, idle: u32) {
    metrics::gauge!("vaxcert_db_pool_connections", "state" => "in_use").set(f64::from(in_use));
    metrics::gauge!("vaxcert_db_pool_connections", "state" => "idle").set(f64::from(idle));
}

/// One signature by an issuing key: `backend` is `file` or `pkcs11`.
pub fn signing(backend: &'static str, took: Duration) {
    metrics::histogram!("vaxcert_signing_duration_seconds", "backend" => backend)
        .record(took.as_secs_f64());
}

/// Counter sessions open after a sweep.
pub fn counter_sessions(open: usize) {
    metrics::gauge!("vaxcert_counter_sessions").set(open as f64);
}
