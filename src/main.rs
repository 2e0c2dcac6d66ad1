//! `vaxcert`: parse the command line, run one role, report failures with a stable code.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = vaxcert::cli::Cli::parse();
    vaxcert::telemetry::init("warn", cli.log_format);
    vaxcert::exit::status(vaxcert::cli::run(cli))
}
