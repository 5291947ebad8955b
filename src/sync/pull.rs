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

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use sha2::{Digest, Sha256};

use crate::changeset::Changeset;
use crate::clock::rfc3339;
use crate::ids::{PeerId, VersionId};
use crate::outcome::Outcome;
use crate::progress::Guard;
use crate::record::{Checksum, Record};
use crate::remote::{CsetName, FileName, Found, Listing, Remote, SnapshotName};
use crate::store::{self, Applied, Import, RowRef, Store};
use crate::sync::snapshot::{self, BadSnapshot, Sealed, StreamId};

use super::{PerProject, SyncError, prefetch, publish_manifest};

/// The current row of every key a pull inserted into, as it was before the pull: by project,
/// then key (so that lookups borrow the entry's strings).
type Before = HashMap<String, HashMap<String, Option<RowRef>>>;

/// Where a stream is taken up: how far it is applied, and which of the chosen snapshots (if
/// any) brought it there.
pub type Position = (Applied, Option<usize>);

/// How many backups taken before a forced pull are kept.
pub const BACKUPS_KEPT: usize = 5;
/// A parent chain longer than this is not walked for ancestry (treated as unseen).
const MAX_ANCESTRY_STEPS: usize = 100_000;

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

/// One stream a pull takes up: from where, and the changesets it reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamRead {
    pub stream: StreamId,
    /// How far it is applied before the pull, and which of the plan's snapshots (if any)
    /// brought it there; `None` for a stream never applied here.
    pub position: Option<Position>,
    /// Its changesets from the next one on, in order (a gap among them is bad data, found
    /// when they are read).
    pub names: Vec<CsetName>,
}

impl StreamRead {
    /// The first sequence number it expects.
    pub fn start(&self) -> u64 {
        self.position.map_or(1, |a| a.0.last_seq + 1)
    }
}

/// What a pull reads, decided from the listing and the positions alone: the files to skip,
/// the snapshots that stand for streams whose beginning is gone, and each stream's changesets
/// from where it was last applied.
#[derive(Debug, Clone, Default)]
pub struct ReadPlan {
    pub skipped: Vec<SkippedFile>,
    /// Seals that could not be used (found while looking for a snapshot).
    pub bad: Vec<BadFile>,
    /// Seals whose parts are not all there yet (in transit, or lost: the apply judges).
    pub incomplete: Vec<BadFile>,
    /// The snapshots to apply, in order.
    pub snapshots: Vec<Sealed>,
    pub streams: Vec<StreamRead>,
    /// How far each stream must reach, as its peer's manifest says it published (only the
    /// streams this home has not applied that far): a changeset short of it that the listing
    /// lacks is a gap like any other.
    pub expected: Vec<(StreamId, u64)>,
}

impl ReadPlan {
    /// Every file to read, in the order the apply consumes them: the snapshots' parts, then
    /// each stream's changesets.
    fn files(&self) -> Vec<File> {
        self.snapshots
            .iter()
            .flat_map(|s| s.parts.iter().map(|p| File::Part(*p)))
            .chain(
                self.streams
                    .iter()
                    .flat_map(|w| w.names.iter().map(|n| File::Changeset(*n))),
            )
            .collect()
    }
}

/// A file a pull reads: a snapshot's part or a stream's changeset.
#[derive(Debug, Clone, Copy)]
enum File {
    Part(SnapshotName),
    Changeset(CsetName),
}

impl File {
    fn name(&self) -> &dyn FileName {
        match self {
            File::Part(p) => p,
            File::Changeset(c) => c,
        }
    }
}

/// Plans the reads of a pull. `mine` is this peer's current stream (never pulled);
/// `sealed` gives the remote's complete snapshots, asked only when a stream has lost its
/// beginning to a prune.
pub fn plan_reads(
    listing: &Listing,
    applied: &HashMap<StreamId, Applied>,
    mine: StreamId,
    sealed: impl FnOnce() -> (Vec<Sealed>, Vec<BadSnapshot>),
) -> ReadPlan {
    let mut plan = ReadPlan::default();
    for s in &listing.skipped {
        let reason = match s.why {
            Found::ConflictCopy => {
                "a file-sync tool's conflict copy: two machines wrote as the same peer \
                 (a copied home?); skipped"
            }
            Found::Temporary => "a temporary file (a write in progress, or left behind); skipped",
            _ => "not a changeset name this tool writes; skipped",
        };
        plan.skipped.push(SkippedFile {
            file: s.path.clone(),
            reason: reason.to_string(),
        });
    }
    let streams: Vec<(StreamId, Vec<CsetName>)> = listing
        .streams()
        .into_iter()
        .filter(|(stream, _)| *stream != mine)
        .collect();

    // Streams whose next changeset is gone (a prune removed it): a snapshot stands for them.
    let mut positions: HashMap<StreamId, Position> = applied
        .iter()
        .map(|(stream, a)| (*stream, (*a, None)))
        .collect();
    let gaps: Vec<(StreamId, u64)> = streams
        .iter()
        .filter_map(|(stream, names)| {
            let at = applied.get(stream).map_or(0, |a| a.last_seq);
            let next = names.iter().find(|n| n.seq > at)?;
            (next.seq > at + 1).then_some((*stream, next.seq - 1))
        })
        .collect();
    if !gaps.is_empty() {
        let (sealed, damaged) = sealed();
        for d in damaged {
            let file = BadFile {
                file: d.file,
                reason: d.reason,
            };
            if d.parts_missing {
                plan.incomplete.push(file);
            } else {
                plan.bad.push(file);
            }
        }
        for &(stream, need) in &gaps {
            let reaches = |s: &Sealed| s.covers(stream).is_some_and(|c| c.seq >= need);
            if plan.snapshots.iter().any(reaches) {
                continue;
            }
            if let Some(s) = sealed.iter().find(|s| reaches(s)) {
                plan.snapshots.push(s.clone());
            }
        }
        // Only the streams that lost their beginning take up where a snapshot leaves them:
        // the others replay as usual (so a damaged snapshot stops no more than it must).
        for &(stream, _) in &gaps {
            let best = plan
                .snapshots
                .iter()
                .enumerate()
                .filter_map(|(k, s)| s.covers(stream).map(|c| (k, *c)))
                .max_by_key(|(_, c)| c.seq);
            if let Some((k, c)) = best {
                let at = Applied {
                    last_seq: c.seq,
                    last_checksum: c.checksum,
                };
                positions.insert(stream, (at, Some(k)));
            }
        }
    }
    plan.streams = streams
        .into_iter()
        .map(|(stream, names)| {
            let position = positions.get(&stream).copied();
            let start = position.map_or(1, |a| a.0.last_seq + 1);
            let names = names.into_iter().filter(|n| n.seq >= start).collect();
            StreamRead {
                stream,
                position,
                names,
            }
        })
        .collect();
    plan
}

/// Where each peer's folder is listed from, so that a pull lists what is new rather than
/// everything: after the last changeset applied of the peer's first generation (all its
/// later generations sort after it). A peer whose first generation was never applied here is
/// listed whole, so no earlier stream can be missed; this peer's own first generation, which
/// a pull never applies while it is current, is passed over entirely.
pub fn listed_from(
    applied: &HashMap<StreamId, Applied>,
    mine: StreamId,
) -> BTreeMap<PeerId, CsetName> {
    let mut from: BTreeMap<PeerId, CsetName> = applied
        .iter()
        .filter(|((_, generation), _)| *generation == 1)
        .map(|((peer, generation), a)| {
            let name = CsetName {
                peer: *peer,
                generation: *generation,
                seq: a.last_seq,
            };
            (*peer, name)
        })
        .collect();
    if mine.1 == 1 {
        let past_all = CsetName {
            peer: mine.0,
            generation: 1,
            seq: u64::MAX,
        };
        from.insert(mine.0, past_all);
    }
    from
}

/// What happens to a key whose current row was `old` before the pull and is `new` after it.
/// `descends` tells whether `new` has `old` in its parent chain (its writer had seen it); `me`
/// is this peer, whose rows are local changes; `same_content` tells whether the two rows hold
/// the same content (asked only of a local change that did not lead to `new`: reading the
/// rows' digests costs a lookup each, which a fast-forward does without).
pub fn classify<E>(
    old: Option<&RowRef>,
    new: &RowRef,
    descends: bool,
    me: PeerId,
    same_content: impl FnOnce(&RowRef, &RowRef) -> Result<bool, E>,
) -> Result<Action, E> {
    Ok(match old {
        None => Action::New,
        Some(old) if old.id == new.id => Action::KeptLocal,
        Some(_) if descends => Action::FastForward,
        Some(old) if old.peer != me => Action::Replaced,
        Some(old) if same_content(old, new)? => Action::Identical,
        Some(_) => Action::Conflict,
    })
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
        snapshot::sealed_snapshots(remote, &listing)
    });
    let manifests = super::read_manifests(remote, listing.manifests.iter().copied(), me.id)?;
    plan.bad
        .extend(manifests.bad.iter().map(|(file, reason)| BadFile {
            file: file.clone(),
            reason: reason.clone(),
        }));
    plan.skipped
        .extend(manifests.skipped.iter().map(|(file, reason)| SkippedFile {
            file: file.clone(),
            reason: reason.clone(),
        }));
    plan.expected = super::published_tails(&manifests.good)
        .filter(|(stream, seq)| applied.get(stream).is_none_or(|a| a.last_seq < *seq))
        .filter(|(stream, _)| *stream != (me.id, me.generation as u64))
        .collect();
    // A new peer's first pull writes its rows straight into the database file, with a
    // rollback journal (tiny for an empty database) in place of a WAL as large as the
    // database; back to WAL after it, whatever happened.
    let bulk = !opts.dry_run && store.is_empty()? && store.enter_bulk_load()?;
    let result = apply(store, remote, remote_id, plan, opts);
    if bulk {
        store.leave_bulk_load()?;
    }
    result
}

/// Reads what `plan` says, in one transaction: imports every changeset that checks out,
/// classifies every key it touched, and commits, or rolls back for a dry run or a refusal.
fn apply(
    store: &mut Store,
    remote: &Remote,
    remote_id: i64,
    plan: ReadPlan,
    opts: PullOptions,
) -> Result<PullReport, SyncError> {
    let mut report = PullReport {
        remote: remote.location(),
        dry_run: opts.dry_run,
        forced: opts.force,
        skipped: plan.skipped.clone(),
        bad: plan.bad.clone(),
        ..PullReport::default()
    };
    for s in &report.skipped {
        tracing::debug!(file = %s.file, "{}", s.reason);
    }
    let me = store.peer().clone();
    let ids = store.runtime().ids.clone();
    let db_path = store.path().to_path_buf();
    let now = store.now_ms();
    let progress = store.runtime().progress.clone();
    let rt = store.runtime().clone();
    let imp = store.begin_import()?;
    let grace = opts.transit_grace_ms.unwrap_or(DEFAULT_TRANSIT_GRACE_MS);
    // Missing files met by this pull: in transit while younger than the grace, lost after.
    let mut met: Vec<String> = Vec::new();
    let mut missing = |file: String,
                       why: String,
                       report: &mut PullReport|
     -> Result<(), SyncError> {
        let first = imp.met_missing(remote_id, &file, now)?;
        met.push(file.clone());
        if now - first < grace {
            tracing::info!(%file, first_missed_at = %rfc3339(first), "waiting for a file in transit");
            report.waiting.push(Waiting {
                file,
                first_missed_at: rfc3339(first),
            });
        } else {
            report.bad.push(BadFile {
                file,
                reason: format!(
                    "{why}, for {} now (since this home first met the gap at {})",
                    crate::clock::describe_age(now - first),
                    rfc3339(first)
                ),
            });
        }
        Ok(())
    };
    for f in &plan.incomplete {
        missing(f.file.clone(), f.reason.clone(), &mut report)?;
    }
    let before_max = imp.max_seq()?;
    let mut touched = Touched {
        before: Before::new(),
        fresh: imp.is_empty()?,
        remember_new: opts.dry_run,
    };
    // Into an empty database, the history index is built once at the end (a sort) rather
    // than row by row; the same transaction, so a crash leaves it as it was.
    if touched.fresh && !opts.dry_run {
        imp.drop_history_index()?;
    }

    let chosen = &plan.snapshots;
    let order = plan.files();
    // How far each stream is applied as the pull goes.
    let mut reached: HashMap<StreamId, u64> = plan
        .streams
        .iter()
        .filter_map(|w| w.position.map(|p| (w.stream, p.0.last_seq)))
        .collect();

    // Readers read and decode the changesets in that order while this thread inserts:
    // decoding overlaps SQLite's work, and over a network several reads are in flight. At most
    // as many decoded changesets wait as there are readers, so memory stays bounded.
    let bar = Guard::start(progress.as_ref(), "pull", "changesets", order.len() as u64);
    let buffer = prefetch::Buffer::new();
    let read = |file: &File| read_and_decode(remote, file.name());
    let parallel = remote.read_parallelism();
    std::thread::scope(|scope| -> Result<(), SyncError> {
        let mut feed = prefetch::start(scope, &buffer, &order, parallel, &read);
        let mut receive = |name: &dyn FileName| {
            if rt.interrupted() {
                return Err(SyncError::Interrupted("nothing applied".to_string()));
            }
            bar.advance(1);
            feed.next().ok_or_else(|| {
                SyncError::Remote(crate::remote::RemoteError::Read {
                    location: name.rel_path(),
                    source: "the changeset readers stopped".into(),
                })
            })
        };

        // The snapshots first: their rows, then the positions they stand for.
        let mut failed = vec![false; chosen.len()];
        for (k, snap) in chosen.iter().enumerate() {
            let mut prev: Option<Checksum> = None;
            for part in &snap.parts {
                let item = receive(part)?;
                if failed[k] {
                    continue;
                }
                let mut fail = |reason: String| {
                    report.bad.push(BadFile {
                        file: part.rel_path(),
                        reason,
                    });
                    failed[k] = true;
                };
                let (mut cs, checksum, mut digests) = match item {
                    Ok(d) => d,
                    Err(reason) => {
                        fail(reason);
                        continue;
                    }
                };
                if let Some(why) = super::misplaced_part(&cs.header, part, prev) {
                    fail(why);
                    continue;
                }
                if let Err(why) = super::deltas::decode(&imp, &mut cs, &mut digests)? {
                    fail(why);
                    continue;
                }
                import_all(&imp, &cs, &digests, remote_id, &mut touched, &mut report)?;
                prev = Some(checksum);
            }
            if !failed[k] && snap.header.prev != prev {
                report.bad.push(BadFile {
                    file: snap.seal.rel_path(),
                    reason: "it does not chain on from the snapshot's last part".into(),
                });
                failed[k] = true;
            }
            if failed[k] {
                continue;
            }
            for c in &snap.header.covers {
                let stream = (c.peer, c.generation);
                let stands_for = plan
                    .streams
                    .iter()
                    .any(|w| w.stream == stream && w.position.is_some_and(|p| p.1 == Some(k)));
                if stands_for {
                    reached.insert(stream, c.seq);
                    imp.set_applied(
                        remote_id,
                        c.peer,
                        c.generation,
                        Applied {
                            last_seq: c.seq,
                            last_checksum: c.checksum,
                        },
                    )?;
                }
            }
            tracing::info!(snapshot = %snap.seal, "snapshot applied");
            report.bootstrapped_from.push(snap.seal.rel_path());
        }

        for w in &plan.streams {
            let ((peer, generation), position, names) = (w.stream, w.position, &w.names);
            let start = w.start();
            let mut prev = position.map(|a| a.0.last_checksum);
            // A stream that continues from a snapshot that turned out damaged has a gap.
            let mut stopped = false;
            if let Some((_, Some(k))) = position
                && failed[k]
            {
                report.bad.push(BadFile {
                    file: format!("{peer}/{:08x}-*", generation),
                    reason: format!(
                        "the beginning of this stream (up to changeset {}) is gone and the \
                         snapshot that stands for it is damaged",
                        start - 1
                    ),
                });
                stopped = true;
            }
            for (expected, name) in (start..).zip(names) {
                // One item per name, in order, even for a stream already stopped.
                let item = receive(name)?;
                if stopped {
                    continue;
                }
                let bad = |reason: String| BadFile {
                    file: name.rel_path(),
                    reason,
                };
                if name.seq != expected {
                    let first_missing = CsetName {
                        peer,
                        generation,
                        seq: expected,
                    };
                    missing(
                        first_missing.rel_path(),
                        format!(
                            "gap in the stream: changesets {expected} to {} of peer {peer} \
                             generation {generation} are missing, and no snapshot in the \
                             remote covers them",
                            name.seq - 1
                        ),
                        &mut report,
                    )?;
                    stopped = true;
                    continue;
                }
                let (mut cs, checksum, mut digests) = match item {
                    Ok(d) => d,
                    Err(reason) => {
                        let hint = super::repair_hint(peer, me.id, imp.host_of(peer)?.as_deref());
                        report.bad.push(bad(format!("{reason}; {hint}")));
                        stopped = true;
                        continue;
                    }
                };
                let h = &cs.header;
                if let Some(why) = super::misnamed(h, name) {
                    report.bad.push(bad(why));
                    stopped = true;
                    continue;
                }
                if h.prev != prev {
                    report.bad.push(bad(
                        "it does not chain on from the previous changeset of its stream (the \
                         previous one was replaced, or this one was)"
                            .to_string(),
                    ));
                    stopped = true;
                    continue;
                }
                if let Err(why) = super::deltas::decode(&imp, &mut cs, &mut digests)? {
                    report.bad.push(bad(why));
                    stopped = true;
                    continue;
                }
                import_all(&imp, &cs, &digests, remote_id, &mut touched, &mut report)?;
                reached.insert((peer, generation), name.seq);
                imp.set_applied(
                    remote_id,
                    peer,
                    generation,
                    Applied {
                        last_seq: name.seq,
                        last_checksum: checksum,
                    },
                )?;
                report.changesets += 1;
                prev = Some(checksum);
            }
        }
        Ok(())
    })?;

    drop(bar);

    // What a peer's manifest says it published and the remote lacks: missing at the end of the
    // stream (deleted, or still on its way), unless the stream already stopped short of it.
    for &((peer, generation), published) in &plan.expected {
        let at = reached
            .get(&(peer, generation))
            .copied()
            .unwrap_or_else(|| {
                plan.streams
                    .iter()
                    .find(|w| w.stream == (peer, generation))
                    .map_or(0, |w| w.start() - 1)
            });
        let stream_prefix = format!("{peer}/{generation:08x}-");
        let said = report
            .bad
            .iter()
            .chain(plan.incomplete.iter())
            .map(|b| b.file.as_str())
            .chain(report.waiting.iter().map(|w| w.file.as_str()))
            .any(|f| f.starts_with(&stream_prefix));
        if at >= published || said {
            continue;
        }
        let first_missing = CsetName {
            peer,
            generation,
            seq: at + 1,
        };
        missing(
            first_missing.rel_path(),
            format!(
                "changesets {} to {published} of peer {peer} generation {generation} are \
                 missing: its manifest says they were published",
                at + 1
            ),
            &mut report,
        )?;
    }

    // Everything this pull inserted came from this remote: a push there need not look at it.
    imp.advance_high_water(remote_id, me.generation as u64, before_max, imp.max_seq()?)?;

    // Which keys now have an unsettled conflict (what `context conflicts` lists).
    if touched.fresh {
        if !opts.dry_run {
            imp.create_history_index()?;
        }
        imp.finish_bootstrap()?;
    } else {
        for (project, keys) in &touched.before {
            for key in keys.keys() {
                store::refresh_conflicts(imp.conn(), project, key)?;
            }
        }
    }

    // The plan: each touched key, before and after.
    let mut keys: Vec<((String, String), Option<RowRef>)> = touched
        .before
        .into_iter()
        .flat_map(|(project, keys)| {
            keys.into_iter()
                .map(move |(key, old)| ((project.clone(), key), old))
        })
        .collect();
    keys.sort_by(|a, b| a.0.cmp(&b.0));
    for ((project, key), old) in keys {
        if old.is_none() && !opts.dry_run {
            // A new key: nothing to classify, no conflict possible.
            continue;
        }
        let Some(new) = imp.current(&project, &key)? else {
            continue;
        };
        let descends = match &old {
            Some(old) if old.id != new.id => descends(&imp, &new, old)?,
            _ => false,
        };
        let action = classify(old.as_ref(), &new, descends, me.id, |old, new| {
            imp.same_content(old.id, new.id)
        })?;
        let item = KeyPlan {
            project,
            key,
            action,
            local: old.map(|o| o.id.to_string()),
            winner: new.id.to_string(),
        };
        // With --merge, every conflict this pull brings is merged where it merges cleanly: the
        // refusals, and the incoming versions that lost to a local one.
        let mergeable = matches!(
            action,
            Action::Conflict | Action::KeptLocal | Action::Replaced
        );
        let merged = if opts.merge && mergeable && !opts.dry_run {
            merge_conflict(&imp, ids.as_ref(), me.id, now, &item)?
        } else {
            None
        };
        if let Some(m) = merged {
            report.merged.push(m);
        } else if action == Action::Conflict {
            report.conflicts.push(item.clone());
        }
        if opts.dry_run {
            report.plan.push(item);
        }
    }

    imp.forget_missing_except(remote_id, &met)?;
    let refused = !report.conflicts.is_empty() && !opts.force;
    if refused || opts.dry_run {
        imp.rollback()?;
        return Ok(report);
    }
    if !report.conflicts.is_empty() && db_path != std::path::Path::new(":memory:") {
        report.backup = Some(store::backup(&db_path, now, BACKUPS_KEPT)?);
    }
    if rt.interrupted() {
        return Err(SyncError::Interrupted("nothing applied".to_string()));
    }
    imp.commit()?;
    report.applied = true;
    if let Err(e) = publish_manifest(store, remote, remote_id, false) {
        report.warnings.push(super::manifest_warning(&e));
    }
    Ok(report)
}

/// A changeset read and decoded, with the SHA-256 of each entry's body; or why it could not be.
type Decoded = Result<(Changeset, Checksum, Vec<Option<[u8; 32]>>), String>;

fn read_and_decode(remote: &Remote, name: &dyn FileName) -> Decoded {
    let (cs, checksum) = super::read_changeset(remote, name)?;
    let digests = cs
        .entries
        .iter()
        .map(|e| e.body.as_ref().map(|b| Sha256::digest(b).into()))
        .collect();
    Ok((cs, checksum, digests))
}

/// The keys a pull inserts into, with their state before it.
struct Touched {
    before: Before,
    /// The database held no row when the pull began (a new peer): every key is new, there is
    /// nothing to look up, and nothing to remember unless a plan is printed.
    fresh: bool,
    /// Remember new keys too (for a dry run's plan).
    remember_new: bool,
}

/// Imports every entry of a changeset (a stream's or a snapshot part).
fn import_all(
    imp: &Import<'_>,
    cs: &Changeset,
    digests: &[Option<[u8; 32]>],
    remote_id: i64,
    touched: &mut Touched,
    report: &mut PullReport,
) -> Result<(), SyncError> {
    imp.note_host(cs.header.peer, &cs.header.host)?;
    for (entry, digest) in cs.entries.iter().zip(digests) {
        import_entry(imp, entry, digest.as_ref(), remote_id, touched, report)?;
    }
    Ok(())
}

fn import_entry(
    imp: &Import<'_>,
    entry: &Record,
    digest: Option<&[u8; 32]>,
    remote_id: i64,
    touched: &mut Touched,
    report: &mut PullReport,
) -> Result<(), SyncError> {
    // The key's state before this pull: read before the first insert the pull makes to it.
    let seen = touched
        .before
        .get(&entry.project)
        .is_some_and(|keys| keys.contains_key(&entry.key));
    let current = if seen {
        None
    } else if touched.fresh {
        Some(None)
    } else {
        Some(imp.current(&entry.project, &entry.key)?)
    };
    if !imp.insert(entry, digest, remote_id, !touched.fresh)? {
        report.already_present += 1;
        return Ok(());
    }
    if let Some(current) = current
        && (current.is_some() || touched.remember_new || !touched.fresh)
    {
        touched
            .before
            .entry(entry.project.clone())
            .or_default()
            .insert(entry.key.clone(), current);
    }
    super::count(&mut report.per_project, &entry.project, entry.kind);
    Ok(())
}

/// Whether `row` reaches `ancestor` through parents and settled rows (its writer had seen
/// `ancestor`).
fn descends(imp: &Import<'_>, row: &RowRef, ancestor: &RowRef) -> Result<bool, SyncError> {
    let mut stack: Vec<RowRef> = vec![*row];
    let mut seen: std::collections::HashSet<VersionId> = std::collections::HashSet::new();
    while let Some(r) = stack.pop() {
        // A fast-forward (the usual case) needs no lookup.
        if r.parent == Some(ancestor.id) {
            return Ok(true);
        }
        let next = r.parent.into_iter().chain(imp.settled_by(r.id)?);
        for id in next {
            if id == ancestor.id {
                return Ok(true);
            }
            if seen.len() >= MAX_ANCESTRY_STEPS || !seen.insert(id) {
                continue;
            }
            // Parents and settled rows always order before the rows that point at them: one
            // older than the ancestor cannot lead back to it.
            if let Some(p) = imp.row(id)?
                && p.lww() > ancestor.lww()
            {
                stack.push(p);
            }
        }
    }
    Ok(false)
}

/// With `--merge`: merges the two sides of a conflicting key and writes the merge as a new
/// local version (inside the pull's transaction); `None` when they do not merge cleanly.
fn merge_conflict(
    imp: &Import<'_>,
    ids: &dyn crate::ids::IdSource,
    me: PeerId,
    now: i64,
    item: &KeyPlan,
) -> Result<Option<MergedKey>, SyncError> {
    let Some(graph) = store::KeyGraph::load(imp.conn(), &item.project, &item.key)? else {
        return Ok(None);
    };
    let local = item.local.as_deref().unwrap_or_default();
    let Some(conflict) = graph
        .conflicts(me)
        .into_iter()
        .find(|c| c.mine.id.to_string() == local || c.theirs.id.to_string() == local)
    else {
        return Ok(None);
    };
    match crate::resolve::merge_on(imp.conn(), &conflict) {
        // A merge larger than a document may be is left to a person.
        Ok(crate::merge::Merged::Clean(body)) if body.len() > store::MAX_BODY_BYTES => Ok(None),
        Ok(crate::merge::Merged::Clean(body)) => {
            let v = store::write_on(
                imp.conn(),
                ids,
                me,
                now,
                &item.project,
                &item.key,
                Some(&body),
                None,
            )?;
            tracing::info!(project = %item.project, key = %item.key, version = %v.id, "merged a conflict");
            Ok(Some(MergedKey {
                project: item.project.clone(),
                key: item.key.clone(),
                mine: conflict.mine.id.to_string(),
                theirs: conflict.theirs.id.to_string(),
                version: v.id.to_string(),
            }))
        }
        Ok(crate::merge::Merged::Conflicted { .. }) => Ok(None),
        Err(crate::resolve::ResolveError::Store(store::StoreError::TooLarge { .. })) => Ok(None),
        Err(crate::resolve::ResolveError::Store(e)) => Err(e.into()),
        Err(e) => {
            tracing::info!(project = %item.project, key = %item.key, "not merged: {e}");
            Ok(None)
        }
    }
}

/// The planning steps alone, without SQLite or a remote.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::changeset::{Cover, Header};
    use crate::clock::Hlc;
    use crate::ids::SeededIds;
    use crate::remote::Skipped;

    fn peer(seed: u64) -> PeerId {
        PeerId::generate(&SeededIds::new(seed))
    }

    fn name(peer: PeerId, generation: u64, seq: u64) -> CsetName {
        CsetName {
            peer,
            generation,
            seq,
        }
    }

    fn applied(seq: u64) -> Applied {
        Applied {
            last_seq: seq,
            last_checksum: Checksum([seq as u8; 32]),
        }
    }

    fn no_snapshots_asked() -> (Vec<Sealed>, Vec<BadSnapshot>) {
        panic!("no stream lost its beginning: the snapshots must not be read")
    }

    #[test]
    fn each_stream_is_taken_up_after_what_was_applied_and_this_peers_own_is_left_alone() {
        let (me, a, b) = (peer(1), peer(2), peer(3));
        let listing = Listing {
            changesets: vec![
                name(me, 1, 1),
                name(me, 2, 1),
                name(a, 1, 1),
                name(a, 1, 2),
                name(a, 1, 3),
                name(b, 1, 1),
            ],
            skipped: vec![Skipped {
                path: format!("{a}/00000001-0000000000000002.sync-conflict-x.cset"),
                why: Found::ConflictCopy,
            }],
            ..Listing::default()
        };
        let done = HashMap::from([((a, 1), applied(2))]);
        let plan = plan_reads(&listing, &done, (me, 2), no_snapshots_asked);
        let mut streams: Vec<(StreamId, u64, Vec<u64>)> = plan
            .streams
            .iter()
            .map(|w| (w.stream, w.start(), w.names.iter().map(|n| n.seq).collect()))
            .collect();
        streams.sort();
        // This peer's earlier generation is pulled (a restored database gets it back).
        let mut want = vec![
            ((me, 1), 1, vec![1]),
            ((a, 1), 3, vec![3]),
            ((b, 1), 1, vec![1]),
        ];
        want.sort();
        assert_eq!(streams, want);
        assert_eq!(plan.skipped.len(), 1);
        assert!(plan.skipped[0].reason.contains("same peer"));
        assert_eq!(plan.files().len(), 3);
    }

    #[test]
    fn a_stream_that_lost_its_beginning_starts_from_the_snapshot_that_covers_it() {
        let (me, a, b, c) = (peer(1), peer(2), peer(3), peer(4));
        // a's changesets 1 to 4 were pruned; b replays from 1; c has a gap no snapshot covers.
        let listing = Listing {
            changesets: vec![name(a, 1, 5), name(a, 1, 6), name(b, 1, 1), name(c, 1, 3)],
            ..Listing::default()
        };
        let seal = SnapshotName {
            peer: b,
            id: 7,
            part: None,
        };
        let snapshot = Sealed {
            seal,
            parts: vec![SnapshotName {
                part: Some(1),
                ..seal
            }],
            header: Header {
                peer: b,
                generation: 1,
                seq: 2,
                prev: None,
                created_at_ms: 0,
                host: "h".into(),
                snapshot: true,
                versions: 0,
                tombstones: 0,
                projects: vec![],
                covers: vec![
                    Cover {
                        peer: a,
                        generation: 1,
                        seq: 4,
                        checksum: Checksum([4; 32]),
                    },
                    Cover {
                        peer: b,
                        generation: 1,
                        seq: 1,
                        checksum: Checksum([1; 32]),
                    },
                ],
                settles: vec![],
            },
        };
        let plan = plan_reads(&listing, &HashMap::new(), (me, 1), || {
            (vec![snapshot.clone()], vec![])
        });
        assert_eq!(plan.snapshots.len(), 1);
        let by_stream: HashMap<StreamId, &StreamRead> =
            plan.streams.iter().map(|w| (w.stream, w)).collect();
        let a_read = by_stream[&(a, 1)];
        assert_eq!(a_read.start(), 5);
        assert_eq!(a_read.position.map(|p| p.1), Some(Some(0)));
        // b did not lose its beginning: it replays, the snapshot does not stand for it.
        assert_eq!(by_stream[&(b, 1)].start(), 1);
        assert_eq!(by_stream[&(b, 1)].position, None);
        // c's gap stays for the apply to report as bad data.
        assert_eq!(by_stream[&(c, 1)].start(), 1);
        assert_eq!(by_stream[&(c, 1)].names, vec![name(c, 1, 3)]);
        // The snapshot's part is read first.
        assert_eq!(
            plan.files()[0].name().rel_path(),
            snapshot.parts[0].rel_path()
        );
    }

    #[test]
    fn keys_are_classified_by_ancestry_and_by_whose_change_would_be_replaced() {
        let (me, other) = (peer(1), peer(2));
        let ids = SeededIds::new(9);
        let row = |by: PeerId, at: i64| RowRef {
            id: VersionId::generate(&ids, at),
            hlc: Hlc::from_i64(at << 16).unwrap(),
            peer: by,
            parent: None,
        };
        let (mine, theirs, newer) = (row(me, 1), row(other, 1), row(other, 2));
        // The content is asked of nothing but a local change that did not lead to the winner.
        let unasked = |_: &RowRef, _: &RowRef| -> Result<bool, ()> { panic!("content asked") };
        let differs = |_: &RowRef, _: &RowRef| Ok::<_, ()>(false);
        assert_eq!(classify(None, &newer, false, me, unasked), Ok(Action::New));
        assert_eq!(
            classify(Some(&mine), &mine, false, me, unasked),
            Ok(Action::KeptLocal)
        );
        assert_eq!(
            classify(Some(&mine), &newer, true, me, unasked),
            Ok(Action::FastForward)
        );
        assert_eq!(
            classify(Some(&theirs), &newer, false, me, unasked),
            Ok(Action::Replaced)
        );
        assert_eq!(
            classify(Some(&mine), &newer, false, me, differs),
            Ok(Action::Conflict)
        );
        // The same content written twice (two peers merged one conflict alike): no conflict.
        let same = |_: &RowRef, _: &RowRef| Ok::<_, ()>(true);
        assert_eq!(
            classify(Some(&mine), &newer, false, me, same),
            Ok(Action::Identical)
        );
    }
}
