//! Staff: argon2id passwords, TOTP with replay refusal, roles scoped to one municipality,
//! exponential slow-down of failed logins per login and per address (never a permanent lock;
//! an admin can unlock), and the counter's search and view. Every staff query carries the
//! session's municipality in its WHERE clause, so staff of one municipality cannot find, view
//! or count another's residents by any route.

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use rand::RngExt;
use serde::Serialize;
use sqlx::Row;
use zeroize::Zeroizing;

use super::audit::AuditEntry;
use super::error::{Error, Result};
use super::lookup::{Dose, RawResident, Resident, resident_from_raw};
use super::model::{AtenaNo, KenNo, Role, comparable_name};
use super::{Records, totp, with_db};
use crate::card::MaskedMyNumber;
use crate::domain::{BirthDate, MunicipalityCode};

/// Longest slow-down after repeated failures.
const MAX_DELAY_SECS: i64 = 15 * 60;
/// Throttle rows quiet this long are forgotten (the table cannot grow without bound).
const THROTTLE_FORGET_SECS: i64 = 3600;
/// And never more rows than this: past it the quietest go first.
const THROTTLE_MAX_ROWS: i64 = 100_000;
/// Residents born on one day that a name search looks through (a city of a million has ~40).
const SEARCH_SCAN: usize = 10_000;
/// Password checks (argon2, about 19 MiB and tens of ms each) running at once, per process.
const ARGON2_AT_ONCE: usize = 4;

/// Whether a login name can be one at all: 1–64 of `A-Za-z0-9._@-`. Checked before any
/// database or argon2 work.
pub fn plausible_login(login: &str) -> bool {
    (1..=64).contains(&login.len())
        && login
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'@'))
}

/// The delay after `failures` failures: 1 and 2 free, then 2, 4, 8 … s, at most 15 min.
fn delay_after(failures: i64) -> i64 {
    if failures < 3 {
        0
    } else {
        1i64.checked_shl((failures - 2).min(20) as u32)
            .unwrap_or(MAX_DELAY_SECS)
            .min(MAX_DELAY_SECS)
    }
}

/// A logged-in staff member. Only [`Records::login`] makes one.
#[derive(Debug, Clone)]
pub struct StaffSession {
    municipality: MunicipalityCode,
    login: String,
    role: Role,
    /// Who the audit log names: `staff:CODE/LOGIN`, or the operator's tool.
    actor: String,
}

impl StaffSession {
    /// The municipality every query of this session is scoped to.
    pub fn municipality(&self) -> &MunicipalityCode {
        &self.municipality
    }
    /// The login.
    pub fn login(&self) -> &str {
        &self.login
    }
    /// The role.
    pub fn role(&self) -> Role {
        self.role
    }
    /// Whether this member may issue certificates at the counter (admin and clerk; an
    /// auditor only reads).
    pub fn may_issue(&self) -> bool {
        matches!(self.role, Role::Admin | Role::Clerk)
    }
    /// Whether this member may search and view residents (every role but `stats`, which sees
    /// counts only).
    pub fn reads_residents(&self) -> bool {
        self.role != Role::Stats
    }
    fn must_read_residents(&self) -> Result<()> {
        if self.reads_residents() {
            Ok(())
        } else {
            Err(Error::Forbidden)
        }
    }
    /// Who the audit log names for this session: `staff:CODE/LOGIN` (or the operator's tool).
    pub fn actor(&self) -> &str {
        &self.actor
    }

    /// A staff member who logged in.
    fn staff(municipality: &MunicipalityCode, login: &str, role: Role) -> Self {
        StaffSession {
            municipality: municipality.clone(),
            login: login.to_owned(),
            role,
            actor: format!("staff:{municipality}/{login}"),
        }
    }

    /// The operator's tool (`cli`, or `retention` for the daily task of `records serve`), with
    /// an admin's powers over one municipality (the operator holds the database and its keys
    /// already). Its login is empty, which no staff login can be.
    pub(in crate::records) fn operator(municipality: &MunicipalityCode, tool: &str) -> Self {
        StaffSession {
            municipality: municipality.clone(),
            login: String::new(),
            role: Role::Admin,
            actor: tool.to_owned(),
        }
    }

    /// The same login with the role the database gives it now.
    pub(in crate::records) fn with_role(&self, role: Role) -> Self {
        StaffSession {
            role,
            ..self.clone()
        }
    }
}

/// A new staff member's one-time secrets, shown once.
pub struct NewStaff {
    /// The generated password.
    pub password: Zeroizing<String>,
    /// The authenticator secret.
    pub totp: NewTotp,
}

/// A TOTP secret as the authenticator app takes it, shown once (a new login, or a reset).
pub struct NewTotp {
    /// `otpauth://…` for the authenticator app.
    pub provisioning_uri: Zeroizing<String>,
    /// The TOTP secret in base32 (for typing it in by hand).
    pub secret_base32: Zeroizing<String>,
}

impl NewTotp {
    pub(in crate::records) fn of(
        secret: &[u8; 20],
        municipality: &MunicipalityCode,
        login: &str,
    ) -> Self {
        NewTotp {
            provisioning_uri: Zeroizing::new(totp::provisioning_uri(
                &secret[..],
                &format!("{municipality}/{login}"),
            )),
            secret_base32: Zeroizing::new(totp::base32(&secret[..])),
        }
    }
}

impl std::fmt::Debug for NewTotp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NewTotp(..)")
    }
}

impl std::fmt::Debug for NewStaff {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NewStaff(..)")
    }
}

/// How the counter searches (DESIGN §7).
#[derive(Debug, Clone)]
pub enum SearchQuery {
    /// By 宛名番号.
    Atena(AtenaNo),
    /// By 券番号.
    KenNo(KenNo),
    /// By family + given name and birth date: the legal name or a 通称, compared by the name
    /// rule (NFKC, spaces and case do not matter).
    NameBirth {
        /// 姓.
        family: String,
        /// 名.
        given: String,
        /// 生年月日.
        birth_date: BirthDate,
    },
}

/// The counter's record view.
#[derive(Debug, Clone, Serialize)]
pub struct ResidentView {
    /// The resident.
    pub resident: Resident,
    /// The MyNumber, masked.
    #[serde(serialize_with = "display")]
    pub my_number: Option<MaskedMyNumber>,
    /// Doses.
    pub doses: Vec<Dose>,
    /// The resident's issuances, oldest first.
    pub issuances: Vec<IssuanceLine>,
}

/// One issuance as the counter's record view lists it.
#[derive(Debug, Clone, Serialize)]
pub struct IssuanceLine {
    /// Certificate ID.
    pub certificate_id: String,
    /// When, Unix seconds.
    pub issued_at: i64,
    /// `app`, `kiosk` or `counter`.
    pub channel: String,
    /// `domestic` or `overseas`.
    pub kind: String,
    /// When it was revoked, if it was.
    pub revoked_at: Option<i64>,
    /// The terms-of-use version the resident accepted (app and kiosk).
    pub terms_version: Option<String>,
    /// What the certificate said, as a digest (compared with the record as it is now).
    #[serde(skip)]
    pub content_digest: Option<[u8; 32]>,
}

fn display<S: serde::Serializer>(v: &Option<MaskedMyNumber>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(m) => s.collect_str(m),
        None => s.serialize_none(),
    }
}

fn valid_login(login: &str) -> Result<()> {
    if (3..=32).contains(&login.len())
        && login
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
    {
        Ok(())
    } else {
        Err(Error::Invalid {
            what: "login (3–32 of a-z 0-9 . _ -)",
        })
    }
}

impl Records {
    /// Add a staff member: a random password and TOTP secret, both returned once.
    ///
    /// # Errors
    /// [`Error::UnknownMunicipality`], [`Error::StaffExists`], [`Error::Invalid`].
    pub async fn add_staff(
        &self,
        municipality: &MunicipalityCode,
        login: &str,
        role: Role,
    ) -> Result<NewStaff> {
        self.insert_staff("cli", municipality, login, role).await
    }

    /// Add a staff member on `actor`'s word (the CLI, or an admin at the counter).
    pub(in crate::records) async fn insert_staff(
        &self,
        actor: &str,
        municipality: &MunicipalityCode,
        login: &str,
        role: Role,
    ) -> Result<NewStaff> {
        valid_login(login)?;
        self.municipality(municipality).await?;
        const PW: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
        let password: Zeroizing<String> = {
            let mut rng = rand::rng();
            Zeroizing::new(
                (0..20)
                    .map(|_| PW[rng.random_range(0..PW.len())] as char)
                    .collect(),
            )
        };
        let hash = hash_password(password.as_bytes()).await?;
        let (secret, sealed) = self.new_totp_secret(municipality, login)?;
        let n = with_db!(&self.db, p => sqlx::query(
            "INSERT INTO staff (municipality, login, password_hash, totp_secret, last_totp_step, role, disabled, created_at) \
             VALUES ($1, $2, $3, $4, 0, $5, false, $6) ON CONFLICT (municipality, login) DO NOTHING")
            .bind(municipality.as_str()).bind(login).bind(&hash).bind(&sealed).bind(role.as_str())
            .bind(self.now().0)
            .execute(p).await.map(|r| r.rows_affected()))?;
        if n == 0 {
            return Err(Error::StaffExists);
        }
        self.audit(&AuditEntry::system(
            actor,
            municipality,
            "staff-add",
            None,
            &format!("ok {login} {}", role.as_str()),
        ))
        .await?;
        Ok(NewStaff {
            totp: NewTotp::of(&secret, municipality, login),
            password,
        })
    }

    /// A fresh TOTP secret for a login, and the same sealed for the database.
    pub(in crate::records) fn new_totp_secret(
        &self,
        municipality: &MunicipalityCode,
        login: &str,
    ) -> Result<(Zeroizing<[u8; 20]>, Vec<u8>)> {
        let mut secret = Zeroizing::new([0u8; 20]);
        rand::rng().fill(&mut secret[..]);
        let sealed = self
            .keys
            .encrypt_totp(&secret[..], &totp_aad(municipality, login))?;
        Ok((secret, sealed))
    }

    /// Log a staff member in with password and TOTP code.
    ///
    /// # Errors
    /// [`Error::Throttled`] while slowed down, [`Error::TotpReplay`], [`Error::LoginFailed`]
    /// (which factor failed is not said).
    pub async fn login(
        &self,
        municipality: &MunicipalityCode,
        login: &str,
        password: &str,
        totp_code: &str,
        address: &str,
    ) -> Result<StaffSession> {
        let r = self
            .login_inner(municipality, login, password, totp_code, address)
            .await;
        // A login that cannot be one is not written into the audit log as given.
        let shown = if plausible_login(login) {
            login
        } else {
            "(invalid)"
        };
        let actor = format!("staff:{municipality}/{shown}");
        let outcome = match &r {
            Ok(_) => "ok",
            Err(e) => e.code(),
        };
        self.audit(&AuditEntry::system(
            &actor,
            municipality,
            "login",
            None,
            outcome,
        ))
        .await?;
        r
    }

    async fn login_inner(
        &self,
        municipality: &MunicipalityCode,
        login: &str,
        password: &str,
        totp_code: &str,
        address: &str,
    ) -> Result<StaffSession> {
        let now = self.now();
        // Cheap refusals first: nothing that cannot be a login, a password or a code
        // reaches the database or argon2.
        if !plausible_login(login)
            || password.is_empty()
            || password.len() > 1024
            || totp_code.len() != 6
            || !totp_code.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(Error::LoginFailed);
        }
        let login_key = format!("login:{municipality}/{login}");
        let addr_key = format!("addr:{address}");
        self.purge_throttle(now.0).await?;
        // Each attempt is counted before the password is checked, atomically, so a burst of
        // parallel guesses meets the slow-down as a sequence would.
        for key in [&login_key, &addr_key] {
            self.reserve_attempt(key, now.0).await?;
        }
        let staff: Option<(String, Vec<u8>, i64, String, bool)> = with_db!(&self.db, p => sqlx::query(
            "SELECT password_hash, totp_secret, last_totp_step, role, disabled FROM staff WHERE municipality = $1 AND login = $2")
            .bind(municipality.as_str()).bind(login).fetch_optional(p).await
            .map(|r| r.map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))))?;
        let verdict = match staff {
            Some((hash, sealed, last_step, role, false)) => {
                let pw_ok = verify_password(password.as_bytes(), &hash).await;
                let secret = self
                    .keys
                    .decrypt_totp(&sealed, &totp_aad(municipality, login))?;
                let current = totp::step(now);
                let matched = (current - 1..=current + 1)
                    .find(|s| constant_eq(&totp::code(&secret, *s), totp_code));
                match (pw_ok, matched) {
                    (true, Some(s)) if s <= last_step => Err(Error::TotpReplay),
                    (true, Some(s)) => {
                        // Claim the step atomically: a concurrent login with the same code loses.
                        let n = with_db!(&self.db, p => sqlx::query(
                            "UPDATE staff SET last_totp_step = $1, last_login_at = $4 WHERE municipality = $2 AND login = $3 AND last_totp_step < $1")
                            .bind(s).bind(municipality.as_str()).bind(login).bind(now.0).execute(p).await.map(|r| r.rows_affected()))?;
                        if n == 1 {
                            Ok(StaffSession::staff(
                                municipality,
                                login,
                                Role::parse(&role)?,
                            ))
                        } else {
                            Err(Error::TotpReplay)
                        }
                    }
                    _ => Err(Error::LoginFailed),
                }
            }
            _ => {
                // Same work for an unknown or disabled login, so timing does not tell.
                let _ = verify_password(password.as_bytes(), dummy_hash().await).await;
                Err(Error::LoginFailed)
            }
        };
        if verdict.is_ok() {
            // The attempt counted up front was no failure: the login starts afresh, the
            // address gets its attempt back.
            with_db!(&self.db, p => sqlx::query("DELETE FROM login_throttle WHERE key = $1")
                .bind(&login_key).execute(p).await.map(|r| r.rows_affected()))?;
            with_db!(&self.db, p => sqlx::query(
                "DELETE FROM login_throttle WHERE key = $1 AND failures <= 1")
                .bind(&addr_key).execute(p).await.map(|r| r.rows_affected()))?;
            with_db!(&self.db, p => sqlx::query(
                "UPDATE login_throttle SET failures = failures - 1 WHERE key = $1 AND failures > 1")
                .bind(&addr_key).execute(p).await.map(|r| r.rows_affected()))?;
        }
        verdict
    }

    /// Count one attempt for `key`, or refuse it while the key is slowed down. A compare-and-
    /// swap on the failure count: of concurrent attempts, each sees its own count.
    async fn reserve_attempt(&self, key: &str, now: i64) -> Result<()> {
        for _ in 0..8 {
            let row: Option<(i64, i64)> = with_db!(&self.db, p => sqlx::query(
                "SELECT failures, next_allowed FROM login_throttle WHERE key = $1")
                .bind(key).fetch_optional(p).await.map(|r| r.map(|r| (r.get(0), r.get(1)))))?;
            let swapped = match row {
                Some((_, next)) if next > now => {
                    return Err(Error::Throttled {
                        retry_after: next - now,
                    });
                }
                Some((failures, _)) => with_db!(&self.db, p => sqlx::query(
                    "UPDATE login_throttle SET failures = $1, next_allowed = $2 WHERE key = $3 AND failures = $4")
                    .bind(failures + 1).bind(now + delay_after(failures + 1)).bind(key).bind(failures)
                    .execute(p).await.map(|r| r.rows_affected()))?,
                None => with_db!(&self.db, p => sqlx::query(
                    "INSERT INTO login_throttle (key, failures, next_allowed) VALUES ($1, 1, $2) ON CONFLICT (key) DO NOTHING")
                    .bind(key).bind(now + delay_after(1)).execute(p).await.map(|r| r.rows_affected()))?,
            };
            if swapped == 1 {
                return Ok(());
            }
        }
        // Lost every race: many attempts at once on this key are themselves a reason to wait.
        Err(Error::Throttled { retry_after: 1 })
    }

    /// Forget quiet throttle rows, and keep at most [`THROTTLE_MAX_ROWS`] (once a minute).
    async fn purge_throttle(&self, now: i64) -> Result<()> {
        use std::sync::atomic::Ordering;
        let last = self.last_throttle_purge.load(Ordering::Relaxed);
        if now.saturating_sub(last) < 60
            || self
                .last_throttle_purge
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            return Ok(());
        }
        with_db!(&self.db, p => sqlx::query("DELETE FROM login_throttle WHERE next_allowed < $1")
            .bind(now - THROTTLE_FORGET_SECS).execute(p).await.map(|r| r.rows_affected()))?;
        with_db!(&self.db, p => sqlx::query(
            "DELETE FROM login_throttle WHERE key IN (SELECT key FROM login_throttle ORDER BY next_allowed \
             LIMIT (SELECT CASE WHEN COUNT(*) > $1 THEN COUNT(*) - $1 ELSE 0 END FROM login_throttle))")
            .bind(THROTTLE_MAX_ROWS).execute(p).await.map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// An admin lifts the slow-down of a login of their own municipality.
    ///
    /// # Errors
    /// [`Error::Forbidden`] unless admin.
    pub async fn unlock_staff(&self, admin: &StaffSession, login: &str) -> Result<()> {
        if admin.role != Role::Admin {
            return Err(Error::Forbidden);
        }
        with_db!(&self.db, p => sqlx::query("DELETE FROM login_throttle WHERE key = $1")
            .bind(format!("login:{}/{login}", admin.municipality)).execute(p).await.map(|r| r.rows_affected()))?;
        self.audit(&AuditEntry::system(
            admin.actor(),
            &admin.municipality,
            "staff-unlock",
            None,
            &format!("ok {login}"),
        ))
        .await?;
        Ok(())
    }

    /// Search residents of the session's municipality.
    ///
    /// # Errors
    /// Database errors.
    pub async fn search(&self, s: &StaffSession, q: &SearchQuery) -> Result<Vec<Resident>> {
        s.must_read_residents()?;
        const COLS: &str = "SELECT atena, family_kanji, given_kanji, family_kana, given_kana, birth_date, sex, ken_no, status, alias FROM resident WHERE municipality = $1 AND ";
        let code = s.municipality.as_str();
        let (sql, key) = match q {
            SearchQuery::Atena(x) => (format!("{COLS}atena = $2"), x.as_str().to_owned()),
            SearchQuery::KenNo(x) => (format!("{COLS}ken_no = $2"), x.as_str().to_owned()),
            // Everyone born that day, then the name rule in Rust: NFKC, case and spacing do not
            // matter, and a foreign resident is found by legal name or by 通称.
            SearchQuery::NameBirth { birth_date, .. } => {
                (format!("{COLS}birth_date = $2"), birth_date.iso())
            }
        };
        let sql = format!("{sql} ORDER BY atena LIMIT {SEARCH_SCAN}");
        let rows: Vec<RawResident> = with_db!(&self.db, p => {
            sqlx::query(sqlx::AssertSqlSafe(sql.clone())).bind(code).bind(&key)
                .fetch_all(p).await
                .map(|rows| rows.iter().map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5), r.get(6), r.get(7), r.get(8), r.get(9))).collect())
        })?;
        let mut found: Vec<Resident> = rows
            .into_iter()
            .map(resident_from_raw)
            .collect::<Result<_>>()?;
        if let SearchQuery::NameBirth { family, given, .. } = q {
            let wanted = comparable_name(&format!("{family}{given}"));
            found.retain(|r| {
                comparable_name(&format!("{}{}", r.family_kanji, r.given_kanji)) == wanted
                    || r.alias
                        .as_deref()
                        .is_some_and(|a| comparable_name(a) == wanted)
            });
        }
        found.truncate(100);
        self.audit(&AuditEntry::system(
            s.actor(),
            &s.municipality,
            "search",
            None,
            &format!("ok hits={}", found.len()),
        ))
        .await?;
        Ok(found)
    }

    /// One resident's record, with doses and issuances (audited).
    ///
    /// # Errors
    /// [`Error::NoSuchResident`] when the session's municipality holds no such 宛名番号.
    pub async fn view(&self, s: &StaffSession, atena: &AtenaNo) -> Result<ResidentView> {
        s.must_read_residents()?;
        let resident = self.resident(&s.municipality, atena).await?;
        let Some(resident) = resident else {
            self.audit(&AuditEntry::system(
                s.actor(),
                &s.municipality,
                "view",
                Some(atena.as_str()),
                "resident-not-found",
            ))
            .await?;
            return Err(Error::NoSuchResident);
        };
        let sealed: Option<Vec<u8>> = with_db!(&self.db, p => sqlx::query(
            "SELECT ciphertext FROM resident_mynumber WHERE municipality = $1 AND atena = $2")
            .bind(s.municipality.as_str()).bind(atena.as_str()).fetch_optional(p).await
            .map(|r| r.map(|r| r.get(0))))?;
        let my_number = sealed
            .map(|c| {
                self.keys
                    .decrypt_mynumber(&c, &s.municipality, atena.as_str())
                    .map(|n| n.masked())
            })
            .transpose()?;
        let doses = self.doses(&s.municipality, atena).await?;
        let issuances = with_db!(&self.db, p => sqlx::query(
            "SELECT certificate_id, issued_at, channel, kind, revoked_at, terms_version, content_digest FROM issuance WHERE municipality = $1 AND atena = $2 ORDER BY issued_at")
            .bind(s.municipality.as_str()).bind(atena.as_str()).fetch_all(p).await
            .map(|rows| rows.iter().map(|r| IssuanceLine {
                certificate_id: r.get(0), issued_at: r.get(1), channel: r.get(2), kind: r.get(3),
                revoked_at: r.get(4), terms_version: r.get(5),
                content_digest: r.get::<Option<Vec<u8>>, _>(6).and_then(|d| <[u8; 32]>::try_from(d).ok()),
            }).collect()))?;
        self.audit(&AuditEntry::system(
            s.actor(),
            &s.municipality,
            "view",
            Some(atena.as_str()),
            "ok",
        ))
        .await?;
        Ok(ResidentView {
            resident,
            my_number,
            doses,
            issuances,
        })
    }

    /// How many residents the session's municipality holds (the counter's dashboard).
    ///
    /// # Errors
    /// Database errors.
    pub async fn count_residents(&self, s: &StaffSession) -> Result<i64> {
        s.must_read_residents()?;
        Ok(
            with_db!(&self.db, p => sqlx::query("SELECT COUNT(*) FROM resident WHERE municipality = $1")
            .bind(s.municipality.as_str()).fetch_one(p).await.map(|r| r.get::<i64, _>(0)))?,
        )
    }
}

pub(in crate::records) fn totp_aad(m: &MunicipalityCode, login: &str) -> String {
    format!("staff-totp/{m}/{login}")
}

fn constant_eq(a: &str, b: &str) -> bool {
    subtle::ConstantTimeEq::ct_eq(a.as_bytes(), b.as_bytes()).into()
}

/// An argon2id hash of a random password, verified against for unknown or disabled logins so
/// they cost the same time as a real one.
async fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    if let Some(h) = DUMMY.get() {
        return h;
    }
    let mut pw = [0u8; 16];
    rand::rng().fill(&mut pw[..]);
    let h = hash_password(&pw).await.unwrap_or_default();
    DUMMY.get_or_init(|| h)
}

async fn hash_password(pw: &[u8]) -> Result<String> {
    let pw = Zeroizing::new(pw.to_vec());
    tokio::task::spawn_blocking(move || {
        Argon2::default()
            .hash_password(&pw)
            .map(|h| h.to_string())
            .map_err(|_| Error::Crypto("argon2"))
    })
    .await
    .map_err(|_| Error::Crypto("argon2 task"))?
}

async fn verify_password(pw: &[u8], hash: &str) -> bool {
    // At most ARGON2_AT_ONCE checks in flight: a flood of logins queues here instead of
    // taking every core and ~19 MiB per check.
    static AT_ONCE: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(ARGON2_AT_ONCE);
    let Ok(_slot) = AT_ONCE.acquire().await else {
        return false;
    };
    let pw = Zeroizing::new(pw.to_vec());
    let hash = hash.to_owned();
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash)
            .map(|h| Argon2::default().verify_password(&pw, &h).is_ok())
            .unwrap_or(false)
    })
    .await
    .unwrap_or(false)
}
