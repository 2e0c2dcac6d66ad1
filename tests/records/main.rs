//! Record system tests. Every test runs twice: on SQLite and on the real PostgreSQL cluster that
#![allow(unreachable_pub)] // helpers are shared between this binary's modules only
//! `./vx test` starts (VAXCERT_TEST_POSTGRES_URL); nothing is skipped.

#[macro_use]
mod helpers;
mod at_rest;
mod audit;
mod cli;
mod foreign;
mod import;
mod lookup;
mod move_in;
mod retention;
mod review;
mod staff;
mod stats;
