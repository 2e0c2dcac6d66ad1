//! `vaxcert`: parse the command line, run one role, report failures with a stable code.

use clap::Parser;

fn main() -> std::process::ExitCode {
    vaxcert::telemetry::init("warn");
    let cli = vaxcert::cli::Cli::parse();
    match vaxcert::cli::run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
