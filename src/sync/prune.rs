//! `context sync prune`: remove from a remote the changesets no peer needs any more.
//!
//! A changeset may go only when
//!
//! - every known peer has applied it: this peer (from its database), and every peer with a
//!   manifest in the remote (its acknowledgements; a peer's own current stream counts as
//!   applied by it), except those silent for longer than `--forget-after`, when asked;
//! - a complete snapshot, whose parts all pass their checksum, covers it: a peer that is not
//!   known yet (a new machine), or that was left behind, starts from the snapshot instead. When
//!   acknowledged changesets are not covered yet, prune writes this peer's snapshot first (and
//!   also when a stream's removed beginning is covered by no sound snapshot any more);
//! - it is not the newest changeset of its stream: its peer chains the next one on it, and
//!   checks it to tell a lost remote from a healthy one.
//!
//! Prune also removes snapshots that a newer one covers entirely, snapshots that were never
//! sealed (interrupted over an hour ago), and the temporary files of killed writes (over an
//! hour old). Each removal is safe on its own, so an interrupted prune leaves a consistent
//! remote, and two peers pruning at once agree on what stays.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use serde::Serialize;

use crate::clock::parse_instant;
use crate::ids::PeerId;
use crate::remote::{CsetName, FileName, Remote, SnapshotName};
use crate::store::Store;

use super::SyncError;
use super::snapshot::{self, CompleteSnapshot, SnapshotReport, StreamId};

/// A temporary file this old was left by a killed write (a write takes seconds).
pub const STALE_TEMPORARY: Duration = Duration::from_secs(3600);
/// Parts of a snapshot without a seal, begun this long ago, are an interrupted snapshot.
const STALE_UNSEALED_MS: i64 = 3_600_000;

#[derive(Debug, Clone, Copy, Default)]
pub struct PruneOptions {
    pub dry_run: bool,
    /// Leave behind peers whose manifest has not changed for this long.
    pub forget_after_ms: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PeerView {
    pub peer: String,
    pub host: Option<String>,
    /// RFC 3339: when its manifest last changed, if it says.
    pub last_seen_at: Option<String>,
    pub status: PeerStatus,
}

/// What a prune made of a peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PeerStatus {
    /// The peer running the prune: its database says what it has applied.
    ThisPeer,
    /// Its acknowledgements count.
    Counted,
    /// Silent for longer than `--forget-after`: it will start again from a snapshot.
    LeftBehind,
    /// Changesets in the remote but no manifest: it starts from a snapshot if it needs one.
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StreamPrune {
    pub peer: String,
    pub generation: u64,
    pub removed: u64,
    pub kept: u64,
    /// The first changeset kept.
    pub first_kept: Option<u64>,
    /// Why the changesets from `first_kept` on stay.
    pub why_kept: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct PruneReport {
    pub remote: String,
    pub dry_run: bool,
    pub peers: Vec<PeerView>,
    /// The snapshot written first (with `--dry-run`: `would_snapshot` says one would be).
    pub snapshot: Option<SnapshotReport>,
    pub would_snapshot: bool,
    pub streams: Vec<StreamPrune>,
    /// Changesets removed (or, with `--dry-run`, that would be).
    pub removed: Vec<String>,
    /// Files of superseded or interrupted snapshots removed.
    pub removed_snapshots: Vec<String>,
    /// Temporary files of killed writes removed.
    pub temporary: Vec<String>,
    /// What was found wrong on the way (a damaged snapshot, an unreadable manifest): it is
    /// relied on for nothing, and removed for nothing.
    pub problems: Vec<String>,
}

/// One peer whose acknowledgements count.
#[derive(Debug, Clone)]
pub struct Holder {
    /// How messages name it.
    pub label: String,
    /// How far it has applied each stream.
    pub has: HashMap<StreamId, u64>,
}

/// What prune decides from: gathered from the store and the remote, then judged by
/// [`PruneInputs::plan`] without touching either.
#[derive(Debug, Clone)]
pub struct PruneInputs {
    /// Every changeset of the remote, by stream, each list in sequence order.
    pub streams: BTreeMap<StreamId, Vec<CsetName>>,
    /// Everyone who must have applied a changeset before it goes.
    pub holders: Vec<Holder>,
    /// How far this peer's database holds every row of each stream (what its snapshot would
    /// cover).
    pub mine: HashMap<StreamId, u64>,
    /// Complete snapshots whose parts all pass their checksum, newest first.
    pub sealed: Vec<CompleteSnapshot>,
    /// Complete snapshots with a damaged part: not relied on, removed once a sound one
    /// stands for them.
    pub unsound: Vec<CompleteSnapshot>,
    /// Parts of snapshots without a seal, by (peer, snapshot id).
    pub unsealed: Vec<((PeerId, u64), Vec<SnapshotName>)>,
    pub now_ms: i64,
}

/// What a prune removes, and why the rest stays.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PrunePlan {
    /// Per stream: how many go, how many stay, and why.
    pub streams: Vec<StreamPrune>,
    /// Changesets to remove.
    pub changesets: Vec<CsetName>,
    /// Snapshot files to remove: each superseded snapshot's seal first, then its parts (so no
    /// reader ever meets a seal with parts missing), then interrupted snapshots' parts.
    pub snapshot_files: Vec<SnapshotName>,
}

impl PruneInputs {
    /// The least any holder has applied of a stream, and who that is.
    fn acked(&self, stream: StreamId) -> (u64, &str) {
        self.holders
            .iter()
            .map(|h| (h.has.get(&stream).copied().unwrap_or(0), h.label.as_str()))
            .min_by_key(|(seq, _)| *seq)
            .unwrap_or((0, ""))
    }

    /// How far the sound snapshots cover a stream.
    fn covered(&self, stream: StreamId) -> u64 {
        self.sealed
            .iter()
            .filter_map(|s| s.covers(stream))
            .map(|c| c.seq)
            .max()
            .unwrap_or(0)
    }

    /// How far everyone has applied a stream, short of its newest changeset.
    fn limit(&self, stream: StreamId, tail: u64) -> u64 {
        self.acked(stream).0.min(tail.saturating_sub(1))
    }

    /// Whether this peer must publish a snapshot first: changesets everyone applied that no
    /// snapshot covers, or a stream whose removed beginning no sound snapshot stands for any
    /// more (the one that did is damaged) and which this peer can stand for.
    pub fn needs_snapshot(&self) -> bool {
        self.streams.iter().any(|(stream, names)| {
            let tail = names.last().map_or(0, |n| n.seq);
            let cut = self.limit(*stream, tail);
            let cover = self.covered(*stream);
            let removable = names.iter().any(|n| n.seq <= cut && n.seq > cover);
            let first = names.first().map_or(1, |n| n.seq);
            let mine_reach = self.mine.get(stream).copied().unwrap_or(0);
            let lost = first > 1 && cover < first - 1 && mine_reach >= first - 1;
            removable || lost
        })
    }

    /// What goes and what stays. `extra_cover` is what a snapshot not written yet would
    /// cover (a dry run's view of the snapshot it would write).
    pub fn plan(&self, extra_cover: &HashMap<StreamId, u64>) -> PrunePlan {
        let mut plan = PrunePlan::default();
        for (stream, names) in &self.streams {
            let tail = names.last().map_or(0, |n| n.seq);
            let (applied_by_all, laggard) = self.acked(*stream);
            let cover = self
                .covered(*stream)
                .max(extra_cover.get(stream).copied().unwrap_or(0));
            let cut = self.limit(*stream, tail).min(cover);
            let (gone, kept): (Vec<&CsetName>, Vec<&CsetName>) =
                names.iter().partition(|n| n.seq <= cut);
            let first_kept = kept.first().map(|n| n.seq);
            let why_kept = first_kept.map(|k| {
                if applied_by_all < k {
                    format!("{laggard} has applied it only up to changeset {applied_by_all}")
                } else if k == tail {
                    "the newest changeset of a stream stays: its peer chains the next one on it"
                        .to_string()
                } else {
                    format!("no snapshot covers it (they cover up to changeset {cover})")
                }
            });
            plan.streams.push(StreamPrune {
                peer: stream.0.to_string(),
                generation: stream.1,
                removed: gone.len() as u64,
                kept: kept.len() as u64,
                first_kept,
                why_kept,
            });
            plan.changesets.extend(gone.into_iter().copied());
        }
        // Snapshots a newer one covers entirely; a damaged one too, once a sound one covers
        // what it claimed to.
        for x in self.sealed.iter().chain(&self.unsound) {
            let superseded = self
                .sealed
                .iter()
                .any(|y| y.order() > x.order() && y.dominates(x));
            if superseded {
                plan.snapshot_files.push(x.seal);
                plan.snapshot_files.extend(x.parts.iter().copied());
            }
        }
        let sealed_ids: Vec<(PeerId, u64)> = self
            .sealed
            .iter()
            .map(|s| (s.seal.peer, s.seal.id))
            .collect();
        for ((peer, id), parts) in &self.unsealed {
            // A snapshot's id is the hybrid-clock time it began at.
            let began_ms = (*id >> 16) as i64;
            if !sealed_ids.contains(&(*peer, *id)) && self.now_ms - began_ms > STALE_UNSEALED_MS {
                plan.snapshot_files.extend(parts.iter().copied());
            }
        }
        plan
    }
}

pub fn prune(store: &Store, remote: &Remote, opts: PruneOptions) -> Result<PruneReport, SyncError> {
    let location = remote.location();
    let mut report = PruneReport {
        remote: location,
        dry_run: opts.dry_run,
        ..PruneReport::default()
    };
    let mut inputs = gather(store, remote, opts, &mut report)?;

    let mut virtual_cover: HashMap<StreamId, u64> = HashMap::new();
    if inputs.needs_snapshot() {
        if opts.dry_run {
            report.would_snapshot = true;
            virtual_cover = inputs.mine.clone();
        } else {
            let (written, new) = snapshot::write(store, remote)?;
            report.snapshot = Some(written);
            inputs.sealed.insert(0, new);
        }
    }
    let plan = inputs.plan(&virtual_cover);
    report.streams = plan.streams;

    for name in &plan.changesets {
        if !opts.dry_run {
            remote.remove(name)?;
        }
        report.removed.push(name.rel_path());
    }
    for file in &plan.snapshot_files {
        if !opts.dry_run {
            remote.remove(file)?;
        }
        report.removed_snapshots.push(file.rel_path());
    }
    report.temporary = remote.sweep_temporary(STALE_TEMPORARY, opts.dry_run)?;
    tracing::info!(
        removed = report.removed.len(),
        snapshots_removed = report.removed_snapshots.len(),
        temporary = report.temporary.len(),
        dry_run = opts.dry_run,
        "pruned"
    );
    Ok(report)
}

/// Reads what prune decides from: this peer's coverage, every manifest, every snapshot's seal
/// and parts. Records in `report` who counts and what could not be read.
fn gather(
    store: &Store,
    remote: &Remote,
    opts: PruneOptions,
    report: &mut PruneReport,
) -> Result<PruneInputs, SyncError> {
    let remote_id = store.remote_id(&report.remote)?;
    let me = store.peer().clone();
    let now = store.now_ms();
    let listing = remote.list()?;
    let streams = listing.streams();

    let mine: HashMap<StreamId, u64> = snapshot::coverage(store, remote_id)?
        .iter()
        .map(|(s, c)| (*s, c.seq))
        .collect();
    let mut holders = vec![Holder {
        label: format!("this peer ({})", me.id),
        has: mine.clone(),
    }];
    report.peers.push(PeerView {
        peer: me.id.to_string(),
        host: Some(store.peer().name.clone()),
        last_seen_at: None,
        status: PeerStatus::ThisPeer,
    });
    for &peer in listing.manifests.iter().filter(|p| **p != me.id) {
        let manifest = match remote.read_manifest(peer) {
            Ok(Some(m)) => m,
            Ok(None) => continue,
            Err(e) => {
                // Counted, as having applied nothing: what it needs is unknown.
                report.problems.push(e.to_string());
                holders.push(Holder {
                    label: format!("peer {peer} (its manifest cannot be read)"),
                    has: HashMap::new(),
                });
                report.peers.push(PeerView {
                    peer: peer.to_string(),
                    host: None,
                    last_seen_at: None,
                    status: PeerStatus::Counted,
                });
                continue;
            }
        };
        let last_seen = manifest
            .updated_at
            .clone()
            .or_else(|| manifest.last_push_at.clone());
        let silent_for = last_seen
            .as_deref()
            .and_then(parse_instant)
            .map(|t| now - t);
        let forgotten = matches!((opts.forget_after_ms, silent_for), (Some(f), Some(s)) if s > f);
        report.peers.push(PeerView {
            peer: peer.to_string(),
            host: Some(manifest.host.clone()),
            last_seen_at: last_seen.clone(),
            status: if forgotten {
                PeerStatus::LeftBehind
            } else {
                PeerStatus::Counted
            },
        });
        if forgotten {
            continue;
        }
        let mut has: HashMap<StreamId, u64> = manifest
            .acks
            .iter()
            .filter_map(|a| Some(((a.peer.parse::<PeerId>().ok()?, a.generation), a.seq)))
            .collect();
        has.insert((peer, manifest.generation), u64::MAX);
        holders.push(Holder {
            label: format!("peer {peer} (host {:?})", manifest.host),
            has,
        });
    }
    for &(peer, _) in streams.keys() {
        let listed = report.peers.iter().any(|p| p.peer == peer.to_string());
        if !listed {
            report.peers.push(PeerView {
                peer: peer.to_string(),
                host: None,
                last_seen_at: None,
                status: PeerStatus::Unknown,
            });
        }
    }

    let (sealed, unsound) = sound_snapshots(remote, &listing, report);
    let unsealed = listing
        .snapshot_files()
        .into_iter()
        .filter(|(_, (_, has_seal))| !has_seal)
        .map(|(id, (parts, _))| (id, parts))
        .collect();
    Ok(PruneInputs {
        streams,
        holders,
        mine,
        sealed,
        unsound,
        unsealed,
        now_ms: now,
    })
}

/// The complete snapshots whose every part checks out (what can stand for removed
/// changesets), and the complete ones that do not (never relied on); what is wrong with each
/// is a problem of the report.
fn sound_snapshots(
    remote: &Remote,
    listing: &crate::remote::Listing,
    report: &mut PruneReport,
) -> (
    Vec<snapshot::CompleteSnapshot>,
    Vec<snapshot::CompleteSnapshot>,
) {
    // The snapshots that can stand for removed changesets.
    let (mut sealed, damaged) = snapshot::complete_snapshots(remote, listing);
    for d in damaged {
        report.problems.push(format!("{}: {}", d.file, d.reason));
    }
    let mut unsound = Vec::new();
    sealed.retain(|s| match s.check_parts(remote) {
        Ok(()) => true,
        Err((path, reason)) => {
            report.problems.push(format!(
                "{path}: {reason} (the snapshot {} is not relied on)",
                s.seal
            ));
            unsound.push(s.clone());
            false
        }
    });
    (sealed, unsound)
}

/// The plan alone, without SQLite or a remote: each rule of the module's doc comment.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::changeset::{Cover, Header};
    use crate::ids::SeededIds;
    use crate::record::Checksum;

    const HOUR_MS: i64 = 3_600_000;

    fn peer(seed: u64) -> PeerId {
        PeerId::generate(&SeededIds::new(seed))
    }

    fn names(p: PeerId, seqs: std::ops::RangeInclusive<u64>) -> Vec<CsetName> {
        seqs.map(|seq| CsetName {
            peer: p,
            generation: 1,
            seq,
        })
        .collect()
    }

    /// A sealed snapshot of `by`, begun at `began_ms`, covering `covers` (stream, up to).
    fn sealed(
        by: PeerId,
        began_ms: i64,
        parts: u64,
        covers: &[(StreamId, u64)],
    ) -> CompleteSnapshot {
        let id = (began_ms as u64) << 16;
        let seal = SnapshotName {
            peer: by,
            id,
            part: None,
        };
        CompleteSnapshot {
            seal,
            parts: (1..=parts)
                .map(|p| SnapshotName {
                    part: Some(p),
                    ..seal
                })
                .collect(),
            header: Header {
                peer: by,
                generation: 1,
                seq: parts + 1,
                prev: None,
                created_at_ms: began_ms,
                host: "h".into(),
                snapshot: true,
                versions: 0,
                tombstones: 0,
                projects: vec![],
                covers: covers
                    .iter()
                    .map(|&((peer, generation), seq)| Cover {
                        peer,
                        generation,
                        seq,
                        checksum: Checksum([0; 32]),
                    })
                    .collect(),
                settles: vec![],
                hosts: vec![],
                authors: Vec::new(),
            },
        }
    }

    fn holder(label: &str, has: &[(StreamId, u64)]) -> Holder {
        Holder {
            label: label.into(),
            has: has.iter().copied().collect(),
        }
    }

    fn inputs(a: PeerId, seqs: std::ops::RangeInclusive<u64>) -> PruneInputs {
        PruneInputs {
            streams: BTreeMap::from([((a, 1), names(a, seqs))]),
            holders: vec![],
            mine: HashMap::new(),
            sealed: vec![],
            unsound: vec![],
            unsealed: vec![],
            now_ms: 100 * HOUR_MS,
        }
    }

    #[test]
    fn a_changeset_goes_when_everyone_applied_it_a_snapshot_covers_it_and_it_is_not_the_newest() {
        let a = peer(1);
        let mut i = inputs(a, 1..=5);
        i.holders = vec![
            holder("me", &[((a, 1), 5)]),
            holder("laptop", &[((a, 1), 3)]),
        ];
        i.sealed = vec![sealed(a, HOUR_MS, 1, &[((a, 1), 4)])];
        assert!(!i.needs_snapshot());
        let plan = i.plan(&HashMap::new());
        assert_eq!(plan.changesets, names(a, 1..=3));
        assert_eq!(plan.streams[0].kept, 2);
        assert_eq!(plan.streams[0].first_kept, Some(4));
        let why = plan.streams[0].why_kept.as_deref().unwrap();
        assert!(
            why.contains("laptop has applied it only up to changeset 3"),
            "{why}"
        );

        // Everyone has everything: the newest stays all the same.
        i.holders = vec![holder("me", &[((a, 1), 5)])];
        i.sealed = vec![sealed(a, HOUR_MS, 1, &[((a, 1), 5)])];
        let plan = i.plan(&HashMap::new());
        assert_eq!(plan.changesets, names(a, 1..=4));
        let why = plan.streams[0].why_kept.as_deref().unwrap();
        assert!(why.contains("newest changeset"), "{why}");
    }

    #[test]
    fn acknowledged_changesets_no_snapshot_covers_ask_for_one_first() {
        let a = peer(1);
        let mut i = inputs(a, 1..=3);
        i.holders = vec![holder("me", &[((a, 1), 3)])];
        i.mine = HashMap::from([((a, 1), 3)]);
        assert!(i.needs_snapshot());
        let without = i.plan(&HashMap::new());
        assert!(without.changesets.is_empty());
        assert!(
            without.streams[0]
                .why_kept
                .as_deref()
                .unwrap()
                .contains("no snapshot")
        );
        // What a dry run shows: the plan as if this peer's snapshot were there.
        let with = i.plan(&i.mine.clone());
        assert_eq!(with.changesets, names(a, 1..=2));
    }

    #[test]
    fn a_lost_beginning_no_sound_snapshot_stands_for_asks_for_a_snapshot() {
        let a = peer(1);
        // Changesets 1 to 3 were pruned; the snapshot that covered them is damaged.
        let mut i = inputs(a, 4..=5);
        i.holders = vec![holder("me", &[((a, 1), 5)])];
        i.mine = HashMap::from([((a, 1), 5)]);
        i.unsound = vec![sealed(a, HOUR_MS, 1, &[((a, 1), 3)])];
        assert!(i.needs_snapshot());
        // This peer cannot stand for it: no snapshot it could write would help.
        i.mine = HashMap::from([((a, 1), 2)]);
        i.holders = vec![holder("me", &[((a, 1), 2)])];
        assert!(!i.needs_snapshot());
    }

    #[test]
    fn superseded_snapshots_go_seal_first_and_stale_unsealed_parts_go() {
        let (a, b) = (peer(1), peer(2));
        let mut i = inputs(a, 1..=2);
        i.holders = vec![holder("me", &[((a, 1), 2)])];
        let old = sealed(b, HOUR_MS, 2, &[((a, 1), 1)]);
        let new = sealed(a, 2 * HOUR_MS, 1, &[((a, 1), 1)]);
        let damaged = sealed(b, HOUR_MS / 2, 1, &[((a, 1), 1)]);
        i.sealed = vec![new.clone(), old.clone()];
        i.unsound = vec![damaged.clone()];
        let stale = sealed(b, 50 * HOUR_MS, 2, &[]);
        let fresh = sealed(b, 100 * HOUR_MS - 1000, 1, &[]);
        i.unsealed = vec![
            ((b, stale.seal.id), stale.parts.clone()),
            ((b, fresh.seal.id), fresh.parts.clone()),
        ];
        let plan = i.plan(&HashMap::new());
        let mut want = vec![old.seal];
        want.extend(old.parts.iter().copied());
        want.push(damaged.seal);
        want.extend(damaged.parts.iter().copied());
        want.extend(stale.parts.iter().copied());
        assert_eq!(plan.snapshot_files, want);
    }
}
