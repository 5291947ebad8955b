//! The store against a plain in-memory model, over random sequences of writes and clock moves.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;

use context::clock::ManualClock;
use context::ids::{SeededIds, VersionId};
use context::record::Kind;
use context::runtime::Runtime;
use context::store::{State, Store, StoreError};

const KEYS: [&str; 4] = ["a", "a/b", "b", "notes/x"];
const T0: i64 = 1_795_600_000_000;

#[derive(Debug, Clone)]
enum Op {
    Put {
        key: usize,
        body: String,
    },
    PutTtl {
        key: usize,
        body: String,
        ttl_s: u64,
    },
    Rm {
        key: usize,
    },
    /// Restore the `nth` version (counting tombstones, wrapping) of the key's history.
    Restore {
        key: usize,
        nth: usize,
    },
    /// Move the wall clock; negative steps are a clock set back (NTP, a dead CMOS battery).
    Clock {
        ms: i64,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let key = 0..KEYS.len();
    let body = "[a-z]{0,6}";
    prop_oneof![
        4 => (key.clone(), body).prop_map(|(key, body)| Op::Put { key, body }),
        2 => (key.clone(), body, 1u64..120).prop_map(|(key, body, ttl_s)| Op::PutTtl { key, body, ttl_s }),
        2 => key.clone().prop_map(|key| Op::Rm { key }),
        2 => (key, 0usize..8).prop_map(|(key, nth)| Op::Restore { key, nth }),
        3 => (-5_000i64..150_000).prop_map(|ms| Op::Clock { ms }),
    ]
}

/// One row as the model sees it, in write order.
#[derive(Debug, Clone)]
struct Row {
    id: VersionId,
    body: Option<String>,
    wall_ms: i64,
    expires_at: Option<i64>,
}

#[derive(Default)]
struct Model {
    keys: BTreeMap<&'static str, Vec<Row>>,
}

impl Model {
    fn state(&self, key: &str, now: i64) -> Option<State> {
        let row = self.keys.get(key)?.last()?;
        Some(match (&row.body, row.expires_at) {
            (None, _) => State::Deleted,
            (Some(_), Some(at)) if at <= now => State::Expired,
            _ => State::Live,
        })
    }

    /// The wall time a new row of `key` gets: now, unless the clock is behind the key's last
    /// row (then the hybrid clock keeps the last row's time).
    fn wall_for(&self, key: &str, now: i64) -> i64 {
        let last = self.keys.get(key).and_then(|r| r.last()).map(|r| r.wall_ms);
        last.map_or(now, |l| l.max(now))
    }
}

fn check_against_model(store: &Store, model: &Model, now: i64) -> Result<(), TestCaseError> {
    for key in KEYS {
        let got = store.get("p", key);
        match (model.state(key, now), &got) {
            (None, Err(StoreError::NotFound { .. })) => {}
            (Some(State::Deleted), Err(StoreError::Deleted { .. })) => {}
            (Some(State::Expired), Err(StoreError::Expired { .. })) => {}
            (Some(State::Live), Ok(doc)) => {
                let want = model.keys[key].last().and_then(|r| r.body.clone());
                prop_assert_eq!(Some(String::from_utf8_lossy(&doc.body).into_owned()), want);
            }
            (want, got) => prop_assert!(false, "get {key}: model {want:?}, store {got:?}"),
        }

        match model.keys.get(key) {
            None => {
                let not_found = matches!(store.history("p", key), Err(StoreError::NotFound { .. }));
                prop_assert!(not_found, "history of a key never written");
            }
            Some(rows) => {
                let history = store
                    .history("p", key)
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
                let got: Vec<(VersionId, Kind, Option<VersionId>, Option<i64>)> = history
                    .iter()
                    .map(|v| (v.id, v.kind, v.parent, v.expires_at_ms))
                    .collect();
                let want: Vec<_> = rows
                    .iter()
                    .enumerate()
                    .rev()
                    .map(|(i, r)| {
                        let kind = if r.body.is_some() {
                            Kind::Version
                        } else {
                            Kind::Tombstone
                        };
                        (
                            r.id,
                            kind,
                            i.checked_sub(1).map(|p| rows[p].id),
                            r.expires_at,
                        )
                    })
                    .collect();
                prop_assert_eq!(got, want, "history of {}", key);
            }
        }
    }
    for include_deleted in [false, true] {
        let got: Vec<(String, State)> = store
            .ls("p", "", include_deleted)
            .map_err(|e| TestCaseError::fail(e.to_string()))?
            .into_iter()
            .map(|e| (e.current.key, e.state))
            .collect();
        let want: Vec<(String, State)> = model
            .keys
            .keys()
            .filter_map(|k| model.state(k, now).map(|s| (k.to_string(), s)))
            .filter(|(_, s)| include_deleted || *s == State::Live)
            .collect();
        prop_assert_eq!(&got, &want, "ls deleted={}", include_deleted);
        // What `ls` prints reads the table of current rows alone: the same keys and states.
        let keys = store
            .ls_keys("p", "", include_deleted)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(keys, want, "ls_keys deleted={}", include_deleted);
    }
    // A prefix listing is the full listing filtered by prefix.
    let under_a: Vec<String> = store
        .ls("p", "a", true)
        .map_err(|e| TestCaseError::fail(e.to_string()))?
        .into_iter()
        .map(|e| e.current.key)
        .collect();
    let want: Vec<String> = model
        .keys
        .keys()
        .filter(|k| k.starts_with('a'))
        .map(|k| k.to_string())
        .collect();
    prop_assert_eq!(under_a, want);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 128,
        // Failing seeds are committed and replayed first on every run.
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "proptest-regressions/store_model.txt",
        ))),
        ..ProptestConfig::default()
    })]

    /// For any sequence of put, put with TTL, rm, restore and clock moves (backwards too),
    /// `get`, `ls` (with and without deleted) and `history` agree after every step with a model
    /// in which a key's current state is its last write: a later edit always orders after the
    /// one it replaced, expiry is the writer's time plus the TTL compared with the reader's
    /// clock, a delete or expiry hides the key, and nothing is ever removed from history.
    #[test]
    fn store_agrees_with_a_plain_model(ops in proptest::collection::vec(op(), 1..40), seed in any::<u64>()) {
        let clock = ManualClock::new(T0);
        let rt = Runtime::new(Arc::new(clock.clone()), Arc::new(SeededIds::new(seed)), "test");
        let mut store = Store::open_in_memory(rt).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let mut model = Model::default();

        for op in ops {
            let now = context::clock::Clock::now_ms(&clock);
            match op {
                Op::Put { key, body } => {
                    let k = KEYS[key];
                    let v = store.put("p", k, body.as_bytes(), None).map_err(|e| TestCaseError::fail(e.to_string()))?;
                    let wall_ms = model.wall_for(k, now);
                    prop_assert_eq!(v.hlc.wall_ms(), wall_ms);
                    model.keys.entry(k).or_default().push(Row { id: v.id, body: Some(body), wall_ms, expires_at: None });
                }
                Op::PutTtl { key, body, ttl_s } => {
                    let k = KEYS[key];
                    let v = store.put("p", k, body.as_bytes(), Some(Duration::from_secs(ttl_s))).map_err(|e| TestCaseError::fail(e.to_string()))?;
                    let wall_ms = model.wall_for(k, now);
                    let expires_at = Some(wall_ms + ttl_s as i64 * 1000);
                    model.keys.entry(k).or_default().push(Row { id: v.id, body: Some(body), wall_ms, expires_at });
                }
                Op::Rm { key } => {
                    let k = KEYS[key];
                    let result = store.rm("p", k);
                    if model.state(k, now) == Some(State::Live) {
                        let v = result.map_err(|e| TestCaseError::fail(e.to_string()))?;
                        let wall_ms = model.wall_for(k, now);
                        model.keys.entry(k).or_default().push(Row { id: v.id, body: None, wall_ms, expires_at: None });
                    } else {
                        prop_assert!(result.is_err(), "rm of a key that is not live must fail");
                    }
                }
                Op::Restore { key, nth } => {
                    let k = KEYS[key];
                    let Some(rows) = model.keys.get(k) else {
                        prop_assert!(store.restore("p", k, "0").is_err());
                        continue;
                    };
                    let target = rows[nth % rows.len()].clone();
                    let result = store.restore("p", k, &target.id.to_string());
                    match target.body {
                        None => {
                            let refused = matches!(result, Err(StoreError::Tombstone { .. }));
                            prop_assert!(refused, "restore of a tombstone");
                        }
                        Some(body) => {
                            let v = result.map_err(|e| TestCaseError::fail(e.to_string()))?;
                            let wall_ms = model.wall_for(k, now);
                            model.keys.entry(k).or_default().push(Row { id: v.id, body: Some(body), wall_ms, expires_at: None });
                        }
                    }
                }
                Op::Clock { ms } => clock.advance_ms(ms),
            }
            check_against_model(&store, &model, context::clock::Clock::now_ms(&clock))?;
        }
    }
}
