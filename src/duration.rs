//! DURATION values, the one parser behind `--ttl`, `--wait`, `--every` and `--forget-after`:
//! whole numbers with a unit, `s`, `m`, `h`, `d` or `w`, alone (`30s`, `7d`, `2w`) or in
//! compounds from the largest unit down (`1h30m`, `1d12h`). `--wait` also takes a bare number
//! of seconds, as it did before it took a DURATION.

use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid duration {value:?}: {reason} (use a whole number and a unit, s m h d or w, alone or \
     largest first: 30s, 15m, 12h, 7d, 2w, 1h30m)"
)]
pub struct DurationError {
    pub value: String,
    pub reason: &'static str,
}

/// The longest duration: a hundred years (of 365 days). Longer means nothing for a TTL or a
/// wait, and an expiry that far ahead would not be a four-digit-year RFC 3339 instant.
const MAX_SECS: u64 = 100 * 365 * 86_400;

/// A DURATION of more than zero.
pub fn parse(value: &str) -> Result<Duration, DurationError> {
    let d = parse_parts(value)?;
    if d.is_zero() {
        return Err(error(value, "must be more than zero"));
    }
    Ok(d)
}

/// `d` as a DURATION is written, largest unit first: `7m`, `1h30m`, `2w`, `0s`.
pub fn format(d: Duration) -> String {
    let mut secs = d.as_secs();
    if secs == 0 {
        return "0s".to_string();
    }
    let mut out = String::new();
    for (unit, size) in [
        ("w", 604_800),
        ("d", 86_400),
        ("h", 3_600),
        ("m", 60),
        ("s", 1),
    ] {
        if secs >= size {
            out.push_str(&format!("{}{unit}", secs / size));
            secs %= size;
        }
    }
    out
}

/// A DURATION, zero included, or a bare number of seconds (`--wait 30`, `--wait 0`).
pub fn parse_wait(value: &str) -> Result<Duration, DurationError> {
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        let secs: u64 = value
            .parse()
            .ok()
            .filter(|s| *s <= MAX_SECS)
            .ok_or_else(|| error(value, "too long (at most 100 years, 5214w)"))?;
        return Ok(Duration::from_secs(secs));
    }
    parse_parts(value)
}

fn error(value: &str, reason: &'static str) -> DurationError {
    DurationError {
        value: value.to_string(),
        reason,
    }
}

fn parse_parts(value: &str) -> Result<Duration, DurationError> {
    let err = |reason| error(value, reason);
    if value.is_empty() {
        return Err(err("empty"));
    }
    let mut rest = value;
    let mut total: u64 = 0;
    let mut last_unit = u64::MAX;
    while !rest.is_empty() {
        let split = rest
            .find(|c: char| !c.is_ascii_digit())
            .ok_or_else(|| err("no unit"))?;
        let (digits, tail) = rest.split_at(split);
        if digits.is_empty() {
            return Err(err("no number"));
        }
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(tail.len());
        let (unit, next) = tail.split_at(unit_len);
        let unit_secs: u64 = match unit {
            "s" => 1,
            "m" => 60,
            "h" => 3_600,
            "d" => 86_400,
            "w" => 604_800,
            _ => return Err(err("unknown unit")),
        };
        if unit_secs >= last_unit {
            return Err(err("units must go from the largest down, each once"));
        }
        last_unit = unit_secs;
        let n: u64 = digits
            .parse()
            .map_err(|_| err("too long (at most 100 years, 5214w)"))?;
        total = n
            .checked_mul(unit_secs)
            .and_then(|s| total.checked_add(s))
            .filter(|s| *s <= MAX_SECS)
            .ok_or_else(|| err("too long (at most 100 years, 5214w)"))?;
        rest = next;
    }
    Ok(Duration::from_secs(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_contract_units_and_compounds() {
        let cases = [
            ("30s", 30),
            ("15m", 900),
            ("12h", 43_200),
            ("7d", 604_800),
            ("2w", 1_209_600),
            ("1h30m", 5_400),
            ("1d12h", 129_600),
            ("1w2d3h4m5s", 604_800 + 2 * 86_400 + 3 * 3_600 + 4 * 60 + 5),
            ("0h5m", 300),
        ];
        for (text, secs) in cases {
            assert_eq!(parse(text), Ok(Duration::from_secs(secs)), "{text}");
            assert_eq!(parse_wait(text), Ok(Duration::from_secs(secs)), "{text}");
        }
    }

    #[test]
    fn wait_takes_bare_seconds_and_zero() {
        assert_eq!(parse_wait("120"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_wait("0"), Ok(Duration::ZERO));
        assert_eq!(parse_wait("0s"), Ok(Duration::ZERO));
        assert!(parse("0s").is_err());
        assert!(parse("7").is_err());
    }

    #[test]
    fn refuses_anything_else_and_says_why() {
        for bad in [
            "",
            "7",
            "d",
            "7y",
            "-1d",
            "1.5h",
            "0s",
            "99999999999999999999d",
            "7 d",
            "30m1h",
            "1h1h",
            "1h30",
            "forever",
            "soon",
            "h30m",
        ] {
            let e = parse(bad).expect_err(bad);
            assert!(e.to_string().contains(&format!("{bad:?}")), "{e}");
        }
        assert!(parse("1000000w").unwrap_err().reason.contains("100 years"));
        for text in ["7m", "1h30m", "2w", "1d12h", "45s"] {
            assert_eq!(format(parse(text).unwrap()), text);
        }
        assert_eq!(parse("5214w").unwrap().as_secs(), 5214 * 7 * 86_400);
        for bad in ["soon", "-5", "5 m", "99999999999999999999"] {
            assert!(parse_wait(bad).is_err(), "{bad}");
        }
    }
}
