//! What a pull reads, decided from the listing, the positions this home has applied and the
//! peers' manifests alone (no SQLite, no remote): which files to skip, which snapshots stand
//! for streams whose beginning a prune removed, each stream's changesets from where it was
//! last applied, and how far each stream must reach. And how a key is classified once its
//! rows are in.

use std::collections::{BTreeMap, HashMap};

use crate::ids::PeerId;
use crate::remote::{CsetName, FileName, Found, Listing, SnapshotName};
use crate::store::{Applied, RowRef};
use crate::sync::snapshot::{BadSnapshot, CompleteSnapshot, StreamId};

use super::{Action, BadFile, SkippedFile};
use crate::sync::Manifests;

/// Where a stream is taken up: how far it is applied, and which of the chosen snapshots (if
/// any) brought it there.
pub type Position = (Applied, Option<usize>);

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
    pub snapshots: Vec<CompleteSnapshot>,
    pub streams: Vec<StreamRead>,
    /// How far each stream must reach, as its peer's manifest says it published (only the
    /// streams this home has not applied that far): a changeset short of it that the listing
    /// lacks is a gap like any other.
    pub expected: Vec<(StreamId, u64)>,
}

impl ReadPlan {
    /// What the peers' manifests add: damaged ones (bad data), ones that are not files
    /// (skipped), and how far each stream must reach that this home has not applied that far
    /// (`mine`, this peer's current stream, aside).
    pub fn add_manifests(
        &mut self,
        manifests: &Manifests,
        applied: &HashMap<StreamId, Applied>,
        mine: StreamId,
    ) {
        self.bad
            .extend(manifests.bad.iter().map(|(file, reason)| BadFile {
                file: file.clone(),
                reason: reason.clone(),
            }));
        self.skipped
            .extend(manifests.skipped.iter().map(|(file, reason)| SkippedFile {
                file: file.clone(),
                reason: reason.clone(),
            }));
        self.expected = crate::sync::published_tails(&manifests.good)
            .filter(|(stream, seq)| applied.get(stream).is_none_or(|a| a.last_seq < *seq))
            .filter(|(stream, _)| *stream != mine)
            .collect();
    }

    /// Every file to read, in the order the apply consumes them: the snapshots' parts, then
    /// each stream's changesets.
    pub(super) fn files(&self) -> Vec<File> {
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
pub(super) enum File {
    Part(SnapshotName),
    Changeset(CsetName),
}

impl File {
    pub(super) fn name(&self) -> &dyn FileName {
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
    sealed: impl FnOnce() -> (Vec<CompleteSnapshot>, Vec<BadSnapshot>),
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
            let reaches = |s: &CompleteSnapshot| s.covers(stream).is_some_and(|c| c.seq >= need);
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

/// The planning steps alone, without SQLite or a remote.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::changeset::{Cover, Header};
    use crate::clock::Hlc;
    use crate::ids::SeededIds;
    use crate::ids::VersionId;
    use crate::record::Checksum;
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

    fn no_snapshots_asked() -> (Vec<CompleteSnapshot>, Vec<BadSnapshot>) {
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

    fn manifest_of(peer: PeerId, published: &[(u64, u64)]) -> crate::remote::Manifest {
        crate::remote::Manifest {
            format: 1,
            peer: peer.to_string(),
            generation: 1,
            host: "h".into(),
            published: published
                .iter()
                .map(|&(generation, seq)| crate::remote::Ack {
                    peer: peer.to_string(),
                    generation,
                    seq,
                })
                .collect(),
            last_push_at: None,
            acks: Vec::new(),
            updated_at: None,
        }
    }

    /// Nothing new: every stream applied as far as it is listed and as its manifest says it
    /// published. No file is read, nothing is expected.
    #[test]
    fn nothing_new_reads_nothing() {
        let (me, a) = (peer(1), peer(2));
        let listing = Listing {
            changesets: vec![name(me, 1, 1), name(a, 1, 1), name(a, 1, 2)],
            manifests: vec![me, a],
            ..Listing::default()
        };
        let done = HashMap::from([((a, 1), applied(2))]);
        let mut plan = plan_reads(&listing, &done, (me, 1), no_snapshots_asked);
        let manifests = Manifests {
            good: BTreeMap::from([(a, manifest_of(a, &[(1, 2)]))]),
            ..Manifests::default()
        };
        plan.add_manifests(&manifests, &done, (me, 1));
        assert!(plan.files().is_empty(), "{:?}", plan.streams);
        assert!(plan.expected.is_empty());
        assert!(plan.bad.is_empty() && plan.skipped.is_empty());
    }

    /// A peer's manifest says it published changeset 4; the listing shows 1 to 2 (3 and 4 on
    /// their way, or deleted): the plan reads what is there and expects the stream to reach 4,
    /// which the apply judges as a gap (in transit within the grace). A damaged manifest is bad
    /// data, one that is not a file is skipped.
    #[test]
    fn a_tail_in_transit_is_expected_from_the_manifest() {
        let (me, a, b) = (peer(1), peer(2), peer(3));
        let listing = Listing {
            changesets: vec![name(a, 1, 1), name(a, 1, 2)],
            manifests: vec![a, b],
            ..Listing::default()
        };
        let done = HashMap::from([((a, 1), applied(1))]);
        let mut plan = plan_reads(&listing, &done, (me, 1), no_snapshots_asked);
        let manifests = Manifests {
            good: BTreeMap::from([(a, manifest_of(a, &[(1, 4)]))]),
            bad: vec![(format!("{b}/manifest.json"), "changed".into())],
            skipped: vec![(format!("{me}/manifest.json"), "a FIFO".into())],
        };
        plan.add_manifests(&manifests, &done, (me, 1));
        let reads: Vec<u64> = plan.streams[0].names.iter().map(|n| n.seq).collect();
        assert_eq!(reads, vec![2]);
        assert_eq!(plan.expected, vec![((a, 1), 4)]);
        assert_eq!(plan.bad.len(), 1);
        assert_eq!(plan.skipped.len(), 1);
        // A gap between two listed changesets stays in the stream's names for the apply to
        // meet (and wait for, within the grace).
        let gapped = Listing {
            changesets: vec![name(a, 1, 2), name(a, 1, 4)],
            ..Listing::default()
        };
        let plan = plan_reads(&gapped, &done, (me, 1), no_snapshots_asked);
        let reads: Vec<u64> = plan.streams[0].names.iter().map(|n| n.seq).collect();
        assert_eq!((plan.streams[0].start(), reads), (2, vec![2, 4]));
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
        let snapshot = CompleteSnapshot {
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
                hosts: vec![],
                authors: Vec::new(),
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
