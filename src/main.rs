//! `vaxcert`: parse the command line, run one role, report failures with a stable code.

use clap::Parser;

fn main() -> std::process::ExitCode {
    vaxcert::telemetry::init("warn");
    let cli = vaxcert::cli::Cli::parse();
    vaxcert::exit::status(vaxcert::cli::run(cli))
}
