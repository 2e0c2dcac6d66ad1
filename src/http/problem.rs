//! RFC 9457 problem documents with a stable machine-readable `code` and plain Japanese and
//! English text. Every module's error maps here once; unexpected failures become `internal`
//! with a trace id, their cause going only to the log.

use serde::{Deserialize, Serialize};

/// `application/problem+json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Problem {
    /// HTTP status.
    pub status: u16,
    /// Stable code, e.g. `pin-wrong`, `challenge-reused`.
    pub code: String,
    /// Short English title.
    pub title: String,
    /// The same in Japanese.
    pub title_ja: String,
    /// PIN tries left, where that is the point.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tries_left: Option<u8>,
    /// Correlates with the log for `internal` problems.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
}

impl Problem {
    /// A problem with a status, a code and both texts.
    pub fn new(
        status: u16,
        code: &str,
        title: impl Into<String>,
        title_ja: impl Into<String>,
    ) -> Self {
        Problem {
            status,
            code: code.to_owned(),
            title: title.into(),
            title_ja: title_ja.into(),
            tries_left: None,
            trace_id: None,
        }
    }

    /// Our fault: the detail stays in the log under `trace_id`.
    pub fn internal(trace_id: &str) -> Self {
        Problem {
            trace_id: Some(trace_id.to_owned()),
            ..Problem::new(
                500,
                "internal",
                "Something went wrong on our side. Please try again.",
                "システムで問題が発生しました。もう一度お試しください。",
            )
        }
    }

    /// The card's PIN outcome carries the tries left.
    pub fn with_tries_left(mut self, n: u8) -> Self {
        self.tries_left = Some(n);
        self
    }
}
