//! `--since` / `--until` values: RFC 3339, a date, or a time ago (`15m`).

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};

/// Parses a point in time, relative to `now` for values like `2h`.
pub fn parse_time(text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    let text = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(day) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        if let Some(midnight) = day.and_hms_opt(0, 0, 0) {
            return Ok(midnight.and_utc());
        }
    }
    relative(text)
        .and_then(|ago| now.checked_sub_signed(ago))
        .ok_or_else(|| {
            format!(
                "invalid time {text:?}: expected RFC 3339 (2026-11-27T03:00:00Z), \
                 a date (2026-11-27) or a time ago like 30s, 15m, 2h, 7d, 2w"
            )
        })
}

/// `15m` → 15 minutes; `None` for anything else.
fn relative(text: &str) -> Option<TimeDelta> {
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = text.split_at(split);
    let n: i64 = number.parse().ok()?;
    let seconds_per = match unit {
        "s" | "sec" | "secs" => 1,
        "m" | "min" | "mins" => 60,
        "h" | "hour" | "hours" => 3_600,
        "d" | "day" | "days" => 86_400,
        "w" | "week" | "weeks" => 604_800,
        _ => return None,
    };
    TimeDelta::try_seconds(n.checked_mul(seconds_per)?)
}

/// A clap value parser for an age (`30d`, `12h`): the time that long
/// before the command started.
pub fn age_value(text: &str) -> Result<DateTime<Utc>, String> {
    relative(text.trim())
        .and_then(|age| Utc::now().checked_sub_signed(age))
        .ok_or_else(|| format!("invalid age {text:?}: expected a time span like 12h, 30d, 2w"))
}

/// A clap value parser for a duration (`30d`, `12h`).
pub fn duration_value(text: &str) -> Result<std::time::Duration, String> {
    relative(text.trim())
        .and_then(|age| age.to_std().ok())
        .ok_or_else(|| format!("invalid duration {text:?}: expected a time span like 12h, 30d, 2w"))
}

/// A clap value parser: the time, relative to when the command started.
pub fn time_value(text: &str) -> Result<DateTime<Utc>, String> {
    parse_time(text, Utc::now())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn absolute_relative_and_invalid_times() {
        let now = Utc.with_ymd_and_hms(2026, 11, 27, 12, 0, 0).unwrap();
        assert_eq!(
            parse_time("2026-11-27T03:00:00+01:00", now).unwrap(),
            Utc.with_ymd_and_hms(2026, 11, 27, 2, 0, 0).unwrap()
        );
        assert_eq!(
            parse_time("2026-11-20", now).unwrap(),
            Utc.with_ymd_and_hms(2026, 11, 20, 0, 0, 0).unwrap()
        );
        assert_eq!(
            parse_time("15m", now).unwrap(),
            now - TimeDelta::minutes(15)
        );
        assert_eq!(parse_time("2h", now).unwrap(), now - TimeDelta::hours(2));
        assert_eq!(parse_time("7d", now).unwrap(), now - TimeDelta::days(7));
        for bad in [
            "",
            "yesterday",
            "15",
            "m",
            "-3h",
            "5y",
            "99999999999999999999d",
        ] {
            let err = parse_time(bad, now).unwrap_err();
            assert!(err.contains("invalid time"), "{bad}: {err}");
        }
    }
}
