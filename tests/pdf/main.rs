//! PDF certificate tests through the public API and independent tools: poppler's `pdftoppm`,
//! `pdftotext` and `pdfsig`, OpenSSL's `cms -verify`, and the `rqrr` QR decoder.
#![allow(unreachable_pub)] // helpers are shared between this binary's modules only

mod helpers;
mod qr_roundtrip;
mod rules;
mod samples;
mod signature;
mod text;
