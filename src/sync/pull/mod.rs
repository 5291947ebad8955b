//! `context sync pull`: apply every changeset of the remote not yet applied here.
//!
//! Every stream (peer, generation) other than this peer's current one is read from where it was
//! last applied: other peers' streams, and this peer's own other generations, so a restored
//! database gets back what its lost history published. Each changeset must chain on from the
//! previous one (sequence number and checksum); a gap, a bad checksum or a changeset that does
//! not decode stops its stream there (exit 5, the file named) while the others go on.
//!
//! Everything is applied in one SQLite transaction, with the new positions of every stream, so
//! a crash leaves all or nothing. The plan is computed inside that transaction: incoming rows
//! not already present are inserted, then each key they touched is compared before and after.
//! The current state of a key is its last-writer-wins row, so the rows alone decide the result,
//! in whatever order they arrive:
//!
//! - new key, or the new current row descends from the old one: a fast-forward;
//! - the old current row still wins: the incoming rows are kept in history;
//! - the old current row came from another peer: last-writer-wins replaces it, no conflict;
//! - the old current row is a local change the winner never saw: a conflict. Without
//!   `--force` the whole transaction is rolled back (exit 3); with it, the winner stays,
//!   a backup of the database is taken first, and the replaced version is listed.
//!
//! `--dry-run` computes the same plan and rolls back.

use std::collections::HashMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::outcome::Outcome;
use crate::remote::Remote;
use crate::store::{Applied, Store};
use crate::sync::snapshot::{self, StreamId};

use super::{PerProject, SyncError};

mod apply;
mod import;
mod plan;

pub use plan::{Position, ReadPlan, StreamRead, classify, listed_from, plan_reads};

/// How many backups taken before a forced pull are kept.
pub const BACKUPS_KEPT: usize = 5;

#[derive(Debug, Clone, Copy, Default)]
pub struct PullOptions {
    pub force: bool,
    pub dry_run: bool,
    /// Where a local change conflicts, merge the two sides (three-way, text) and write the
    /// merge as a new local version; only conflicts that do not merge cleanly refuse the pull.
    pub merge: bool,
    /// How long a missing file may be on its way before its gap is bad data (default
    /// [`DEFAULT_TRANSIT_GRACE_MS`]).
    pub transit_grace_ms: Option<i64>,
}

/// A file-sync tool delivers a laptop's backlog in any order within minutes; an hour without
/// the file is no longer transit.
pub const DEFAULT_TRANSIT_GRACE_MS: i64 = 3_600_000;

/// A file this home is waiting for: missing from the remote, first met `first_missed_at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Waiting {
    /// Relative to the remote.
    pub file: String,
    pub first_missed_at: String,
}

/// What happens to one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// The key is new here.
    New,
    /// The new current version descends from the local one.
    FastForward,
    /// The local version still wins; the incoming ones join its history.
    KeptLocal,
    /// Last-writer-wins replaces a version that another peer wrote.
    Replaced,
    /// The winner has the same content as the local change it replaces: nothing is lost.
    Identical,
    /// The winner would replace a local change it never saw.
    Conflict,
}

impl Action {
    /// Its name in `--dry-run` lines and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::New => "new",
            Action::FastForward => "fast-forward",
            Action::KeptLocal => "kept-local",
            Action::Replaced => "replaced",
            Action::Identical => "identical",
            Action::Conflict => "conflict",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyPlan {
    pub project: String,
    pub key: String,
    pub action: Action,
    /// The current version before the pull.
    pub local: Option<String>,
    /// The current version after it.
    pub winner: String,
    /// Why `--merge` could not merge it (a refused conflict only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
}

/// A conflict `--merge` settled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MergedKey {
    pub project: String,
    pub key: String,
    /// This peer's side.
    pub mine: String,
    /// The other side.
    pub theirs: String,
    /// The merge of the two, now current.
    pub version: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BadFile {
    /// Relative to the remote.
    pub file: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkippedFile {
    /// Relative to the remote.
    pub file: String,
    pub reason: String,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct PullReport {
    pub remote: String,
    pub dry_run: bool,
    pub forced: bool,
    /// Whether the transaction was committed.
    pub applied: bool,
    pub changesets: u64,
    /// Rows inserted, per project.
    pub per_project: PerProject,
    pub already_present: u64,
    /// Keys whose winner replaced a local change (refused without `--force`).
    pub conflicts: Vec<KeyPlan>,
    /// Conflicts merged cleanly (with `--merge`): the merge is a new local version.
    pub merged: Vec<MergedKey>,
    pub bad: Vec<BadFile>,
    pub skipped: Vec<SkippedFile>,
    /// Snapshots applied because a stream had lost its beginning to a prune (their seals).
    pub bootstrapped_from: Vec<String>,
    /// Where the database was backed up before a forced pull replaced local versions.
    pub backup: Option<PathBuf>,
    /// Every key touched, with what happens to it (with `--dry-run`).
    pub plan: Vec<KeyPlan>,
    /// What went wrong without undoing the pull (the manifest could not be written).
    pub warnings: Vec<String>,
    /// Files still on their way: a stream waits at a gap (and a snapshot for its parts) that
    /// this home first met less than the grace ago. Not damage; the next pull takes it up.
    pub waiting: Vec<Waiting>,
}

impl PullReport {
    /// Refused for conflicts (which takes precedence), a stream stopped at bad data, or done.
    pub fn outcome(&self) -> Outcome {
        if !self.conflicts.is_empty() && !self.forced {
            Outcome::Diverged
        } else if !self.bad.is_empty() {
            Outcome::BadData
        } else {
            Outcome::Ok
        }
    }

    pub fn rows(&self) -> u64 {
        self.per_project.values().map(|c| c.total()).sum()
    }
}

pub fn pull(
    store: &mut Store,
    remote: &Remote,
    opts: PullOptions,
) -> Result<PullReport, SyncError> {
    let location = remote.location();
    let remote_id = store.remote_id(&location)?;
    let me = store.peer().clone();
    let applied: HashMap<StreamId, Applied> = store.applied(remote_id)?.into_iter().collect();
    let listing = remote.list_after(&listed_from(&applied, (me.id, me.generation as u64)))?;
    let mut plan = plan_reads(&listing, &applied, (me.id, me.generation as u64), || {
        snapshot::complete_snapshots(remote, &listing)
    });
    let manifests = super::read_manifests(remote, listing.manifests.iter().copied(), me.id)?;
    plan.add_manifests(&manifests, &applied, (me.id, me.generation as u64));
    if !opts.dry_run {
        super::health::note_peers_seen(store, &manifests.good)?;
    }
    // A new peer's first pull writes its rows straight into the database file, with a
    // rollback journal (tiny for an empty database) in place of a WAL as large as the
    // database; back to WAL after it, whatever happened.
    let bulk = !opts.dry_run && store.is_empty()? && store.enter_bulk_load()?;
    let result = apply::apply(store, remote, remote_id, plan, opts);
    if bulk {
        store.leave_bulk_load()?;
    }
    result
}
