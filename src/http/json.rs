//! [`JsonBody`]: axum's `Json` extractor whose refusals are problem documents. axum answers a
//! body it cannot read with `text/plain` (400, 413, 415 or 422); every vaxcert API answers
//! errors as `application/problem+json` with a stable code, so the OpenAPI contract holds.

use axum::extract::{FromRequest, Request};
use axum::response::{IntoResponse, Response};

use super::Problem;

/// A JSON request body; a body that is not one is `request-malformed` (or
/// `content-type-unsupported`, `request-too-large`) with axum's status.
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonBody<T>(pub T);

impl<T, S> FromRequest<S> for JsonBody<T>
where
    axum::Json<T>: FromRequest<S, Rejection = axum::extract::rejection::JsonRejection>,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(JsonBody(v)),
            Err(e) => {
                let status = e.status().as_u16();
                let (code, ja) = match status {
                    413 => ("request-too-large", "要求が大きすぎます。"),
                    415 => (
                        "content-type-unsupported",
                        "Content-Type: application/json で送ってください。",
                    ),
                    _ => ("request-malformed", "要求の形式が正しくありません。"),
                };
                Err(Problem::new(status, code, e.body_text(), ja).into_response())
            }
        }
    }
}
