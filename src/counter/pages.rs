//! The counter's handlers and templates. Each handler takes a [`Staff`] (the live session, or
//! the browser is sent to the login page) or a [`StaffForm`] (the same, with the form's CSRF
//! token checked), calls the record system scoped to the session's municipality, and renders
//! a template from `templates/counter/`.

use std::sync::{Arc, OnceLock};

use axum::extract::connect_info::ConnectInfo;
use axum::extract::{
    Extension, Form, FromRequest, FromRequestParts, Path, Query, Request, State as S,
};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use minijinja::{Environment, context};
use serde::{Deserialize, Serialize};

use super::session::{self, LOGIN_CSRF_COOKIE, Lookup, SESSION_COOKIE, Session};
use super::{Error, State};
use crate::domain::{BirthDate, Channel, Kind, MunicipalityCode, Sex};
use crate::formats::mrz::{Td3Mrz, mask_passport};
use crate::http::tls::Peer;
use crate::issuance::IssueFor;
use crate::records::AuditEntry;
use crate::records::{
    AtenaNo, KenNo, PassportData, ResidentStatus, ResidentView, SearchQuery, StaffSession,
};

fn env() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        for (name, src) in [
            (
                "base.html",
                include_str!("../../templates/counter/base.html"),
            ),
            (
                "login.html",
                include_str!("../../templates/counter/login.html"),
            ),
            (
                "search.html",
                include_str!("../../templates/counter/search.html"),
            ),
            (
                "resident.html",
                include_str!("../../templates/counter/resident.html"),
            ),
            (
                "preview.html",
                include_str!("../../templates/counter/preview.html"),
            ),
            (
                "issued.html",
                include_str!("../../templates/counter/issued.html"),
            ),
            (
                "error.html",
                include_str!("../../templates/counter/error.html"),
            ),
            (
                "review.html",
                include_str!("../../templates/counter/review.html"),
            ),
            (
                "audit.html",
                include_str!("../../templates/counter/audit.html"),
            ),
            (
                "staff.html",
                include_str!("../../templates/counter/staff.html"),
            ),
            (
                "stats.html",
                include_str!("../../templates/counter/stats.html"),
            ),
            (
                "retention.html",
                include_str!("../../templates/counter/retention.html"),
            ),
        ] {
            // The templates are compiled into the binary and covered by the tests.
            env.add_template(name, src)
                .expect("counter templates are valid minijinja");
        }
        env
    })
}

pub(super) fn render(status: StatusCode, name: &str, ctx: minijinja::Value) -> Response {
    match env().get_template(name).and_then(|t| t.render(ctx)) {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!(template = name, error = %e, "counter template failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "template error").into_response()
        }
    }
}

fn status_of(e: &Error) -> StatusCode {
    match e {
        Error::Csrf => StatusCode::FORBIDDEN,
        Error::Mrz(_) | Error::MrzBirthDate | Error::Input(_) | Error::NeedsPassport => {
            StatusCode::UNPROCESSABLE_ENTITY
        }
        Error::Records(r) => match r.code() {
            "resident-not-found" => StatusCode::NOT_FOUND,
            "forbidden" => StatusCode::FORBIDDEN,
            "login-failed" | "totp-replay" => StatusCode::UNAUTHORIZED,
            "login-throttled" => StatusCode::TOO_MANY_REQUESTS,
            "staff-not-found" => StatusCode::NOT_FOUND,
            "staff-exists" | "own-login" => StatusCode::CONFLICT,
            "resident-moved-out" | "resident-deceased" | "no-vaccinations" | "invalid" => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        },
        Error::Issuance(e) => match e.code() {
            "resident-moved-out" | "resident-deceased" | "no-vaccinations"
            | "passport-required" => StatusCode::UNPROCESSABLE_ENTITY,
            "resident-not-found" => StatusCode::NOT_FOUND,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        },
        Error::MoveIn(e) => match e.code() {
            "forbidden" | "move-in-forbidden" => StatusCode::FORBIDDEN,
            "move-in-no-match" | "municipality-unknown" | "move-in-no-route" => {
                StatusCode::NOT_FOUND
            }
            "move-in-not-moved-out" => StatusCode::CONFLICT,
            _ => StatusCode::BAD_GATEWAY,
        },
        Error::NotIssuedHere => StatusCode::NOT_FOUND,
        Error::Bind(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

pub(super) fn error_ctx(e: &Error) -> minijinja::Value {
    context! { code => e.code(), ja => e.message_ja(), en => e.to_string() }
}

pub(super) fn error_page(e: &Error, sess: Option<&Session>) -> Response {
    render(
        status_of(e),
        "error.html",
        context! { error => error_ctx(e), staff => sess.map(staff_ctx), csrf => sess.map(|s| s.csrf.clone()) },
    )
}

pub(super) fn staff_ctx(s: &Session) -> minijinja::Value {
    context! {
        login => s.staff.login(),
        municipality => s.staff.municipality().as_str(),
        role => s.staff.role().as_str(),
        may_issue => s.staff.may_issue(),
        admin => s.staff.role() == crate::records::Role::Admin,
        may_audit => may_audit(&s.staff),
        reads_residents => s.staff.reads_residents(),
        move_in => s.staff.role() == crate::records::Role::MoveIn,
        may_stats => matches!(s.staff.role(), crate::records::Role::Admin | crate::records::Role::Stats),
    }
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

pub(super) fn set_cookie(
    state: &State,
    name: &str,
    value: &str,
    max_age: Option<i64>,
) -> HeaderValue {
    let mut c = format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict");
    if state.settings.secure_cookies {
        c.push_str("; Secure");
    }
    if let Some(a) = max_age {
        c.push_str(&format!("; Max-Age={a}"));
    }
    HeaderValue::from_str(&c).unwrap_or_else(|_| HeaderValue::from_static("invalid=1"))
}

/// The caller's session, or a redirect to the login page.
#[expect(
    clippy::result_large_err,
    reason = "the refusal is the page itself, built once per request"
)]
fn current(state: &State, headers: &HeaderMap) -> Result<(String, Session), Response> {
    let Some(id) = cookie(headers, SESSION_COOKIE) else {
        return Err(Redirect::to("/login").into_response());
    };
    match state
        .sessions
        .touch(&id, state.clock.now(), state.settings.idle_timeout_secs)
    {
        Lookup::Live(s) => Ok((id, *s)),
        Lookup::Expired => Err((
            [(
                header::SET_COOKIE,
                set_cookie(state, SESSION_COOKIE, "", Some(0)),
            )],
            Redirect::to("/login?expired=1"),
        )
            .into_response()),
        Lookup::Missing => Err(Redirect::to("/login").into_response()),
    }
}

/// A request from a logged-in staff member: the live session (its ID and contents), or else
/// the answer is a redirect to the login page.
pub(super) struct Staff {
    pub(super) id: String,
    pub(super) s: Session,
}

impl FromRequestParts<State> for Staff {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &State) -> Result<Self, Response> {
        let (id, mut s) = current(state, &parts.headers)?;
        // An admin's change reaches open sessions here: a disabled login's session ends, a
        // changed role applies from this request on.
        match state.records.recheck(&s.staff).await {
            Ok(Some(now)) => {
                if now.role() != s.staff.role() {
                    state.sessions.set_staff(&id, now.clone());
                    s.staff = now;
                }
                Ok(Staff { id, s })
            }
            Ok(None) => {
                state.sessions.close(&id);
                Err((
                    [(
                        header::SET_COOKIE,
                        set_cookie(state, SESSION_COOKIE, "", Some(0)),
                    )],
                    Redirect::to("/login?disabled=1"),
                )
                    .into_response())
            }
            Err(e) => Err(error_page(&Error::Records(e), None)),
        }
    }
}

/// A form that carries the session's CSRF token.
pub(super) trait CsrfToken {
    /// The token the form echoed.
    fn csrf(&self) -> &str;
}

/// A form posted by a logged-in staff member, its CSRF token already checked against the
/// session: every state-changing counter handler starts from this.
pub(super) struct StaffForm<T> {
    pub(super) staff: Staff,
    pub(super) form: T,
}

impl<T> FromRequest<State> for StaffForm<T>
where
    T: serde::de::DeserializeOwned + CsrfToken + Send,
{
    type Rejection = Response;

    async fn from_request(req: Request, state: &State) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let staff = Staff::from_request_parts(&mut parts, state).await?;
        let Form(form) = Form::<T>::from_request(Request::from_parts(parts, body), state)
            .await
            .map_err(IntoResponse::into_response)?;
        if !session::same(&staff.s.csrf, form.csrf()) {
            return Err(error_page(&Error::Csrf, Some(&staff.s)));
        }
        Ok(StaffForm { staff, form })
    }
}

macro_rules! csrf_forms {
    ($($t:ty),*) => {$(
        impl CsrfToken for $t {
            fn csrf(&self) -> &str {
                &self.csrf
            }
        }
    )*};
}
csrf_forms!(CsrfForm, SearchForm, PassportForm, KindForm, ReasonForm);
csrf_forms!(
    super::staff::AddForm,
    super::staff::ActionForm,
    super::move_in::MoveInForm
);

/// A revocation's form: the reason, recorded in the audit log.
#[derive(Deserialize)]
pub(super) struct ReasonForm {
    csrf: String,
    reason: String,
}

/// Admins only: revoking is the municipality's decision, not a clerk's.
#[expect(
    clippy::result_large_err,
    reason = "the refusal is the page itself, built once per request"
)]
pub(super) fn admin_only(s: &Session) -> Result<(), Response> {
    if s.staff.role() == crate::records::Role::Admin {
        Ok(())
    } else {
        Err(error_page(
            &Error::Records(crate::records::Error::Forbidden),
            Some(s),
        ))
    }
}

/// `POST /certificates/{id}/revoke`: an admin revokes one of the municipality's certificates,
/// with a reason (audited; its rid goes into the CRL), and returns to the resident's page.
pub(super) async fn revoke(
    S(state): S<State>,
    Path(id): Path<String>,
    StaffForm {
        staff: Staff { s, .. },
        form: f,
    }: StaffForm<ReasonForm>,
) -> Response {
    if let Err(r) = admin_only(&s) {
        return r;
    }
    // Another municipality's certificate, or none: "not found" alike.
    let Ok(cid) = crate::domain::CertificateId::parse(&id) else {
        return error_page(&Error::Input("証明書ID / certificate ID"), Some(&s));
    };
    let owner = match state.records.certificate_owner(&cid).await {
        Ok(Some((m, atena))) if &m == s.staff.municipality() => atena,
        Ok(_) => {
            return error_page(
                &Error::Records(crate::records::Error::UnknownCertificate(id)),
                Some(&s),
            );
        }
        Err(e) => return error_page(&Error::Records(e), Some(&s)),
    };
    let r = crate::issuance::revoke::revoke(
        &state.records,
        &cid,
        &f.reason,
        s.staff.actor(),
        state.service.publication_dir(),
    )
    .await;
    match r {
        Ok(_) => Redirect::to(&format!("/residents/{owner}")).into_response(),
        Err(e) => error_page(&Error::Issuance(e), Some(&s)),
    }
}

/// `POST /certificates/{id}/reprint`: print one of the municipality's certificates again
/// (same ID, audited `reprint`), while its record still says what it said.
pub(super) async fn reprint(
    S(state): S<State>,
    Path(id): Path<String>,
    StaffForm {
        staff: Staff { id: sid, s },
        ..
    }: StaffForm<CsrfForm>,
) -> Response {
    if !s.staff.may_issue() {
        return error_page(&Error::Records(crate::records::Error::Forbidden), Some(&s));
    }
    let Ok(cid) = crate::domain::CertificateId::parse(&id) else {
        return error_page(&Error::Input("証明書ID / certificate ID"), Some(&s));
    };
    match state
        .service
        .reprint(s.staff.municipality(), &cid, s.staff.actor())
        .await
    {
        Ok(a) => {
            let to = format!("/certificates/{}", a.certificate_id);
            state.sessions.set_issued(&sid, a.certificate_id, a.pdf);
            Redirect::to(&to).into_response()
        }
        Err(e) => error_page(&Error::Issuance(e), Some(&s)),
    }
}

/// Auditors and admins read the municipality's audit log; clerks do not.
fn may_audit(s: &StaffSession) -> bool {
    matches!(
        s.role(),
        crate::records::Role::Auditor | crate::records::Role::Admin
    )
}

/// The auditor's filters, from the query string; empty fields match everything.
#[derive(Deserialize, Default)]
pub(super) struct AuditFilter {
    #[serde(default)]
    action: String,
    #[serde(default)]
    subject: String,
}

/// The most entries the page shows or the CSV holds.
const AUDIT_ROWS: i64 = 5_000;

impl AuditFilter {
    fn query(&self) -> Result<crate::records::AuditQuery, Error> {
        let field = |v: &str, what: &'static str| -> Result<Option<String>, Error> {
            let v = v.trim();
            if v.is_empty() {
                return Ok(None);
            }
            if v.len() > 64
                || !v
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_:".contains(&b))
            {
                return Err(Error::Input(what));
            }
            Ok(Some(v.to_owned()))
        };
        Ok(crate::records::AuditQuery {
            action: field(&self.action, "操作 / action")?,
            subject: field(&self.subject, "対象 / subject")?,
        })
    }
}

/// The auditor's search, shared by the page and the CSV: the role check, the filters, the
/// municipality's matching entries.
async fn search_audit(
    state: &State,
    s: &Session,
    f: &AuditFilter,
) -> Result<(crate::records::AuditQuery, Vec<crate::records::LoggedEntry>), Response> {
    if !may_audit(&s.staff) {
        return Err(error_page(
            &Error::Records(crate::records::Error::Forbidden),
            Some(s),
        ));
    }
    let q = f.query().map_err(|e| error_page(&e, Some(s)))?;
    let entries = state
        .records
        .search_audit(s.staff.municipality(), &q, AUDIT_ROWS)
        .await
        .map_err(|e| error_page(&Error::Records(e), Some(s)))?;
    Ok((q, entries))
}

/// `GET /audit`: the municipality's audit log, searched, with `audit verify`'s result.
pub(super) async fn audit_log(
    S(state): S<State>,
    Staff { s, .. }: Staff,
    Query(f): Query<AuditFilter>,
) -> Response {
    let (q, entries) = match search_audit(&state, &s, &f).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    let verified = match state.records.verify_audit().await {
        Ok(r) => context! { ok => true, entries => r.entries, checkpoints => r.checkpoints },
        Err(e) => context! { ok => false, code => e.code(), message => e.to_string() },
    };
    audit(&state, &s.staff, "audit-search", None).await;
    let rows: Vec<_> = entries
        .iter()
        .map(|e| {
            context! {
                seq => e.seq, at => crate::date::iso(crate::date::jst(e.at)), actor => e.actor,
                action => e.action, subject => e.subject, outcome => e.outcome,
            }
        })
        .collect();
    render(
        StatusCode::OK,
        "audit.html",
        context! {
            staff => staff_ctx(&s), csrf => s.csrf.clone(), entries => rows,
            action => f.action.trim(), subject => f.subject.trim(), verified => verified,
            limit => AUDIT_ROWS,
            // The filters passed validation: letters, digits, - _ : only.
            csv_href => format!(
                "/audit.csv?action={}&subject={}",
                q.action.as_deref().unwrap_or(""),
                q.subject.as_deref().unwrap_or("")
            ),
        },
    )
}

/// `GET /audit.csv`: the same search as CSV (audited as `audit-export`). No MyNumber is ever
/// in the log, so none can be in the file.
pub(super) async fn audit_csv(
    S(state): S<State>,
    Staff { s, .. }: Staff,
    Query(f): Query<AuditFilter>,
) -> Response {
    let (_, entries) = match search_audit(&state, &s, &f).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    let write = || -> Result<Vec<u8>, csv::Error> {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record([
            "seq", "at_unix", "date_jst", "actor", "action", "subject", "outcome",
        ])?;
        for e in &entries {
            w.write_record([
                e.seq.to_string().as_str(),
                &e.at.to_string(),
                &crate::date::iso(crate::date::jst(e.at)),
                &e.actor,
                &e.action,
                e.subject.as_deref().unwrap_or(""),
                &e.outcome,
            ])?;
        }
        w.into_inner().map_err(|e| csv::Error::from(e.into_error()))
    };
    let body = match write() {
        Ok(b) => b,
        Err(_) => return error_page(&Error::Input("CSV"), Some(&s)),
    };
    audit(&state, &s.staff, "audit-export", None).await;
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"audit.csv\"",
            ),
        ],
        body,
    )
        .into_response()
}

/// `GET /review`: an admin's list of the municipality's certificates in force issued from
/// data since changed, with the one-step revocation.
pub(super) async fn review(S(state): S<State>, Staff { s, .. }: Staff) -> Response {
    if let Err(r) = admin_only(&s) {
        return r;
    }
    review_page(&state, &s, None).await
}

async fn review_page(state: &State, s: &Session, revoked: Option<usize>) -> Response {
    match crate::issuance::review::stale_certificates(&state.records, s.staff.municipality()).await
    {
        Ok(list) => render(
            StatusCode::OK,
            "review.html",
            context! {
                staff => staff_ctx(s), csrf => s.csrf.clone(), stale => list, revoked => revoked,
            },
        ),
        Err(e) => error_page(&Error::Issuance(e), Some(s)),
    }
}

/// `POST /review/revoke`: revoke every listed certificate in one step, with the reason.
pub(super) async fn revoke_stale(
    S(state): S<State>,
    StaffForm {
        staff: Staff { s, .. },
        form: f,
    }: StaffForm<ReasonForm>,
) -> Response {
    if let Err(r) = admin_only(&s) {
        return r;
    }
    match crate::issuance::review::revoke_stale(
        &state.records,
        s.staff.municipality(),
        &f.reason,
        s.staff.actor(),
        state.service.publication_dir(),
    )
    .await
    {
        Ok(done) => review_page(&state, &s, Some(done.len())).await,
        Err(e) => error_page(&Error::Issuance(e), Some(&s)),
    }
}

async fn audit(state: &State, s: &StaffSession, action: &str, subject: Option<&str>) {
    let e = AuditEntry::system(s.actor(), s.municipality(), action, subject, "ok");
    if let Err(e) = state.records.audit(&e).await {
        tracing::error!(code = e.code(), "counter audit entry failed");
    }
}

/// Headers on every counter response: nothing cached, no framing by others, no referrer.
pub(super) async fn security_headers(mut r: Response) -> Response {
    let h = r.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self'; frame-ancestors 'self'; form-action 'self'",
        ),
    );
    h.insert(
        header::X_FRAME_OPTIONS,
        HeaderValue::from_static("SAMEORIGIN"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    r
}

/// The stylesheet.
pub(super) async fn css() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("../../templates/counter/counter.css"),
    )
        .into_response()
}

/// `/assets/print.js`: opens the print dialog on the issued PDF (CSP allows `'self'` scripts).
pub(super) async fn print_js() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        include_str!("../../templates/counter/print.js"),
    )
        .into_response()
}

/// `/`: the search page when logged in, else the login page.
pub(super) async fn root(Staff { s, .. }: Staff) -> Response {
    Redirect::to(home(&s.staff)).into_response()
}

/// Where a login lands: the statistics for the `stats` role (it reads no resident), else the
/// search.
fn home(s: &StaffSession) -> &'static str {
    if s.reads_residents() {
        "/search"
    } else {
        "/stats"
    }
}

/// The statistics' days, from the query string (`YYYY-MM-DD`, either side may be empty).
#[derive(Deserialize, Default)]
pub(super) struct DaysQuery {
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
}

impl DaysQuery {
    fn days(&self) -> Result<crate::records::Days, Error> {
        let day = |v: &str| -> Result<Option<BirthDate>, Error> {
            let v = v.trim();
            if v.is_empty() {
                return Ok(None);
            }
            BirthDate::parse(v)
                .map(Some)
                .map_err(|_| Error::Input("日付 / date (YYYY-MM-DD)"))
        };
        Ok(crate::records::Days {
            from: day(&self.from)?,
            to: day(&self.to)?,
        })
    }
}

/// The statistics for the page or the CSV: the role check is the record system's.
async fn stats_for(
    state: &State,
    s: &Session,
    q: &DaysQuery,
) -> Result<(crate::records::Stats, crate::records::Days), Response> {
    let days = q.days().map_err(|e| error_page(&e, Some(s)))?;
    state
        .records
        .stats(&s.staff, crate::records::SUPPRESS_UNDER, days)
        .await
        .map(|st| (st, days))
        .map_err(|e| error_page(&Error::Records(e), Some(s)))
}

/// `GET /stats`: counts only, small cells suppressed (stats: every municipality; admin: its own).
pub(super) async fn stats(
    S(state): S<State>,
    Staff { s, .. }: Staff,
    Query(q): Query<DaysQuery>,
) -> Response {
    match stats_for(&state, &s, &q).await {
        Ok((st, days)) => {
            let (from, to) = (
                days.from.map(|d| d.iso()).unwrap_or_default(),
                days.to.map(|d| d.iso()).unwrap_or_default(),
            );
            render(
                StatusCode::OK,
                "stats.html",
                context! {
                    staff => staff_ctx(&s), csrf => s.csrf.clone(), rows => st.rows,
                    threshold => st.threshold,
                    csv_href => format!("/stats.csv?from={from}&to={to}"),
                    from => from, to => to,
                },
            )
        }
        Err(r) => r,
    }
}

/// `GET /stats.csv`: the same as CSV.
pub(super) async fn stats_csv(
    S(state): S<State>,
    Staff { s, .. }: Staff,
    Query(q): Query<DaysQuery>,
) -> Response {
    match stats_for(&state, &s, &q).await.map(|(st, _)| st) {
        Ok(st) => (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"stats.csv\"",
                ),
            ],
            st.to_csv(),
        )
            .into_response(),
        Err(r) => r,
    }
}

#[derive(Deserialize)]
pub(super) struct LoginQuery {
    #[serde(default)]
    expired: Option<String>,
    #[serde(default)]
    disabled: Option<String>,
}

fn login_page(state: &State, status: StatusCode, error: Option<&Error>, expired: bool) -> Response {
    login_page_with(state, status, error, expired, false)
}

fn login_page_with(
    state: &State,
    status: StatusCode,
    error: Option<&Error>,
    expired: bool,
    disabled: bool,
) -> Response {
    let token = session::token();
    let mut r = render(
        status,
        "login.html",
        context! {
            csrf => token.clone(), error => error.map(error_ctx), expired => expired,
            disabled => disabled,
        },
    );
    r.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(state, LOGIN_CSRF_COOKIE, &token, Some(30 * 60)),
    );
    r
}

/// `GET /login`.
pub(super) async fn login_form(S(state): S<State>, Query(q): Query<LoginQuery>) -> Response {
    login_page_with(
        &state,
        StatusCode::OK,
        None,
        q.expired.is_some(),
        q.disabled.is_some(),
    )
}

#[derive(Deserialize)]
pub(super) struct LoginForm {
    csrf: String,
    municipality: String,
    login: String,
    password: String,
    totp: String,
}

/// `POST /login`: password + TOTP through [`crate::records::Records::login`].
pub(super) async fn login(
    S(state): S<State>,
    headers: HeaderMap,
    peer: Option<Extension<ConnectInfo<Peer>>>,
    Form(f): Form<LoginForm>,
) -> Response {
    // Before anything else: what cannot be a login is refused without touching the
    // database or argon2 (and is never written to the audit log).
    if !crate::records::plausible_login(f.login.trim())
        || f.password.len() > 1024
        || f.totp.trim().len() != 6
        || f.csrf.len() > 128
    {
        return login_page(
            &state,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(&Error::Input("login ID, password or one-time code")),
            false,
        );
    }
    let echoed = cookie(&headers, LOGIN_CSRF_COOKIE).unwrap_or_default();
    if echoed.is_empty() || !session::same(&echoed, &f.csrf) {
        return login_page(&state, StatusCode::FORBIDDEN, Some(&Error::Csrf), false);
    }
    let Ok(code) = MunicipalityCode::parse(f.municipality.trim()) else {
        return login_page(
            &state,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(&Error::Input("municipality code (6 digits)")),
            false,
        );
    };
    // The slow-down's address key: the peer, or behind a trusted proxy the address it
    // forwarded; IPv6 grouped by /64.
    let address = peer.map_or_else(
        || "unknown".to_owned(),
        |Extension(ConnectInfo(p))| {
            let forwarded = headers.get("x-forwarded-for").and_then(|v| v.to_str().ok());
            crate::http::rate_key(crate::http::client_ip(
                p.addr.ip(),
                forwarded,
                &state.settings.trusted_proxies,
            ))
        },
    );
    match state
        .records
        .login(&code, f.login.trim(), &f.password, f.totp.trim(), &address)
        .await
    {
        Ok(staff) => {
            let to = home(&staff);
            let id = state.sessions.open(staff, state.clock.now());
            let mut r = Redirect::to(to).into_response();
            let h = r.headers_mut();
            h.append(
                header::SET_COOKIE,
                set_cookie(&state, SESSION_COOKIE, &id, None),
            );
            h.append(
                header::SET_COOKIE,
                set_cookie(&state, LOGIN_CSRF_COOKIE, "", Some(0)),
            );
            r
        }
        Err(e) => {
            let e = Error::Records(e);
            login_page(&state, status_of(&e), Some(&e), false)
        }
    }
}

#[derive(Deserialize)]
pub(super) struct CsrfForm {
    pub(super) csrf: String,
}

/// `POST /logout`.
pub(super) async fn logout(S(state): S<State>, f: StaffForm<CsrfForm>) -> Response {
    state.sessions.close(&f.staff.id);
    (
        [(
            header::SET_COOKIE,
            set_cookie(&state, SESSION_COOKIE, "", Some(0)),
        )],
        Redirect::to("/login"),
    )
        .into_response()
}

#[derive(Serialize)]
struct Row {
    atena: String,
    name: String,
    alias: Option<String>,
    kana: String,
    birth_date: String,
    sex: &'static str,
    ken_no: String,
    status: &'static str,
}

fn sex_label(s: Sex) -> &'static str {
    match s {
        Sex::Male => "男 Male",
        Sex::Female => "女 Female",
        _ => "不明 Unknown",
    }
}

fn status_label(s: ResidentStatus) -> &'static str {
    match s {
        ResidentStatus::Resident => "住民 Resident",
        ResidentStatus::MovedOut => "転出 Moved out",
        ResidentStatus::Deceased => "死亡 Deceased",
    }
}

fn row(r: &crate::records::Resident) -> Row {
    Row {
        atena: r.atena.as_str().to_owned(),
        name: r.display_name(),
        alias: r.alias.clone(),
        kana: format!("{} {}", r.family_kana, r.given_kana),
        birth_date: r.birth_date.iso(),
        sex: sex_label(r.sex),
        ken_no: r.ken_no.as_str().to_owned(),
        status: status_label(r.status),
    }
}

async fn search_page(
    state: &State,
    s: &Session,
    status: StatusCode,
    results: Option<Vec<Row>>,
    form: &SearchForm,
    error: Option<&Error>,
) -> Response {
    let count = match state.records.count_residents(&s.staff).await {
        Ok(n) => n,
        Err(e) => return error_page(&Error::Records(e), Some(s)),
    };
    render(
        status,
        "search.html",
        context! {
            staff => staff_ctx(s), csrf => s.csrf.clone(), count => count,
            results => results, form => form, error => error.map(error_ctx),
        },
    )
}

/// `GET /search`: the search form and the municipality's resident count (audited).
pub(super) async fn search_form(S(state): S<State>, Staff { s, .. }: Staff) -> Response {
    audit(&state, &s.staff, "counter-dashboard", None).await;
    search_page(
        &state,
        &s,
        StatusCode::OK,
        None,
        &SearchForm::default(),
        None,
    )
    .await
}

#[derive(Deserialize, Serialize, Default)]
pub(super) struct SearchForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    by: String,
    #[serde(default)]
    atena: String,
    #[serde(default)]
    ken_no: String,
    #[serde(default)]
    family: String,
    #[serde(default)]
    given: String,
    #[serde(default)]
    birth_date: String,
}

impl SearchForm {
    fn query(&self) -> Result<SearchQuery, Error> {
        match self.by.as_str() {
            "atena" => AtenaNo::parse(self.atena.trim())
                .map(SearchQuery::Atena)
                .map_err(|_| Error::Input("宛名番号 / resident number")),
            "ken" => KenNo::parse(self.ken_no.trim())
                .map(SearchQuery::KenNo)
                .map_err(|_| Error::Input("券番号 / coupon number (10 digits)")),
            "name" => {
                let birth_date = BirthDate::parse(self.birth_date.trim())
                    .map_err(|_| Error::Input("生年月日 / birth date (YYYY-MM-DD)"))?;
                if self.family.trim().is_empty() || self.given.trim().is_empty() {
                    return Err(Error::Input("姓・名 / family and given name"));
                }
                Ok(SearchQuery::NameBirth {
                    family: self.family.trim().to_owned(),
                    given: self.given.trim().to_owned(),
                    birth_date,
                })
            }
            _ => Err(Error::Input("search type")),
        }
    }
}

/// `POST /search`: search the session's municipality (audited by the record system).
pub(super) async fn search(
    S(state): S<State>,
    StaffForm {
        staff: Staff { s, .. },
        form: f,
    }: StaffForm<SearchForm>,
) -> Response {
    let q = match f.query() {
        Ok(q) => q,
        Err(e) => return search_page(&state, &s, status_of(&e), None, &f, Some(&e)).await,
    };
    match state.records.search(&s.staff, &q).await {
        Ok(found) => {
            let rows = found.iter().map(row).collect();
            search_page(&state, &s, StatusCode::OK, Some(rows), &f, None).await
        }
        Err(e) => error_page(&Error::Records(e), Some(&s)),
    }
}

#[derive(Serialize)]
struct DoseRow {
    dose: u32,
    date: String,
    product_ja: &'static str,
    product_en: &'static str,
    lot: String,
    venue: String,
    /// The former municipality that provided it (転入照会).
    provided_by: Option<String>,
}

#[derive(Serialize)]
struct PassportRow {
    romanised_name: String,
    nationality: String,
    passport_masked: String,
    former_name: Option<String>,
}

fn passport_row(p: &PassportData) -> PassportRow {
    PassportRow {
        romanised_name: p.romanised_name.clone(),
        nationality: p.nationality.clone(),
        passport_masked: mask_passport(&p.passport_number),
        former_name: p.former_name.clone(),
    }
}

fn view_ctx(v: &ResidentView) -> minijinja::Value {
    let doses: Vec<DoseRow> = v
        .doses
        .iter()
        .map(|d| DoseRow {
            dose: d.dose,
            date: d.date.iso(),
            product_ja: d.product.name_ja,
            product_en: d.product.name_en,
            lot: d.lot.clone(),
            venue: d.venue.clone(),
            provided_by: d.provided_by.as_ref().map(|m| m.as_str().to_owned()),
        })
        .collect();
    // Certificates in force issued from data since changed are flagged for the admin.
    let now = Some((
        crate::issuance::review::digest_of(&v.resident, &v.doses),
        v.resident.status,
    ));
    let issuances: Vec<_> = v
        .issuances
        .iter()
        .map(|i| {
            let stale = i
                .revoked_at
                .is_none()
                .then(|| crate::issuance::review::why(i.content_digest, now))
                .flatten()
                .map(|w| w.as_str());
            context! {
                id => i.certificate_id, at => i.issued_at, channel => i.channel, kind => i.kind,
                revoked => i.revoked_at.is_some(), terms => i.terms_version, stale => stale,
            }
        })
        .collect();
    context! {
        resident => row(&v.resident),
        issuable => v.resident.status == ResidentStatus::Resident && !v.doses.is_empty(),
        my_number => v.my_number.as_ref().map(ToString::to_string),
        doses => doses,
        issuances => issuances,
    }
}

fn session_passport<'a>(s: &'a Session, atena: &AtenaNo) -> Option<&'a PassportData> {
    s.passport
        .as_ref()
        .filter(|(a, _)| a == atena)
        .map(|(_, p)| p)
}

async fn resident_page(
    state: &State,
    s: &Session,
    atena: &AtenaNo,
    error: Option<&Error>,
    mrz: &str,
) -> Response {
    resident_page_with(state, s, atena, error, mrz, None).await
}

pub(super) async fn resident_page_with(
    state: &State,
    s: &Session,
    atena: &AtenaNo,
    error: Option<&Error>,
    mrz: &str,
    notice: Option<String>,
) -> Response {
    let v = match state.records.view(&s.staff, atena).await {
        Ok(v) => v,
        Err(e) => return error_page(&Error::Records(e), Some(s)),
    };
    render(
        error.map_or(StatusCode::OK, status_of),
        "resident.html",
        context! {
            staff => staff_ctx(s), csrf => s.csrf.clone(), view => view_ctx(&v),
            passport => session_passport(s, atena).map(passport_row),
            error => error.map(error_ctx), mrz => mrz, notice => notice,
        },
    )
}

#[expect(
    clippy::result_large_err,
    reason = "the refusal is the page itself, built once per request"
)]
pub(super) fn parse_atena(raw: &str, s: &Session) -> Result<AtenaNo, Response> {
    AtenaNo::parse(raw)
        .map_err(|_| error_page(&Error::Input("宛名番号 / resident number"), Some(s)))
}

/// `GET /residents/{atena}`: the record view (audited by the record system).
pub(super) async fn resident(
    S(state): S<State>,
    Path(atena): Path<String>,
    Staff { s, .. }: Staff,
) -> Response {
    let atena = match parse_atena(&atena, &s) {
        Ok(a) => a,
        Err(r) => return r,
    };
    resident_page(&state, &s, &atena, None, "").await
}

#[derive(Deserialize)]
pub(super) struct PassportForm {
    csrf: String,
    mrz: String,
    #[serde(default)]
    former_name: String,
}

/// `POST /residents/{atena}/passport`: paste the MRZ; every check digit and the birth date
/// against the record are checked before it is kept in the session.
pub(super) async fn passport(
    S(state): S<State>,
    Path(atena): Path<String>,
    StaffForm {
        staff: Staff { id, s },
        form: f,
    }: StaffForm<PassportForm>,
) -> Response {
    let atena = match parse_atena(&atena, &s) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let mrz = match Td3Mrz::parse(&f.mrz.replace('\r', "")) {
        Ok(m) => m,
        Err(e) => return resident_page(&state, &s, &atena, Some(&Error::Mrz(e)), &f.mrz).await,
    };
    let v = match state.records.view(&s.staff, &atena).await {
        Ok(v) => v,
        Err(e) => return error_page(&Error::Records(e), Some(&s)),
    };
    if v.resident.birth_date.compact()[2..] != mrz.birth_date {
        return resident_page(&state, &s, &atena, Some(&Error::MrzBirthDate), &f.mrz).await;
    }
    let former = f.former_name.trim();
    if former.chars().count() > 50 || former.chars().any(char::is_control) {
        return resident_page(
            &state,
            &s,
            &atena,
            Some(&Error::Input("旧姓 / former name")),
            &f.mrz,
        )
        .await;
    }
    state.sessions.set_passport(
        &id,
        atena.clone(),
        PassportData {
            romanised_name: mrz.full_name(),
            nationality: mrz.nationality.clone(),
            passport_number: mrz.passport_number.clone(),
            former_name: (!former.is_empty()).then(|| former.to_owned()),
        },
    );
    Redirect::to(&format!("/residents/{}#preview", atena.as_str())).into_response()
}

#[derive(Deserialize)]
pub(super) struct KindForm {
    csrf: String,
    kind: String,
}

fn kind_of(s: &str) -> Result<Kind, Error> {
    match s {
        "domestic" => Ok(Kind::Domestic),
        "overseas" => Ok(Kind::Overseas),
        _ => Err(Error::Input("kind")),
    }
}

/// `POST /residents/{atena}/preview`: what the certificate will say (audited).
pub(super) async fn preview(
    S(state): S<State>,
    Path(atena): Path<String>,
    StaffForm {
        staff: Staff { s, .. },
        form: f,
    }: StaffForm<KindForm>,
) -> Response {
    let atena = match parse_atena(&atena, &s) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let kind = match kind_of(&f.kind) {
        Ok(k) => k,
        Err(e) => return error_page(&e, Some(&s)),
    };
    let passport = session_passport(&s, &atena);
    if kind == Kind::Overseas && passport.is_none() {
        return resident_page(&state, &s, &atena, Some(&Error::NeedsPassport), "").await;
    }
    let v = match state.records.view(&s.staff, &atena).await {
        Ok(v) => v,
        Err(e) => return error_page(&Error::Records(e), Some(&s)),
    };
    let refusal = match v.resident.status {
        ResidentStatus::MovedOut => Some(crate::records::Error::MovedOut(
            s.staff.municipality().clone(),
        )),
        ResidentStatus::Deceased => Some(crate::records::Error::Deceased),
        ResidentStatus::Resident if v.doses.is_empty() => Some(crate::records::Error::NoDoses(
            s.staff.municipality().clone(),
        )),
        ResidentStatus::Resident => None,
    };
    if let Some(e) = refusal {
        return error_page(&Error::Records(e), Some(&s));
    }
    audit(&state, &s.staff, "counter-preview", Some(atena.as_str())).await;
    render(
        StatusCode::OK,
        "preview.html",
        context! {
            staff => staff_ctx(&s), csrf => s.csrf.clone(), view => view_ctx(&v),
            kind => kind.as_str(),
            passport => if kind == Kind::Overseas { passport.map(passport_row) } else { None },
        },
    )
}

/// `POST /residents/{atena}/issue`: sign and record the certificate, then open the print
/// page.
pub(super) async fn issue(
    S(state): S<State>,
    Path(atena): Path<String>,
    StaffForm {
        staff: Staff { id, s },
        form: f,
    }: StaffForm<KindForm>,
) -> Response {
    let atena = match parse_atena(&atena, &s) {
        Ok(a) => a,
        Err(r) => return r,
    };
    if !s.staff.may_issue() {
        return error_page(&Error::Records(crate::records::Error::Forbidden), Some(&s));
    }
    let kind = match kind_of(&f.kind) {
        Ok(k) => k,
        Err(e) => return error_page(&e, Some(&s)),
    };
    // The staff member's own municipality only: another's resident is "not found".
    if let Err(e) = state.records.view(&s.staff, &atena).await {
        return error_page(&Error::Records(e), Some(&s));
    }
    let passport = session_passport(&s, &atena).cloned();
    if kind == Kind::Overseas && passport.is_none() {
        return resident_page(&state, &s, &atena, Some(&Error::NeedsPassport), "").await;
    }
    let issued = state
        .service
        .issue_for_resident(IssueFor {
            municipality: s.staff.municipality().clone(),
            atena: atena.clone(),
            kind,
            passport,
            channel: Channel::Counter,
            actor: s.staff.actor().to_owned(),
            card_key_digest: None,
        })
        .await;
    match issued {
        Ok(a) => {
            let to = format!("/certificates/{}", a.certificate_id);
            state.sessions.set_issued(&id, a.certificate_id, a.pdf);
            Redirect::to(&to).into_response()
        }
        Err(e) => error_page(&Error::Issuance(e), Some(&s)),
    }
}

/// The session's latest certificate, if `certificate_id` names it.
fn issued_in<'a>(
    s: &'a Session,
    certificate_id: &str,
) -> Result<&'a (String, Arc<Vec<u8>>), Error> {
    s.issued
        .as_ref()
        .filter(|(id, _)| session::same(id, certificate_id))
        .ok_or(Error::NotIssuedHere)
}

/// `GET /certificates/{id}`: the print page; it loads the signed PDF into a frame and opens
/// the browser's print dialog.
pub(super) async fn issued(Path(certificate_id): Path<String>, Staff { s, .. }: Staff) -> Response {
    if let Err(e) = issued_in(&s, &certificate_id) {
        return error_page(&e, Some(&s));
    }
    render(
        StatusCode::OK,
        "issued.html",
        context! { staff => staff_ctx(&s), csrf => s.csrf.clone(), certificate_id => certificate_id },
    )
}

/// `GET /certificates/{id}/pdf`: the signed PDF, never cached (audited as a view).
pub(super) async fn issued_pdf(
    S(state): S<State>,
    Path(certificate_id): Path<String>,
    Staff { s, .. }: Staff,
) -> Response {
    let pdf = match issued_in(&s, &certificate_id) {
        Ok((_, pdf)) => pdf.clone(),
        Err(e) => return error_page(&e, Some(&s)),
    };
    audit(&state, &s.staff, "counter-print", Some(&certificate_id)).await;
    (
        [
            (header::CONTENT_TYPE, "application/pdf"),
            (
                header::CONTENT_DISPOSITION,
                "inline; filename=\"certificate.pdf\"",
            ),
        ],
        pdf.as_ref().clone(),
    )
        .into_response()
}

/// Every form the counter reads, parsed from one body as axum's `Form` does, and the checks
/// that follow parsing (`fuzz/` and the corpus replay).
pub(crate) fn parse_forms(body: &[u8]) {
    let _ = serde_urlencoded::from_bytes::<LoginForm>(body);
    let _ = serde_urlencoded::from_bytes::<CsrfForm>(body);
    let _ = serde_urlencoded::from_bytes::<PassportForm>(body).map(|f| Td3Mrz::parse(&f.mrz));
    let _ = serde_urlencoded::from_bytes::<KindForm>(body).map(|f| kind_of(&f.kind));
    let _ = serde_urlencoded::from_bytes::<SearchForm>(body).map(|f| f.query());
}
