//! `vaxcert verify …` and `vaxcert trust …`: the verifier's command line. Inputs are paths,
//! `-` for stdin, or literal text; the exit status is 0 only when every certificate is valid.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use clap::{Args, Subcommand, ValueEnum};

use super::{Report, TrustStore, Verdict, dcc};
use crate::clock::{Clock, SystemClock, UnixTime};
use crate::exit::Coded;

/// Where the trust store and the dev issuer come from (shared by the CLI and `serve`).
#[derive(Debug, Clone, Args)]
pub struct TrustArgs {
    /// Trust store folder, instead of the anchors compiled in (certs/trust/ at build time).
    #[arg(long = "trust")]
    pub trust_dir: Option<PathBuf>,
    /// Also trust our dev issuer (certs/dev/shc/jwks.json and certs/dev/icao/csca.crt.pem).
    #[arg(long)]
    pub trust_dev: bool,
    /// Where the dev issuer's files are (with --trust-dev).
    #[arg(long, default_value = "certs/dev", hide = true)]
    pub dev_dir: PathBuf,
}

impl TrustArgs {
    /// Load the store these arguments name.
    ///
    /// # Errors
    /// The trust store cannot be read, or `--trust-dev` files are missing.
    pub fn load(&self) -> Result<TrustStore> {
        let mut t = load_store(self.trust_dir.as_deref())
            .map_err(|e| Coded::new(e.code(), e))
            .with_context(|| match &self.trust_dir {
                Some(d) => format!("trust store {}", d.display()),
                None => "the built-in trust store".to_owned(),
            })?;
        if self.trust_dev {
            t.add_dev(&self.dev_dir).map_err(|e| Coded {
                code: e.code(),
                message: e.to_string(),
            })?;
        }
        Ok(t)
    }
}

/// `vaxcert verify [INPUT]…` or `vaxcert verify serve`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct VerifyArgs {
    /// `serve`: the HTTP verifier.
    #[command(subcommand)]
    pub command: Option<VerifyCommand>,
    /// Certificates: paths, `-` for stdin, or literal text (shc:/…, HC1:…, JSON).
    pub inputs: Vec<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    /// Verification time: RFC 3339, a date, or Unix seconds (default: now).
    #[arg(long)]
    pub at: Option<String>,
    /// Trust store.
    #[command(flatten)]
    pub trust: TrustArgs,
}

/// Subcommands of `vaxcert verify`.
#[derive(Debug, Subcommand)]
pub enum VerifyCommand {
    /// Serve `POST /v1/verify` and the `/verify` page alone (`app serve` also serves them).
    Serve {
        /// Address to listen on (port 0 picks one; the bound URL is printed).
        #[arg(long, default_value = "127.0.0.1:8088")]
        listen: String,
        /// Trust store.
        #[command(flatten)]
        trust: TrustArgs,
        /// Serve `GET /metrics` (Prometheus text, plain HTTP) here; loopback or the monitoring
        /// network only.
        #[arg(long)]
        metrics: Option<std::net::SocketAddr>,
        /// Requests verified at once (default: the number of CPUs); others wait.
        #[arg(long)]
        max_concurrent: Option<usize>,
        /// Milliseconds a request waits for a slot before `503 verifier-busy`.
        #[arg(long, default_value_t = 2000)]
        queue_wait_ms: u64,
    },
}

/// `vaxcert trust …`
#[derive(Debug, Subcommand)]
pub enum TrustCommand {
    /// List every anchor in the trust store.
    List {
        /// Trust store folder, instead of the anchors compiled in.
        #[arg(long = "trust")]
        trust_dir: Option<PathBuf>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Add an anchor (copied in with a PROVENANCE.md), after checking it parses.
    Add {
        /// What it is.
        #[arg(long, value_enum)]
        kind: AnchorKind,
        /// Folder name inside the store (letters, digits, `-`).
        #[arg(long)]
        name: String,
        /// For `shc`: the issuer's `iss` URL.
        #[arg(long)]
        iss: Option<String>,
        /// Where the files came from (URL, repository and commit).
        #[arg(long)]
        source: String,
        /// Their licence.
        #[arg(long, default_value = "unknown")]
        licence: String,
        /// Trust store folder to add to (`certs/trust` in a checkout: the anchors compiled into
        /// the next build).
        #[arg(long = "trust")]
        trust_dir: PathBuf,
        /// The files: a JWKS (and CRL JSON files) for `shc`; certificates (DER or PEM) otherwise.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

/// Kinds of trust anchor.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum AnchorKind {
    /// An SHC issuer's JWKS.
    Shc,
    /// An ICAO country signing CA (or link certificate).
    Csca,
    /// An EU DCC document signer certificate.
    Dsc,
}

/// The trust folder given, or the anchors compiled into the binary.
fn load_store(dir: Option<&Path>) -> Result<TrustStore, super::TrustError> {
    match dir {
        Some(d) => TrustStore::load(d),
        None => TrustStore::builtin(),
    }
}

/// Parse `--at`: an RFC 3339 time, a date or Unix seconds, from 1970 to 9999.
///
/// # Errors
/// When the text is no such time.
pub fn parse_at(at: Option<&str>) -> Result<UnixTime> {
    match at {
        None => Ok(SystemClock.now()),
        Some(s) => dcc::parse_time(s)
            .map(UnixTime)
            .ok_or_else(|| anyhow!("--at: {s:?} is not an RFC 3339 time, a date or Unix seconds")),
    }
}

/// Read one CLI input: `-` is stdin, an existing path is read, anything else is literal text.
///
/// # Errors
/// An unreadable path or stdin.
pub fn read_input(arg: &str) -> Result<Vec<u8>> {
    let limit = super::MAX_INPUT as u64 + 1;
    if arg == "-" {
        let mut buf = Vec::new();
        std::io::stdin().take(limit).read_to_end(&mut buf)?;
        return Ok(buf);
    }
    let p = Path::new(arg);
    if arg.len() < 4096 && p.is_file() {
        let mut buf = Vec::new();
        std::fs::File::open(p)
            .with_context(|| format!("cannot read {arg}"))?
            .take(limit)
            .read_to_end(&mut buf)?;
        return Ok(buf);
    }
    Ok(arg.as_bytes().to_vec())
}

/// Run `vaxcert verify …`.
///
/// # Errors
/// Operator errors, and a `not-valid` error when any verdict is not `valid` (exit status 1).
pub fn run_verify(args: VerifyArgs) -> Result<()> {
    if let Some(VerifyCommand::Serve {
        listen,
        trust,
        metrics,
        max_concurrent,
        queue_wait_ms,
    }) = args.command
    {
        let store = trust.load()?;
        let mut limits = super::http::Limits {
            queue_wait: std::time::Duration::from_millis(queue_wait_ms),
            ..super::http::Limits::default()
        };
        if let Some(n) = max_concurrent {
            limits.concurrent = n;
        }
        return super::http::serve(&listen, store, limits, metrics);
    }
    if args.inputs.is_empty() {
        bail!("give at least one input: a path, - for stdin, or the text itself");
    }
    let at = parse_at(args.at.as_deref())?;
    let trust = args.trust.load()?;
    let inputs = args
        .inputs
        .iter()
        .map(|a| read_input(a))
        .collect::<Result<Vec<_>>>()?;
    let reports = super::verify_inputs(&inputs, &trust, at);
    if args.json {
        let out = if reports.len() == 1 {
            serde_json::to_string_pretty(&reports[0])?
        } else {
            serde_json::to_string_pretty(&reports)?
        };
        println!("{out}");
    } else {
        for r in &reports {
            print!("{}", human(r));
        }
    }
    let bad: Vec<&Report> = reports
        .iter()
        .filter(|r| r.verdict != Verdict::Valid)
        .collect();
    if let Some(first) = bad.first() {
        return Err(Coded {
            code: "not-valid",
            message: format!(
                "{} of {} certificates not valid (first: {}, {})",
                bad.len(),
                reports.len(),
                first.verdict.as_str(),
                first.reason
            ),
        }
        .into());
    }
    Ok(())
}

/// The human-readable form of a report.
pub fn human(r: &Report) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let format = match r.format {
        Some(super::Format::Shc) => "SMART Health Card",
        Some(super::Format::VdsNc) => "ICAO VDS-NC",
        Some(super::Format::EuDcc) => "EU DCC",
        None => "unrecognised input",
    };
    let head = match r.verdict {
        Verdict::Valid => "VALID / 有効",
        Verdict::Invalid => "INVALID / 無効",
        Verdict::UnknownIssuer => "UNKNOWN ISSUER / 発行者不明",
    };
    let _ = writeln!(s, "{head}  ({format})");
    if r.verdict != Verdict::Valid {
        let _ = writeln!(s, "  reason:   {} — {}", r.reason, r.message);
    }
    if let Some(i) = &r.issuer {
        let trusted = i
            .trusted_as
            .as_deref()
            .map(|t| format!(" (trust store: {t})"))
            .unwrap_or_default();
        let _ = writeln!(s, "  issuer:   {}{trusted}", i.id);
    }
    let unverified = if r.verdict == Verdict::Valid {
        ""
    } else {
        " [NOT VERIFIED]"
    };
    if let Some(p) = &r.person {
        let _ = writeln!(
            s,
            "  person:   {}{}{}{unverified}",
            p.name,
            p.birth_date
                .as_deref()
                .map(|b| format!(", born {b}"))
                .unwrap_or_default(),
            p.document_number
                .as_deref()
                .map(|n| format!(", passport {n}"))
                .unwrap_or_default()
        );
    }
    for (n, d) in r.doses.iter().enumerate() {
        let product = match (d.product_name.as_deref(), d.product.as_deref()) {
            (Some(name), Some(code)) if name != code => format!("{name} ({code})"),
            (Some(name), _) => name.to_string(),
            (None, code) => code.unwrap_or_default().to_string(),
        };
        let _ = writeln!(
            s,
            "  {} {}:  {} {product}{}",
            d.kind,
            d.dose_number.unwrap_or(n as u64 + 1),
            d.date,
            d.lot
                .as_deref()
                .map(|l| format!(" lot {l}"))
                .unwrap_or_default()
        );
    }
    if !r.warnings.is_empty() {
        let _ = writeln!(s, "  warnings: {}", r.warnings.join(", "));
    }
    s
}

/// Run `vaxcert trust …`.
///
/// # Errors
/// An unreadable store, or a file that is not what `--kind` says.
pub fn run_trust(cmd: TrustCommand) -> Result<()> {
    match cmd {
        TrustCommand::List { trust_dir, json } => {
            let t = load_store(trust_dir.as_deref()).map_err(|e| Coded {
                code: e.code(),
                message: e.to_string(),
            })?;
            let list = t.summary();
            if json {
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                for a in list {
                    let kind = a["kind"].as_str().unwrap_or_default();
                    let name = a["name"].as_str().unwrap_or_default();
                    let what = match kind {
                        "shc" => format!("{} kids {}", a["iss"], a["kids"]),
                        _ => format!("{}", a["subject"]),
                    };
                    println!("{kind:5} {name:28} {what}");
                }
            }
            Ok(())
        }
        TrustCommand::Add {
            kind,
            name,
            iss,
            source,
            licence,
            trust_dir,
            files,
        } => add(
            kind,
            &name,
            iss.as_deref(),
            &source,
            &licence,
            &trust_dir,
            &files,
        ),
    }
}

fn add(
    kind: AnchorKind,
    name: &str,
    iss: Option<&str>,
    source: &str,
    licence: &str,
    trust_dir: &Path,
    files: &[PathBuf],
) -> Result<()> {
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        bail!("--name: letters, digits, - and _ only");
    }
    let sub = match kind {
        AnchorKind::Shc => "shc",
        AnchorKind::Csca => "icao",
        AnchorKind::Dsc => "dcc",
    };
    let dir = trust_dir.join(sub).join(name);
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut listed = Vec::new();
    match kind {
        AnchorKind::Shc => {
            let iss = iss.ok_or_else(|| anyhow!("--iss is required for --kind shc"))?;
            if !iss.starts_with("https://") || iss.ends_with('/') {
                bail!("--iss must be an https URL without a trailing slash");
            }
            for f in files {
                let bytes =
                    std::fs::read(f).with_context(|| format!("cannot read {}", f.display()))?;
                let v: serde_json::Value = serde_json::from_slice(&bytes)
                    .with_context(|| format!("{} is not JSON", f.display()))?;
                if v.get("keys").is_some() {
                    let keys = super::trust::parse_jwks(&bytes, f)?;
                    if keys.is_empty() {
                        bail!("{}: no EC P-256 key", f.display());
                    }
                    std::fs::write(dir.join("jwks.json"), &bytes)?;
                    listed.push(format!("jwks.json ← {}", f.display()));
                } else {
                    let (kid, _) = super::trust::parse_crl(&bytes, f)?;
                    std::fs::create_dir_all(dir.join("crl"))?;
                    std::fs::write(dir.join("crl").join(format!("{kid}.json")), &bytes)?;
                    listed.push(format!("crl/{kid}.json ← {}", f.display()));
                }
            }
            std::fs::write(dir.join("iss"), format!("{iss}\n"))?;
        }
        AnchorKind::Csca | AnchorKind::Dsc => {
            for f in files {
                let bytes =
                    std::fs::read(f).with_context(|| format!("cannot read {}", f.display()))?;
                let cert = super::x509::Cert::from_pem_or_der(&bytes)
                    .map_err(|e| anyhow!("{}: {e}", f.display()))?;
                let file = f
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "cert.der".into());
                let file = if file.ends_with(".der") || file.ends_with(".pem") {
                    file
                } else {
                    format!("{file}.der")
                };
                std::fs::write(dir.join(&file), &bytes)?;
                listed.push(format!(
                    "{file} ← {} ({})",
                    f.display(),
                    cert.subject_text()
                ));
            }
        }
    }
    let provenance = format!(
        "# {name}\n\nAdded with `vaxcert trust add --kind {sub}`.\n\n- Source: {source}\n- Licence: {licence}\n- Files:\n{}\n",
        listed
            .iter()
            .map(|l| format!("  - {l}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    std::fs::write(dir.join("PROVENANCE.md"), provenance)?;
    // Prove the store still loads with the new anchor.
    TrustStore::load(trust_dir).map_err(|e| Coded {
        code: e.code(),
        message: e.to_string(),
    })?;
    println!("added {} to {}", name, dir.display());
    Ok(())
}
