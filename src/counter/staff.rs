//! The admin's staff pages: every login of the municipality with its role and last use (the
//! periodic review, confirmed with one button), adding a login, disabling and enabling it,
//! changing its role, resetting its authenticator and lifting a slow-down. The record system
//! does the work and the auditing ([`crate::records::Records::change_staff`] and its
//! siblings); this module only renders and routes. A new password or TOTP secret is shown on
//! the page that made it, once, and kept nowhere.

use axum::extract::{Path, State as S};
use axum::http::StatusCode;
use axum::response::Response;
use minijinja::context;
use serde::Deserialize;

use super::pages::{Staff, StaffForm, admin_only, error_page, render, staff_ctx};
use super::session::Session;
use super::{Error, State};
use crate::records::{NewTotp, Role, StaffChange};

/// A login unused this long (or never used since added this long ago) is flagged for review.
const UNUSED_SECS: i64 = 90 * 24 * 3600;

/// `POST /staff`: a new login.
#[derive(Deserialize)]
pub(super) struct AddForm {
    pub(super) csrf: String,
    login: String,
    role: String,
}

/// `POST /staff/{login}/{action}`: the role is read for `role` only.
#[derive(Deserialize)]
pub(super) struct ActionForm {
    pub(super) csrf: String,
    #[serde(default)]
    role: String,
}

fn role_of(s: &str) -> Result<Role, Error> {
    Role::parse(s).map_err(|_| Error::Input("役割 / role"))
}

/// What the page says above the list after an action.
struct Done {
    notice: String,
    login: Option<String>,
    password: Option<String>,
    totp: Option<NewTotp>,
}

impl Done {
    fn said(notice: String) -> Self {
        Done {
            notice,
            login: None,
            password: None,
            totp: None,
        }
    }
}

/// An `otpauth://` URI as an inline SVG QR code, for the authenticator app to scan (inline, so
/// the page's `img-src 'self'` policy holds and the secret is never a URL of its own).
fn qr_svg(uri: &str) -> Option<String> {
    let m = crate::formats::qr::bytes(uri.as_bytes()).ok()?;
    let w = m.width();
    let quiet = 4;
    let mut path = String::new();
    for y in 0..w {
        for x in 0..w {
            if m.is_dark(x, y) {
                path.push_str(&format!("M{} {}h1v1h-1z", x + quiet, y + quiet));
            }
        }
    }
    let side = w + 2 * quiet;
    Some(format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {side} {side}\" width=\"200\" height=\"200\" role=\"img\" aria-label=\"TOTP QR\"><rect width=\"{side}\" height=\"{side}\" fill=\"#fff\"/><path d=\"{path}\" fill=\"#000\"/></svg>"
    ))
}

async fn page(state: &State, s: &Session, done: Option<Done>) -> Response {
    let review = match state.records.staff_review(&s.staff).await {
        Ok(r) => r,
        Err(e) => return error_page(&Error::Records(e), Some(s)),
    };
    let now = state.clock.now().0;
    let day = |t: Option<i64>| t.map(|t| crate::date::iso(crate::date::jst(t)));
    let logins: Vec<_> = review
        .logins
        .iter()
        .map(|l| {
            let since = l.last_login_at.or(l.created_at);
            context! {
                login => l.login, role => l.role.as_str(), disabled => l.disabled,
                created => day(l.created_at), last_login => day(l.last_login_at),
                throttled_until => day(l.throttled_until),
                throttled => l.throttled_until.is_some(),
                unused => !l.disabled && since.is_none_or(|t| now - t > UNUSED_SECS),
                own => l.login == s.staff.login(),
            }
        })
        .collect();
    let done = done.map(|d| {
        let uri = d.totp.as_ref().map(|t| t.provisioning_uri.to_string());
        context! {
            notice => d.notice, login => d.login, password => d.password,
            totp_secret => d.totp.as_ref().map(|t| t.secret_base32.to_string()),
            totp_uri => uri.clone(),
            totp_qr => uri.as_deref().and_then(qr_svg).map(minijinja::Value::from_safe_string),
        }
    });
    render(
        StatusCode::OK,
        "staff.html",
        context! {
            staff => staff_ctx(s), csrf => s.csrf.clone(), logins => logins, done => done,
            last_review => review.last_review.map(|(at, by)| context! { at => day(Some(at)), by => by }),
            unused_days => UNUSED_SECS / 86_400,
        },
    )
}

/// `GET /staff`: the admin's list of every login (audited `staff-list`).
pub(super) async fn list(S(state): S<State>, Staff { s, .. }: Staff) -> Response {
    if let Err(r) = admin_only(&s) {
        return r;
    }
    page(&state, &s, None).await
}

/// `POST /staff`: add a login; its password and TOTP secret are shown on this page once.
pub(super) async fn add(
    S(state): S<State>,
    StaffForm {
        staff: Staff { s, .. },
        form: f,
    }: StaffForm<AddForm>,
) -> Response {
    if let Err(r) = admin_only(&s) {
        return r;
    }
    let role = match role_of(&f.role) {
        Ok(r) => r,
        Err(e) => return error_page(&e, Some(&s)),
    };
    let login = f.login.trim();
    match state.records.add_staff_as(&s.staff, login, role).await {
        Ok(new) => {
            let done = Done {
                notice: format!("{login} を追加しました / {login} added ({})", role.as_str()),
                login: Some(login.to_owned()),
                password: Some(new.password.to_string()),
                totp: Some(new.totp),
            };
            page(&state, &s, Some(done)).await
        }
        Err(e) => error_page(&Error::Records(e), Some(&s)),
    }
}

/// `POST /staff/{login}/{action}`: `disable`, `enable`, `role`, `reset-totp` or `unlock`.
pub(super) async fn act(
    S(state): S<State>,
    Path((login, action)): Path<(String, String)>,
    StaffForm {
        staff: Staff { s, .. },
        form: f,
    }: StaffForm<ActionForm>,
) -> Response {
    if let Err(r) = admin_only(&s) {
        return r;
    }
    if !crate::records::plausible_login(&login) {
        return error_page(
            &Error::Records(crate::records::Error::NoSuchStaff),
            Some(&s),
        );
    }
    let (records, staff, login) = (&state.records, &s.staff, login.as_str());
    let change = |c: StaffChange, notice: String| async move {
        records
            .change_staff(staff, login, c)
            .await
            .map(|()| Done::said(notice))
    };
    let r = match action.as_str() {
        "disable" => {
            change(
                StaffChange::Disable,
                format!("{login} を無効にしました / {login} disabled"),
            )
            .await
        }
        "enable" => {
            change(
                StaffChange::Enable,
                format!("{login} を有効にしました / {login} enabled"),
            )
            .await
        }
        "role" => match role_of(&f.role) {
            Ok(role) => {
                change(
                    StaffChange::Role(role),
                    format!(
                        "{login} の役割を {0} にしました / {login} is now {0}",
                        role.as_str()
                    ),
                )
                .await
            }
            Err(e) => return error_page(&e, Some(&s)),
        },
        "reset-totp" => records.reset_totp(staff, login).await.map(|t| Done {
            notice: format!(
                "{login} の認証アプリを再設定しました / {login}'s authenticator was reset"
            ),
            login: Some(login.to_owned()),
            password: None,
            totp: Some(t),
        }),
        "unlock" => records
            .unlock_staff(staff, login)
            .await
            .map(|()| Done::said(format!("{login} のロックを解除しました / {login} unlocked"))),
        _ => return error_page(&Error::Input("操作 / action"), Some(&s)),
    };
    match r {
        Ok(done) => page(&state, &s, Some(done)).await,
        Err(e) => error_page(&Error::Records(e), Some(&s)),
    }
}

/// `POST /staff/review`: the admin confirms the periodic review of the list (audited
/// `staff-review`).
pub(super) async fn confirm_review(
    S(state): S<State>,
    StaffForm {
        staff: Staff { s, .. },
        ..
    }: StaffForm<ActionForm>,
) -> Response {
    if let Err(r) = admin_only(&s) {
        return r;
    }
    match state.records.confirm_staff_review(&s.staff).await {
        Ok(()) => {
            page(
                &state,
                &s,
                Some(Done::said(
                    "一覧の確認を記録しました / Review recorded".to_owned(),
                )),
            )
            .await
        }
        Err(e) => error_page(&Error::Records(e), Some(&s)),
    }
}
