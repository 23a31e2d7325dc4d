//! Span times as protocol timestamps and durations, total on any input.

use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};

/// The earliest timestamp the protocol stores: RFC 3339 has four-digit years.
const EARLIEST: DateTime<Utc> = DateTime::UNIX_EPOCH;

/// The second of [`latest`].
const LATEST_SECOND: i64 = 253_402_300_799;

/// `9999-12-31T23:59:59.999999Z`, the latest four-digit-year instant in micros.
fn latest() -> DateTime<Utc> {
    DateTime::from_timestamp(LATEST_SECOND, 999_999_000).unwrap_or(EARLIEST)
}

/// A span time as a UTC timestamp. Times before the Unix epoch or past year
/// 9999 (a broken clock, a hand-built span) are clamped so that every stored
/// timestamp stays valid RFC 3339 that readers can parse back.
pub(crate) fn timestamp(time: SystemTime) -> DateTime<Utc> {
    let Ok(since_epoch) = time.duration_since(SystemTime::UNIX_EPOCH) else {
        return EARLIEST;
    };
    match i64::try_from(since_epoch.as_secs()) {
        // Building `latest()` only where it can matter: it was a third of
        // this function's cost on every span time (callgrind).
        Ok(secs) if secs < LATEST_SECOND => {
            DateTime::from_timestamp(secs, since_epoch.subsec_nanos()).unwrap_or_else(latest)
        }
        Ok(LATEST_SECOND) => DateTime::from_timestamp(LATEST_SECOND, since_epoch.subsec_nanos())
            .map_or_else(latest, |t| t.min(latest())),
        _ => latest(),
    }
}

/// `end − start` in milliseconds; 0 when the clock went backwards.
pub(crate) fn duration_ms(start: SystemTime, end: SystemTime) -> f64 {
    // One division from whole nanoseconds rounds once, so 9 510 ns is stored
    // as 0.00951, not 0.009510000000000001.
    end.duration_since(start)
        .unwrap_or(Duration::ZERO)
        .as_nanos() as f64
        / 1_000_000.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::format_timestamp;

    #[test]
    fn ordinary_times_convert_to_micros_in_utc() {
        let t = SystemTime::UNIX_EPOCH + Duration::new(1_795_748_400, 123_456_789);
        assert_eq!(
            format_timestamp(&timestamp(t)),
            "2026-11-27T03:00:00.123456Z"
        );
    }

    #[test]
    fn odd_times_are_clamped_not_panicking() {
        let before_epoch = SystemTime::UNIX_EPOCH - Duration::from_secs(10);
        assert_eq!(timestamp(before_epoch), EARLIEST);
        let far_future = SystemTime::UNIX_EPOCH + Duration::from_secs(i64::MAX as u64 / 2);
        assert_eq!(
            format_timestamp(&timestamp(far_future)),
            "9999-12-31T23:59:59.999999Z"
        );
        // Around the last second: kept, clamped within it, clamped after it.
        let second = |s: i64, nanos: u32| {
            let t = SystemTime::UNIX_EPOCH + Duration::new(s as u64, nanos);
            format_timestamp(&timestamp(t))
        };
        assert_eq!(
            second(LATEST_SECOND - 1, 5_000),
            "9999-12-31T23:59:58.000005Z"
        );
        assert_eq!(
            second(LATEST_SECOND, 999_999_999),
            "9999-12-31T23:59:59.999999Z"
        );
        assert_eq!(second(LATEST_SECOND, 1_000), "9999-12-31T23:59:59.000001Z");
        assert_eq!(second(LATEST_SECOND + 1, 0), "9999-12-31T23:59:59.999999Z");
    }

    #[test]
    fn durations_are_milliseconds_and_never_negative() {
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(100);
        let end = start + Duration::from_micros(182_400);
        assert!((duration_ms(start, end) - 182.4).abs() < 1e-9);
        assert_eq!(duration_ms(end, start), 0.0);
        assert_eq!(duration_ms(start, start), 0.0);
    }
}
