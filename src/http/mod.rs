//! HTTP plumbing shared by every role: problem documents, TLS listeners and clients (mTLS with
//! the peer's certificate visible to handlers); nothing domain-specific.
//!
//! May import nothing of vaxcert's domain: each module maps its own errors to a [`Problem`]
//! once (`card::Error::to_problem`, `records::Error::to_problem`, `issuance::Error::to_problem`).

mod client;
mod json;
pub mod listener;
mod problem;
mod response;
mod server;
pub mod tls;

pub use client::{client_ip, rate_key};
pub use json::JsonBody;
pub use problem::Problem;
pub use response::{announce, shutdown_signal, trace_id, trace_request};
pub use server::{ReadyCheck, Server, health, no_store, openapi, serve_metrics};
