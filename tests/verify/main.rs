//! Verifier tests (`vaxcert verify`, `vaxcert trust`, `POST /v1/verify`, the `/verify` page),
//! driven through the CLI and HTTP against the real vectors in `../shared/vectors`.
#![allow(unreachable_pub)] // helpers are shared between this binary's modules only

mod browser;
mod helpers;
mod http;
mod images;
mod library;
mod malformed;
mod trust_cli;
mod vectors;
