//! Certificate formats: value → bytes, no I/O (DESIGN §5). Each format is its own module.

pub mod pdf;
