//! `vaxcert records …`: municipalities, CSV imports, staff, the audit log and demo data.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};

use super::config::{KeyPaths, RecordsSettings};
use super::model::Role;
use super::{Error, Records};
use crate::cli::Coded;
use crate::clock::SystemClock;
use crate::domain::MunicipalityCode;

/// `vaxcert records [--database-url URL] …`
#[derive(Debug, Args)]
pub struct RecordsArgs {
    /// `sqlite://PATH` (embedded) or `postgres://USER@HOST:PORT/DB`.
    #[arg(long, global = true, default_value = "sqlite://vaxcert-records.db")]
    pub database_url: String,
    /// Folder with the record keys (default: the dev keys in certs/dev/records/).
    #[arg(long, global = true)]
    pub keys_dir: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: RecordsCommand,
}

/// The record system's commands.
#[derive(Debug, Subcommand)]
pub enum RecordsCommand {
    /// Municipalities.
    #[command(subcommand)]
    Municipality(MunicipalityCommand),
    /// Import VRS targets (10 columns; UTF-8 or Shift_JIS): the whole file or nothing.
    ImportTargets {
        /// The CSV file.
        file: PathBuf,
        /// The municipality the file belongs to.
        #[arg(long)]
        municipality: MunicipalityCode,
    },
    /// Import vaccination records (9 columns, see README): the whole file or nothing.
    ImportVaccinations {
        /// The CSV file.
        file: PathBuf,
        /// The municipality the file belongs to.
        #[arg(long)]
        municipality: MunicipalityCode,
    },
    /// Staff accounts.
    #[command(subcommand)]
    Staff(StaffCommand),
    /// The audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// DEV ONLY: demo municipalities, residents for every persona, doses, a counter login.
    SeedDemo,
    /// Serve the internal API to the two gateways over mTLS (see README "Issuance channels").
    Serve(super::serve::cli::ServeArgs),
    /// Revoke a certificate: mark it in the database, audit the reason, add its rid to the CRL.
    Revoke {
        /// The 12-character certificate ID.
        certificate_id: String,
        /// Why (recorded in the audit log).
        #[arg(long)]
        reason: String,
        /// Where jwks.json and crl/ are published (as given to `records serve`).
        #[arg(long, default_value = "vaxcert-publication")]
        publication_dir: PathBuf,
    },
}

/// `vaxcert records municipality …`
#[derive(Debug, Subcommand)]
pub enum MunicipalityCommand {
    /// Register a municipality (check digit validated; PostgreSQL partitions created).
    Add {
        /// 全国地方公共団体コード (6 digits).
        code: MunicipalityCode,
        /// Name.
        name: String,
        /// Takes part in kiosk issuance.
        #[arg(long)]
        kiosk: bool,
    },
    /// List municipalities.
    List,
}

/// `vaxcert records staff …`
#[derive(Debug, Subcommand)]
pub enum StaffCommand {
    /// Add a staff member; prints the password and the TOTP provisioning URI once.
    Add {
        /// Their municipality.
        #[arg(long)]
        municipality: MunicipalityCode,
        /// Their role.
        #[arg(long, value_enum)]
        role: Role,
        /// Login name.
        login: String,
    },
}

/// `vaxcert records audit …`
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check every link and checkpoint; report the first broken link or a missing tail.
    Verify,
}

fn coded(e: Error) -> anyhow::Error {
    Coded {
        code: e.code(),
        message: e.to_string(),
    }
    .into()
}

/// Run `vaxcert records …`.
///
/// # Errors
/// Whatever failed, with a stable code.
pub fn run(args: RecordsArgs) -> Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(run_async(args))
}

async fn run_async(args: RecordsArgs) -> Result<()> {
    let keys = args
        .keys_dir
        .as_deref()
        .map(KeyPaths::in_dir)
        .unwrap_or_else(KeyPaths::dev);
    let settings = RecordsSettings::new(&args.database_url, keys);
    let records = Records::open(&settings, Arc::new(SystemClock))
        .await
        .map_err(coded)?;
    if let RecordsCommand::Serve(serve) = args.command {
        return super::serve::cli::run(records, serve).await;
    }
    let r = command(&records, args.command).await;
    records.close().await.map_err(coded)?;
    r
}

async fn command(records: &Records, command: RecordsCommand) -> Result<()> {
    match command {
        RecordsCommand::Municipality(MunicipalityCommand::Add { code, name, kiosk }) => {
            records
                .add_municipality(&code, &name, kiosk)
                .await
                .map_err(coded)?;
            println!(
                "municipality {code} {name} added (kiosk issuance: {})",
                if kiosk { "yes" } else { "no" }
            );
        }
        RecordsCommand::Municipality(MunicipalityCommand::List) => {
            for m in records.municipalities().await.map_err(coded)? {
                println!(
                    "{} {} kiosk={}",
                    m.code,
                    m.name,
                    if m.kiosk { "yes" } else { "no" }
                );
            }
        }
        RecordsCommand::ImportTargets { file, municipality } => {
            let bytes =
                std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let bar = progress_bar(&bytes);
            let r = records
                .import_targets(&bytes, &municipality, "cli", &|n| bar.set_position(n))
                .await;
            bar.finish_and_clear();
            let r = r.map_err(coded)?;
            println!(
                "imported {} targets into {municipality}: {} new, {} updated",
                r.rows, r.inserted, r.updated
            );
        }
        RecordsCommand::ImportVaccinations { file, municipality } => {
            let bytes =
                std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let bar = progress_bar(&bytes);
            let r = records
                .import_vaccinations(&bytes, &municipality, "cli", &|n| bar.set_position(n))
                .await;
            bar.finish_and_clear();
            let r = r.map_err(coded)?;
            println!(
                "imported {} vaccinations into {municipality}: {} new, {} updated",
                r.rows, r.inserted, r.updated
            );
        }
        RecordsCommand::Staff(StaffCommand::Add {
            municipality,
            role,
            login,
        }) => {
            let new = records
                .add_staff(&municipality, &login, role)
                .await
                .map_err(coded)?;
            println!("staff {login} ({}) added to {municipality}", role.as_str());
            println!("password (shown once): {}", new.password.as_str());
            println!("{}", new.provisioning_uri.as_str());
        }
        RecordsCommand::Audit(AuditCommand::Verify) => {
            let r = records.verify_audit().await.map_err(coded)?;
            println!(
                "audit log intact: {} entries, {} signed checkpoints, last at entry {} ({} unsealed)",
                r.entries, r.checkpoints, r.last_checkpoint, r.unsealed
            );
        }
        RecordsCommand::SeedDemo => {
            super::seed::demo(records, &mut std::io::stdout())
                .await
                .map_err(coded)?;
        }
        RecordsCommand::Revoke {
            certificate_id,
            reason,
            publication_dir,
        } => {
            let id =
                super::CertificateId::parse(&certificate_id).map_err(|e| -> anyhow::Error {
                    Coded {
                        code: "certificate-id-invalid",
                        message: e.to_string(),
                    }
                    .into()
                })?;
            let r = records
                .revoke_by_id(&id, &reason, &publication_dir)
                .await
                .map_err(|e| -> anyhow::Error {
                    Coded {
                        code: e.code(),
                        message: e.to_string(),
                    }
                    .into()
                })?;
            println!(
                "certificate {} ({}) revoked; rid {} added to CRL {} (version {})",
                r.certificate_id, r.municipality, r.rid, r.kid, r.crl_version
            );
        }
        RecordsCommand::Serve(_) => {
            anyhow::bail!("records serve owns the database handle; it is dispatched in run")
        }
    }
    Ok(())
}

/// A progress bar over data rows, shown only on a terminal and for large files.
fn progress_bar(bytes: &[u8]) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    let lines = bytes.iter().filter(|b| **b == b'\n').count() as u64;
    if lines < 50_000 || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(lines);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} rows checked ({per_sec})")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar
}
