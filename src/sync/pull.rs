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

use sha2::{Digest, Sha256};

use crate::changeset::Changeset;
use crate::ids::{PeerId, VersionId};
use crate::outcome::Outcome;
use crate::progress::Guard;
use crate::record::{Checksum, Record};
use crate::remote::{CsetName, FileName, Found, Remote};
use crate::store::{self, Applied, Import, RowRef, Store};
use crate::sync::snapshot::{self, Sealed, StreamId};

use super::{PerProject, SyncError, publish_manifest};

/// The current row of every key a pull inserted into, as it was before the pull: by project,
/// then key (so that lookups borrow the entry's strings).
type Before = HashMap<String, HashMap<String, Option<RowRef>>>;

/// Where a stream is taken up: how far it is applied, and which of the chosen snapshots (if
/// any) brought it there.
type Position = (Applied, Option<usize>);

/// How many backups taken before a forced pull are kept.
pub const BACKUPS_KEPT: usize = 5;
/// A parent chain longer than this is not walked for ancestry (treated as unseen).
const MAX_ANCESTRY_STEPS: usize = 100_000;

#[derive(Debug, Clone, Copy, Default)]
pub struct PullOptions {
    pub force: bool,
    pub dry_run: bool,
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
    let listing = remote.list()?;
    let mut report = PullReport {
        remote: location,
        dry_run: opts.dry_run,
        forced: opts.force,
        ..PullReport::default()
    };
    for s in &listing.skipped {
        let reason = match s.why {
            Found::ConflictCopy => {
                "a file-sync tool's conflict copy: two machines wrote as the same peer \
                 (a copied home?); skipped"
            }
            Found::Temporary => "a temporary file (a write in progress, or left behind); skipped",
            _ => "not a changeset name this tool writes; skipped",
        };
        tracing::debug!(file = %s.path, "{reason}");
        report.skipped.push(SkippedFile {
            file: s.path.clone(),
            reason: reason.to_string(),
        });
    }

    let me = store.peer().clone();
    let applied: HashMap<StreamId, Applied> = store.applied(remote_id)?.into_iter().collect();
    let db_path = store.path().to_path_buf();
    let now = store.now_ms();
    let mine = (me.id, me.generation as u64);
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
    let mut chosen: Vec<Sealed> = Vec::new();
    if !gaps.is_empty() {
        let (sealed, damaged) = snapshot::sealed_snapshots(remote, &listing);
        for d in damaged {
            report.bad.push(BadFile {
                file: d.file,
                reason: d.reason,
            });
        }
        for &(stream, need) in &gaps {
            let reaches = |s: &Sealed| s.covers(stream).is_some_and(|c| c.seq >= need);
            if chosen.iter().any(reaches) {
                continue;
            }
            if let Some(s) = sealed.iter().find(|s| reaches(s)) {
                chosen.push(s.clone());
            }
        }
        // Only the streams that lost their beginning take up where a snapshot leaves them:
        // the others replay as usual (so a damaged snapshot stops no more than it must).
        for &(stream, _) in &gaps {
            let best = chosen
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

    let progress = store.runtime().progress.clone();
    let imp = store.begin_import()?;
    let mut touched = Touched {
        before: Before::new(),
        fresh: imp.is_empty()?,
        remember_new: opts.dry_run,
    };

    // Every changeset to read, stream by stream, in order, after the snapshots' parts.
    let work: Vec<(PeerId, u64, Option<Position>, Vec<CsetName>)> = streams
        .into_iter()
        .map(|((peer, generation), names)| {
            let position = positions.get(&(peer, generation)).copied();
            let start = position.map_or(1, |a| a.0.last_seq + 1);
            let names = names.into_iter().filter(|n| n.seq >= start).collect();
            (peer, generation, position, names)
        })
        .collect();
    let order: Vec<Box<dyn FileName>> = chosen
        .iter()
        .flat_map(|s| s.parts.iter().map(|p| Box::new(*p) as Box<dyn FileName>))
        .chain(
            work.iter()
                .flat_map(|w| w.3.iter().map(|n| Box::new(*n) as Box<dyn FileName>)),
        )
        .collect();

    // A reader thread reads and decodes the changesets in that order while this one inserts:
    // decoding overlaps SQLite's work. The channel is a rendezvous, so at most one decoded
    // changeset waits, and memory stays bounded by two changesets.
    let bar = Guard::start(progress.as_ref(), "pull", "changesets", order.len() as u64);
    std::thread::scope(|scope| -> Result<(), SyncError> {
        let (sender, decoded) = std::sync::mpsc::sync_channel::<Decoded>(0);
        scope.spawn(move || {
            for name in order {
                if sender.send(read_and_decode(remote, name.as_ref())).is_err() {
                    break;
                }
            }
        });
        let receive = |name: &dyn FileName| {
            bar.advance(1);
            decoded.recv().map_err(|_| {
                SyncError::Remote(crate::remote::RemoteError::Read {
                    location: name.rel_path(),
                    source: "the changeset reader stopped".into(),
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
                let (cs, checksum, digests) = match item {
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
                if positions.get(&stream).is_some_and(|p| p.1 == Some(k)) {
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

        for (peer, generation, position, names) in &work {
            let (peer, generation) = (*peer, *generation);
            let start = position.map_or(1, |a| a.0.last_seq + 1);
            let mut prev = position.map(|a| a.0.last_checksum);
            // A stream that continues from a snapshot that turned out damaged has a gap.
            let mut stopped = false;
            if let Some((_, Some(k))) = position
                && failed[*k]
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
                    report.bad.push(bad(format!(
                        "gap in the stream: changesets {expected} to {} of peer {peer} \
                         generation {generation} are missing, and no snapshot in the remote \
                         covers them",
                        name.seq - 1
                    )));
                    stopped = true;
                    continue;
                }
                let (cs, checksum, digests) = match item {
                    Ok(d) => d,
                    Err(reason) => {
                        report.bad.push(bad(reason));
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
                import_all(&imp, &cs, &digests, remote_id, &mut touched, &mut report)?;
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
        let action = match old {
            None => Action::New,
            Some(old) if old.id == new.id => Action::KeptLocal,
            Some(old) if descends(&imp, &new, &old)? => Action::FastForward,
            Some(old) if old.peer != me.id => Action::Replaced,
            Some(_) => Action::Conflict,
        };
        let item = KeyPlan {
            project,
            key,
            action,
            local: old.map(|o| o.id.to_string()),
            winner: new.id.to_string(),
        };
        if action == Action::Conflict {
            report.conflicts.push(item.clone());
        }
        if opts.dry_run {
            report.plan.push(item);
        }
    }

    let refused = !report.conflicts.is_empty() && !opts.force;
    if refused || opts.dry_run {
        imp.rollback()?;
        return Ok(report);
    }
    if !report.conflicts.is_empty() && db_path != std::path::Path::new(":memory:") {
        report.backup = Some(store::backup(&db_path, now, BACKUPS_KEPT)?);
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
    if !imp.insert(entry, digest, remote_id)? {
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

/// Whether `row` has `ancestor` in its parent chain (its writer had seen `ancestor`).
fn descends(imp: &Import<'_>, row: &RowRef, ancestor: &RowRef) -> Result<bool, SyncError> {
    let mut next: Option<VersionId> = row.parent;
    for _ in 0..MAX_ANCESTRY_STEPS {
        let Some(id) = next else {
            return Ok(false);
        };
        if id == ancestor.id {
            return Ok(true);
        }
        match imp.row(id)? {
            // Parents always order before their children: one older than the ancestor
            // cannot lead back to it.
            Some(r) if r.lww() > ancestor.lww() => next = r.parent,
            _ => return Ok(false),
        }
    }
    Ok(false)
}
