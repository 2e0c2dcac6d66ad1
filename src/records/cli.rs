//! `vaxcert records …` storage commands: municipalities, CSV imports, staff, the audit log and
//! demo data. `crate::cli` opens the database and adds `serve` and `revoke`.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Subcommand;

use super::model::Role;
use super::{Error, Records};
use crate::domain::MunicipalityCode;
use crate::exit::Coded;

/// The record system's storage commands (`serve` and `revoke` sit above it, in `crate::cli`).
#[derive(Debug, Subcommand)]
pub enum StorageCommand {
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
    /// Delete one dose of a resident, with a reason (audited). Imports never delete doses.
    DeleteDose {
        /// The municipality.
        #[arg(long)]
        municipality: MunicipalityCode,
        /// 個別宛名番号 of the resident.
        #[arg(long)]
        atena: String,
        /// 接種回数 of the dose to delete.
        #[arg(long)]
        dose: u32,
        /// Why (recorded in the audit log).
        #[arg(long)]
        reason: String,
    },
    /// Staff accounts.
    #[command(subcommand)]
    Staff(StaffCommand),
    /// Counts of issuances and revocations per municipality, day (JST), channel and kind, cells
    /// under the threshold suppressed: no row about a person.
    Stats {
        /// `csv` or `json`.
        #[arg(long, value_enum, default_value_t = StatsFormat::Csv)]
        format: StatsFormat,
        /// One municipality only (default: every one).
        #[arg(long)]
        municipality: Option<MunicipalityCode>,
        /// Cells counting fewer than this are shown as suppressed (`<N`, or null in JSON).
        #[arg(long, default_value_t = crate::records::SUPPRESS_UNDER)]
        threshold: i64,
        /// The first day (JST, `YYYY-MM-DD`); default: the first issuance.
        #[arg(long, value_parser = day)]
        from: Option<crate::domain::BirthDate>,
        /// The last day (JST, `YYYY-MM-DD`, included); default: today.
        #[arg(long, value_parser = day)]
        to: Option<crate::domain::BirthDate>,
    },
    /// The audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Retention: what is past its period, and deleting it (the municipality's own operator).
    #[command(subcommand)]
    Retention(RetentionCommand),
    /// DEV ONLY: demo municipalities, residents for every persona, doses, a counter login.
    SeedDemo,
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

/// A day on the command line, `YYYY-MM-DD`.
fn day(s: &str) -> std::result::Result<crate::domain::BirthDate, String> {
    crate::domain::BirthDate::parse(s).map_err(|_| format!("{s}: not a date as YYYY-MM-DD"))
}

/// How `records stats` prints.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum StatsFormat {
    /// `municipality,day,channel,kind,issued,revoked`.
    Csv,
    /// `{"threshold": N, "rows": [...]}`.
    Json,
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
    /// Every login of a municipality: role, disabled, created, last login, slowed down until.
    List {
        /// The municipality.
        #[arg(long)]
        municipality: MunicipalityCode,
    },
    /// Disable a login (no more logins; open counter sessions end at their next request).
    Disable {
        /// Its municipality.
        #[arg(long)]
        municipality: MunicipalityCode,
        /// Login name.
        login: String,
    },
    /// Enable a disabled login again.
    Enable {
        /// Its municipality.
        #[arg(long)]
        municipality: MunicipalityCode,
        /// Login name.
        login: String,
    },
    /// Change a login's role.
    Role {
        /// Its municipality.
        #[arg(long)]
        municipality: MunicipalityCode,
        /// The new role.
        #[arg(long, value_enum)]
        role: Role,
        /// Login name.
        login: String,
    },
    /// Give a login a new TOTP secret (a lost phone); prints it once.
    ResetTotp {
        /// Its municipality.
        #[arg(long)]
        municipality: MunicipalityCode,
        /// Login name.
        login: String,
    },
    /// Lift a login's slow-down after failed logins.
    Unlock {
        /// Its municipality.
        #[arg(long)]
        municipality: MunicipalityCode,
        /// Login name.
        login: String,
    },
}

/// `vaxcert records audit …`
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check every link and checkpoint; report the first broken link or a missing tail.
    Verify {
        /// Also check the archived entries in this folder, and that the live log continues
        /// from where they end.
        #[arg(long)]
        archive: Option<PathBuf>,
    },
    /// Move entries older than the policy's `audit_years` to CSV in its `archive_dir`, up to
    /// the newest signed checkpoint among them.
    Archive {
        /// `retention.toml`.
        #[arg(long)]
        policy: PathBuf,
    },
}

/// `vaxcert records retention …`
#[derive(Debug, Subcommand)]
pub enum RetentionCommand {
    /// List what the policy makes due in one municipality (nothing is deleted).
    Due {
        /// `retention.toml`.
        #[arg(long)]
        policy: PathBuf,
        /// The municipality.
        #[arg(long)]
        municipality: MunicipalityCode,
    },
    /// Delete what is due in one municipality, each deletion audited, and list it.
    Apply {
        /// `retention.toml`.
        #[arg(long)]
        policy: PathBuf,
        /// The municipality.
        #[arg(long)]
        municipality: MunicipalityCode,
    },
}

fn coded(e: Error) -> anyhow::Error {
    Coded {
        code: e.code(),
        message: e.to_string(),
    }
    .into()
}

/// Run one storage command against an open record system.
///
/// # Errors
/// Whatever failed, with a stable code.
pub async fn run(records: &Records, command: StorageCommand) -> Result<()> {
    match command {
        StorageCommand::Municipality(MunicipalityCommand::Add { code, name, kiosk }) => {
            records
                .add_municipality(&code, &name, kiosk)
                .await
                .map_err(coded)?;
            println!(
                "municipality {code} {name} added (kiosk issuance: {})",
                if kiosk { "yes" } else { "no" }
            );
        }
        StorageCommand::Municipality(MunicipalityCommand::List) => {
            for m in records.municipalities().await.map_err(coded)? {
                println!(
                    "{} {} kiosk={}",
                    m.code,
                    m.name,
                    if m.kiosk { "yes" } else { "no" }
                );
            }
        }
        StorageCommand::ImportTargets { file, municipality } => {
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
        StorageCommand::ImportVaccinations { file, municipality } => {
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
        StorageCommand::DeleteDose {
            municipality,
            atena,
            dose,
            reason,
        } => {
            let atena = super::AtenaNo::parse(&atena).map_err(coded)?;
            records
                .delete_dose(&municipality, &atena, dose, &reason, "cli")
                .await
                .map_err(coded)?;
            println!("dose {dose} of {atena} in {municipality} deleted (audited)");
        }
        StorageCommand::Staff(c) => staff(records, c).await?,
        StorageCommand::Stats {
            format,
            municipality,
            threshold,
            from,
            to,
        } => {
            let s = records
                .operator_stats(municipality.as_ref(), threshold, super::Days { from, to })
                .await
                .map_err(coded)?;
            match format {
                StatsFormat::Csv => print!("{}", s.to_csv()),
                StatsFormat::Json => println!("{}", serde_json::to_string_pretty(&s)?),
            }
        }
        StorageCommand::Audit(AuditCommand::Archive { policy }) => {
            let policy = super::Policy::load(&policy).map_err(coded)?;
            let before = crate::clock::Clock::now(&crate::clock::SystemClock).0
                - i64::from(policy.audit_years) * 366 * 86_400;
            match records
                .archive_audit(before, &policy.archive_dir)
                .await
                .map_err(coded)?
            {
                Some(a) => println!(
                    "audit entries {}-{} archived to {} (sealed by checkpoint {})",
                    a.first,
                    a.last,
                    a.file.display(),
                    a.last
                ),
                None => println!(
                    "no audit entries older than {} years to archive",
                    policy.audit_years
                ),
            }
        }
        StorageCommand::Retention(c) => {
            let (policy, municipality, apply) = match c {
                RetentionCommand::Due {
                    policy,
                    municipality,
                } => (policy, municipality, false),
                RetentionCommand::Apply {
                    policy,
                    municipality,
                } => (policy, municipality, true),
            };
            let policy = super::Policy::load(&policy).map_err(coded)?;
            let p = policy.periods(&municipality);
            let due = if apply {
                records
                    .operator_apply_retention(&municipality, &policy)
                    .await
            } else {
                records.retention_due(&municipality, &policy).await
            }
            .map_err(coded)?;
            let verb = if apply { "deleted" } else { "due" };
            for a in &due.residents {
                println!("resident {a} {verb} (records_years={})", p.records_years);
            }
            for id in &due.issuances {
                println!("issuance {id} {verb} (issuance_years={})", p.issuance_years);
            }
            println!(
                "{municipality}: {} resident(s), {} issuance(s) {verb}",
                due.residents.len(),
                due.issuances.len()
            );
        }
        StorageCommand::Audit(AuditCommand::Verify { archive }) => {
            let r = match archive {
                Some(dir) => records.verify_audit_with_archive(&dir).await,
                None => records.verify_audit().await,
            }
            .map_err(coded)?;
            println!(
                "audit log intact: {} entries, {} signed checkpoints, last at entry {} ({} unsealed)",
                r.entries, r.checkpoints, r.last_checkpoint, r.unsealed
            );
        }
        StorageCommand::SeedDemo => {
            super::seed::demo(records, &mut std::io::stdout())
                .await
                .map_err(coded)?;
        }
    }
    Ok(())
}

/// The operator's staff commands other than `add`: each as an admin of that municipality would
/// do it at the counter, audited under `cli`.
async fn staff(records: &Records, command: StaffCommand) -> Result<()> {
    use super::StaffChange;
    let change = |m: &MunicipalityCode, login: &str, c: StaffChange, done: &str| {
        let (m, login, done) = (m.clone(), login.to_owned(), done.to_owned());
        async move {
            records
                .operator_change_staff(&m, &login, c)
                .await
                .map_err(coded)?;
            println!("staff {login} of {m}: {done}");
            Ok::<_, anyhow::Error>(())
        }
    };
    match command {
        StaffCommand::Add {
            municipality,
            role,
            login,
        } => {
            let new = records
                .add_staff(&municipality, &login, role)
                .await
                .map_err(coded)?;
            println!("staff {login} ({}) added to {municipality}", role.as_str());
            println!("password (shown once): {}", new.password.as_str());
            println!("{}", new.totp.provisioning_uri.as_str());
        }
        StaffCommand::List { municipality } => {
            let when = |t: Option<i64>| {
                t.map_or("-".to_owned(), |t| crate::date::iso(crate::date::jst(t)))
            };
            println!("login\trole\tdisabled\tcreated\tlast_login\tslowed_until");
            for l in records.list_staff(&municipality).await.map_err(coded)? {
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}",
                    l.login,
                    l.role.as_str(),
                    if l.disabled { "yes" } else { "no" },
                    when(l.created_at),
                    when(l.last_login_at),
                    when(l.throttled_until),
                );
            }
        }
        StaffCommand::Disable {
            municipality,
            login,
        } => {
            change(&municipality, &login, StaffChange::Disable, "disabled").await?;
        }
        StaffCommand::Enable {
            municipality,
            login,
        } => {
            change(&municipality, &login, StaffChange::Enable, "enabled").await?;
        }
        StaffCommand::Role {
            municipality,
            role,
            login,
        } => {
            let done = format!("role {}", role.as_str());
            change(&municipality, &login, StaffChange::Role(role), &done).await?;
        }
        StaffCommand::ResetTotp {
            municipality,
            login,
        } => {
            let t = records
                .operator_reset_totp(&municipality, &login)
                .await
                .map_err(coded)?;
            println!("staff {login} of {municipality}: new TOTP secret (shown once)");
            println!("{}", t.provisioning_uri.as_str());
        }
        StaffCommand::Unlock {
            municipality,
            login,
        } => {
            records
                .operator_unlock_staff(&municipality, &login)
                .await
                .map_err(coded)?;
            println!("staff {login} of {municipality}: unlocked");
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
