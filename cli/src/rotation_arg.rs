//! `--rotate`: when a JSON Lines protocol starts a new file, as `daily`, a
//! size (`256MiB`, `1GB`, bytes without a unit), or both (`daily,1GiB`).

use reagentic_protocol::storage::Rotation;

/// A clap value parser for `--rotate`.
pub fn rotation_value(text: &str) -> Result<Rotation, String> {
    let invalid = || {
        format!("invalid rotation {text:?}: expected daily, a size like 256MiB or 1GB, or both as daily,1GiB")
    };
    let mut daily = false;
    let mut max_bytes = None;
    for part in text.split(',').map(str::trim) {
        if part.eq_ignore_ascii_case("daily") && !daily {
            daily = true;
        } else if max_bytes.is_none() {
            max_bytes = Some(size(part).ok_or_else(invalid)?);
        } else {
            return Err(invalid());
        }
    }
    match (daily, max_bytes) {
        (true, None) => Ok(Rotation::daily()),
        (true, Some(bytes)) => Ok(Rotation::daily().with_max_bytes(bytes)),
        (false, Some(bytes)) => Ok(Rotation::max_bytes(bytes)),
        (false, None) => Err(invalid()),
    }
}

/// `256MiB`, `1GB`, `4096`: bytes, at least one.
fn size(text: &str) -> Option<u64> {
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().ok()?;
    let factor: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        _ => return None,
    };
    number.checked_mul(factor).filter(|&bytes| bytes > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn daily_sizes_and_both_parse() {
        assert_eq!(rotation_value("daily"), Ok(Rotation::daily()));
        assert_eq!(rotation_value("256MiB"), Ok(Rotation::max_bytes(256 << 20)));
        assert_eq!(
            rotation_value("1GB"),
            Ok(Rotation::max_bytes(1_000_000_000))
        );
        assert_eq!(rotation_value("4096"), Ok(Rotation::max_bytes(4096)));
        assert_eq!(
            rotation_value("daily, 1GiB"),
            Ok(Rotation::daily().with_max_bytes(1 << 30))
        );
        assert_eq!(
            rotation_value("10 kb,DAILY"),
            Ok(Rotation::daily().with_max_bytes(10_000))
        );
    }

    #[test]
    fn anything_else_is_an_error_saying_what_is_expected() {
        for bad in [
            "",
            "weekly",
            "0",
            "12XB",
            "daily,daily",
            "1GB,2GB",
            "-5",
            "99999999999999GiB",
        ] {
            let err = rotation_value(bad).unwrap_err();
            assert!(err.contains("expected daily"), "{bad}: {err}");
        }
    }
}
