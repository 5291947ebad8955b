//! `context sync verify`: read every changeset in a remote and report, per peer, what is wrong.
//!
//! Checks each file (checksum, decoding, the header agreeing with the name) and each stream
//! (no gap, every changeset chaining on from the one before it, no conflict copy beside it).
//! Changes nothing, takes no lock.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::remote::{FileName, Found, Remote};

use super::SyncError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub path: String,
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
    pub streams: Vec<StreamReport>,
    pub problems: Vec<Problem>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    pub remote: String,
    pub changesets: u64,
    pub peers: Vec<PeerReport>,
    /// Problems not tied to one peer's stream (unknown `.cset` files).
    pub problems: Vec<Problem>,
    /// Temporary files: a write in progress, or left behind. Not damage.
    pub temporary: Vec<String>,
}

impl VerifyReport {
    pub fn problem_count(&self) -> usize {
        self.problems.len() + self.peers.iter().map(|p| p.problems.len()).sum::<usize>()
    }

    /// 5 when anything is damaged, else 0.
    pub fn exit_status(&self) -> u8 {
        if self.problem_count() > 0 { 5 } else { 0 }
    }
}

pub fn verify(remote: &dyn Remote) -> Result<VerifyReport, SyncError> {
    let listing = remote.list()?;
    let mut report = VerifyReport {
        remote: remote.location(),
        ..VerifyReport::default()
    };
    let mut peers: BTreeMap<String, PeerReport> = BTreeMap::new();
    let peer_of = |path: &str| path.split_once('/').map(|(d, _)| d.to_string());
    for s in &listing.skipped {
        match (&s.why, peer_of(&s.path)) {
            (Found::Temporary, _) => report.temporary.push(s.path.clone()),
            (Found::ConflictCopy, Some(peer)) => peers
                .entry(peer.clone())
                .or_insert_with(|| PeerReport {
                    peer,
                    streams: Vec::new(),
                    problems: Vec::new(),
                })
                .problems
                .push(Problem {
                    path: s.path.clone(),
                    what: "a duplicate: a file-sync tool's conflict copy (two machines wrote \
                               as the same peer)"
                        .into(),
                }),
            _ => report.problems.push(Problem {
                path: s.path.clone(),
                what: "a .cset file whose name this tool never writes".into(),
            }),
        }
    }
    for ((peer, generation), names) in listing.streams() {
        let entry = peers.entry(peer.to_string()).or_insert_with(|| PeerReport {
            peer: peer.to_string(),
            streams: Vec::new(),
            problems: Vec::new(),
        });
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
        for name in &names {
            report.changesets += 1;
            stream.changesets += 1;
            let problem = |what: String| Problem {
                path: name.rel_path(),
                what,
            };
            if name.seq != expected {
                entry.problems.push(problem(format!(
                    "gap: changesets {expected} to {} of generation {generation} are missing",
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
        entry.streams.push(stream);
    }
    report.peers = peers.into_values().collect();
    Ok(report)
}
