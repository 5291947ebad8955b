//! DURATION values (`--ttl 7d`): a whole number followed by `s`, `m`, `h` or `d`.

use std::time::Duration;

#[derive(Debug, thiserror::Error)]
#[error("invalid duration {value:?}: {reason} (use a whole number and a unit: 30s, 15m, 12h, 7d)")]
pub struct DurationError {
    pub value: String,
    pub reason: &'static str,
}

pub fn parse(value: &str) -> Result<Duration, DurationError> {
    let err = |reason| DurationError {
        value: value.to_string(),
        reason,
    };
    let value_trimmed = value.trim();
    let split = value_trimmed
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| err("no unit"))?;
    let (digits, unit) = value_trimmed.split_at(split);
    if digits.is_empty() {
        return Err(err("no number"));
    }
    let n: u64 = digits.parse().map_err(|_| err("number too large"))?;
    let unit_secs: u64 = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        _ => return Err(err("unknown unit")),
    };
    if n == 0 {
        return Err(err("must be more than zero"));
    }
    // Keep to what an expiry instant in milliseconds can hold.
    let secs = n
        .checked_mul(unit_secs)
        .filter(|s| *s <= i64::MAX as u64 / 1_000_000)
        .ok_or_else(|| err("too long"))?;
    Ok(Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_contract_units() {
        assert_eq!(parse("30s").ok(), Some(Duration::from_secs(30)));
        assert_eq!(parse("15m").ok(), Some(Duration::from_secs(900)));
        assert_eq!(parse("12h").ok(), Some(Duration::from_secs(43_200)));
        assert_eq!(parse("7d").ok(), Some(Duration::from_secs(604_800)));
    }

    #[test]
    fn refuses_anything_else_and_says_why() {
        for bad in [
            "",
            "7",
            "d",
            "7w",
            "-1d",
            "1.5h",
            "0s",
            "99999999999999999999d",
            "7 d",
        ] {
            let e = parse(bad).expect_err(bad);
            assert!(e.to_string().contains(&format!("{bad:?}")), "{e}");
        }
    }
}
