//! Card tests: evidence verification (no I/O), the TEXT AP conversation against the virtual
#![allow(unreachable_pub)] // helpers are shared between this binary's modules only
//! card's applet (exact APDU bytes), and the real stack: pcscd + vpcd + `vaxcert card-sim`.

mod cli;
mod evidence;
mod helpers;
mod pcsc;
mod text_ap;
