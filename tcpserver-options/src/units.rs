//! Byte counts and durations written with a unit: one grammar for the attribute's values
//! and the generated binary's flags, so that a value moves between them unchanged.
//!
//! Decimals are read exactly (`0.1` is 100 ms, not a float's neighbour of it), and every
//! `format_*` result reads back to the same value.

use std::time::Duration;

/// `65536`, `64k`, `64KiB`, `1M`, `1MiB`, `2G`: a byte count. `k`, `M` and `G` are powers
/// of 1024, as buffer sizes are; the unit's case does not matter.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    if digits.is_empty() {
        return Err(format!(
            "`{text}` is not a byte count; write a whole number with an optional unit, like \"64KiB\" or \"1MiB\""
        ));
    }
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        other => {
            return Err(format!(
                "unknown unit `{other}` in `{text}`; use KiB, MiB or GiB (or k, M, G), like \"64KiB\""
            ));
        }
    };
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(1 << shift))
        .ok_or_else(|| format!("`{text}` is too large a byte count"))
}

/// `30`, `1.5`, `30s`, `500ms`, `2m`: a duration; a plain number is seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let (number, nanos_per_unit) = if let Some(n) = t.strip_suffix("ms") {
        (n, 1_000_000)
    } else if let Some(n) = t.strip_suffix('s') {
        (n, 1_000_000_000)
    } else if let Some(n) = t.strip_suffix('m') {
        (n, 60_000_000_000)
    } else {
        (t, 1_000_000_000)
    };
    decimal_nanos(number.trim(), nanos_per_unit)
        .map(nanos_to_duration)
        .ok_or_else(|| {
            format!(
                "`{text}` is not a duration; write seconds (30, 1.5) or a number with a unit: \"500ms\", \"30s\", \"2m\""
            )
        })
}

/// Seconds written as a number literal's digits (`30` or `1.5`; the literal's `_`
/// separators already removed).
pub fn parse_seconds(number: &str) -> Option<Duration> {
    decimal_nanos(number, 1_000_000_000).map(nanos_to_duration)
}

/// `number` (digits, optionally a `.` and more digits) times `nanos_per_unit`, computed
/// exactly so that `0.1` is 100 ms and not a float's neighbour of it. Digits past the
/// nanosecond are dropped.
fn decimal_nanos(number: &str, nanos_per_unit: u128) -> Option<u128> {
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    let is_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !is_digits(whole) || !is_digits(fraction) {
        return None;
    }
    let whole: u128 = whole.parse().ok()?;
    let mut nanos = whole.checked_mul(nanos_per_unit)?;
    let mut scale = nanos_per_unit;
    for digit in fraction.bytes() {
        scale /= 10;
        nanos = nanos.checked_add(u128::from(digit - b'0') * scale)?;
    }
    // Duration holds u64 seconds.
    (nanos / 1_000_000_000 <= u128::from(u64::MAX)).then_some(nanos)
}

/// A byte count the way [`parse_size`] reads it back, in the largest unit that divides it:
/// `100MiB`, `64KiB`, `1000`.
pub fn format_size(bytes: u64) -> String {
    for (unit, shift) in [("GiB", 30), ("MiB", 20), ("KiB", 10)] {
        if bytes != 0 && bytes.trailing_zeros() >= shift {
            return format!("{}{unit}", bytes >> shift);
        }
    }
    bytes.to_string()
}

/// A duration the way [`parse_duration`] reads it back: `30s`, `1500ms`, `0.0000015s`.
pub fn format_duration(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        format!("{}s", d.as_secs())
    } else if d.subsec_nanos().is_multiple_of(1_000_000) {
        format!("{}ms", d.as_millis())
    } else {
        let fraction = format!("{:09}", d.subsec_nanos());
        format!("{}.{}s", d.as_secs(), fraction.trim_end_matches('0'))
    }
}

fn nanos_to_duration(nanos: u128) -> Duration {
    const NANOS_PER_SEC: u128 = 1_000_000_000;
    // Both casts are lossless: decimal_nanos bounds the seconds to u64, and the remainder
    // is below 10^9.
    Duration::new(
        (nanos / NANOS_PER_SEC) as u64,
        (nanos % NANOS_PER_SEC) as u32,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("65536"), Ok(65536));
        assert_eq!(parse_size("64k"), Ok(65536));
        assert_eq!(parse_size("64KiB"), Ok(65536));
        assert_eq!(parse_size("64 kb"), Ok(65536));
        assert_eq!(parse_size("1MiB"), Ok(1 << 20));
        assert_eq!(parse_size("100M"), Ok(100 << 20));
        assert_eq!(parse_size("2GiB"), Ok(2 << 30));
        assert_eq!(parse_size("7B"), Ok(7));
    }

    #[test]
    fn bad_sizes() {
        assert!(parse_size("").unwrap_err().contains("not a byte count"));
        assert!(parse_size("KiB").unwrap_err().contains("not a byte count"));
        assert!(parse_size("-1").unwrap_err().contains("not a byte count"));
        assert!(
            parse_size("1.5MiB")
                .unwrap_err()
                .contains("unknown unit `.5mib`")
        );
        assert!(
            parse_size("12 parsecs")
                .unwrap_err()
                .contains("unknown unit `parsecs`")
        );
        assert!(
            parse_size("99999999999999999999")
                .unwrap_err()
                .contains("too large")
        );
        assert!(
            parse_size("17179869184GiB")
                .unwrap_err()
                .contains("too large")
        );
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("0.1s"), Ok(Duration::from_millis(100)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2.5ms"), Ok(Duration::from_micros(2500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration(" 30 s "), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("0.0000000019"), Ok(Duration::from_nanos(1)));
    }

    #[test]
    fn bad_durations() {
        for text in [
            "soon",
            "-1",
            "1e3",
            ".5",
            "1_000",
            "30h",
            "",
            "inf",
            "99999999999999999999999m",
        ] {
            let err = parse_duration(text).unwrap_err();
            assert!(err.contains("is not a duration"), "{text}: {err}");
        }
    }

    #[test]
    fn formats_read_back() {
        for n in [
            0,
            7,
            1000,
            1536,
            65536,
            100 << 20,
            3 << 30,
            u64::from(u32::MAX),
        ] {
            assert_eq!(parse_size(&format_size(n)), Ok(n), "{n}");
        }
        assert_eq!(format_size(100 << 20), "100MiB");
        assert_eq!(format_size(65536), "64KiB");
        for d in [
            Duration::ZERO,
            Duration::from_secs(30),
            Duration::from_millis(1500),
            Duration::from_micros(1500),
            Duration::new(2, 1),
        ] {
            assert_eq!(parse_duration(&format_duration(d)), Ok(d), "{d:?}");
        }
        assert_eq!(format_duration(Duration::from_secs(30)), "30s");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1500ms");
        assert_eq!(format_duration(Duration::from_micros(1500)), "0.0015s");
    }

    #[test]
    fn seconds_literals() {
        assert_eq!(parse_seconds("1000"), Some(Duration::from_secs(1000)));
        assert_eq!(parse_seconds("1."), Some(Duration::from_secs(1)));
        assert_eq!(parse_seconds("0.25"), Some(Duration::from_millis(250)));
        assert_eq!(parse_seconds("1e3"), None);
    }
}
