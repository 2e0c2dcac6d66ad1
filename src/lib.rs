//! vaxcert: issues and verifies signed vaccination certificates from MyNumber card evidence.
//!
//! The crate follows `DESIGN.md`: one binary, a subcommand per role, and libraries under them.
//!
//! ```text
//! cli/       the command line: composes the rooms; nothing imports it
//! app/ center/ kiosk/ counter/   roles (front ends): no database, no keys
//! move_in/   転入照会 between municipalities (in-process, or mTLS between deployments)
//! card_sim/ load/ demo           DEV ONLY tools; dev/ holds every dev-only item (certs/dev)
//! issuance/  the issuance service: the only holder of a pki::Signer; uses records for data
//! records/   storage only (SQLite, PostgreSQL): never signs, renders no HTML
//! verify/    role and library: offline verdicts (SHC, VDS-NC, EU DCC) from a trust store
//! protocol/  the wire contract between roles, and the gateways' records client
//! formats/   certificate formats, value → bytes: shc, vdsnc, qr, mrz, pdf/
//! pki/       the Signer trait, file keys, JWK, X.509
//! card/      TEXT AP over PC/SC, MyNumber, evidence parsing and checks; no DB or keys
//! http/      one Server (bind + serve), TLS, problem documents; no domain logic
//! domain catalogue date clock exit   leaves
//! ```
//!
//! Dependencies point down: roles use libraries, never each other.

pub mod app;
pub mod card;
pub mod card_sim;
pub mod catalogue;
pub mod center;
pub mod cli;
pub mod clock;
pub mod config;
pub mod counter;
pub mod date;
pub mod demo;
pub mod dev;
pub mod domain;
pub mod exit;
pub mod formats;
#[doc(hidden)]
pub mod fuzzing;
pub mod http;
pub mod issuance;
pub mod kiosk;
pub mod load;
pub mod move_in;
pub mod pki;
pub mod protocol;
pub mod records;
pub mod telemetry;
pub mod verify;
