//! The only source of time. Everything that checks an expiry takes a [`Clock`], so tests can
//! inject [`FixedClock`] instead of sleeping.

use std::fmt;
use std::sync::atomic::{AtomicI64, Ordering};

/// Seconds since the Unix epoch, UTC.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct UnixTime(pub i64);

impl UnixTime {
    /// This time plus `secs` seconds, saturating.
    pub fn plus(self, secs: i64) -> Self {
        UnixTime(self.0.saturating_add(secs))
    }
}

impl UnixTime {
    /// The calendar date in Japan (UTC+9), `YYYY-MM-DD`: the 交付日 printed on a certificate.
    pub fn date_jst(self) -> String {
        crate::date::iso(crate::date::jst(self.0))
    }
}

impl fmt::Display for UnixTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "@{}", self.0)
    }
}

/// Where "now" comes from.
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current time.
    fn now(&self) -> UnixTime;
}

/// The wall clock, for production.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)] // the one place that may read the wall clock
    fn now(&self) -> UnixTime {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        UnixTime(secs)
    }
}

/// A clock that only moves when told to, for tests.
#[derive(Debug)]
pub struct FixedClock(AtomicI64);

impl FixedClock {
    /// A clock standing at `at`.
    pub fn at(at: UnixTime) -> Self {
        FixedClock(AtomicI64::new(at.0))
    }

    /// Move the clock forward by `secs` seconds.
    pub fn advance(&self, secs: i64) {
        self.0.fetch_add(secs, Ordering::SeqCst);
    }
}

impl Clock for FixedClock {
    fn now(&self) -> UnixTime {
        UnixTime(self.0.load(Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_in_japan() {
        assert_eq!(UnixTime(0).date_jst(), "1970-01-01");
        assert_eq!(UnixTime(1_735_657_200).date_jst(), "2025-01-01"); // 2024-12-31T15:00Z
        assert_eq!(UnixTime(1_735_657_199).date_jst(), "2024-12-31");
        assert_eq!(UnixTime(951_782_400).date_jst(), "2000-02-29");
    }
}
