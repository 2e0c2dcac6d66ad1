//! The admin's retention page: what the municipality's policy makes due (residents marked
//! 転出/死亡 past the records period, issuance history past its period), and one button that
//! deletes it through [`crate::records::Records::apply_retention`], which audits each deletion.
//! Only the municipality's own admin sees or uses it.

use axum::extract::State as S;
use axum::http::StatusCode;
use axum::response::Response;
use minijinja::context;

use super::pages::{CsrfForm, Staff, StaffForm, admin_only, error_page, render, staff_ctx};
use super::session::Session;
use super::{Error, State};
use crate::records::Due;

async fn page(state: &State, s: &Session, deleted: Option<Due>) -> Response {
    let Some(policy) = &state.retention else {
        return render(
            StatusCode::OK,
            "retention.html",
            context! { staff => staff_ctx(s), csrf => s.csrf.clone(), configured => false },
        );
    };
    let m = s.staff.municipality();
    match state.records.retention_due(m, policy).await {
        Ok(due) => render(
            StatusCode::OK,
            "retention.html",
            context! {
                staff => staff_ctx(s), csrf => s.csrf.clone(), configured => true,
                periods => policy.periods(m), due => due, deleted => deleted,
            },
        ),
        Err(e) => error_page(&Error::Records(e), Some(s)),
    }
}

/// `GET /retention`.
pub(super) async fn show(S(state): S<State>, Staff { s, .. }: Staff) -> Response {
    if let Err(r) = admin_only(&s) {
        return r;
    }
    page(&state, &s, None).await
}

/// `POST /retention/apply`.
pub(super) async fn apply(
    S(state): S<State>,
    StaffForm {
        staff: Staff { s, .. },
        ..
    }: StaffForm<CsrfForm>,
) -> Response {
    if let Err(r) = admin_only(&s) {
        return r;
    }
    let Some(policy) = state.retention.clone() else {
        return page(&state, &s, None).await;
    };
    match state.records.apply_retention(&s.staff, &policy).await {
        Ok(done) => page(&state, &s, Some(done)).await,
        Err(e) => error_page(&Error::Records(e), Some(&s)),
    }
}
