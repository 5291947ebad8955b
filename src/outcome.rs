//! How a command ended, in the library's words. Only the binary (`main.rs`) turns an outcome
//! into an exit status, so the contract's table of statuses lives in one place.

use serde::Serialize;

/// What a command's caller (a person, a script, cron) is told, worst last.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Done (also: nothing to do).
    Ok,
    /// An error: I/O, network, database, not found.
    Error,
    /// Wrong flags, or a bad value for one.
    Usage,
    /// A pull would overwrite unseen local changes, or a push found the remote inconsistent
    /// with this peer's history; nothing changed.
    Diverged,
    /// Another sync holds this home's lock.
    Busy,
    /// A changeset failed its checksum or decoding, or a stream has a gap.
    BadData,
    /// The user stopped it (Ctrl-C); what was not committed was undone.
    Interrupted,
    /// `sync status --check`: sync is stale, failing or waiting for a person.
    Unhealthy,
}

impl Outcome {
    /// The word `sync log` shows.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Error => "error",
            Outcome::Usage => "usage",
            Outcome::Diverged => "diverged",
            Outcome::Busy => "busy",
            Outcome::BadData => "bad-data",
            Outcome::Interrupted => "interrupted",
            Outcome::Unhealthy => "unhealthy",
        }
    }

    pub fn is_ok(self) -> bool {
        self == Outcome::Ok
    }

    /// The first of two outcomes that is not [`Outcome::Ok`] (bare `context sync`: pull, then
    /// push).
    pub fn then(self, next: Outcome) -> Outcome {
        if self.is_ok() { next } else { self }
    }
}
