//! Counter UI tests at the HTTP level: the router driven request by request with a cookie
//! jar, on a fresh SQLite record system with the demo data and a fixed clock.
#![allow(unreachable_pub)] // helpers are shared between this binary's modules only

#[path = "../common/artefacts.rs"]
mod artefacts;
mod browser;
mod csrf;
mod flow;
mod foreign;
mod helpers;
mod isolation;
mod move_in;
mod retention;
mod session;
mod staff;
mod stats;
#[path = "../common/totp.rs"]
mod totp;
