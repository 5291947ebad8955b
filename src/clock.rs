//! The one source of time.
//!
//! Everything that reads the time reads it from a [`Clock`] handed in by the caller: the system
//! clock in the binary, a [`ManualClock`] in tests and benches, so that TTL expiry and ordering
//! can be driven step by step.
//!
//! Versions are ordered by a hybrid logical clock ([`Hlc`]): the wall time in milliseconds with a
//! 16-bit counter below it. A new version of a key takes the wall time, unless the version it
//! replaces carries a timestamp at or after it (a peer whose clock runs ahead wrote it); then it
//! takes that timestamp plus one. So a later edit always orders after the version it replaced,
//! whatever the skew between machines, and last-writer-wins never undoes an edit with its parent.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use chrono::{DateTime, SecondsFormat};

/// A wall clock: milliseconds since the Unix epoch.
pub trait Clock: Send + Sync + fmt::Debug {
    fn now_ms(&self) -> i64;
}

/// The operating system's clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        // A clock set before 1970 reads as the epoch rather than failing every write.
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0)
    }
}

/// A clock that moves only when told to. Clones share the same time.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    pub fn new(now_ms: i64) -> ManualClock {
        ManualClock(Arc::new(AtomicI64::new(now_ms)))
    }

    pub fn advance_ms(&self, ms: i64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }

    pub fn set_ms(&self, now_ms: i64) {
        self.0.store(now_ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// A hybrid logical clock timestamp: `wall_ms << 16 | counter`, compared as one integer.
/// On the wire it is that integer.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct Hlc(u64);

impl Hlc {
    const COUNTER_BITS: u32 = 16;
    /// Wall times are kept to 47 bits (about 4,400 years after 1970) so an `Hlc` always fits
    /// in SQLite's signed 64-bit integer.
    const MAX_WALL_MS: i64 = (1 << 47) - 1;

    pub fn from_parts(wall_ms: i64, counter: u16) -> Hlc {
        let wall = wall_ms.clamp(0, Self::MAX_WALL_MS) as u64;
        Hlc(wall << Self::COUNTER_BITS | u64::from(counter))
    }

    /// The timestamp of a new event at wall time `now_ms` that must order after `after`.
    pub fn next(now_ms: i64, after: Option<Hlc>) -> Hlc {
        let wall = Hlc::from_parts(now_ms, 0);
        match after {
            Some(prev) if prev >= wall => Hlc(prev.0 + 1),
            _ => wall,
        }
    }

    pub fn wall_ms(self) -> i64 {
        (self.0 >> Self::COUNTER_BITS) as i64
    }

    pub fn counter(self) -> u16 {
        (self.0 & 0xffff) as u16
    }

    /// The value stored in SQLite; always non-negative.
    pub fn to_i64(self) -> i64 {
        self.0 as i64
    }

    /// Reads a stored or received value; `None` when it is out of range.
    pub fn from_i64(v: i64) -> Option<Hlc> {
        (v >= 0).then_some(Hlc(v as u64))
    }
}

impl fmt::Display for Hlc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&rfc3339(self.wall_ms()))?;
        if self.counter() > 0 {
            write!(f, "+{}", self.counter())?;
        }
        Ok(())
    }
}

/// A span a person reads: "40 s", "12 min", "3 h", "2 days".
pub fn describe_age(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    match s {
        s if s < 120 => format!("{s} s"),
        s if s < 2 * 3600 => format!("{} min", s / 60),
        s if s < 2 * 86_400 => format!("{} h", s / 3600),
        s => format!("{} days", s / 86_400),
    }
}

/// Milliseconds since the epoch as RFC 3339 in UTC, to the millisecond: what JSON carries.
pub fn rfc3339(ms: i64) -> String {
    match DateTime::from_timestamp_millis(ms) {
        Some(t) => t.to_rfc3339_opts(SecondsFormat::Millis, true),
        None => format!("@{ms}ms"),
    }
}

/// Milliseconds since the epoch as a person reads it: local time (`TZ`, else the system's
/// zone), to the second, `2026-11-26 10:02:00`.
pub fn local(ms: i64) -> String {
    match DateTime::from_timestamp_millis(ms) {
        Some(t) => t
            .with_timezone(&chrono::Local)
            .format("%Y-%m-%d %H:%M:%S")
            .to_string(),
        None => format!("@{ms}ms"),
    }
}

/// [`local`] of an RFC 3339 instant (as reports carry them); the text itself if it is not one.
pub fn local_of(rfc3339: &str) -> String {
    parse_instant(rfc3339).map_or_else(|| rfc3339.to_string(), local)
}

/// Parses an RFC 3339 instant (`2026-11-25T10:00:00Z`) or a count of milliseconds since the epoch.
pub fn parse_instant(s: &str) -> Option<i64> {
    if let Ok(ms) = s.parse::<i64>() {
        return Some(ms);
    }
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.timestamp_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_takes_the_wall_clock_when_it_is_ahead() {
        let prev = Hlc::from_parts(1_000, 5);
        assert_eq!(Hlc::next(2_000, Some(prev)), Hlc::from_parts(2_000, 0));
        assert_eq!(Hlc::next(2_000, None), Hlc::from_parts(2_000, 0));
    }

    #[test]
    fn next_orders_after_a_parent_from_a_clock_running_ahead() {
        let prev = Hlc::from_parts(5_000, 7);
        let next = Hlc::next(1_000, Some(prev));
        assert!(next > prev);
        assert_eq!(next, Hlc::from_parts(5_000, 8));
        // Same millisecond: the counter moves.
        assert_eq!(
            Hlc::next(5_000, Some(Hlc::from_parts(5_000, 0))).counter(),
            1
        );
    }

    #[test]
    fn stored_form_round_trips_and_displays_as_rfc3339() {
        let h = Hlc::from_parts(1_764_064_800_000, 3);
        assert_eq!(Hlc::from_i64(h.to_i64()), Some(h));
        assert_eq!(h.to_string(), "2025-11-25T10:00:00.000Z+3");
        assert_eq!(Hlc::from_i64(-1), None);
    }

    #[test]
    fn instants_parse_from_rfc3339_or_milliseconds() {
        assert_eq!(parse_instant("1000"), Some(1000));
        assert_eq!(parse_instant("1970-01-01T00:00:01Z"), Some(1000));
        assert_eq!(parse_instant("yesterday"), None);
    }
}
