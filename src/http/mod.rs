//! HTTP plumbing shared by every role: problem documents and nothing domain-specific.

mod problem;

pub use problem::Problem;
