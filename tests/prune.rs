//! Prune and snapshots under random interleavings: three peers (and late joiners) put, push,
//! pull, snapshot and prune in any order against one shared folder (in memory), the library
//! driven in-process.
//!
//! Properties, checked after every step:
//!
//! 1. Prune never removes a changeset that some peer has not applied (each peer's own database
//!    is the truth, not what its manifest says), and never the newest changeset of a stream.
//! 2. No pull ever finds a gap or a damaged snapshot: whatever prune removed, a snapshot stands
//!    for it, for old peers and for new ones. No push is ever refused.
//! 3. A dry run removes nothing, and `verify` finds nothing wrong after a prune.
//!
//! And after a final round of push and pull: every peer holds the same rows (history included)
//! and the same current versions, and so does a new peer that bootstraps from what the remote
//! holds then.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;

use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;

use context::clock::ManualClock;
use context::ids::{PeerId, SeededIds};
use context::remote::{CsetName, Remote};
use context::store::Store;
use context::sync::{self, PruneOptions, PullOptions, PushOptions};

use crate::util::model::{R, T0, cases_or, current_ids, fail, open, rows};

const KEYS: [&str; 4] = ["a", "b", "c", "notes/d"];
const LOCATION: &str = "mem://shared";
/// Peers at the start; up to two more join during a case.
const PEERS: usize = 3;
const MAX_JOINS: usize = 2;

#[derive(Debug, Clone)]
enum Op {
    Put { peer: usize, key: usize, body: u8 },
    Rm { peer: usize, key: usize },
    Push { peer: usize },
    Pull { peer: usize },
    Prune { peer: usize, dry_run: bool },
    Snapshot { peer: usize },
    Advance { ms: i64 },
    Join,
}

fn op() -> impl Strategy<Value = Op> {
    let p = 0..PEERS + MAX_JOINS;
    let k = 0..KEYS.len();
    prop_oneof![
        6 => (p.clone(), k.clone(), any::<u8>()).prop_map(|(peer, key, body)| Op::Put { peer, key, body }),
        1 => (p.clone(), k).prop_map(|(peer, key)| Op::Rm { peer, key }),
        5 => p.clone().prop_map(|peer| Op::Push { peer }),
        5 => p.clone().prop_map(|peer| Op::Pull { peer }),
        3 => (p.clone(), prop::bool::weighted(0.2)).prop_map(|(peer, dry_run)| Op::Prune { peer, dry_run }),
        1 => p.prop_map(|peer| Op::Snapshot { peer }),
        1 => (1i64..600_000).prop_map(|ms| Op::Advance { ms }),
        1 => Just(Op::Join),
    ]
}

struct Peer {
    store: Store,
    clock: ManualClock,
}

struct World {
    tmp: tempfile::TempDir,
    peers: Vec<Peer>,
    remote: Remote,
    ids: Arc<SeededIds>,
    now: i64,
    joins: usize,
}

impl World {
    fn new(seed: u64) -> R<World> {
        let tmp = if std::path::Path::new("/dev/shm").is_dir() {
            tempfile::tempdir_in("/dev/shm").map_err(fail)?
        } else {
            tempfile::tempdir().map_err(fail)?
        };
        let mut w = World {
            tmp,
            peers: Vec::new(),
            remote: Remote::in_memory(LOCATION),
            ids: Arc::new(SeededIds::new(seed)),
            now: T0,
            joins: 0,
        };
        for _ in 0..PEERS {
            w.add_peer()?;
        }
        Ok(w)
    }

    /// A new home that syncs at once (so that it is known from the start, as a peer is once
    /// its first sync has run).
    fn add_peer(&mut self) -> R<usize> {
        let i = self.peers.len();
        let dir: PathBuf = self.tmp.path().join(format!("peer-{i}"));
        std::fs::create_dir_all(&dir).map_err(fail)?;
        let clock = ManualClock::new(self.now);
        let store = open(&dir, &clock, &self.ids, &format!("host-{i}"))?;
        self.peers.push(Peer { store, clock });
        self.pull(i)?;
        self.push(i)?;
        Ok(i)
    }

    fn remote_id(&self, i: usize) -> R<i64> {
        self.peers[i].store.remote_id(LOCATION).map_err(fail)
    }

    fn pull(&mut self, i: usize) -> R<sync::PullReport> {
        let opts = PullOptions {
            force: true,
            dry_run: false,
            merge: false,
            // Strict: the models never leave a file in transit, so any gap is a bug.
            transit_grace_ms: Some(0),
        };
        let report = sync::pull(&mut self.peers[i].store, &self.remote, opts).map_err(fail)?;
        prop_assert!(
            report.bad.is_empty(),
            "peer {i}'s pull found bad data: {:?}",
            report.bad
        );
        prop_assert!(report.applied);
        Ok(report)
    }

    fn push(&mut self, i: usize) -> R<()> {
        // (Deltas at the default threshold: the bodies are longer than it.)
        sync::push(
            &mut self.peers[i].store,
            &self.remote,
            PushOptions::default(),
        )
        .map_err(|e| fail(format!("peer {i}'s push failed: {e}")))?;
        Ok(())
    }

    /// Whether peer `i` holds every row of changeset `name`: it wrote its stream, or it
    /// applied the stream that far.
    fn has(&self, i: usize, name: &CsetName) -> R<bool> {
        let me = self.peers[i].store.peer();
        if (me.id, me.generation as u64) == (name.peer, name.generation) {
            return Ok(true);
        }
        let applied = self.peers[i]
            .store
            .applied(self.remote_id(i)?)
            .map_err(fail)?;
        Ok(applied
            .iter()
            .any(|((p, g), a)| (*p, *g) == (name.peer, name.generation) && a.last_seq >= name.seq))
    }

    fn files(&self) -> R<(BTreeSet<CsetName>, usize)> {
        let l = self.remote.list().map_err(fail)?;
        Ok((l.changesets.into_iter().collect(), l.snapshots.len()))
    }

    fn prune(&mut self, i: usize, dry_run: bool) -> R<()> {
        let (before, snapshots_before) = self.files()?;
        let opts = PruneOptions {
            dry_run,
            forget_after_ms: None,
        };
        let report = sync::prune(&self.peers[i].store, &self.remote, opts).map_err(fail)?;
        prop_assert!(report.problems.is_empty(), "{:?}", report.problems);
        let (after, snapshots_after) = self.files()?;
        if dry_run {
            prop_assert_eq!(&before, &after, "a dry run removed changesets");
            prop_assert_eq!(snapshots_before, snapshots_after);
            return Ok(());
        }
        let removed: Vec<&CsetName> = before.difference(&after).collect();
        prop_assert_eq!(removed.len(), report.removed.len());
        for name in removed {
            for p in 0..self.peers.len() {
                prop_assert!(
                    self.has(p, name)?,
                    "prune by peer {} removed {} which peer {} had not applied",
                    i,
                    name,
                    p
                );
            }
        }
        let tails: BTreeMap<(PeerId, u64), u64> = before
            .iter()
            .map(|n| ((n.peer, n.generation), n.seq))
            .collect();
        for ((peer, generation), seq) in tails {
            let tail = CsetName {
                peer,
                generation,
                seq,
            };
            prop_assert!(after.contains(&tail), "prune removed the tail {}", tail);
        }
        let verified = sync::verify(&self.remote).map_err(fail)?;
        prop_assert_eq!(verified.problem_count(), 0, "{:?}", verified);
        Ok(())
    }

    fn apply(&mut self, op: &Op) -> R<()> {
        let n = self.peers.len();
        match *op {
            Op::Put { peer, key, body } => {
                let s = &mut self.peers[peer % n].store;
                // Long bodies that differ in their last byte: every edit after the first of a
                // key travels as a delta against what the stream published before.
                let mut text = crate::util::prose(2_000, 0x0dd_ba11).into_bytes();
                text.push(body);
                s.put("default", KEYS[key], &text, None).map_err(fail)?;
            }
            Op::Rm { peer, key } => {
                let s = &mut self.peers[peer % n].store;
                // Only a live key can be removed; anything else is the command's refusal.
                if s.get("default", KEYS[key]).is_ok() {
                    s.rm("default", KEYS[key]).map_err(fail)?;
                }
            }
            Op::Push { peer } => self.push(peer % n)?,
            Op::Pull { peer } => {
                self.pull(peer % n)?;
            }
            Op::Prune { peer, dry_run } => self.prune(peer % n, dry_run)?,
            Op::Snapshot { peer } => {
                sync::snapshot(&self.peers[peer % n].store, &self.remote).map_err(fail)?;
            }
            Op::Advance { ms } => {
                self.now += ms;
                for p in &self.peers {
                    p.clock.set_ms(self.now);
                }
            }
            Op::Join if self.joins < MAX_JOINS => {
                self.joins += 1;
                self.add_peer()?;
            }
            Op::Join => {}
        }
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases_or(64),
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "proptest-regressions/prune.txt",
        ))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn prune_keeps_what_any_peer_needs_and_new_peers_bootstrap_to_the_same_history(
        seed in 0u64..1_000,
        ops in prop::collection::vec(op(), 1..70),
    ) {
        let mut w = World::new(seed)?;
        for op in &ops {
            w.apply(op)?;
        }
        // A final round: everyone publishes, then everyone applies everything.
        for i in 0..w.peers.len() {
            w.push(i)?;
        }
        for i in 0..w.peers.len() {
            w.pull(i)?;
        }
        let reference = rows(&w.peers[0].store)?;
        let reference_ids: BTreeSet<_> = reference.keys().copied().collect();
        let reference_current = current_ids(&w.peers[0].store)?;
        for (i, p) in w.peers.iter().enumerate() {
            let ids: BTreeSet<_> = rows(&p.store)?.into_keys().collect();
            prop_assert_eq!(&ids, &reference_ids, "peer {} holds other rows", i);
            prop_assert_eq!(&current_ids(&p.store)?, &reference_current, "peer {}", i);
        }
        // One more prune, then a new peer: it starts from what is left.
        w.prune(0, false)?;
        let newcomer = w.add_peer()?;
        let got = rows(&w.peers[newcomer].store)?;
        prop_assert_eq!(got.keys().copied().collect::<BTreeSet<_>>(), reference_ids);
        for (id, v) in &reference {
            let mine = &got[id];
            prop_assert_eq!(
                (mine.hlc, mine.peer, mine.parent, mine.sha256, mine.kind, mine.expires_at_ms),
                (v.hlc, v.peer, v.parent, v.sha256, v.kind, v.expires_at_ms),
                "version {} differs in the newcomer", id
            );
        }
        prop_assert_eq!(current_ids(&w.peers[newcomer].store)?, reference_current);
    }
}
