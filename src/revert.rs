//! Taking back what one writer did: every key a session (`--session ID`), or an author since a
//! time (`--author NAME --since DURATION`), changed is brought back to what it was before its
//! first change there: the body it had (a new version, as `restore` writes), or its absence (a
//! tombstone). A key someone else wrote since is left alone and listed, unless forced; a key
//! already as it was is left as it is. The writes are ordinary versions and tombstones: they
//! sync like any other, and a revert can itself be reverted.

use crate::record::Kind;
use crate::store::{State, Store, StoreError, Version};

/// Whose writes to take back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    /// Every version and tombstone written in this session.
    Session(String),
    /// Every version and tombstone this author wrote at or after `since_ms`.
    Author { name: String, since_ms: i64 },
}

impl Selector {
    /// Whether `v` is one of the writes to take back.
    fn matches(&self, v: &Version) -> bool {
        let Some(a) = &v.author else {
            return false;
        };
        match self {
            Selector::Session(id) => a.session.as_deref() == Some(id.as_str()),
            Selector::Author { name, since_ms } => &a.name == name && v.hlc.wall_ms() >= *since_ms,
        }
    }
}

/// What a revert does to one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Writes the body of `to` (the version current before the first change) again.
    Restore { to: Version },
    /// Deletes the key (it did not exist, or was deleted, before the first change).
    Delete,
    /// The key is already as it was before the first change.
    Unchanged,
    /// Someone else wrote the key after the first change (`by`: who, where recorded): left
    /// alone unless forced.
    Left { by: Version },
}

/// One key the selected writes changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPlan {
    pub project: String,
    pub key: String,
    /// The first of the selected writes to this key.
    pub first: Version,
    /// What the key was before it (`None`: absent or deleted).
    pub before: Option<Version>,
    pub action: Action,
    /// With `--force`: what a key someone else wrote since would get.
    pub forced: Option<Box<Action>>,
}

/// What a revert wrote for one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub project: String,
    pub key: String,
    pub version: Version,
}

/// Every key the writes `selector` picks changed (in `project`, or in every project), with
/// what a revert does to it.
pub fn plan(
    store: &Store,
    selector: &Selector,
    project: Option<&str>,
) -> Result<Vec<KeyPlan>, StoreError> {
    let rows = match selector {
        Selector::Session(id) => store.written_by(None, Some(id), None, project)?,
        Selector::Author { name, since_ms } => {
            store.written_by(Some(name), None, Some(*since_ms), project)?
        }
    };
    let now = store.now_ms();
    let mut firsts: Vec<Version> = Vec::new();
    for v in rows {
        if !firsts
            .iter()
            .any(|f| f.project == v.project && f.key == v.key)
        {
            firsts.push(v);
        }
    }
    let mut out = Vec::new();
    for first in firsts {
        let history = store.history(&first.project, &first.key)?;
        // What was current before the first change: its parent, if a row of this key (the
        // first row of a renamed key continues another key: before it, this key was absent).
        let before = first
            .parent
            .and_then(|p| history.iter().find(|v| v.id == p).cloned())
            .filter(|v| v.kind == Kind::Version && v.state_at(now) == State::Live);
        let current = history
            .first()
            .cloned()
            .ok_or_else(|| StoreError::NotFound {
                project: first.project.clone(),
                key: first.key.clone(),
            })?;
        let undo = match &before {
            Some(b) if current.state_at(now) == State::Live && current.sha256 == b.sha256 => {
                Action::Unchanged
            }
            Some(b) => Action::Restore { to: b.clone() },
            None if current.state_at(now) != State::Live => Action::Unchanged,
            None => Action::Delete,
        };
        // Someone else's write after the first change: the newest such row.
        let other = history
            .iter()
            .find(|v| v.hlc > first.hlc && !selector.matches(v))
            .cloned();
        let (action, forced) = match other {
            Some(by) if undo != Action::Unchanged => (Action::Left { by }, Some(Box::new(undo))),
            _ => (undo, None),
        };
        out.push(KeyPlan {
            project: first.project.clone(),
            key: first.key.clone(),
            first,
            before,
            action,
            forced,
        });
    }
    out.sort_by(|a, b| (&a.project, &a.key).cmp(&(&b.project, &b.key)));
    Ok(out)
}

/// Carries out `plan`: each key's restore or delete (and, with `force`, those of the keys
/// someone else wrote since). Returns what it wrote.
pub fn apply(store: &mut Store, plan: &[KeyPlan], force: bool) -> Result<Vec<Written>, StoreError> {
    let mut written = Vec::new();
    for k in plan {
        let action = match (&k.action, &k.forced) {
            (Action::Left { .. }, Some(forced)) if force => forced.as_ref(),
            (action, _) => action,
        };
        let version = match action {
            Action::Restore { to } => store.restore(&k.project, &k.key, &to.id.to_string())?,
            Action::Delete => store.rm(&k.project, &k.key)?,
            Action::Unchanged | Action::Left { .. } => continue,
        };
        written.push(Written {
            project: k.project.clone(),
            key: k.key.clone(),
            version,
        });
    }
    Ok(written)
}
