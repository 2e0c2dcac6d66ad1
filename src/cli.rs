//! The command line: one subcommand per role, plus the dev tools. `main.rs` only dispatches.

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

/// vaxcert: signed vaccination certificates from MyNumber card evidence.
#[derive(Debug, Parser)]
#[command(name = "vaxcert", version, about)]
pub struct Cli {
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
    Issue(IssueArgs),
    /// Verify certificates (SHC, VDS-NC, EU DCC; text, files or QR images) offline.
    Verify(crate::verify::cli::VerifyArgs),
    /// Manage the verifier's trust store (certs/trust/).
    #[command(subcommand)]
    Trust(crate::verify::cli::TrustCommand),
    /// The record system: municipalities, CSV imports, staff, audit log.
    Records(crate::records::cli::RecordsArgs),
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
    /// The demo: the whole system on localhost with a virtual card; issues one sample
    /// certificate through the kiosk and prints the URLs.
    Demo(crate::demo::DemoArgs),
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

/// `vaxcert issue …`
#[derive(Debug, clap::Args)]
pub struct IssueArgs {
    /// Persona TOML file (certs/dev/personas/).
    #[arg(long)]
    pub persona: PathBuf,
    /// Certificate kind.
    #[arg(long, value_enum)]
    pub kind: Kind,
    /// Passport MRZ (TD3) as `LINE1,LINE2`; required for overseas.
    #[arg(long)]
    pub passport_mrz: Option<String>,
    /// Output folder.
    #[arg(long)]
    pub out: PathBuf,
    /// Key folder; must hold dev keys (certificates of O=vaxcert DEV).
    #[arg(long)]
    pub keys: Option<PathBuf>,
    /// Issuing municipality printed on the PDF.
    #[arg(long, default_value = "東京都千代田区")]
    pub municipality_name: String,
}

/// `vaxcert keys …`
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Make the dev keys under certs/dev/ (only those missing, unless --force). DEV ONLY.
    Dev {
        /// Remake every dev key.
        #[arg(long)]
        force: bool,
    },
}

/// A failure the CLI reports with a stable code and exit status 1.
#[derive(Debug, thiserror::Error)]
#[error("{message} [{code}]")]
pub struct Coded {
    /// Stable code.
    pub code: &'static str,
    /// Human message.
    pub message: String,
}

impl From<card::Error> for Coded {
    fn from(e: card::Error) -> Self {
        Coded {
            code: e.code(),
            message: e.to_string(),
        }
    }
}

/// Run a parsed command line.
///
/// # Errors
/// Whatever the command failed with.
pub fn run(cli: Cli) -> Result<()> {
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
            let trust = TrustSet::parse(&trust)?;
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
            let trust = TrustSet::parse(&trust)?;
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
        Command::Keys(KeysCommand::Dev { force }) => {
            crate::pki::dev::make(force, &mut std::io::stdout())?;
            Ok(())
        }
        Command::Issue(args) => issue(&args),
        Command::Demo(args) => crate::demo::run(&args),
        Command::Verify(args) => crate::verify::cli::run_verify(args),
        Command::Trust(cmd) => crate::verify::cli::run_trust(cmd),
        Command::Records(args) => crate::records::cli::run(args),
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

/// The demo vaccination history every persona gets from `vaxcert issue`.
fn demo_doses() -> Result<Vec<crate::certificate::DoseRecord>> {
    let dose = |seq, date: &str, code: &str, lot: &str| -> Result<crate::certificate::DoseRecord> {
        Ok(crate::certificate::DoseRecord {
            seq,
            date: date.into(),
            product: crate::catalogue::product(code).ok_or_else(|| anyhow!("no product {code}"))?,
            lot: lot.into(),
        })
    };
    Ok(vec![
        dose(1, "2021-06-01", "pfizer-comirnaty", "FA5765")?,
        dose(2, "2021-06-22", "pfizer-comirnaty", "FA7338")?,
        dose(3, "2022-01-20", "moderna-spikevax", "3004734")?,
    ])
}

/// Render and sign the PDF certificate with the dev PDF key.
fn render_pdf(
    request: &crate::certificate::Request,
    issued: &crate::certificate::Issued,
    shc_qr: &crate::formats::qr::Matrix,
    vdsnc_qr: Option<&crate::formats::qr::Matrix>,
    keys: &Path,
    municipality: &str,
) -> Result<Vec<u8>> {
    use crate::formats::pdf::{CertificateDocument, PdfRenderer, PdfSigner};
    let renderer = PdfRenderer::dev_default().map_err(|e| anyhow!("{e} [{}]", e.code()))?;
    let signer = PdfSigner::from_pem_files(
        &keys.join("pdf/signer.key.pem"),
        &keys.join("pdf/signer.crt.pem"),
    )
    .map_err(|e| anyhow!("{e} [{}]", e.code()))?;
    let doses = request.dose_lines();
    let masked = request
        .passport
        .as_ref()
        .map(|p| crate::formats::mrz::mask_passport(&p.number));
    let doc = CertificateDocument {
        kind: request.kind,
        name_kanji: &request.name,
        name_roman: request
            .passport
            .as_ref()
            .map(|p| p.name.as_str())
            .filter(|_| request.kind == Kind::Overseas),
        passport_number_masked: masked.as_deref().filter(|_| request.kind == Kind::Overseas),
        birth_date: request.birth_date,
        doses: &doses,
        certificate_id: request.id.as_str(),
        issued_on: &request.issued_at.date_jst(),
        municipality,
        shc_qr,
        vdsnc_qr: vdsnc_qr.filter(|_| issued.vdsnc.is_some()),
    };
    let pdf = renderer
        .render(&doc)
        .map_err(|e| anyhow!("{e} [{}]", e.code()))?;
    signer
        .sign(&pdf, request.issued_at)
        .map_err(|e| anyhow!("{e} [{}]", e.code()))
}

/// `vaxcert issue`: dev keys only, demo doses, every artefact written to `--out`.
fn issue(args: &IssueArgs) -> Result<()> {
    use crate::certificate::{Issuer, Passport, Request};
    use crate::formats::mrz::Td3Mrz;
    let keys = args.keys.clone().unwrap_or_else(crate::pki::dev::dir);
    let issuer_cert = keys.join("shc/issuer.crt.pem");
    let cert = crate::pki::x509::load(&issuer_cert)?;
    let dev_org = cert
        .tbs_certificate()
        .subject()
        .to_string()
        .contains(&format!("O={}", crate::pki::dev::DEV_ORG));
    if !dev_org {
        return Err(crate::pki::Error::NotDev(issuer_cert.display().to_string()).into());
    }
    let issuer = Issuer::dev()?;
    if !issuer.is_dev() {
        return Err(crate::pki::Error::NotDev(keys.display().to_string()).into());
    }
    let persona = crate::card_sim::Persona::load(&args.persona)?;
    let passport = match (&args.passport_mrz, args.kind) {
        (Some(mrz), _) => Some(Passport::from(&Td3Mrz::parse(mrz).map_err(|e| Coded {
            code: e.code(),
            message: e.to_string(),
        })?)),
        (None, Kind::Overseas) => {
            return Err(Coded {
                code: "passport-required",
                message: "an overseas certificate needs --passport-mrz LINE1,LINE2".into(),
            }
            .into());
        }
        (None, Kind::Domestic) => None,
    };
    let request = Request {
        id: crate::domain::CertificateId::random(),
        kind: args.kind,
        name: persona.name.clone(),
        birth_date: persona.birth_date,
        doses: demo_doses()?,
        passport,
        issued_at: SystemClock.now(),
    };
    let issued = issuer.issue(&request).map_err(|e| Coded {
        code: e.code(),
        message: e.to_string(),
    })?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    let base = args.out.join(request.id.as_str());
    let write = |ext: &str, bytes: &[u8]| -> Result<PathBuf> {
        let path = base.with_extension(ext);
        std::fs::write(&path, bytes).with_context(|| format!("cannot write {}", path.display()))?;
        Ok(path)
    };
    let qr = issued.shc.qr()?;
    let mut written = vec![
        write("shc", issued.shc.qr_text().as_bytes())?,
        write("smart-health-card", issued.shc.file_json().as_bytes())?,
        write("shc.png", &crate::formats::qr::png(&qr, 6)?)?,
    ];
    let vqr = match &issued.vdsnc {
        Some(v) => {
            written.push(write("vds.json", v.as_bytes())?);
            let vqr = crate::formats::qr::bytes(v.as_bytes())?;
            written.push(write("vds.png", &crate::formats::qr::png(&vqr, 6)?)?);
            Some(vqr)
        }
        None => None,
    };
    let pdf = render_pdf(
        &request,
        &issued,
        &qr,
        vqr.as_ref(),
        &keys,
        &args.municipality_name,
    )?;
    written.push(write("pdf", &pdf)?);
    println!(
        "issued certificate {} ({}) for {} — SHC QR version {}, kid {}",
        request.id,
        args.kind.as_str(),
        persona.name,
        crate::formats::qr::version(&qr),
        issued.kid
    );
    for p in written {
        println!("  {}", p.display());
    }
    Ok(())
}
