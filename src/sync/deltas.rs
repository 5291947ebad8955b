//! Versions that travel as deltas (format 3): which bases a reader of a stream is certain to
//! hold, the writer's choice per version, and the reader's rebuild.
//!
//! A reader of this peer's stream applies every changeset of it in order (or a snapshot that
//! holds what a prune removed of it, whole bodies included). So a version may travel as a
//! delta against an ancestor that is an earlier entry of the same changeset, or was published
//! in an earlier changeset of the same stream (generation) in the same remote: this database's
//! record of what each changeset held (`published`) says which rows those are. The nearest
//! such ancestor is the base, up to [`REACH`] generations up: the parent, usually; when two
//! machines take turns editing a document, the parent came from the other machine's stream
//! (which a reader may apply after this one), and the base is the version this machine last
//! published of it, so the delta holds both machines' edits since. With no such ancestor (a
//! first edit of what another machine wrote, rows published before the record existed, a
//! snapshot's rows) the version travels whole. In an encrypted remote a file with deltas is
//! sealed as format 4. The smaller of delta and whole body is kept.

use std::collections::HashMap;

use sha2::{Digest, Sha256};

use crate::changeset::{Changeset, delta};
use crate::ids::VersionId;
use crate::record::{Checksum, Delta, Kind, Record};
use crate::store::{Import, Rebuild, Store};

use super::SyncError;

/// Bodies smaller than this travel whole: a delta's own overhead (the base id and the body's
/// digest, 48 bytes, and zstd's frame) leaves little to win, and trying costs a compression.
pub const DEFAULT_MIN_BODY: usize = 1024;

/// What a delta entry costs beyond its delta: the base id and the SHA-256.
const OVERHEAD: usize = 16 + 32 + 4;

/// How many generations up a version's ancestry a push looks for a base (recorded with each
/// changeset, so that a repair makes the same choice: `published.delta_reach`).
pub const REACH: usize = 16;

/// The change-log ranges of this stream's earlier changesets in one remote.
pub(crate) struct StreamBases {
    /// The changesets of the stream as it went up the change log: (after, last, excluded
    /// remote, projects), disjoint, sorted by `after`.
    ranges: Vec<Range>,
    /// The changesets that published a project's history late (below the mark of those before
    /// them, when it was added to the remote's list): few, looked through one by one.
    late: Vec<Range>,
}

/// Rows at change-log positions in `(after, last]`, but those pulled from the excluded remote
/// and those of projects not listed (`None`: all).
type Range = (i64, i64, Option<i64>, Option<Vec<String>>);

impl StreamBases {
    /// The ranges of changesets of `generation` numbered below `before_seq`.
    pub(crate) fn of(records: &[(u64, u64, Rebuild)], generation: u64, before_seq: u64) -> Self {
        let mut ranges = Vec::new();
        let mut late = Vec::new();
        let mut mark = i64::MIN;
        // `records` come in stream order: a changeset starting below the end of one before it
        // published history late.
        for (_, _, r) in records
            .iter()
            .filter(|(g, s, _)| *g == generation && *s < before_seq)
        {
            let range = (
                r.after_seq,
                r.last_seq,
                r.excluded_remote,
                r.projects.clone(),
            );
            if r.after_seq < mark {
                late.push(range);
            } else {
                mark = r.last_seq;
                ranges.push(range);
            }
        }
        ranges.sort_by_key(|r| r.0);
        StreamBases { ranges, late }
    }

    /// Whether an earlier changeset of this stream held the row at change-log position
    /// `seq`, pulled from `received_from`, of `project`.
    fn held(&self, seq: i64, received_from: Option<i64>, project: &str) -> bool {
        let holds = |(after, last, excluded, projects): &Range| {
            *after < seq
                && seq <= *last
                && (excluded.is_none() || received_from != *excluded)
                && projects
                    .as_ref()
                    .is_none_or(|p| p.iter().any(|p| p == project))
        };
        let at = self.ranges.partition_point(|r| r.0 < seq);
        (at > 0 && holds(&self.ranges[at - 1])) || self.late.iter().any(holds)
    }
}

/// The nearest ancestor of entry `i` (up to `reach` generations up) that a reader holds on
/// reaching it, with its body: an earlier entry, or a row an earlier changeset of the stream
/// held.
fn base_of(
    store: &Store,
    bases: &StreamBases,
    entries: &[Record],
    index: &HashMap<VersionId, usize>,
    i: usize,
    reach: usize,
) -> Result<Option<(VersionId, Vec<u8>)>, SyncError> {
    let mut next = entries[i].parent;
    for _ in 0..reach {
        let Some(id) = next else { break };
        next = match index.get(&id) {
            Some(&j) if j < i && entries[j].body.is_some() => {
                return Ok(entries[j].body.clone().map(|b| (id, b)));
            }
            // A later entry (the reader does not hold it yet), or a tombstone (no body to be
            // a base): its ancestors may do.
            Some(&j) => entries[j].parent,
            None => match store.row_origin(id)? {
                None => None,
                Some((seq, from, parent, project)) => {
                    // A tombstone has no body to be a base: its ancestors may.
                    if bases.held(seq, from, &project)
                        && let Some(body) = store.body_at(seq)?
                    {
                        return Ok(Some((id, body)));
                    }
                    parent
                }
            },
        };
    }
    Ok(None)
}

/// Turns the entries of a changeset about to be published into deltas where the reader holds
/// a base (an ancestor up to `reach` generations up) and the delta is smaller than the whole
/// body would be.
pub(crate) fn encode(
    store: &Store,
    bases: &StreamBases,
    entries: &mut [Record],
    min_body: usize,
    reach: usize,
) -> Result<(), SyncError> {
    let index: HashMap<VersionId, usize> =
        entries.iter().enumerate().map(|(i, e)| (e.id, i)).collect();
    // From the last: an earlier entry is still whole when a later one uses it as its base.
    for i in (0..entries.len()).rev() {
        let e = &entries[i];
        let (Kind::Version, Some(body)) = (e.kind, &e.body) else {
            continue;
        };
        if body.len() < min_body {
            continue;
        }
        let Some((base_id, base)) = base_of(store, bases, entries, &index, i, reach)? else {
            continue;
        };
        let body = entries[i].body.as_ref().map_or(&[][..], Vec::as_slice);
        let Some(d) = delta::encode(&base, body) else {
            continue;
        };
        // Far smaller than the body itself: smaller than it compressed too (zstd does not
        // shrink text eightfold), without compressing it to see.
        let clearly = (d.len() + OVERHEAD) * 8 < body.len();
        if clearly || d.len() + OVERHEAD < delta::whole_size(body) {
            let sha256 = Checksum(Sha256::digest(body).into());
            let e = &mut entries[i];
            e.delta = Some(Delta {
                base: base_id,
                sha256,
            });
            e.body = Some(d);
        }
    }
    Ok(())
}

/// Rebuilds the delta entries of `cs` in place (their bases: earlier entries of it, or rows
/// this database holds), with the digests the import stores; an entry already here is left as
/// it is (the import passes it over). `Err` says why a body cannot be rebuilt: bad data.
pub(crate) fn decode(
    imp: &Import<'_>,
    cs: &mut Changeset,
    digests: &mut [Option<[u8; 32]>],
) -> Result<Result<(), String>, SyncError> {
    if cs.entries.iter().all(|e| e.delta.is_none()) {
        return Ok(Ok(()));
    }
    let mut index: HashMap<VersionId, usize> = HashMap::new();
    for (i, digest) in digests.iter_mut().enumerate().take(cs.entries.len()) {
        if let Some(d) = cs.entries[i].delta {
            if imp.row(cs.entries[i].id)?.is_some() {
                continue;
            }
            let base = match index.get(&d.base) {
                Some(&j) => cs.entries[j].body.clone(),
                None => imp.body_by_id(d.base)?.flatten(),
            };
            let Some(base) = base else {
                return Ok(Err(format!(
                    "version {} is a delta against {}, a version this home does not hold",
                    cs.entries[i].id, d.base
                )));
            };
            let delta_bytes = cs.entries[i].body.take().unwrap_or_default();
            match delta::decode(&base, &delta_bytes, &d.sha256) {
                Ok(body) => {
                    cs.entries[i].body = Some(body);
                    cs.entries[i].delta = None;
                    *digest = Some(d.sha256.0);
                }
                Err(why) => return Ok(Err(format!("version {}: {why}", cs.entries[i].id))),
            }
        }
        index.insert(cs.entries[i].id, i);
    }
    Ok(Ok(()))
}
