//! vaxcert: issues and verifies signed vaccination certificates from MyNumber card evidence.
//!
//! The crate follows `DESIGN.md`: one binary, a subcommand per role, and libraries under them.
//!
//! ```text
//! card/      TEXT AP over PC/SC, MyNumber, evidence parsing and checks; no DB, HTTP or keys
//! card_sim/  role: the virtual card on vpcd; dev and tests only; nothing depends on it
//! pki/       key material; pki::dev holds every dev-only item
//! records/   role: the record system, the only part that stores anything (SQLite, PostgreSQL)
//! domain     MunicipalityCode, BirthDate, Channel, Kind
//! formats/   certificate formats, value → bytes: pdf/ (the signed PDF certificate)
//! clock      the only source of time
//! verify/    role and library: offline verdicts (SHC, VDS-NC, EU DCC) from a trust store
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
pub mod counter;
pub mod date;
pub mod demo;
pub mod dev;
pub mod domain;
pub mod exit;
pub mod formats;
pub mod http;
pub mod issuance;
pub mod kiosk;
pub mod load;
pub mod pki;
pub mod protocol;
pub mod records;
pub mod telemetry;
pub mod verify;
