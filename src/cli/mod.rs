//! The command line: one subcommand per role, plus the dev tools. `main.rs` only dispatches.
//! The top of the import graph: it composes the rooms, and nothing imports it.
//!
//! ```text
//! cli
//!   ├ records   `records …`: storage commands, `serve` (issuance + API + counter), `revoke`
//!   ├ dist      `dist …`: man pages and completions for the package
//!   └ issue     `issue`: DEV ONLY, a certificate for a persona with the dev keys
//! ```

pub mod dist;
pub mod issue;
pub mod records;

use std::io::{BufRead, IsTerminal};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use clap::{Parser, Subcommand};
use zeroize::Zeroizing;

use crate::card::challenge::{Binding, ChallengeKey, Challenges, InMemoryUsedChallenges};
use crate::card::reader::{self, Reader};
use crate::card::{self, CardEvidence, CardFiles, Pin, TrustSet};
use crate::clock::{Clock, SystemClock};
use crate::domain::{Channel, Kind, MunicipalityCode};
use crate::exit::Coded;

/// vaxcert: signed vaccination certificates from MyNumber card evidence.
#[derive(Debug, Parser)]
#[command(name = "vaxcert", version, about)]
pub struct Cli {
    /// Log lines as text, or one JSON object per line (with the request id) for log shippers.
    #[arg(long, global = true, value_enum, default_value_t = crate::telemetry::LogFormat::Text)]
    pub log_format: crate::telemetry::LogFormat,
    /// Every listener of a server role: connections served at once.
    #[arg(long, global = true, default_value_t = 1024)]
    pub max_connections: usize,
    /// Every TLS listener: handshakes in flight (past it, new connections are dropped).
    #[arg(long, global = true, default_value_t = 128)]
    pub max_handshakes: usize,
    /// Every listener: seconds to send a request head (also the keep-alive idle time).
    #[arg(long, global = true, default_value_t = 10)]
    pub header_timeout: u64,
    /// Every listener: seconds a connection may make no progress at all.
    #[arg(long, global = true, default_value_t = 60)]
    pub idle_timeout: u64,
    /// What to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Read or verify a MyNumber card's TEXT AP.
    #[command(subcommand)]
    Card(CardCommand),
    /// Run a virtual MyNumber card in pcscd's vpcd reader (dev and tests only).
    CardSim {
        /// Persona TOML file (see certs/dev/personas/).
        #[arg(long)]
        persona: PathBuf,
        /// vpcd reader slot: 0 ("Virtual PCD 00 00") or 1 ("Virtual PCD 00 01").
        #[arg(long, default_value_t = 0)]
        slot: u8,
        /// Pull the card out after answering this many APDUs (to test interrupted reads).
        #[arg(long)]
        remove_after: Option<usize>,
        /// Pull the card out when standard input closes, so a parent that dies (a test, the
        /// demo) never leaves a card in the reader.
        #[arg(long)]
        until_stdin_closes: bool,
    },
    /// Key ceremonies.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Issue a certificate for a persona with demo vaccination data and the dev keys (DEV ONLY).
    Issue(issue::IssueArgs),
    /// Verify certificates (SHC, VDS-NC, EU DCC; text, files or QR images) offline.
    Verify(crate::verify::cli::VerifyArgs),
    /// Manage the verifier's trust store (certs/trust/).
    #[command(subcommand)]
    Trust(crate::verify::cli::TrustCommand),
    /// The record system: municipalities, CSV imports, staff, audit log.
    Records(records::RecordsArgs),
    /// The public app gateway.
    #[command(subcommand)]
    App(crate::app::cli::AppCommand),
    /// The kiosk issuance center.
    #[command(subcommand)]
    Center(crate::center::cli::CenterCommand),
    /// Load tools (DEV ONLY): `bench issue` drives the app gateway.
    #[command(subcommand)]
    Bench(crate::load::BenchCommand),
    /// The kiosk terminal agent: touch-screen UI on localhost, card reader, center over mTLS.
    Kiosk(crate::kiosk::cli::KioskArgs),
    /// Configuration files.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// The demo: the whole system on localhost with a virtual card; issues one sample
    /// certificate through the kiosk and prints the URLs.
    Demo(crate::demo::DemoArgs),
    /// Man pages and shell completions for the Debian package (`./vx package`).
    #[command(subcommand, hide = true)]
    Dist(dist::DistCommand),
}

/// `vaxcert card …`
#[derive(Debug, Subcommand)]
pub enum CardCommand {
    /// List the PC/SC readers.
    Readers,
    /// Read the card (PIN from the terminal, --pin-fd, or stdin) and verify all five steps.
    Read {
        /// Reader name (default: the first reader).
        #[arg(long)]
        reader: Option<String>,
        /// Read the PIN from this file descriptor instead of the terminal.
        #[arg(long)]
        pin_fd: Option<u32>,
        /// Trusted J-LIS CA keys: 5000033 (production), 6000033 (JPKI test cards), dev.
        #[arg(long, default_value = "5000033")]
        trust: String,
        /// Municipality bound into the card's signature.
        #[arg(long, default_value = "131016")]
        municipality: MunicipalityCode,
        /// Certificate kind bound into the card's signature.
        #[arg(long, value_enum, default_value_t = Kind::Domestic)]
        kind: Kind,
        /// Seconds to wait for a card.
        #[arg(long, default_value_t = 10)]
        wait: u64,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Verify saved TEXT AP files (text-0001*.bin … text-0007.bin): steps 1–4.
    Verify {
        /// Folder holding the files.
        #[arg(long)]
        dir: PathBuf,
        /// Trusted J-LIS CA keys: 5000033 (production), 6000033 (JPKI test cards), dev.
        #[arg(long, default_value = "5000033")]
        trust: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// `vaxcert config …`
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print what a configuration file resolves to (secrets masked), or why it is refused.
    Check {
        /// A configuration file of any role (records, app, center, kiosk) or of the key ceremony.
        file: PathBuf,
    },
}

/// `vaxcert keys …`
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// The production key ceremony: signing keys made in the HSM, the JWKS, CSRs (and a
    /// self-signed root/CSCA when the file asks), and the symmetric secrets (0600).
    Init {
        /// The ceremony's configuration (see README "Running in production").
        #[arg(long)]
        config: PathBuf,
    },
    /// A new SHC issuer key in the HSM: it signs from the next start of records serve; the
    /// JWKS publishes old and new.
    Rotate {
        /// The ceremony's configuration.
        #[arg(long)]
        config: PathBuf,
    },
    /// Make the dev keys under certs/dev/ (only those missing, unless --force). DEV ONLY.
    Dev {
        /// Remake every dev key.
        #[arg(long)]
        force: bool,
    },
}

/// Run a parsed command line.
///
/// # Errors
/// Whatever the command failed with.
pub fn run(cli: Cli) -> Result<()> {
    crate::http::listener::set_limits(crate::http::listener::Limits {
        max_connections: cli.max_connections,
        max_handshakes: cli.max_handshakes,
        header_read: Duration::from_secs(cli.header_timeout.max(1)),
        idle: Duration::from_secs(cli.idle_timeout.max(1)),
    });
    match cli.command {
        Command::Card(CardCommand::Readers) => {
            let list = reader::readers().map_err(Coded::from)?;
            if list.is_empty() {
                println!("no readers");
            }
            for r in list {
                println!("{r}");
            }
            Ok(())
        }
        Command::Card(CardCommand::Read {
            reader,
            pin_fd,
            trust,
            municipality,
            kind,
            wait,
            json,
        }) => {
            let trust = crate::dev::trust_set(&trust)?;
            let pin = read_pin(pin_fd)?;
            let binding = Binding {
                channel: Channel::App,
                terminal_id: "cli".into(),
                municipality,
                kind,
            };
            read_and_print(reader.as_deref(), &pin, &binding, &trust, wait, json).map(|_| ())
        }
        Command::Card(CardCommand::Verify { dir, trust, json }) => {
            let trust = crate::dev::trust_set(&trust)?;
            let files = load_dir(&dir)?;
            let data = card::verify_card_files(&files, &trust).map_err(Coded::from)?;
            if json {
                let mut v = serde_json::to_value(data.summary())?;
                v["steps_checked"] = serde_json::json!([1, 2, 3, 4]);
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                println!(
                    "Card files verified (steps 1–4 of DESIGN §3) under J-LIS CA key set {trust}."
                );
                println!(
                    "Step 5 (challenge signature) skipped: saved files carry no live signature."
                );
                println!("{}", data.summary());
            }
            Ok(())
        }
        Command::CardSim {
            persona,
            slot,
            remove_after,
            until_stdin_closes,
        } => {
            let rt = runtime()?;
            let r = rt.block_on(async {
                let card = crate::card_sim::run(&persona, slot, remove_after);
                if until_stdin_closes {
                    tokio::select! {
                        r = card => r?,
                        () = stdin_closed() => eprintln!("card-sim: stdin closed, card pulled out"),
                    }
                } else {
                    card.await?;
                }
                Ok(())
            });
            // The stdin reader is a blocking thread; do not wait for it.
            rt.shutdown_background();
            r
        }
        Command::Keys(KeysCommand::Init { config }) => ceremony(&config, false),
        Command::Keys(KeysCommand::Rotate { config }) => ceremony(&config, true),
        Command::Config(ConfigCommand::Check { file }) => config_check(&file),
        Command::Keys(KeysCommand::Dev { force }) => {
            crate::dev::ceremony::make(force, &mut std::io::stdout())?;
            Ok(())
        }
        Command::Issue(args) => issue::run(&args),
        Command::Demo(args) => crate::demo::run(&args),
        Command::Dist(cmd) => dist::run(cmd),
        Command::Verify(args) => crate::verify::cli::run_verify(args),
        Command::Trust(cmd) => crate::verify::cli::run_trust(cmd),
        Command::Records(args) => records::run(args),
        Command::App(c) => crate::app::cli::run(c),
        Command::Center(c) => crate::center::cli::run(c),
        Command::Bench(c) => crate::load::run(c),
        Command::Kiosk(args) => crate::kiosk::cli::run(args),
    }
}

async fn stdin_closed() {
    use tokio::io::AsyncReadExt;
    let mut stdin = tokio::io::stdin();
    let mut buf = [0u8; 64];
    while matches!(stdin.read(&mut buf).await, Ok(n) if n > 0) {}
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

/// Read the card, verify the five steps against a local challenge, and print the identity.
fn read_and_print(
    reader_name: Option<&str>,
    pin: &Pin,
    binding: &Binding,
    trust: &TrustSet,
    wait: u64,
    json: bool,
) -> Result<card::VerifiedIdentity> {
    let clock = SystemClock;
    let challenges = Challenges::new(ChallengeKey::random(), 120);
    let challenge = challenges.issue(clock.now());
    let reader = Reader::open(reader_name).map_err(Coded::from)?;
    let (files, signature) = reader
        .read_and_sign(pin, &binding.digest(&challenge), Duration::from_secs(wait))
        .map_err(Coded::from)?;
    let evidence = CardEvidence {
        files,
        challenge,
        challenge_signature: signature,
    };
    let used = InMemoryUsedChallenges::default();
    let identity = runtime()?
        .block_on(card::verify_evidence(
            &evidence,
            binding,
            trust,
            &challenges,
            &used,
            clock.now(),
        ))
        .map_err(Coded::from)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&identity.summary())?);
    } else {
        println!(
            "Card read from {:?} and verified (all 5 steps of DESIGN §3).",
            reader.name()
        );
        println!("{}", identity.summary());
    }
    Ok(identity)
}

/// The PIN from `--pin-fd`, else the terminal without echo, else a line on stdin. Never an
/// argument: arguments show in `ps`.
fn read_pin(fd: Option<u32>) -> Result<Pin> {
    let typed: Zeroizing<String> = Zeroizing::new(match fd {
        Some(fd) => {
            let f = std::fs::File::open(format!("/dev/fd/{fd}"))
                .with_context(|| format!("cannot read the PIN from file descriptor {fd}"))?;
            let mut line = String::new();
            std::io::BufReader::new(f).read_line(&mut line)?;
            line
        }
        None if std::io::stdin().is_terminal() => {
            rpassword::prompt_password("暗証番号 (4 digits) / PIN: ")?
        }
        None => {
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line)?;
            line
        }
    });
    Ok(Pin::parse(&typed).map_err(Coded::from)?)
}

/// Load `text-0001*.bin`, `text-0002.bin`, `text-0003.bin`, `text-0004.bin`, `text-0007.bin`.
fn load_dir(dir: &Path) -> Result<CardFiles> {
    let find = |prefix: &str| -> Result<Vec<u8>> {
        let mut names: Vec<PathBuf> = std::fs::read_dir(dir)
            .with_context(|| format!("cannot read folder {}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.file_name().is_some_and(|n| {
                    let n = n.to_string_lossy();
                    n.starts_with(prefix) && n.ends_with(".bin")
                })
            })
            .collect();
        names.sort();
        let path = names
            .first()
            .ok_or_else(|| anyhow!("no {prefix}*.bin in {}", dir.display()))?;
        std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
    };
    Ok(CardFiles {
        ef0001: find("text-0001")?,
        ef0002: find("text-0002")?,
        ef0003: find("text-0003")?,
        ef0004: find("text-0004")?,
        ef0007: find("text-0007")?,
    })
}

/// `keys init` / `keys rotate`.
fn ceremony(path: &Path, rotate: bool) -> Result<()> {
    let c: crate::config::KeysConfig =
        crate::config::load(path).map_err(|e| Coded::new(e.code(), e))?;
    let step = if rotate {
        crate::issuance::ceremony::rotate(&c)
    } else {
        crate::issuance::ceremony::init(&c)
    }
    .map_err(|e| Coded::new(e.code(), e))?;
    println!(
        "{} keys in token {:?}; wrote:",
        if rotate {
            "rotated the SHC issuer"
        } else {
            "made the signing"
        },
        c.hsm.token
    );
    for p in step.0 {
        println!("  {}", p.display());
    }
    Ok(())
}

/// `config check FILE`: which role's file it is, and what it resolves to.
fn config_check(path: &Path) -> Result<()> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let table: toml::Table = toml::from_str(&text)
        .map_err(|e| Coded::new("config", format!("{}: {e}", path.display())))?;
    let role = if table.contains_key("out") {
        "keys ceremony"
    } else if table.contains_key("signing_keys_dir") {
        "records serve"
    } else if table.contains_key("center_ca") {
        "kiosk"
    } else if ["trust_dir", "rate_limit", "plain_http", "threads"]
        .iter()
        .any(|k| table.contains_key(*k))
        || !["trust", "card_ca_keys"]
            .iter()
            .any(|k| table.contains_key(*k))
    {
        "app serve"
    } else {
        "center serve"
    };
    fn resolved<T: serde::de::DeserializeOwned + serde::Serialize>(path: &Path) -> Result<String> {
        let c: T = crate::config::load(path).map_err(|e| Coded::new(e.code(), e))?;
        Ok(crate::config::describe(&c))
    }
    let text = match role {
        "keys ceremony" => {
            let c: crate::config::KeysConfig =
                crate::config::load(path).map_err(|e| Coded::new(e.code(), e))?;
            c.hsm.resolve().map_err(|e| Coded::new(e.code(), e))?;
            crate::config::describe(&c)
        }
        "records serve" => {
            let c: crate::config::RecordsConfig =
                crate::config::load(path).map_err(|e| Coded::new(e.code(), e))?;
            c.database_url().map_err(|e| Coded::new(e.code(), e))?;
            if let Some(h) = &c.hsm {
                h.resolve().map_err(|e| Coded::new(e.code(), e))?;
            }
            for k in &c.card_ca_keys {
                k.load().map_err(|e| Coded::new(e.code(), e))?;
            }
            crate::config::describe(&c)
        }
        "kiosk" => resolved::<crate::config::KioskConfig>(path)?,
        "app serve" => resolved::<crate::config::AppConfig>(path)?,
        _ => resolved::<crate::config::CenterConfig>(path)?,
    };
    println!("# {role} configuration: OK");
    print!("{text}");
    Ok(())
}
