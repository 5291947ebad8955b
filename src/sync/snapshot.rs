//! `context sync snapshot`: publish every version and tombstone this peer holds, so that a new
//! peer (or one left behind by a prune) starts from it instead of replaying every changeset.
//!
//! It holds every row of every stream up to where it covers it (the rows this peer pulled, and
//! its own up to its last push), and nothing this peer wrote and has not pushed there yet:
//! a local change is published through this peer's stream, never first through a snapshot.
//!
//! A snapshot is written in parts of bounded size (like a push), each a changeset marked as a
//! snapshot and chained on from the one before it, then sealed: the seal is a changeset without
//! entries whose header lists what the snapshot covers, i.e. for every stream of the remote how
//! far this database holds every row of it (the streams it applied, and its own). Until the seal
//! is there, readers ignore the parts (an interrupted snapshot); a later prune removes them.
//!
//! A pull applies a snapshot only when a stream it needs has lost its beginning to a prune:
//! it inserts the snapshot's rows like any others (so the result is the same as replaying, and
//! local changes are protected the same way) and continues each covered stream after the
//! snapshot's position in it.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::changeset::{self, Changeset, Cover, Header};
use crate::ids::PeerId;
use crate::progress::Guard;
use crate::record::Checksum;
use crate::remote::{FileName, Listing, Remote, SnapshotName};
use crate::store::Store;

use super::push::{PAGE_ROWS, export_chunks};
use super::{PerProject, SyncError};

/// A stream: (peer, generation).
pub type StreamId = (PeerId, u64);

#[derive(Debug, Clone, Default, Serialize)]
pub struct SnapshotReport {
    pub remote: String,
    /// The seal, relative to the remote's root.
    pub seal: String,
    pub parts: u64,
    pub bytes: u64,
    pub per_project: PerProject,
    /// How far it covers each stream.
    pub covers: Vec<CoverReport>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CoverReport {
    pub peer: String,
    pub generation: u64,
    pub seq: u64,
}

impl SnapshotReport {
    pub fn entries(&self) -> u64 {
        self.per_project.values().map(super::Counts::total).sum()
    }
}

/// How far this database holds every row of each stream of a remote: the streams it applied
/// there, and the ones it published there itself.
pub fn coverage(store: &Store, remote_id: i64) -> Result<BTreeMap<StreamId, Cover>, SyncError> {
    let me = store.peer().id;
    let mut out: BTreeMap<StreamId, Cover> = BTreeMap::new();
    let mut offer = |c: Cover| {
        let e = out.entry((c.peer, c.generation)).or_insert(c);
        if c.seq > e.seq {
            *e = c;
        }
    };
    for ((peer, generation), a) in store.applied(remote_id)? {
        offer(Cover {
            peer,
            generation,
            seq: a.last_seq,
            checksum: a.last_checksum,
        });
    }
    for p in store.all_pushed(remote_id)? {
        if let (true, Some(checksum)) = (p.last_seq > 0, p.last_checksum) {
            offer(Cover {
                peer: me,
                generation: p.generation,
                seq: p.last_seq,
                checksum,
            });
        }
    }
    Ok(out)
}

/// Writes a snapshot of this database into `remote`.
pub fn snapshot(store: &Store, remote: &Remote) -> Result<SnapshotReport, SyncError> {
    write(store, remote).map(|(report, _)| report)
}

/// Writes a snapshot; returns what it wrote, and the snapshot as a reader finds it.
pub(crate) fn write(
    store: &Store,
    remote: &Remote,
) -> Result<(SnapshotReport, CompleteSnapshot), SyncError> {
    let location = remote.location();
    let remote_id = store.remote_id(&location)?;
    let me = store.peer().clone();
    let listing = remote.list()?;
    // What it covers is read before the rows: rows are only ever added, so every row of a
    // covered changeset is among those exported below.
    let covers: Vec<Cover> = coverage(store, remote_id)?.into_values().collect();
    // Not this peer's local changes not pushed here yet: they go out through its stream.
    let published = store
        .all_pushed(remote_id)?
        .iter()
        .map(|p| p.high_water)
        .max()
        .unwrap_or(0);
    let newest_mine = listing
        .snapshots
        .iter()
        .filter(|n| n.peer == me.id)
        .map(|n| n.id)
        .max()
        .unwrap_or(0);
    let id = ((store.now_ms().max(0) as u64) << 16).max(newest_mine + 1);
    let mut report = SnapshotReport {
        remote: location,
        covers: covers
            .iter()
            .map(|c| CoverReport {
                peer: c.peer.to_string(),
                generation: c.generation,
                seq: c.seq,
            })
            .collect(),
        ..SnapshotReport::default()
    };
    let header = |seq: u64, prev: Option<Checksum>| Header {
        snapshot: true,
        ..Header::of_stream(
            me.id,
            me.generation as u64,
            seq,
            prev,
            store.now_ms(),
            store.peer().name.clone(),
        )
    };
    let mut prev: Option<Checksum> = None;
    let mut part = 0u64;
    let mut parts = Vec::new();
    let progress = store.runtime().progress.clone();
    let total = if progress.listening() {
        store.count_snapshot_rows(published, remote.projects())?
    } else {
        0
    };
    let bar = Guard::start(progress.as_ref(), "snapshot", "versions", total);
    let page = |after| store.snapshot_page(after, published, remote.projects(), PAGE_ROWS);
    export_chunks(page, 0, |entries, _| {
        bar.advance(entries.len() as u64);
        part += 1;
        let name = SnapshotName {
            peer: me.id,
            id,
            part: Some(part),
        };
        for e in &entries {
            super::count(&mut report.per_project, &e.project, e.kind);
        }
        let cs = Changeset::new(header(part, prev), entries);
        let (bytes, checksum) = changeset::encode(&cs)?;
        drop(cs);
        remote.publish(&name, &bytes)?;
        tracing::info!(part = %name, bytes = bytes.len(), "snapshot part published");
        report.bytes += bytes.len() as u64;
        prev = Some(checksum);
        parts.push(name);
        Ok(())
    })?;
    drop(bar);
    let seal_name = SnapshotName {
        peer: me.id,
        id,
        part: None,
    };
    // The seal is the last link of the chain: parts 1..=n, then the seal as n + 1.
    let mut seal = header(part + 1, prev);
    // The names of the machines whose streams it covers, for a home that starts from it.
    seal.hosts = store
        .hosts()?
        .into_iter()
        .filter(|(peer, _)| covers.iter().any(|c| c.peer == *peer))
        .collect();
    seal.covers = covers;
    let cs = Changeset::new(seal, Vec::new());
    let (bytes, _) = changeset::encode(&cs)?;
    remote.publish(&seal_name, &bytes)?;
    tracing::info!(seal = %seal_name, parts = part, "snapshot sealed");
    report.bytes += bytes.len() as u64;
    report.parts = part;
    report.seal = seal_name.rel_path();
    let sealed = CompleteSnapshot {
        seal: seal_name,
        parts,
        header: cs.header,
    };
    Ok((report, sealed))
}

/// A complete snapshot in a remote: its seal read, its parts listed.
#[derive(Debug, Clone)]
pub struct CompleteSnapshot {
    pub seal: SnapshotName,
    pub parts: Vec<SnapshotName>,
    pub header: Header,
}

impl CompleteSnapshot {
    /// How far it covers `stream` (0: not at all).
    pub fn covers(&self, stream: StreamId) -> Option<&Cover> {
        self.header
            .covers
            .iter()
            .find(|c| (c.peer, c.generation) == stream)
    }

    /// Whether `self` covers at least as much as `other` of every stream `other` covers.
    pub fn dominates(&self, other: &CompleteSnapshot) -> bool {
        other.header.covers.iter().all(|c| {
            self.covers((c.peer, c.generation))
                .is_some_and(|mine| mine.seq >= c.seq)
        })
    }

    /// The order in which snapshots supersede each other: by id (time), then peer.
    pub fn order(&self) -> (u64, PeerId) {
        (self.seal.id, self.seal.peer)
    }

    /// Checks every part's checksum (not its content): what a prune relies on before it
    /// removes changesets that this snapshot stands for.
    pub fn check_parts(&self, remote: &Remote) -> Result<(), (String, String)> {
        for part in &self.parts {
            let bytes = remote
                .read(part)
                .map_err(|e| (part.rel_path(), e.to_string()))?;
            changeset::verify(&bytes).map_err(|e| (part.rel_path(), e.to_string()))?;
        }
        Ok(())
    }
}

/// A snapshot that cannot be used, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BadSnapshot {
    pub file: String,
    pub reason: String,
    /// Only parts are missing: they may still be on their way (a file-sync tool delivers in
    /// any order), which a pull judges by how long it has been waiting for them.
    #[serde(skip)]
    pub parts_missing: bool,
}

/// Every complete snapshot of `listing`, newest first, with the seals that could not be read
/// or whose parts are not all there. Parts without a seal (an interrupted snapshot, or one
/// being written) are neither.
pub fn complete_snapshots(
    remote: &Remote,
    listing: &Listing,
) -> (Vec<CompleteSnapshot>, Vec<BadSnapshot>) {
    let mut good = Vec::new();
    let mut bad = Vec::new();
    for ((peer, id), (parts, sealed)) in listing.snapshot_files() {
        if !sealed {
            continue;
        }
        let seal = SnapshotName {
            peer,
            id,
            part: None,
        };
        let fail = |reason: String| BadSnapshot {
            file: seal.rel_path(),
            reason,
            parts_missing: false,
        };
        let header = match super::read_changeset(remote, &seal) {
            Ok((cs, _)) if !cs.entries.is_empty() || !cs.header.snapshot => {
                bad.push(fail("not a snapshot's seal".into()));
                continue;
            }
            Ok((cs, _)) if cs.header.peer != peer => {
                bad.push(fail(format!(
                    "its header says peer {}, not the folder it is in",
                    cs.header.peer
                )));
                continue;
            }
            Ok((cs, _)) => cs.header,
            Err(e) => {
                bad.push(fail(e));
                continue;
            }
        };
        let listed: Vec<u64> = parts.iter().filter_map(|p| p.part).collect();
        let expected: Vec<u64> = (1..header.seq).collect();
        if listed != expected {
            let missing: Vec<String> = expected
                .iter()
                .filter(|p| !listed.contains(p))
                .map(u64::to_string)
                .collect();
            let mut failed = fail(if missing.is_empty() {
                format!("it has parts beyond the {} its seal lists", header.seq - 1)
            } else {
                format!(
                    "part(s) {} of {} are missing",
                    missing.join(", "),
                    header.seq - 1
                )
            });
            failed.parts_missing = !missing.is_empty();
            bad.push(failed);
            continue;
        }
        good.push(CompleteSnapshot {
            seal,
            parts,
            header,
        });
    }
    good.sort_by_key(|s| std::cmp::Reverse(s.order()));
    (good, bad)
}
