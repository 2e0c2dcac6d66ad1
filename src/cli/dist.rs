//! `vaxcert dist`: what the Debian package ships beside the binary, generated from the clap
//! definitions so it never drifts from `--help`: one man page per command and subcommand
//! (`clap_mangen`) and shell completions (`clap_complete`). `./vx package` runs it.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{CommandFactory, Subcommand};

/// `vaxcert dist …` (hidden: packaging only).
#[derive(Debug, Subcommand)]
pub enum DistCommand {
    /// Write `vaxcert.1` and `vaxcert-<command>[-<sub>].1` into DIR.
    Man {
        /// Output folder (made if missing).
        dir: PathBuf,
    },
    /// Write completions for bash (`vaxcert`), zsh (`_vaxcert`) and fish (`vaxcert.fish`)
    /// into DIR.
    Completions {
        /// Output folder (made if missing).
        dir: PathBuf,
    },
}

/// Run `vaxcert dist …`.
///
/// # Errors
/// The folder cannot be written.
pub fn run(cmd: DistCommand) -> Result<()> {
    match cmd {
        DistCommand::Man { dir } => {
            std::fs::create_dir_all(&dir).with_context(|| format!("{}", dir.display()))?;
            clap_mangen::generate_to(super::Cli::command(), &dir)
                .with_context(|| format!("{}", dir.display()))?;
            println!("man pages in {}", dir.display());
        }
        DistCommand::Completions { dir } => {
            use clap_complete::Shell;
            std::fs::create_dir_all(&dir).with_context(|| format!("{}", dir.display()))?;
            for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
                let mut cmd = super::Cli::command();
                let path = clap_complete::generate_to(shell, &mut cmd, "vaxcert", &dir)
                    .with_context(|| format!("{}", dir.display()))?;
                println!("{}", path.display());
            }
        }
    }
    Ok(())
}
