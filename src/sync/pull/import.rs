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

/// With `--merge`: merges the two sides of a conflicting key and writes the merge as a new
/// local version (inside the pull's transaction); `None` when they do not merge cleanly.
pub(super) fn merge_conflict(
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
            let writer = store::Writer {
                ids,
                peer: me,
                now_ms: now,
            };
            let v = store::write_on(
                imp.conn(),
                writer,
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
