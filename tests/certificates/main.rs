//! Certificates (issue 4): SHC, VDS-NC, QR, JWKS/CRL and `vaxcert issue`, checked with
//! independent decoders: rqrr for pixels, RustCrypto p256 for signatures (the issuer signs with
//! ring), Python's zlib for raw DEFLATE, and OpenSSL over a Python-canonicalised VDS-NC.
#![allow(unreachable_pub)] // helpers are shared between this binary's modules only

mod helpers;
mod issue_cli;
mod jcs;
mod publication;
mod shc;
