//! Calendar dates, in one place and on the `time` crate: instants (Unix seconds) to dates in
//! Japan or UTC, real dates checked, dates back to instants. Every module that prints or reads
//! a date goes through here instead of doing day arithmetic of its own.

use time::{Date, Month, OffsetDateTime, UtcOffset};

/// Japan Standard Time, UTC+9 (no daylight saving).
const JST: UtcOffset = match UtcOffset::from_hms(9, 0, 0) {
    Ok(o) => o,
    Err(_) => UtcOffset::UTC,
};

fn instant(unix_secs: i64) -> OffsetDateTime {
    // Out of `time`'s range (±9999 years): clamp to its ends rather than fail.
    OffsetDateTime::from_unix_timestamp(unix_secs).unwrap_or(if unix_secs < 0 {
        OffsetDateTime::new_utc(Date::MIN, time::Time::MIDNIGHT)
    } else {
        OffsetDateTime::new_utc(Date::MAX, time::Time::MIDNIGHT)
    })
}

/// The date in Japan at an instant: the 交付日 on a certificate, "today" for imports.
pub fn jst(unix_secs: i64) -> Date {
    instant(unix_secs).to_offset(JST).date()
}

/// The UTC date and time at an instant.
pub fn utc(unix_secs: i64) -> OffsetDateTime {
    instant(unix_secs)
}

/// `YYYY-MM-DD`.
pub fn iso(d: Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// `YYYYMMDD`, as the card and the VRS files write dates.
pub fn compact(d: Date) -> String {
    format!("{:04}{:02}{:02}", d.year(), u8::from(d.month()), d.day())
}

/// The date, if `year-month-day` exists in the Gregorian calendar.
pub fn real(year: i64, month: i64, day: i64) -> Option<Date> {
    let month = Month::try_from(u8::try_from(month).ok()?).ok()?;
    Date::from_calendar_date(i32::try_from(year).ok()?, month, u8::try_from(day).ok()?).ok()
}

/// Unix seconds at 00:00 UTC of a date.
pub fn midnight_utc(d: Date) -> i64 {
    d.midnight().assume_utc().unix_timestamp()
}

/// Unix seconds at 00:00 in Japan of a date.
pub fn midnight_jst(d: Date) -> i64 {
    d.midnight().assume_offset(JST).unix_timestamp()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_become_dates_in_japan_and_utc() {
        assert_eq!(iso(jst(0)), "1970-01-01");
        assert_eq!(iso(jst(1_735_657_200)), "2025-01-01"); // 2024-12-31T15:00Z
        assert_eq!(iso(jst(1_735_657_199)), "2024-12-31");
        assert_eq!(iso(utc(1_735_657_200).date()), "2024-12-31");
        assert_eq!(compact(jst(951_782_400)), "20000229");
    }

    #[test]
    fn only_real_dates_exist() {
        assert!(real(2000, 2, 29).is_some());
        assert!(real(1900, 2, 29).is_none());
        assert!(real(2021, 4, 31).is_none());
        assert!(real(2021, 13, 1).is_none());
        assert!(real(i64::MAX, 1, 1).is_none());
    }

    #[test]
    fn dates_become_instants() {
        let d = real(2025, 1, 1).unwrap();
        assert_eq!(midnight_utc(d), 1_735_689_600);
        assert_eq!(midnight_jst(d), 1_735_689_600 - 9 * 3600);
    }
}
