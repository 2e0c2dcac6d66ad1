//! Printing the certificate: through CUPS (`lp`, PDF on standard input so no file is left on
//! the kiosk), or into a directory for tests and the demo.
//!
//! CUPS keeps job files and history unless told not to: the kiosk's `cupsd.conf` must say
//! `PreserveJobFiles No` and `PreserveJobHistory No` (README, kiosk section).

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use super::Error;

/// Where certificates go.
#[derive(Debug, Clone)]
pub enum Printer {
    /// `lp [-d DEST] -`.
    Lp {
        /// CUPS destination; the default printer when absent.
        destination: Option<String>,
    },
    /// Write `CERT_ID.pdf` into this directory (tests, demo).
    Dir(PathBuf),
}

impl Printer {
    /// Print `pdf`, named after `certificate_id` where a name is needed.
    ///
    /// # Errors
    /// [`Error::Print`] when `lp` fails or the file cannot be written.
    pub fn print(&self, certificate_id: &str, pdf: &[u8]) -> Result<(), Error> {
        match self {
            Printer::Dir(dir) => {
                // The id comes from the center; never let it choose a path.
                if certificate_id.is_empty()
                    || !certificate_id
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == ':')
                {
                    return Err(Error::Print("unexpected certificate id".into()));
                }
                let name = certificate_id.replace(':', "_");
                std::fs::write(dir.join(format!("{name}.pdf")), pdf)
                    .map_err(|e| Error::Print(format!("{}: {e}", dir.display())))
            }
            Printer::Lp { destination } => {
                let mut cmd = Command::new("lp");
                if let Some(d) = destination {
                    cmd.arg("-d").arg(d);
                }
                cmd.args(["-t", "vaccination certificate", "-"])
                    .stdin(Stdio::piped())
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped());
                let mut child = cmd.spawn().map_err(|e| Error::Print(format!("lp: {e}")))?;
                child
                    .stdin
                    .take()
                    .ok_or_else(|| Error::Print("lp: no stdin".into()))?
                    .write_all(pdf)
                    .map_err(|e| Error::Print(format!("lp: {e}")))?;
                let out = child
                    .wait_with_output()
                    .map_err(|e| Error::Print(format!("lp: {e}")))?;
                if out.status.success() {
                    Ok(())
                } else {
                    Err(Error::Print(format!(
                        "lp: {}",
                        String::from_utf8_lossy(&out.stderr).trim()
                    )))
                }
            }
        }
    }
}
