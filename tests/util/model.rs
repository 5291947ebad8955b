//! What the model-based property tests share: opening a store on an injected clock and id
//! source, reading back every row and every key's current version, and the case count.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use proptest::test_runner::TestCaseError;

use context::clock::ManualClock;
use context::ids::{SeededIds, VersionId};
use context::runtime::Runtime;
use context::store::{Store, Version};

/// The models' starting instant (milliseconds since the epoch).
pub const T0: i64 = 1_795_600_000_000;

/// How many cases a property test runs: `PROPTEST_CASES` (`make soak` sets 10,000), else
/// `default`.
pub fn cases_or(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(default)
}

/// The convergence model's count: 300 unless `PROPTEST_CASES` says otherwise.
pub fn cases() -> u32 {
    cases_or(300)
}

pub type R<T> = Result<T, TestCaseError>;

pub fn fail(e: impl std::fmt::Display) -> TestCaseError {
    TestCaseError::fail(e.to_string())
}

/// A store writing as `host` (its author too, in a session named after it: what the models
/// check travels with every row).
pub fn open(dir: &Path, clock: &ManualClock, ids: &Arc<SeededIds>, host: &str) -> R<Store> {
    let rt = Runtime::new(Arc::new(clock.clone()), ids.clone(), host).with_author(Some(
        context::record::Author {
            name: format!("author-{host}"),
            session: Some(format!("session-{host}")),
        },
    ));
    Store::open(&dir.join("context.db"), rt).map_err(fail)
}

/// Every row a store holds, by id.
pub fn rows(store: &Store) -> R<BTreeMap<VersionId, Version>> {
    let mut out = BTreeMap::new();
    for project in store.projects().map_err(fail)? {
        for e in store.ls(&project, "", true).map_err(fail)? {
            for v in store.history(&project, &e.current.key).map_err(fail)? {
                out.insert(v.id, v);
            }
        }
    }
    Ok(out)
}

/// The current row of every key.
pub fn currents(store: &Store) -> R<BTreeMap<(String, String), Version>> {
    let mut out = BTreeMap::new();
    for project in store.projects().map_err(fail)? {
        // The keys and states `ls` prints, from the table alone, agree with the rows.
        let now = store.now_ms();
        let keys = store.ls_keys(&project, "", true).map_err(fail)?;
        let full: Vec<(String, context::store::State)> = store
            .ls(&project, "", true)
            .map_err(fail)?
            .into_iter()
            .map(|e| (e.current.key.clone(), e.current.state_at(now)))
            .collect();
        if keys != full {
            return Err(fail(format!(
                "ls_keys of {project} disagrees with its current rows: {keys:?} / {full:?}"
            )));
        }
        for e in store.ls(&project, "", true).map_err(fail)? {
            // What `ls` lists (the table writes and imports keep) is what history says.
            let from_history = store.current(&project, &e.current.key).map_err(fail)?;
            if from_history.as_ref() != Some(&e.current) {
                return Err(fail(format!(
                    "ls lists {} for {project}/{} but its history's newest is {:?}",
                    e.current.id,
                    e.current.key,
                    from_history.map(|v| v.id)
                )));
            }
            out.insert((project.clone(), e.current.key.clone()), e.current);
        }
    }
    // And it lists every key that has a history.
    let listed = out.len();
    let keys: usize = store.count_keys().map_err(fail)?;
    if listed != keys {
        return Err(fail(format!("ls lists {listed} keys, history has {keys}")));
    }
    Ok(out)
}

/// The current version id of every (project, key).
pub type Currents = BTreeMap<(String, String), VersionId>;

pub fn current_ids(store: &Store) -> R<Currents> {
    Ok(currents(store)?
        .into_iter()
        .map(|(k, v)| (k, v.id))
        .collect())
}
