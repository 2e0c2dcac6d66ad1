//! A municipality's admin manages its own staff logins: add, disable and enable, change role,
//! reset the authenticator secret, and the periodic review of every login with its role and
//! last use. Each action is the admin's own (audited under their name), scoped to the admin's
//! municipality, and refused on the admin's own login, so no admin can lock the municipality
//! out of its last admin by accident or hide their own changes.

use serde::Serialize;
use sqlx::Row;

use super::audit::AuditEntry;
use super::error::{Error, Result};
use super::model::Role;
use super::staff::{NewStaff, NewTotp, StaffSession};
use super::{Records, with_db};
use crate::domain::MunicipalityCode;

/// A login as the admin's review page lists it.
#[derive(Debug, Clone, Serialize)]
pub struct StaffLine {
    /// The login name.
    pub login: String,
    /// The role.
    pub role: Role,
    /// Whether it is disabled.
    pub disabled: bool,
    /// When it was added (Unix seconds), when known (logins from before the column: none).
    pub created_at: Option<i64>,
    /// Its last successful login, if any.
    pub last_login_at: Option<i64>,
    /// Until when failed logins slow it down, if they do now.
    pub throttled_until: Option<i64>,
}

/// login, role, disabled, created, last login, slowed down until.
type StaffRow = (String, String, bool, Option<i64>, Option<i64>, Option<i64>);

/// The periodic review: every login, and when an admin last confirmed the list.
#[derive(Debug, Clone, Serialize)]
pub struct StaffReview {
    /// Every login of the municipality, by name.
    pub logins: Vec<StaffLine>,
    /// When the list was last confirmed as reviewed, and by whom.
    pub last_review: Option<(i64, String)>,
}

/// What an admin does to another login.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StaffChange {
    /// No more logins; its open sessions end at their next request.
    Disable,
    /// Logins again.
    Enable,
    /// A new role; open sessions take it at their next request.
    Role(Role),
}

impl Records {
    fn admin_of(&self, s: &StaffSession, login: &str) -> Result<()> {
        if s.role() != Role::Admin {
            return Err(Error::Forbidden);
        }
        if s.login() == login {
            return Err(Error::OwnLogin);
        }
        Ok(())
    }

    /// An admin adds a login to their municipality; its password and TOTP secret are returned
    /// once.
    ///
    /// # Errors
    /// [`Error::Forbidden`] unless admin, [`Error::StaffExists`], [`Error::Invalid`].
    pub async fn add_staff_as(
        &self,
        admin: &StaffSession,
        login: &str,
        role: Role,
    ) -> Result<NewStaff> {
        self.admin_of(admin, login)?;
        self.insert_staff(admin.actor(), admin.municipality(), login, role)
            .await
    }

    /// An admin disables, enables or changes the role of another login of their municipality.
    ///
    /// # Errors
    /// [`Error::Forbidden`], [`Error::OwnLogin`], [`Error::NoSuchStaff`].
    pub async fn change_staff(
        &self,
        admin: &StaffSession,
        login: &str,
        change: StaffChange,
    ) -> Result<()> {
        self.admin_of(admin, login)?;
        let m = admin.municipality().as_str();
        let (n, what) = match change {
            StaffChange::Disable | StaffChange::Enable => {
                let off = change == StaffChange::Disable;
                let n = with_db!(&self.db, p => sqlx::query(
                    "UPDATE staff SET disabled = $1 WHERE municipality = $2 AND login = $3")
                    .bind(off).bind(m).bind(login).execute(p).await.map(|r| r.rows_affected()))?;
                (n, if off { "staff-disable" } else { "staff-enable" })
            }
            StaffChange::Role(role) => {
                let n = with_db!(&self.db, p => sqlx::query(
                    "UPDATE staff SET role = $1 WHERE municipality = $2 AND login = $3")
                    .bind(role.as_str()).bind(m).bind(login).execute(p).await.map(|r| r.rows_affected()))?;
                (n, "staff-role")
            }
        };
        if n == 0 {
            return Err(Error::NoSuchStaff);
        }
        let outcome = match change {
            StaffChange::Role(r) => format!("ok {login} {}", r.as_str()),
            _ => format!("ok {login}"),
        };
        self.audit(&AuditEntry::system(
            admin.actor(),
            admin.municipality(),
            what,
            None,
            &outcome,
        ))
        .await?;
        Ok(())
    }

    /// An admin gives another login a new TOTP secret (a lost phone), returned once; codes of
    /// the old secret stop working at once.
    ///
    /// # Errors
    /// [`Error::Forbidden`], [`Error::OwnLogin`], [`Error::NoSuchStaff`].
    pub async fn reset_totp(&self, admin: &StaffSession, login: &str) -> Result<NewTotp> {
        self.admin_of(admin, login)?;
        let m = admin.municipality();
        let (secret, sealed) = self.new_totp_secret(m, login)?;
        let n = with_db!(&self.db, p => sqlx::query(
            "UPDATE staff SET totp_secret = $1, last_totp_step = 0 WHERE municipality = $2 AND login = $3")
            .bind(&sealed).bind(m.as_str()).bind(login).execute(p).await.map(|r| r.rows_affected()))?;
        if n == 0 {
            return Err(Error::NoSuchStaff);
        }
        self.audit(&AuditEntry::system(
            admin.actor(),
            m,
            "staff-totp-reset",
            None,
            &format!("ok {login}"),
        ))
        .await?;
        Ok(NewTotp::of(&secret, m, login))
    }

    /// Every login of the admin's municipality with its role and last use (audited as
    /// `staff-list`).
    ///
    /// # Errors
    /// [`Error::Forbidden`] unless admin.
    pub async fn staff_review(&self, admin: &StaffSession) -> Result<StaffReview> {
        if admin.role() != Role::Admin {
            return Err(Error::Forbidden);
        }
        let m = admin.municipality();
        let logins = self.list_staff(m).await?;
        let last_review: Option<(i64, String)> = with_db!(&self.db, p => sqlx::query(
            "SELECT at, actor FROM audit_log WHERE municipality = $1 AND action = 'staff-review' ORDER BY seq DESC LIMIT 1")
            .bind(m.as_str()).fetch_optional(p).await.map(|r| r.map(|r| (r.get(0), r.get(1)))))?;
        self.audit(&AuditEntry::system(
            admin.actor(),
            m,
            "staff-list",
            None,
            "ok",
        ))
        .await?;
        Ok(StaffReview {
            logins,
            last_review,
        })
    }

    /// The admin confirms the periodic review of the list (audited as `staff-review`, with how
    /// many logins it held).
    ///
    /// # Errors
    /// [`Error::Forbidden`] unless admin.
    pub async fn confirm_staff_review(&self, admin: &StaffSession) -> Result<()> {
        if admin.role() != Role::Admin {
            return Err(Error::Forbidden);
        }
        let n: i64 = with_db!(&self.db, p => sqlx::query("SELECT COUNT(*) FROM staff WHERE municipality = $1")
            .bind(admin.municipality().as_str()).fetch_one(p).await.map(|r| r.get(0)))?;
        self.audit(&AuditEntry::system(
            admin.actor(),
            admin.municipality(),
            "staff-review",
            None,
            &format!("ok logins={n}"),
        ))
        .await?;
        Ok(())
    }

    /// A session as the database says it is now: the same login with its current role, or
    /// `None` once it was disabled or removed. The counter asks on every request, so an
    /// admin's change reaches open sessions on every replica.
    ///
    /// # Errors
    /// Database errors.
    pub async fn recheck(&self, s: &StaffSession) -> Result<Option<StaffSession>> {
        let row: Option<(String, bool)> = with_db!(&self.db, p => sqlx::query(
            "SELECT role, disabled FROM staff WHERE municipality = $1 AND login = $2")
            .bind(s.municipality().as_str()).bind(s.login()).fetch_optional(p).await
            .map(|r| r.map(|r| (r.get(0), r.get(1)))))?;
        match row {
            Some((role, false)) => Ok(Some(s.with_role(Role::parse(&role)?))),
            _ => Ok(None),
        }
    }

    /// The logins of one municipality with their role, last use and any slow-down now (the
    /// admin's review page; the operator's `records staff list`).
    ///
    /// # Errors
    /// Database errors.
    pub async fn list_staff(&self, m: &MunicipalityCode) -> Result<Vec<StaffLine>> {
        let rows: Vec<StaffRow> = with_db!(&self.db, p => sqlx::query(
            "SELECT s.login, s.role, s.disabled, s.created_at, s.last_login_at, t.next_allowed FROM staff s \
             LEFT JOIN login_throttle t ON t.key = 'login:' || s.municipality || '/' || s.login \
             WHERE s.municipality = $1 ORDER BY s.login")
            .bind(m.as_str()).fetch_all(p).await
            .map(|rows| rows.iter().map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5))).collect()))?;
        let now = self.now().0;
        rows.into_iter()
            .map(
                |(login, role, disabled, created_at, last_login_at, until)| {
                    Ok(StaffLine {
                        login,
                        role: Role::parse(&role)?,
                        disabled,
                        created_at,
                        last_login_at,
                        throttled_until: until.filter(|t| *t > now),
                    })
                },
            )
            .collect()
    }

    /// [`Records::change_staff`] by the operator at the CLI.
    ///
    /// # Errors
    /// As [`Records::change_staff`].
    pub async fn operator_change_staff(
        &self,
        m: &MunicipalityCode,
        login: &str,
        change: StaffChange,
    ) -> Result<()> {
        self.change_staff(&StaffSession::operator(m, "cli"), login, change)
            .await
    }

    /// [`Records::reset_totp`] by the operator at the CLI.
    ///
    /// # Errors
    /// As [`Records::reset_totp`].
    pub async fn operator_reset_totp(&self, m: &MunicipalityCode, login: &str) -> Result<NewTotp> {
        self.reset_totp(&StaffSession::operator(m, "cli"), login)
            .await
    }

    /// [`Records::unlock_staff`] by the operator at the CLI.
    ///
    /// # Errors
    /// Database errors.
    pub async fn operator_unlock_staff(&self, m: &MunicipalityCode, login: &str) -> Result<()> {
        self.unlock_staff(&StaffSession::operator(m, "cli"), login)
            .await
    }
}
