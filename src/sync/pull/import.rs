//! Importing a pull's changesets into the transaction, entry by entry, remembering each
//! touched key's state before the pull; and what a pull asks of the rows once they are in:
//! whether one descends from another, and the merge `--merge` writes.

use std::collections::HashMap;

use sha2::{Digest, Sha256};

use crate::changeset::Changeset;
use crate::ids::{PeerId, VersionId};
use crate::record::{Checksum, Record};
use crate::remote::{FileName, Remote};
use crate::store::{self, Import, RowRef};

use super::{KeyPlan, MergedKey, PullReport};
use crate::sync::SyncError;

/// The current row of every key a pull inserted into, as it was before the pull: by project,
/// then key (so that lookups borrow the entry's strings).
pub(super) type Before = HashMap<String, HashMap<String, Option<RowRef>>>;

/// A parent chain longer than this is not walked for ancestry (treated as unseen).
const MAX_ANCESTRY_STEPS: usize = 100_000;

/// A changeset read and decoded, with the SHA-256 of each entry's body; or why it could not be.
pub(super) type Decoded = Result<(Changeset, Checksum, Vec<Option<[u8; 32]>>), String>;

pub(super) fn read_and_decode(remote: &Remote, name: &dyn FileName) -> Decoded {
    let (cs, checksum) = crate::sync::read_changeset(remote, name)?;
    let digests = cs
        .entries
        .iter()
        .map(|e| e.body.as_ref().map(|b| Sha256::digest(b).into()))
        .collect();
    Ok((cs, checksum, digests))
}

/// The keys a pull inserts into, with their state before it.
pub(super) struct Touched {
    pub before: Before,
    /// The database held no row when the pull began (a new peer): every key is new, there is
    /// nothing to look up, and nothing to remember unless a plan is printed.
    pub fresh: bool,
    /// Remember new keys too (for a dry run's plan).
    pub remember_new: bool,
}

impl Touched {
    pub fn new(fresh: bool, remember_new: bool) -> Touched {
        Touched {
            before: Before::new(),
            fresh,
            remember_new,
        }
    }
}

/// Imports every entry of a changeset (a stream's or a snapshot part).
pub(super) fn import_all(
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
    crate::sync::count(&mut report.per_project, &entry.project, entry.kind);
    Ok(())
}

/// Whether `row` reaches `ancestor` through parents and settled rows (its writer had seen
/// `ancestor`).
pub(super) fn descends(
    imp: &Import<'_>,
    row: &RowRef,
    ancestor: &RowRef,
) -> Result<bool, SyncError> {
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

/// The conflict a pull made of `item` (the local side against the incoming one), as the
/// transaction sees it.
pub(super) fn conflict_of(
    imp: &Import<'_>,
    me: PeerId,
    item: &KeyPlan,
) -> Result<Option<store::Conflict>, SyncError> {
    let Some(graph) = store::KeyGraph::load(imp.conn(), &item.project, &item.key)? else {
        return Ok(None);
    };
    let local = item.local.as_deref().unwrap_or_default();
    Ok(graph
        .conflicts(me)
        .into_iter()
        .find(|c| c.mine.id.to_string() == local || c.theirs.id.to_string() == local))
}

/// What a refused pull keeps of a conflict: its incoming side (the one that is not `local`),
/// with its body, for a person to see and settle before pulling again.
pub(super) fn held_of(
    imp: &Import<'_>,
    c: &store::Conflict,
    local: &str,
) -> Result<store::Held, SyncError> {
    let theirs = if c.mine.id.to_string() == local {
        c.theirs.clone()
    } else {
        c.mine.clone()
    };
    let body = match theirs.kind {
        crate::record::Kind::Version => Some(store::body_on(imp.conn(), theirs.seq)?),
        crate::record::Kind::Tombstone => None,
    };
    Ok(store::Held {
        host: imp.host_of(theirs.peer)?,
        theirs,
        body,
        ancestor: c.ancestor.as_ref().map(|a| a.id),
    })
}

/// The three-way merge of a conflict's sides: the merged body, or why it does not merge
/// cleanly (said in a few words, for the refusal's list).
pub(super) fn try_merge(
    imp: &Import<'_>,
    c: &store::Conflict,
) -> Result<Result<Vec<u8>, String>, SyncError> {
    use crate::resolve::ResolveError;
    Ok(match crate::resolve::merge_on(imp.conn(), c) {
        // A merge larger than a document may be is left to a person.
        Ok(crate::merge::Merged::Clean(body)) if body.len() > store::MAX_BODY_BYTES => {
            Err("the merge would be larger than a document may be".to_string())
        }
        Ok(crate::merge::Merged::Clean(body)) => Ok(body),
        Ok(crate::merge::Merged::Conflicted { hunks, .. }) => Err(format!(
            "both sides changed the same lines ({})",
            crate::sync::plural(hunks as u64, "conflicting hunk")
        )),
        Err(ResolveError::Deleted { .. }) if c.mine.kind == crate::record::Kind::Tombstone => {
            Err("deleted here and edited on the other side".to_string())
        }
        Err(ResolveError::Deleted { .. }) => {
            Err("deleted on the other side and edited here".to_string())
        }
        Err(ResolveError::NotText { source, .. }) => {
            Err(format!("{} is not text (binary)", source.which))
        }
        Err(ResolveError::Store(store::StoreError::TooLarge { .. })) => {
            Err("a side is larger than a document may be".to_string())
        }
        Err(ResolveError::Store(e)) => return Err(e.into()),
        Err(e) => Err(e.to_string()),
    })
}

/// Writes a clean merge of `c` into the pull's transaction, as a new local version.
pub(super) fn write_merge(
    imp: &Import<'_>,
    rt: &crate::runtime::Runtime,
    me: PeerId,
    now: i64,
    c: &store::Conflict,
    body: &[u8],
) -> Result<MergedKey, SyncError> {
    let writer = store::Writer {
        ids: rt.ids.as_ref(),
        peer: me,
        now_ms: now,
        after: None,
        renamed_from: None,
        author: rt.author.as_ref(),
    };
    let v = store::write_on(imp.conn(), writer, &c.project, &c.key, Some(body), None)?;
    tracing::info!(project = %c.project, key = %c.key, version = %v.id, "merged a conflict");
    Ok(MergedKey {
        project: c.project.clone(),
        key: c.key.clone(),
        mine: c.mine.id.to_string(),
        theirs: c.theirs.id.to_string(),
        version: v.id.to_string(),
    })
}
