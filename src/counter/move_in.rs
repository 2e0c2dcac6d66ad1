//! `POST /residents/{atena}/move-in`: the `move-in` role asks the resident's former
//! municipality for their vaccination records (転入照会, through [`crate::move_in::Exchange`]),
//! and the record page shows what arrived, each dose marked with the municipality that provided
//! it. A refusal is shown with its reason code; both sides have audited the query either way.

use axum::extract::{Path, State as S};
use axum::response::Response;
use serde::Deserialize;

use super::pages::{Staff, StaffForm, error_page, parse_atena, resident_page_with};
use super::{Error, State};
use crate::domain::MunicipalityCode;

/// The query's form: the former municipality's code.
#[derive(Deserialize)]
pub(super) struct MoveInForm {
    pub(super) csrf: String,
    former: String,
}

/// `POST /residents/{atena}/move-in`.
pub(super) async fn ask(
    S(state): S<State>,
    Path(atena): Path<String>,
    StaffForm {
        staff: Staff { s, .. },
        form: f,
    }: StaffForm<MoveInForm>,
) -> Response {
    let atena = match parse_atena(&atena, &s) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let Ok(former) = MunicipalityCode::parse(f.former.trim()) else {
        return error_page(
            &Error::Input("市区町村コード / municipality code"),
            Some(&s),
        );
    };
    match state.move_in.ask(&s.staff, &atena, &former).await {
        Ok(o) => {
            let mut notice = format!(
                "転入照会 {former}: {} 件の接種記録を受け取り、{} 件を登録しました（照会ID {}）。 \
                 Query to {former}: {} dose(s) provided, {} stored (query {}).",
                o.provided, o.stored, o.query_id, o.provided, o.stored, o.query_id
            );
            if !o.differing.is_empty() {
                let list = o
                    .differing
                    .iter()
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join(", ");
                notice.push_str(&format!(
                    " 接種回数 {list} は当方の記録と接種日が異なるため、当方の記録を残しました。 \
                     Dose {list}: the former municipality gives another date; the record here is kept."
                ));
            }
            resident_page_with(&state, &s, &atena, None, "", Some(notice)).await
        }
        Err(e) => {
            let e = Error::MoveIn(e);
            resident_page_with(&state, &s, &atena, Some(&e), "", None).await
        }
    }
}
