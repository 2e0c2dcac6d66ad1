//! How every command line reports a failure: a [`Coded`] error carries a stable code, and
//! [`status`] turns any error into the process's exit status. A leaf module, so every role's
//! CLI can use it without importing the top-level command line (and it them).

use std::process::ExitCode;

/// A failure the CLI reports with a stable code and exit status 1.
#[derive(Debug, thiserror::Error)]
#[error("{message} [{code}]")]
pub struct Coded {
    /// Stable code.
    pub code: &'static str,
    /// Human message.
    pub message: String,
}

impl Coded {
    /// A coded failure from any displayable cause.
    pub fn new(code: &'static str, message: impl std::fmt::Display) -> Self {
        Coded {
            code,
            message: message.to_string(),
        }
    }
}

impl From<crate::card::Error> for Coded {
    fn from(e: crate::card::Error) -> Self {
        Coded::new(e.code(), e)
    }
}

/// Print the failure on stderr (with its cause chain) and pick the exit status: 1 for every
/// failure; success is 0.
pub fn status(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
