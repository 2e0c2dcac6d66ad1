//! The issuance channels end to end: records' internal API, the app gateway and the center,
//! with virtual cards read through the real pcscd + vpcd stack.

mod app;
#[path = "../common/artefacts.rs"]
mod artefacts;
#[path = "../common/counter.rs"]
mod counter;
mod helpers;
mod no_persistence;
mod refusals;
#[path = "../common/totp.rs"]
mod totp;
