//! The kiosk agent through its public interfaces: the `vaxcert kiosk` process, its local HTTP
//! API, real pcscd with the virtual card, and headless Chromium for the end-to-end flow.

mod agent;
#[path = "../common/artefacts.rs"]
mod artefacts;
mod cups;
mod demo;
mod e2e;
mod edges;
mod helpers;
