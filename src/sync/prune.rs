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

use std::collections::HashMap;
use std::time::Duration;

use serde::Serialize;

use crate::clock::parse_instant;
use crate::ids::PeerId;
use crate::remote::{CsetName, FileName, Remote};
use crate::store::Store;

use super::SyncError;
use super::snapshot::{self, Sealed, SnapshotReport, StreamId};

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
struct Holder {
    label: String,
    has: HashMap<StreamId, u64>,
}

pub fn prune(store: &Store, remote: &Remote, opts: PruneOptions) -> Result<PruneReport, SyncError> {
    let location = remote.location();
    let remote_id = store.remote_id(&location)?;
    let me = store.peer().clone();
    let now = store.now_ms();
    let listing = remote.list()?;
    let streams = listing.streams();
    let mut report = PruneReport {
        remote: location,
        dry_run: opts.dry_run,
        ..PruneReport::default()
    };

    // Who must have applied a changeset before it goes.
    let mine = snapshot::coverage(store, remote_id)?;
    let mut holders = vec![Holder {
        label: format!("this peer ({})", me.id),
        has: mine.iter().map(|(s, c)| (*s, c.seq)).collect(),
    }];
    report.peers.push(PeerView {
        peer: me.id.to_string(),
        host: Some(store.runtime().host.clone()),
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
    // The least any holder has applied of a stream, and who that is.
    let acked = |stream: StreamId| -> (u64, &str) {
        holders
            .iter()
            .map(|h| (h.has.get(&stream).copied().unwrap_or(0), h.label.as_str()))
            .min_by_key(|(seq, _)| *seq)
            .unwrap_or((0, ""))
    };

    // The snapshots that can stand for removed changesets.
    let (mut sealed, damaged) = snapshot::sealed_snapshots(remote, &listing);
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
    let limit = |stream: StreamId, tail: u64| acked(stream).0.min(tail.saturating_sub(1));
    let covered = |sealed: &[Sealed], stream: StreamId| {
        sealed
            .iter()
            .filter_map(|s| s.covers(stream))
            .map(|c| c.seq)
            .max()
            .unwrap_or(0)
    };
    let uncovered = streams.iter().any(|(stream, names)| {
        let tail = names.last().map_or(0, |n| n.seq);
        let cut = limit(*stream, tail);
        let cover = covered(&sealed, *stream);
        // Changesets that could go if a snapshot covered them...
        let removable = names.iter().any(|n| n.seq <= cut && n.seq > cover);
        // ...or a beginning already gone that no sound snapshot stands for (the one that did
        // is damaged), which this peer can stand for.
        let first = names.first().map_or(1, |n| n.seq);
        let mine_reach = mine.get(stream).map_or(0, |c| c.seq);
        let lost = first > 1 && cover < first - 1 && mine_reach >= first - 1;
        removable || lost
    });
    // What this peer's snapshot would cover, for a dry run.
    let mut virtual_cover: HashMap<StreamId, u64> = HashMap::new();
    if uncovered {
        if opts.dry_run {
            report.would_snapshot = true;
            virtual_cover = mine.iter().map(|(s, c)| (*s, c.seq)).collect();
        } else {
            let (written, new) = snapshot::write(store, remote)?;
            report.snapshot = Some(written);
            sealed.insert(0, new);
        }
    }

    let mut doomed: Vec<CsetName> = Vec::new();
    for (stream, names) in &streams {
        let tail = names.last().map_or(0, |n| n.seq);
        let (applied_by_all, laggard) = acked(*stream);
        let cover = covered(&sealed, *stream).max(virtual_cover.get(stream).copied().unwrap_or(0));
        let cut = limit(*stream, tail).min(cover);
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
        report.streams.push(StreamPrune {
            peer: stream.0.to_string(),
            generation: stream.1,
            removed: gone.len() as u64,
            kept: kept.len() as u64,
            first_kept,
            why_kept,
        });
        doomed.extend(gone.into_iter().copied());
    }

    // Snapshots a newer one covers entirely: the seal first, so that no reader ever finds a
    // sealed snapshot with parts missing.
    // A damaged one goes too once a sound one covers what it claimed to.
    let superseded: Vec<&Sealed> = sealed
        .iter()
        .chain(&unsound)
        .filter(|x| {
            sealed
                .iter()
                .any(|y| y.order() > x.order() && y.dominates(x))
        })
        .collect();
    let sealed_ids: Vec<(PeerId, u64)> = sealed.iter().map(|s| (s.seal.peer, s.seal.id)).collect();
    let interrupted: Vec<_> = listing
        .snapshot_files()
        .into_iter()
        .filter(|((peer, id), (_, has_seal))| {
            !has_seal
                && !sealed_ids.contains(&(*peer, *id))
                && now - ((*id >> 16) as i64) > STALE_UNSEALED_MS
        })
        .flat_map(|(_, (parts, _))| parts)
        .collect();

    for name in &doomed {
        if !opts.dry_run {
            remote.remove(name)?;
        }
        report.removed.push(name.rel_path());
    }
    for s in superseded {
        for file in std::iter::once(&s.seal).chain(&s.parts) {
            if !opts.dry_run {
                remote.remove(file)?;
            }
            report.removed_snapshots.push(file.rel_path());
        }
    }
    for part in &interrupted {
        if !opts.dry_run {
            remote.remove(part)?;
        }
        report.removed_snapshots.push(part.rel_path());
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
