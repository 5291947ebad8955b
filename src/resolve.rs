//! Settling a conflict: keep one side (`--keep mine|theirs|VERSION`), or merge the two against
//! their common ancestor (`--merge`). Either way the result is written as a new version whose
//! parent is the current one and which settles every losing side, so it reaches every peer as
//! a fast-forward and settles the conflict there too.

use rusqlite::Connection;

use crate::merge::{self, Merged, NotText};
use crate::record::Kind;
use crate::store::{self, Conflict, Store, StoreError, Version};

/// Which body to keep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Keep {
    /// This peer's side.
    Mine,
    /// The other side.
    Theirs,
    /// Any version of the key, by id or unique prefix.
    Version(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum How {
    Keep(Keep),
    Merge,
}

#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(
        "{key:?} in project {project:?} has no unsettled conflict (`context conflicts` lists them)"
    )]
    NoConflict { project: String, key: String },
    #[error("{key:?}: {source}")]
    NotText {
        key: String,
        #[source]
        source: NotText,
    },
    #[error(
        "{key:?}: {side} deleted it, so there is nothing to merge; keep one side with \
         `context resolve {key} --keep mine` or `--keep theirs`"
    )]
    Deleted { key: String, side: &'static str },
    #[error(
        "{key:?} has {sides} sides in conflict; merge takes two: keep one with \
         `context resolve {key} --keep VERSION`, or merge after settling the others"
    )]
    ManySides { key: String, sides: usize },
    #[error(
        "{key:?}: both sides changed the same lines ({hunks} conflicting hunk{}); nothing was \
         written. Edit the merge (`--output FILE` writes it with conflict markers) and `context \
         put {key} --file FILE`, or keep one side with `--keep mine` or `--keep theirs`",
        if *hunks == 1 { "" } else { "s" }
    )]
    Overlapping {
        key: String,
        hunks: usize,
        /// The merge with conflict markers.
        text: Vec<u8>,
    },
}

impl ResolveError {
    /// Refusals of a merge (both sides changed the same lines, one deleted what the other
    /// edited, a side is not text): a divergence a person settles, exit 3 like a refused pull.
    pub fn is_overlap(&self) -> bool {
        matches!(
            self,
            ResolveError::Overlapping { .. }
                | ResolveError::Deleted { .. }
                | ResolveError::NotText { .. }
        )
    }
}

/// What a resolution wrote.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The new current version.
    pub version: Version,
    /// The conflicts it settled.
    pub settled: Vec<Conflict>,
    /// Whether it is a merge (else a kept side).
    pub merged: bool,
}

/// Settles the conflict of `key` as `how` says.
pub fn resolve(
    store: &mut Store,
    project: &str,
    key: &str,
    how: &How,
) -> Result<Resolved, ResolveError> {
    let conflicts = store.conflicts_of(project, key)?;
    let Some(first) = conflicts.first() else {
        return Err(ResolveError::NoConflict {
            project: project.to_string(),
            key: key.to_string(),
        });
    };
    let body: Option<Vec<u8>> = match how {
        How::Keep(keep) => {
            let chosen = match keep {
                Keep::Mine => first.mine.clone(),
                Keep::Theirs => first.theirs.clone(),
                Keep::Version(id) if id == "current" && !first.local => first.mine.clone(),
                Keep::Version(id) if id == "other" && !first.local => first.theirs.clone(),
                Keep::Version(id) => store.find_version(project, key, id)?,
            };
            match chosen.kind {
                Kind::Tombstone => None,
                Kind::Version => Some(store.body_of(&chosen)?),
            }
        }
        How::Merge => {
            if conflicts.len() > 1 {
                return Err(ResolveError::ManySides {
                    key: key.to_string(),
                    sides: conflicts.len() + 1,
                });
            }
            match merge_on(store.connection(), first)? {
                Merged::Clean(body) => Some(body),
                Merged::Conflicted { text, hunks } => {
                    return Err(ResolveError::Overlapping {
                        key: key.to_string(),
                        hunks,
                        text,
                    });
                }
            }
        }
    };
    let version = store.write_resolution(project, key, body.as_deref())?;
    Ok(Resolved {
        version,
        settled: conflicts,
        merged: *how == How::Merge,
    })
}

/// Merges the two sides of `c` against their common ancestor (an empty body when they share
/// none, or when it is a tombstone), reading the bodies on `conn`.
pub fn merge_on(conn: &Connection, c: &Conflict) -> Result<Merged, ResolveError> {
    let key = || c.key.clone();
    let body = |v: &Version, side: &'static str| -> Result<Vec<u8>, ResolveError> {
        match v.kind {
            Kind::Tombstone => Err(ResolveError::Deleted { key: key(), side }),
            Kind::Version => Ok(store::body_on(conn, v.seq)?),
        }
    };
    let mine = body(&c.mine, "this side (mine)")?;
    let theirs = body(&c.theirs, "the other side (theirs)")?;
    let ancestor = match &c.ancestor {
        Some(a) if a.kind == Kind::Version => store::body_on(conn, a.seq)?,
        _ => Vec::new(),
    };
    merge::three_way(&ancestor, &mine, &theirs, ("mine", "theirs"))
        .map_err(|source| ResolveError::NotText { key: key(), source })
}
