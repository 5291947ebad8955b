//! `context sync verify`: read every changeset in a remote and report, per peer, what is wrong.
//!
//! Checks each file (checksum, decoding, the header agreeing with the name) and each stream
//! (no gap, every changeset chaining on from the one before it, no conflict copy beside it).
//! Changes nothing, takes no lock.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::outcome::Outcome;
use crate::remote::{FileName, Found, Remote};

use super::SyncError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// Relative to the remote.
    pub file: String,
    pub what: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StreamReport {
    pub generation: u64,
    pub changesets: u64,
    pub first_seq: u64,
    pub last_seq: u64,
    pub versions: u64,
    pub tombstones: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PeerReport {
    pub peer: String,
    /// The machine it writes from, as its manifest says (where it has one).
    pub host: Option<String>,
    pub streams: Vec<StreamReport>,
    pub problems: Vec<Problem>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    pub remote: String,
    pub changesets: u64,
    pub peers: Vec<PeerReport>,
    /// Problems not tied to one peer's stream (unknown `.cset` files).
    pub other_problems: Vec<Problem>,
    /// Temporary files: a write in progress, or left behind. Not damage.
    pub temporary: Vec<String>,
    /// Every complete snapshot, checked part by part.
    pub snapshots: Vec<SnapshotCheck>,
    /// Parts of snapshots without a seal: being written, or interrupted. Not damage.
    pub unsealed: Vec<String>,
    /// An encrypted remote checked without its key: each file's framing, checksum and name,
    /// and the gaps between changesets; not what is inside (authenticity, chains, snapshots).
    pub structure_only: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SnapshotCheck {
    pub seal: String,
    pub parts: u64,
    pub versions: u64,
    pub tombstones: u64,
    /// Streams it covers.
    pub covers: u64,
}

impl VerifyReport {
    pub fn problem_count(&self) -> usize {
        self.other_problems.len() + self.peers.iter().map(|p| p.problems.len()).sum::<usize>()
    }

    /// Bad data when anything is damaged.
    pub fn outcome(&self) -> Outcome {
        if self.problem_count() > 0 {
            Outcome::BadData
        } else {
            Outcome::Ok
        }
    }
}

pub fn verify(remote: &Remote) -> Result<VerifyReport, SyncError> {
    let listing = remote.list()?;
    let mut report = VerifyReport {
        remote: remote.location(),
        ..VerifyReport::default()
    };
    name_irregular(remote, &mut report)?;
    let mut peers: BTreeMap<String, PeerReport> = BTreeMap::new();
    name_skipped(&listing, &mut report, &mut peers);
    let peer_of = |path: &str| path.split_once('/').map(|(d, _)| d.to_string());
    let (sealed, damaged) = super::snapshot::complete_snapshots(remote, &listing);
    for d in damaged {
        peer_report(&mut peers, peer_of(&d.file).unwrap_or_default())
            .problems
            .push(Problem {
                file: d.file,
                what: d.reason,
            });
    }
    for snap in &sealed {
        report
            .snapshots
            .push(check_snapshot(remote, snap, &mut peers));
    }
    let sealed_ids: Vec<_> = sealed.iter().map(|s| (s.seal.peer, s.seal.id)).collect();
    for ((peer, id), (parts, has_seal)) in listing.snapshot_files() {
        if !has_seal && !sealed_ids.contains(&(peer, id)) {
            report.unsealed.extend(parts.iter().map(|p| p.rel_path()));
        }
    }
    for ((peer, generation), names) in listing.streams() {
        let stream = check_stream(remote, (peer, generation), &names, &sealed, &mut peers);
        report.changesets += stream.changesets;
        peer_report(&mut peers, peer.to_string())
            .streams
            .push(stream);
    }
    check_manifests(remote, &listing, &sealed, &mut peers)?;
    report.peers = with_hosts(remote, peers)?;
    Ok(report)
}

/// The files the listing passed over: temporary ones (not damage), conflict copies (a
/// duplicate of a peer's changeset) and `.cset` names this tool never writes.
fn name_skipped(
    listing: &crate::remote::Listing,
    report: &mut VerifyReport,
    peers: &mut BTreeMap<String, PeerReport>,
) {
    let peer_of = |path: &str| path.split_once('/').map(|(d, _)| d.to_string());
    for s in &listing.skipped {
        match (&s.why, peer_of(&s.path)) {
            (Found::Temporary, _) => report.temporary.push(s.path.clone()),
            (Found::ConflictCopy, Some(peer)) => peer_report(peers, peer).problems.push(Problem {
                file: s.path.clone(),
                what: "a duplicate: a file-sync tool's conflict copy (two machines wrote \
                               as the same peer)"
                    .into(),
            }),
            _ => report.other_problems.push(Problem {
                file: s.path.clone(),
                what: "a .cset file whose name this tool never writes".into(),
            }),
        }
    }
}

/// One complete snapshot, part by part: each part's checksum and decoding, that it is the
/// part its name says, and the chain from part to part to the seal.
fn check_snapshot(
    remote: &Remote,
    snap: &super::snapshot::CompleteSnapshot,
    peers: &mut BTreeMap<String, PeerReport>,
) -> SnapshotCheck {
    let mut check = SnapshotCheck {
        seal: snap.seal.rel_path(),
        parts: snap.parts.len() as u64,
        versions: 0,
        tombstones: 0,
        covers: snap.header.covers.len() as u64,
    };
    let mut prev = None;
    for part in &snap.parts {
        let problem = match super::read_changeset(remote, part) {
            Ok((cs, checksum)) => {
                check.versions += cs.header.versions;
                check.tombstones += cs.header.tombstones;
                let problem = super::misplaced_part(&cs.header, part, prev);
                prev = Some(checksum);
                problem
            }
            Err(e) => {
                prev = None;
                Some(e)
            }
        };
        if let Some(what) = problem {
            peer_report(peers, part.peer.to_string())
                .problems
                .push(Problem {
                    file: part.rel_path(),
                    what,
                });
        }
    }
    if !snap.parts.is_empty() && prev.is_some() && snap.header.prev != prev {
        peer_report(peers, snap.seal.peer.to_string())
            .problems
            .push(Problem {
                file: snap.seal.rel_path(),
                what: "the seal does not chain on from the snapshot's last part".into(),
            });
    }
    check
}

/// One stream: no gap (but where a snapshot covers a pruned beginning), every changeset
/// decoding, named as its header says, and chaining on from the one before it.
fn check_stream(
    remote: &Remote,
    (peer, generation): (crate::ids::PeerId, u64),
    names: &[crate::remote::CsetName],
    sealed: &[super::snapshot::CompleteSnapshot],
    peers: &mut BTreeMap<String, PeerReport>,
) -> StreamReport {
    let entry = peer_report(peers, peer.to_string());
    let mut stream = StreamReport {
        generation,
        changesets: 0,
        first_seq: names.first().map_or(0, |n| n.seq),
        last_seq: names.last().map_or(0, |n| n.seq),
        versions: 0,
        tombstones: 0,
    };
    let mut prev = None;
    let mut expected = 1;
    // A stream whose beginning a prune removed starts where a snapshot takes over.
    let first = stream.first_seq;
    let covered = sealed
        .iter()
        .filter_map(|s| s.covers((peer, generation)))
        .max_by_key(|c| c.seq);
    if let Some(c) = covered.filter(|c| first > 1 && c.seq >= first - 1) {
        expected = first;
        prev = (c.seq == first - 1).then_some(c.checksum);
    }
    for name in names {
        stream.changesets += 1;
        let problem = |what: String| Problem {
            file: name.rel_path(),
            what,
        };
        if name.seq != expected {
            entry.problems.push(problem(format!(
                "gap: changesets {expected} to {} of generation {generation} are missing \
                 (and no snapshot covers them)",
                name.seq - 1
            )));
            prev = None;
        }
        expected = name.seq + 1;
        let (cs, checksum) = match super::read_changeset(remote, name) {
            Ok(d) => d,
            Err(e) => {
                entry.problems.push(problem(e));
                prev = None;
                continue;
            }
        };
        let h = &cs.header;
        if let Some(why) = super::misnamed(h, name) {
            entry.problems.push(problem(why));
        } else if prev.is_some() && h.prev != prev {
            entry.problems.push(problem(
                "does not chain on from the changeset before it".into(),
            ));
        }
        stream.versions += h.versions;
        stream.tombstones += h.tombstones;
        prev = Some(checksum);
    }
    stream
}

/// Every peer's manifest: authentic (in an encrypted remote), that peer's own, and every
/// changeset it says its peer published still there (or covered by a snapshot).
fn check_manifests(
    remote: &Remote,
    listing: &crate::remote::Listing,
    sealed: &[super::snapshot::CompleteSnapshot],
    peers: &mut BTreeMap<String, PeerReport>,
) -> Result<(), SyncError> {
    let nobody = crate::ids::PeerId::from_bytes([0; 16]);
    let manifests = super::read_manifests(remote, listing.manifests.iter().copied(), nobody)?;
    for (file, what) in manifests.bad.into_iter().chain(manifests.skipped) {
        let peer = file.split('/').next().unwrap_or_default().to_string();
        peer_report(peers, peer)
            .problems
            .push(Problem { file, what });
    }
    // Each peer's machine name, as its own manifest says.
    for (peer, m) in &manifests.good {
        if let Some(p) = peers.get_mut(&peer.to_string()) {
            p.host = Some(m.host.clone());
        }
    }
    let streams = listing.streams();
    for ((peer, generation), published) in super::published_tails(&manifests.good) {
        let listed = streams
            .get(&(peer, generation))
            .and_then(|names| names.last())
            .map_or(0, |n| n.seq);
        let covered = sealed
            .iter()
            .filter_map(|s| s.covers((peer, generation)))
            .map(|c| c.seq)
            .max()
            .unwrap_or(0);
        let reached = listed.max(covered);
        if reached < published {
            let first = crate::remote::CsetName {
                peer,
                generation,
                seq: reached + 1,
            };
            peer_report(peers, peer.to_string()).problems.push(Problem {
                file: first.rel_path(),
                what: format!(
                    "missing: changesets {} to {published} of generation {generation}, \
                         which its peer's manifest says were published",
                    reached + 1
                ),
            });
        }
    }
    Ok(())
}

/// Checks an encrypted remote without its key: every sealed file's framing and checksum, that
/// it says it is the file its name says, and that no changeset is missing between two others.
pub fn verify_structure(remote: &Remote) -> Result<VerifyReport, SyncError> {
    use crate::encryption::sealed;
    let listing = remote.list()?;
    let mut report = VerifyReport {
        remote: remote.location(),
        structure_only: true,
        ..VerifyReport::default()
    };
    name_irregular(remote, &mut report)?;
    let mut peers: BTreeMap<String, PeerReport> = BTreeMap::new();
    let check = |name: &dyn FileName| -> Option<String> {
        let raw = match remote.read_raw(name) {
            Ok(r) => r,
            Err(e) => return Some(e.to_string()),
        };
        match sealed::public(&raw) {
            Err(e) => Some(e.to_string()),
            Ok(p) if p.role != name.role() => {
                Some("it was sealed as another file (moved or copied from another name)".into())
            }
            Ok(_) => None,
        }
    };
    for s in &listing.skipped {
        if s.why == Found::Temporary {
            report.temporary.push(s.path.clone());
        } else {
            report.other_problems.push(Problem {
                file: s.path.clone(),
                what: "a .cset file this tool never writes, or a conflict copy".into(),
            });
        }
    }
    for name in &listing.snapshots {
        if let Some(what) = check(name) {
            peer_report(&mut peers, name.peer.to_string())
                .problems
                .push(Problem {
                    file: name.rel_path(),
                    what,
                });
        }
    }
    for ((peer, generation), names) in listing.streams() {
        let entry = peer_report(&mut peers, peer.to_string());
        let stream = StreamReport {
            generation,
            changesets: names.len() as u64,
            first_seq: names.first().map_or(0, |n| n.seq),
            last_seq: names.last().map_or(0, |n| n.seq),
            versions: 0,
            tombstones: 0,
        };
        report.changesets += stream.changesets;
        let mut expected = stream.first_seq;
        for name in &names {
            if name.seq != expected {
                entry.problems.push(Problem {
                    file: name.rel_path(),
                    what: format!(
                        "gap: changesets {expected} to {} of generation {generation} are missing",
                        name.seq - 1
                    ),
                });
            }
            expected = name.seq + 1;
            if let Some(what) = check(name) {
                entry.problems.push(Problem {
                    file: name.rel_path(),
                    what,
                });
            }
        }
        entry.streams.push(stream);
    }
    report.peers = with_hosts(remote, peers)?;
    Ok(report)
}

/// Names every link, FIFO, device or misplaced folder in the remote: none was read, and a
/// remote that holds one is not what `context` wrote.
fn name_irregular(remote: &Remote, report: &mut VerifyReport) -> Result<(), SyncError> {
    for (file, what) in remote.list_irregular()? {
        report.other_problems.push(Problem {
            file,
            what: format!("{what}: skipped, never read"),
        });
    }
    Ok(())
}

/// The report of `peer`, begun if new.
/// The reports, each with its peer's host from the manifest (read only for damaged peers, so
/// a healthy remote costs no extra read).
fn with_hosts(
    remote: &Remote,
    peers: BTreeMap<String, PeerReport>,
) -> Result<Vec<PeerReport>, SyncError> {
    let mut out = Vec::with_capacity(peers.len());
    for (_, mut p) in peers {
        if p.host.is_none()
            && !p.problems.is_empty()
            && let Ok(id) = p.peer.parse()
            && let Ok(Some(m)) = remote.read_manifest(id)
        {
            p.host = Some(m.host);
        }
        out.push(p);
    }
    Ok(out)
}

fn peer_report(peers: &mut BTreeMap<String, PeerReport>, peer: String) -> &mut PeerReport {
    peers.entry(peer.clone()).or_insert_with(|| PeerReport {
        peer,
        host: None,
        streams: Vec::new(),
        problems: Vec::new(),
    })
}
