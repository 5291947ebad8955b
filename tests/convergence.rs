//! Many peers, one or two shared folders, random histories: the guarantees sync makes, checked
//! against the library in-process (real SQLite files on tmpfs, in-memory remotes).
//!
//! Peers put, delete, restore and expire documents under skewed clocks; push and pull (with and
//! without `--force`); restore their database from an earlier backup; copy their home to a new
//! machine. Some cases split the peers between two folders with one peer relaying between them.
//! Peers also edit single lines of multi-line documents, pull with `--merge`, and settle
//! conflicts with `resolve` (keep mine, keep theirs, merge).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;

use context::changeset;
use context::clock::ManualClock;

use context::ids::{SeededIds, VersionId};
use context::remote::{FileName, Remote};
use context::resolve;
use context::store::{State, Store, StoreError, Version};
use context::sync::{self, PullOptions, PushOptions, SyncError};

use crate::util::model::{Currents, R, T0, cases, current_ids, currents, fail, open, rows};

const KEYS: [&str; 3] = ["a", "b", "notes/c"];
const PROJECTS: [&str; 2] = ["default", "work"];
const MAX_PEERS: usize = 6;

#[derive(Debug, Clone)]
enum Op {
    Put {
        peer: usize,
        doc: (usize, usize),
        body: u8,
    },
    PutTtl {
        peer: usize,
        doc: (usize, usize),
        ttl_s: u64,
    },
    Rm {
        peer: usize,
        doc: (usize, usize),
    },
    Restore {
        peer: usize,
        doc: (usize, usize),
        nth: usize,
    },
    Advance {
        ms: i64,
    },
    Skew {
        peer: usize,
        ms: i64,
    },
    Push {
        peer: usize,
        remote: usize,
        force: bool,
    },
    Pull {
        peer: usize,
        remote: usize,
        force: bool,
        merge: bool,
    },
    /// Replaces one line of the current body (a four-line document): what merges cleanly.
    Edit {
        peer: usize,
        doc: (usize, usize),
        line: usize,
        body: u8,
    },
    /// `context resolve KEY --keep mine|theirs` (how 0, 1) or `--merge` (2), for the `nth`
    /// of the keys the peer lists in conflict (if any).
    Resolve {
        peer: usize,
        nth: usize,
        how: u8,
    },
    Backup {
        peer: usize,
    },
    RestoreBackup {
        peer: usize,
    },
    CopyHome {
        peer: usize,
    },
    Snapshot {
        peer: usize,
        remote: usize,
    },
    Prune {
        peer: usize,
        remote: usize,
    },
    /// Every peer of a folder pulls (forced) and pushes: what makes a prune worth running.
    Round {
        remote: usize,
    },
    /// The scoped remote (in a world with one) carries every project from now on: each of its
    /// peers' next push publishes the history of the project it did not carry.
    Widen,
}

fn op() -> impl Strategy<Value = Op> {
    let p = 0..MAX_PEERS;
    let doc = (0..PROJECTS.len(), 0..KEYS.len());
    prop_oneof![
        3 => (p.clone(), doc.clone(), any::<u8>()).prop_map(|(peer, doc, body)| Op::Put { peer, doc, body }),
        2 => (p.clone(), doc.clone(), 1u64..300).prop_map(|(peer, doc, ttl_s)| Op::PutTtl { peer, doc, ttl_s }),
        2 => (p.clone(), doc.clone()).prop_map(|(peer, doc)| Op::Rm { peer, doc }),
        1 => (p.clone(), doc.clone(), 0usize..6).prop_map(|(peer, doc, nth)| Op::Restore { peer, doc, nth }),
        2 => (0i64..400_000).prop_map(|ms| Op::Advance { ms }),
        1 => (p.clone(), -120_000i64..120_000).prop_map(|(peer, ms)| Op::Skew { peer, ms }),
        5 => (p.clone(), 0usize..2, prop::bool::weighted(0.2)).prop_map(|(peer, remote, force)| Op::Push { peer, remote, force }),
        5 => (p.clone(), 0usize..2, prop::bool::weighted(0.3), prop::bool::weighted(0.5)).prop_map(|(peer, remote, force, merge)| Op::Pull { peer, remote, force, merge }),
        // Edits go to two documents, so that concurrent ones (what merges) are common.
        8 => (p.clone(), (0..1usize, 0..2usize), 0usize..4, any::<u8>()).prop_map(|(peer, doc, line, body)| Op::Edit { peer, doc, line, body }),
        4 => (p.clone(), 0usize..4, 0u8..3).prop_map(|(peer, nth, how)| Op::Resolve { peer, nth, how }),
        1 => p.clone().prop_map(|peer| Op::Backup { peer }),
        1 => p.clone().prop_map(|peer| Op::RestoreBackup { peer }),
        1 => p.clone().prop_map(|peer| Op::CopyHome { peer }),
        1 => (p.clone(), 0usize..2).prop_map(|(peer, remote)| Op::Snapshot { peer, remote }),
        2 => (p, 0usize..2).prop_map(|(peer, remote)| Op::Prune { peer, remote }),
        2 => (0usize..2).prop_map(|remote| Op::Round { remote }),
    ]
}

struct Peer {
    dir: PathBuf,
    store: Option<Store>,
    clock: ManualClock,
    skew: i64,
    remotes: Vec<usize>,
    backup: Option<PathBuf>,
    host: String,
    /// Projects added to the scoped remote's list whose history this peer's next push to it
    /// publishes (what a home keeps as `named_remotes.backfill`).
    backfill: Vec<String>,
}

impl Peer {
    fn store(&mut self) -> &mut Store {
        self.store.as_mut().expect("open")
    }
}

struct World {
    _tmp: tempfile::TempDir,
    peers: Vec<Peer>,
    remotes: Vec<Remote>,
    ids: Arc<SeededIds>,
    now: i64,
    /// Every version id any peer ever wrote.
    written: BTreeSet<VersionId>,
    /// Ids that existed only in a peer whose database was then restored from an older backup:
    /// the one legitimate way for a version to disappear.
    dropped: BTreeSet<VersionId>,
    /// In a world with a scoped remote (remote 1, project `work` only, between peer 0 and a
    /// colleague): whether it was widened to every project.
    scoped: bool,
    widened: bool,
}

fn lww(v: &Version) -> (context::clock::Hlc, context::ids::PeerId, VersionId) {
    (v.hlc, v.peer, v.id)
}

/// A line's worth of word-like text, the same for the same arguments: long enough that a
/// one-line edit of a document travels as a delta.
fn filler(line: usize, body: u8, peer: usize) -> String {
    let mut x =
        (((line as u64 + 1) * 0x9e37_79b9) ^ (u64::from(body) << 20) ^ ((peer as u64) << 40)) | 1;
    (0..16)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (0..2 + x % 6)
                .map(|k| char::from(b'a' + ((x >> (k * 5)) % 26) as u8))
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Whether `from` reaches `ancestor` through parents and the rows each settled.
fn descends(
    store: &Store,
    rows: &BTreeMap<VersionId, Version>,
    from: VersionId,
    ancestor: VersionId,
) -> R<bool> {
    let mut stack = vec![from];
    let mut seen = BTreeSet::new();
    while let Some(id) = stack.pop() {
        let Some(v) = rows.get(&id) else { continue };
        let next = v
            .parent
            .into_iter()
            .chain(store.settled_by(id).map_err(fail)?);
        for n in next {
            if n == ancestor {
                return Ok(true);
            }
            if seen.insert(n) {
                stack.push(n);
            }
        }
    }
    Ok(false)
}

/// What a reader sees of a version: kind, body digest, expiry.
fn content(v: &Version) -> (context::record::Kind, Option<[u8; 32]>, Option<i64>) {
    (v.kind, v.sha256, v.expires_at_ms)
}

/// Every unsettled conflict of a store as (key, the unordered pair of its sides), checked two
/// ways: the listing (candidate keys only) must equal the exact check of every key.
/// Unsettled conflicts: each key with the unordered pair of its two sides.
type ConflictSet = BTreeSet<((String, String), BTreeSet<VersionId>)>;

fn conflict_set(store: &Store) -> R<ConflictSet> {
    let listed: BTreeSet<_> = store
        .conflicts()
        .map_err(fail)?
        .into_iter()
        .map(|c| ((c.project, c.key), BTreeSet::from([c.mine.id, c.theirs.id])))
        .collect();
    let mut exact = BTreeSet::new();
    for project in PROJECTS {
        for key in KEYS {
            for c in store.conflicts_of(project, key).map_err(fail)? {
                exact.insert(((c.project, c.key), BTreeSet::from([c.mine.id, c.theirs.id])));
            }
        }
    }
    prop_assert_eq!(
        &listed,
        &exact,
        "the conflict listing misses or invents a key"
    );
    Ok(listed)
}

/// Every entry id in every changeset and snapshot of a remote.
fn published(remote: &Remote) -> R<BTreeSet<VersionId>> {
    let mut out = BTreeSet::new();
    let listing = remote.list().map_err(fail)?;
    let files = listing
        .changesets
        .iter()
        .map(|n| n as &dyn FileName)
        .chain(listing.snapshots.iter().map(|n| n as &dyn FileName));
    for name in files {
        let (cs, _) = changeset::decode(&remote.read(name).map_err(fail)?).map_err(fail)?;
        out.extend(cs.entries.iter().map(|e| e.id));
    }
    Ok(out)
}

impl World {
    fn new(peers: usize, two_remotes: bool) -> R<World> {
        let tmp = if Path::new("/dev/shm").is_dir() {
            tempfile::tempdir_in("/dev/shm").map_err(fail)?
        } else {
            tempfile::tempdir().map_err(fail)?
        };
        let ids = Arc::new(SeededIds::new(peers as u64 * 31 + u64::from(two_remotes)));
        let mut world = World {
            peers: Vec::new(),
            // The second folder is an encrypted one: everything the model checks holds through
            // sealed files too.
            remotes: vec![
                Remote::in_memory("mem://x"),
                Remote::in_memory("mem://y")
                    .with_secret(context::encryption::sealed::SecretKey::generate().map_err(fail)?),
            ],
            ids,
            now: T0,
            written: BTreeSet::new(),
            dropped: BTreeSet::new(),
            scoped: false,
            widened: false,
            _tmp: tmp,
        };
        for i in 0..peers {
            // With two folders, peer 0 relays between them; the others use one each.
            let remotes = match (two_remotes, i) {
                (false, _) => vec![0],
                (true, 0) => vec![0, 1],
                (true, i) => vec![i % 2],
            };
            world.add_peer(None, remotes, format!("host-{i}"))?;
        }
        Ok(world)
    }

    /// `peers` peers on remote 0 (every project); peer 0 also on remote 1, which carries the
    /// project `work` only, shared with one more peer (the colleague), on remote 1 alone.
    fn new_scoped(peers: usize) -> R<World> {
        let mut world = World::new(peers, false)?;
        world.scoped = true;
        world.remotes[1] = Remote::in_memory("mem://z").with_projects(Some(vec!["work".into()]));
        world.peers[0].remotes = vec![0, 1];
        world.add_peer(None, vec![1], "colleague".into())?;
        Ok(world)
    }

    /// Whether peer `i` carries every project (it is not a colleague of the scoped remote).
    fn carries_all(&self, i: usize) -> bool {
        self.peers[i].remotes.contains(&0)
    }

    fn add_peer(&mut self, from: Option<usize>, remotes: Vec<usize>, host: String) -> R<()> {
        let dir = self._tmp.path().join(format!("peer-{}", self.peers.len()));
        std::fs::create_dir_all(&dir).map_err(fail)?;
        if let Some(src) = from {
            self.peers[src]
                .store()
                .copy_to(&dir.join("context.db"))
                .map_err(fail)?;
        }
        let clock = ManualClock::new(self.now);
        let store = open(&dir, &clock, &self.ids, &host)?;
        self.peers.push(Peer {
            dir,
            store: Some(store),
            clock,
            skew: 0,
            backfill: from
                .map(|src| self.peers[src].backfill.clone())
                .unwrap_or_default(),
            remotes,
            backup: None,
            host,
        });
        Ok(())
    }

    fn tick(&mut self) {
        for p in &self.peers {
            p.clock.set_ms(self.now + p.skew);
        }
    }

    fn ids_of(&self, i: usize) -> R<BTreeSet<VersionId>> {
        Ok(rows(self.peers[i].store.as_ref().expect("open"))?
            .into_keys()
            .collect())
    }

    fn remote_of(&self, peer: usize, which: usize) -> usize {
        let r = &self.peers[peer].remotes;
        r[which % r.len()]
    }

    fn write(&mut self, peer: usize, result: Result<Version, StoreError>) -> R<()> {
        match result {
            Ok(v) => {
                self.written.insert(v.id);
                Ok(())
            }
            // Refusals the model expects: rm of a key that is not live, restore of a
            // tombstone or of a version that is not there.
            Err(
                StoreError::NotFound { .. }
                | StoreError::Deleted { .. }
                | StoreError::Expired { .. }
                | StoreError::Tombstone { .. }
                | StoreError::NoSuchVersion { .. },
            ) => Ok(()),
            Err(e) => Err(fail(format!("peer {peer}: {e}"))),
        }
    }

    fn step(&mut self, op: &Op) -> R<()> {
        let n = self.peers.len();
        let before: Vec<BTreeSet<VersionId>> = (0..n).map(|i| self.ids_of(i)).collect::<R<_>>()?;
        let mut restored = None;
        match *op {
            Op::Put { peer, doc, body } => {
                let peer = peer % n;
                let body = format!(
                    "{body} from peer {peer}: {}\n{}\n{}\n{}\n",
                    filler(0, body, peer),
                    filler(1, 0, 0),
                    filler(2, 0, 0),
                    filler(3, 0, 0)
                );
                let r = self.peers[peer].store().put(
                    PROJECTS[doc.0],
                    KEYS[doc.1],
                    body.as_bytes(),
                    None,
                );
                self.write(peer, r)?;
            }
            Op::PutTtl { peer, doc, ttl_s } => {
                let peer = peer % n;
                let ttl = Some(Duration::from_secs(ttl_s));
                let r = self.peers[peer]
                    .store()
                    .put(PROJECTS[doc.0], KEYS[doc.1], b"brief", ttl);
                self.write(peer, r)?;
            }
            Op::Rm { peer, doc } => {
                let peer = peer % n;
                let r = self.peers[peer].store().rm(PROJECTS[doc.0], KEYS[doc.1]);
                self.write(peer, r)?;
            }
            Op::Restore { peer, doc, nth } => {
                let peer = peer % n;
                let store = self.peers[peer].store();
                let target = match store.history(PROJECTS[doc.0], KEYS[doc.1]) {
                    Ok(h) => h[nth % h.len()].id.to_string(),
                    Err(_) => "0".to_string(),
                };
                let r = store.restore(PROJECTS[doc.0], KEYS[doc.1], &target);
                self.write(peer, r)?;
            }
            Op::Advance { ms } => {
                self.now += ms;
                self.tick();
            }
            Op::Skew { peer, ms } => {
                self.peers[peer % n].skew = ms;
                self.tick();
            }
            Op::Push {
                peer,
                remote,
                force,
            } => {
                let peer = peer % n;
                let r = self.remote_of(peer, remote);
                self.checked_push(peer, r, force)?;
            }
            Op::Pull {
                peer,
                remote,
                force,
                merge,
            } => {
                let peer = peer % n;
                let r = self.remote_of(peer, remote);
                self.checked_pull_with(peer, r, force, merge)?;
            }
            Op::Edit {
                peer,
                doc,
                line,
                body,
            } => {
                let peer = peer % n;
                let store = self.peers[peer].store();
                let current = store
                    .get(PROJECTS[doc.0], KEYS[doc.1])
                    .map(|d| String::from_utf8_lossy(&d.body).into_owned())
                    .unwrap_or_default();
                let mut lines: Vec<String> = current.lines().map(str::to_string).collect();
                lines.resize(4, String::new());
                lines[line] = format!(
                    "line {line}: {body} by {peer}: {}",
                    filler(line, body, peer)
                );
                let r = store.put(
                    PROJECTS[doc.0],
                    KEYS[doc.1],
                    format!("{}\n", lines.join("\n")).as_bytes(),
                    None,
                );
                self.write(peer, r)?;
            }
            Op::Resolve { peer, nth, how } => {
                let peer = peer % n;
                let listed = self.peers[peer].store().conflicts().map_err(fail)?;
                let Some(c) = listed.get(nth % listed.len().max(1)) else {
                    return Ok(());
                };
                let (project, key) = (c.project.clone(), c.key.clone());
                let how = match how {
                    0 => resolve::How::Keep(resolve::Keep::Mine),
                    1 => resolve::How::Keep(resolve::Keep::Theirs),
                    _ => resolve::How::Merge,
                };
                let store = self.peers[peer].store();
                match resolve::resolve(store, &project, &key, &how) {
                    Ok(r) => {
                        self.written.insert(r.version.id);
                        let left = store.conflicts_of(&project, &key).map_err(fail)?;
                        prop_assert!(left.is_empty(), "a resolution left {:?}", left);
                    }
                    // Nothing to settle, or a merge that does not apply: nothing written.
                    Err(
                        resolve::ResolveError::NoConflict { .. }
                        | resolve::ResolveError::Overlapping { .. }
                        | resolve::ResolveError::Deleted { .. }
                        | resolve::ResolveError::NotText { .. }
                        | resolve::ResolveError::ManySides { .. },
                    ) => {}
                    Err(e) => return Err(fail(format!("peer {peer}: {e}"))),
                }
            }
            Op::Backup { peer } => {
                let peer = peer % n;
                let p = &mut self.peers[peer];
                let path = p.dir.join("backup.db");
                let _ = std::fs::remove_file(&path);
                p.store().copy_to(&path).map_err(fail)?;
                p.backup = Some(path);
            }
            Op::RestoreBackup { peer } => {
                let peer = peer % n;
                if let Some(backup) = self.peers[peer].backup.clone() {
                    let p = &mut self.peers[peer];
                    p.store = None;
                    for f in ["context.db", "context.db-wal", "context.db-shm"] {
                        let _ = std::fs::remove_file(p.dir.join(f));
                    }
                    std::fs::copy(&backup, p.dir.join("context.db")).map_err(fail)?;
                    p.store = Some(open(&p.dir, &p.clock, &self.ids, &p.host)?);
                    restored = Some(peer);
                }
            }
            Op::CopyHome { peer } => {
                if n < MAX_PEERS {
                    let peer = peer % n;
                    let remotes = self.peers[peer].remotes.clone();
                    self.add_peer(Some(peer), remotes, format!("copy-of-{peer}"))?;
                }
            }
            Op::Snapshot { peer, remote } => {
                let peer = peer % n;
                let r = self.remote_of(peer, remote);
                let remote = self.remotes[r].clone();
                sync::snapshot(self.peers[peer].store(), &remote).map_err(fail)?;
            }
            Op::Round { remote } => {
                for peer in 0..n {
                    let Some(&r) = self.peers[peer].remotes.iter().find(|&&r| r == remote) else {
                        continue;
                    };
                    self.checked_pull(peer, r, true)?;
                    self.checked_push(peer, r, false)?;
                }
            }
            Op::Widen => {
                if self.scoped && !self.widened {
                    self.widened = true;
                    self.remotes[1] = self.remotes[1].clone().with_projects(None);
                    for p in self.peers.iter_mut().filter(|p| p.remotes.contains(&1)) {
                        p.backfill = vec!["default".into()];
                    }
                }
            }
            Op::Prune { peer, remote } => {
                let peer = peer % n;
                let r = self.remote_of(peer, remote);
                let remote = self.remotes[r].clone();
                let opts = sync::PruneOptions::default();
                let report = sync::prune(self.peers[peer].store(), &remote, opts).map_err(fail)?;
                prop_assert!(report.problems.is_empty(), "{:?}", report.problems);
                let verified = sync::verify(&remote).map_err(fail)?;
                prop_assert_eq!(verified.problem_count(), 0, "after a prune: {:?}", verified);
            }
        }

        // 2. Nothing lost: no peer loses a version it had, but by restoring an older backup.
        for (i, had) in before.iter().enumerate() {
            let now = self.ids_of(i)?;
            if restored == Some(i) {
                let mut elsewhere: BTreeSet<VersionId> = BTreeSet::new();
                for j in (0..self.peers.len()).filter(|j| *j != i) {
                    elsewhere.extend(self.ids_of(j)?);
                }
                for r in &self.remotes {
                    elsewhere.extend(published(r)?);
                }
                self.dropped
                    .extend(had.difference(&now).filter(|id| !elsewhere.contains(id)));
            } else {
                let lost: Vec<_> = had.difference(&now).collect();
                prop_assert!(lost.is_empty(), "peer {} lost {:?} in {:?}", i, lost, op);
            }
        }
        Ok(())
    }

    /// A push: it succeeds, or (not forced) refuses a restored or copied database.
    fn checked_push(&mut self, peer: usize, r: usize, force: bool) -> R<()> {
        let remote = self.remotes[r].clone();
        // Deltas tried on every body, however small: the model's documents are short.
        let opts = PushOptions {
            force,
            delta_min_body: Some(0),
            backfill: if r == 1 {
                self.peers[peer].backfill.clone()
            } else {
                Vec::new()
            },
        };
        match sync::push(self.peers[peer].store(), &remote, opts) {
            Ok(_) => {
                if r == 1 {
                    self.peers[peer].backfill.clear();
                }
                Ok(())
            }
            // A restored or copied database is refused until forced: expected.
            Err(SyncError::Diverged(_)) if !force => Ok(()),
            Err(e) => Err(fail(format!("push of peer {peer}: {e}"))),
        }
    }

    fn checked_pull(&mut self, peer: usize, r: usize, force: bool) -> R<()> {
        self.checked_pull_with(peer, r, force, false)
    }

    /// A pull, with the properties every pull must keep.
    fn checked_pull_with(&mut self, peer: usize, r: usize, force: bool, merge: bool) -> R<()> {
        let remote = self.remotes[r].clone();
        let store = self.peers[peer].store();
        let me = store.peer().id;
        let now = store.now_ms();
        let rows_before = rows(store)?;
        let cur_before = currents(store)?;
        let report = sync::pull(
            store,
            &remote,
            PullOptions {
                force,
                dry_run: false,
                merge,
                // Strict: the models never leave a file in transit, so any gap is a bug.
                transit_grace_ms: Some(0),
            },
        )
        .map_err(fail)?;
        prop_assert!(
            report.bad.is_empty(),
            "bad data in a healthy remote: {:?}",
            report.bad
        );
        let rows_after = rows(store)?;
        let cur_after = currents(store)?;

        if report.outcome() == context::outcome::Outcome::Diverged {
            // A refused pull applies nothing; with --merge it writes the clean merges, as new
            // local versions, and nothing else.
            let mut expected: Vec<String> = rows_before.keys().map(|k| k.to_string()).collect();
            expected.extend(report.merged.iter().map(|m| m.version.clone()));
            expected.sort();
            let mut after: Vec<String> = rows_after.keys().map(|k| k.to_string()).collect();
            after.sort();
            prop_assert_eq!(expected, after);
        }
        for (k, b) in &cur_before {
            let a = &cur_after[k];
            // 3. Safety: without --force, a local change is only ever replaced by a version
            // that descends from it (its writer had seen it).
            if !force && b.peer == me && a.id != b.id {
                prop_assert!(
                    content(a) == content(b) || descends(store, &rows_after, a.id, b.id)?,
                    "pull without --force replaced local {} of {:?} with unseen {}",
                    b.id,
                    k,
                    a.id
                );
            }
            // 5. No resurrection: a deleted or expired key only comes back through a newer row.
            if b.state_at(now) != State::Live {
                prop_assert!(
                    lww(a) >= lww(b),
                    "{:?} came back through an older version",
                    k
                );
            }
        }
        Ok(())
    }

    /// Everyone pushes and pulls with --force until nothing moves.
    fn settle(&mut self) -> R<()> {
        for _round in 0..3 {
            for i in 0..self.peers.len() {
                for r in self.peers[i].remotes.clone() {
                    self.checked_push(i, r, true)?;
                }
            }
            for i in 0..self.peers.len() {
                for r in self.peers[i].remotes.clone() {
                    self.checked_pull(i, r, true)?;
                }
            }
        }
        Ok(())
    }
}

/// A fresh peer that pulls `streams` of the remotes one at a time, each through its own
/// folder, in the given order; then everything once more (applying twice changes nothing).
/// Who wrote each row, as a store names it.
type Authors = BTreeMap<VersionId, Option<context::record::Author>>;

fn authors_of(store: &Store) -> R<Authors> {
    Ok(rows(store)?
        .into_iter()
        .map(|(id, v)| (id, v.author))
        .collect())
}

fn replay(world: &World, reverse: bool) -> R<(BTreeSet<VersionId>, Currents, Authors)> {
    let dir = world._tmp.path().join(format!("replay-{reverse}"));
    std::fs::create_dir_all(&dir).map_err(fail)?;
    let clock = ManualClock::new(world.now);
    let mut store = open(&dir, &clock, &world.ids, "replay")?;
    let mut streams = Vec::new();
    for remote in &world.remotes {
        for ((peer, generation), names) in remote.list().map_err(fail)?.streams() {
            streams.push((remote.clone(), peer, generation, names));
        }
    }
    if reverse {
        streams.reverse();
    }
    for (i, (remote, _, _, names)) in streams.iter().enumerate() {
        let single = if reverse {
            // The stream alone, with the snapshots that stand for what prunes removed of it.
            let one = Remote::in_memory(&format!("mem://stream-{i}"));
            for n in names {
                one.publish(n, &remote.read(n).map_err(fail)?)
                    .map_err(fail)?;
            }
            for n in remote.list().map_err(fail)?.snapshots {
                one.publish(&n, &remote.read(&n).map_err(fail)?)
                    .map_err(fail)?;
            }
            one
        } else {
            remote.clone()
        };
        sync::pull(
            &mut store,
            &single,
            PullOptions {
                force: true,
                dry_run: false,
                merge: false,
                // Strict: the models never leave a file in transit, so any gap is a bug.
                transit_grace_ms: Some(0),
            },
        )
        .map_err(fail)?;
    }
    let ids: BTreeSet<VersionId> = rows(&store)?.into_keys().collect();
    for remote in &world.remotes {
        sync::pull(
            &mut store,
            remote,
            PullOptions {
                force: true,
                dry_run: false,
                merge: false,
                // Strict: the models never leave a file in transit, so any gap is a bug.
                transit_grace_ms: Some(0),
            },
        )
        .map_err(fail)?;
    }
    prop_assert_eq!(
        &ids,
        &rows(&store)?.into_keys().collect::<BTreeSet<_>>(),
        "a second pull changed something"
    );
    Ok((ids, current_ids(&store)?, authors_of(&store)?))
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases(),
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "proptest-regressions/convergence.txt",
        ))),
        ..ProptestConfig::default()
    })]

    /// Properties, checked after every step and after a final round of push and pull --force:
    ///
    /// 1. Convergence: after the final round every peer has the same current version of every
    ///    key and the same set of version ids.
    /// 2. Nothing lost: no version id ever disappears from a peer that had it (except by
    ///    restoring that peer's database from an older backup, and then only ids that existed
    ///    nowhere else); in the end every peer has every id ever written but those.
    /// 3. Safety: a pull without --force never replaces a key's local current version (one this
    ///    peer wrote) with a version that does not descend from it; it refuses instead, and a
    ///    refused pull changes nothing.
    /// 4. Order independence: the same changesets applied stream by stream in reverse order,
    ///    or all at once, or twice, give the same state.
    /// 5. No resurrection: a deleted or expired key never comes back through an older version.
    #[test]
    fn peers_converge_and_lose_nothing(
        peers in 2usize..=5,
        two_remotes in prop::bool::weighted(0.25),
        ops in prop::collection::vec(op(), 1..40),
    ) {
        let mut world = World::new(peers, two_remotes)?;
        for op in &ops {
            world.step(op)?;
        }
        world.settle()?;

        let reference = world.ids_of(0)?;
        let reference_current = current_ids(world.peers[0].store.as_ref().expect("open"))?;
        for i in 1..world.peers.len() {
            prop_assert_eq!(&world.ids_of(i)?, &reference, "peer {} has other versions than peer 0", i);
            prop_assert_eq!(
                &current_ids(world.peers[i].store.as_ref().expect("open"))?,
                &reference_current,
                "peer {} disagrees with peer 0", i
            );
        }
        let missing: Vec<_> = world.written.difference(&reference).filter(|id| !world.dropped.contains(id)).collect();
        prop_assert!(missing.is_empty(), "versions lost: {:?}", missing);

        // 7. Provenance: every row names who wrote it, and every peer that holds a row names
        //    the same author and session (through deltas, snapshots, prunes, sealed files).
        let mut authors: Authors = BTreeMap::new();
        for i in 0..world.peers.len() {
            for (id, v) in rows(world.peers[i].store.as_ref().expect("open"))? {
                prop_assert!(v.author.is_some(), "peer {} holds {} without its author", i, id);
                if let Some(seen) = authors.insert(id, v.author.clone()) {
                    prop_assert_eq!(&seen, &v.author, "peer {} names another author of {}", i, id);
                }
            }
        }

        let (forward_ids, forward_current, forward_authors) = replay(&world, false)?;
        let (reverse_ids, reverse_current, reverse_authors) = replay(&world, true)?;
        let shared: Authors = authors.iter().filter(|(id, _)| reference.contains(id)).map(|(id, a)| (*id, a.clone())).collect();
        prop_assert_eq!(&forward_authors, &shared, "a replay names other authors");
        prop_assert_eq!(&reverse_authors, &shared, "a replay of each stream names other authors");
        prop_assert_eq!(&forward_ids, &reference);
        prop_assert_eq!(&reverse_ids, &reference);
        prop_assert_eq!(&forward_current, &reference_current);
        prop_assert_eq!(&reverse_current, &reference_current);

        // 6. Conflicts: every peer lists the same unsettled conflicts (they follow from the
        //    rows alone); one peer's resolutions settle them on every peer.
        let reference_conflicts = conflict_set(world.peers[0].store.as_ref().expect("open"))?;
        for i in 1..world.peers.len() {
            let theirs = conflict_set(world.peers[i].store.as_ref().expect("open"))?;
            prop_assert_eq!(&theirs, &reference_conflicts, "peer {} lists other conflicts", i);
        }
        for ((project, key), _) in &reference_conflicts {
            let store = world.peers[0].store();
            if store.conflicts_of(project, key).map_err(fail)?.is_empty() {
                continue;
            }
            let r = resolve::resolve(store, project, key, &resolve::How::Keep(resolve::Keep::Mine))
                .map_err(fail)?;
            world.written.insert(r.version.id);
        }
        world.settle()?;
        for i in 0..world.peers.len() {
            let left = conflict_set(world.peers[i].store.as_ref().expect("open"))?;
            prop_assert!(left.is_empty(), "peer {} still lists {:?} after peer 0 settled them", i, left);
            prop_assert_eq!(
                &current_ids(world.peers[i].store.as_ref().expect("open"))?,
                &current_ids(world.peers[0].store.as_ref().expect("open"))?,
                "peer {} disagrees with peer 0 after the resolutions", i
            );
        }
    }

    /// A remote that carries one project (`work`), between peer 0 and a colleague who is on no
    /// other remote, beside the remote every other peer shares; at some point perhaps widened
    /// to every project. After a final round:
    ///
    /// 1. The scoped remote never held a version of another project before it was widened.
    /// 2. Every peer that carries every project converges as before.
    /// 3. The colleague holds exactly the `work` rows the others hold, and of `default` only
    ///    its own, which no other peer holds; once widened, everything, as the others.
    /// 4. No pull by an honest peer ever found bad data (checked at every pull).
    #[test]
    fn a_scoped_remote_carries_its_projects_only(
        peers in 2usize..=4,
        ops in prop::collection::vec(prop_oneof![12 => op(), 1 => Just(Op::Widen)], 1..40),
    ) {
        let mut world = World::new_scoped(peers)?;
        for op in &ops {
            world.step(op)?;
            if !world.widened {
                for id in published(&world.remotes[1])? {
                    let owner = (0..world.peers.len())
                        .find_map(|i| {
                            rows(world.peers[i].store.as_ref().expect("open"))
                                .ok()
                                .and_then(|r| r.get(&id).cloned())
                        });
                    if let Some(v) = owner {
                        prop_assert_eq!(v.project.as_str(), "work", "{:?} in the scoped remote", v);
                    }
                }
            }
        }
        world.settle()?;

        let all: Vec<usize> = (0..world.peers.len()).filter(|&i| world.carries_all(i)).collect();
        let first = all[0];
        let reference = rows(world.peers[first].store.as_ref().expect("open"))?;
        let reference_current = current_ids(world.peers[first].store.as_ref().expect("open"))?;
        for &i in &all[1..] {
            prop_assert_eq!(&world.ids_of(i)?, &reference.keys().copied().collect::<BTreeSet<_>>(), "peer {} has other versions than peer {}", i, first);
            prop_assert_eq!(
                &current_ids(world.peers[i].store.as_ref().expect("open"))?,
                &reference_current,
                "peer {} disagrees with peer {}", i, first
            );
        }
        for c in (0..world.peers.len()).filter(|&i| !world.carries_all(i)) {
            let theirs = rows(world.peers[c].store.as_ref().expect("open"))?;
            let me = world.peers[c].store.as_ref().expect("open").peer().id;
            let work = |r: &BTreeMap<VersionId, Version>| -> BTreeSet<VersionId> {
                r.values().filter(|v| v.project == "work").map(|v| v.id).collect()
            };
            prop_assert_eq!(work(&theirs), work(&reference), "colleague {} and peer {} differ on work", c, first);
            if world.widened {
                prop_assert_eq!(
                    theirs.keys().copied().collect::<BTreeSet<_>>(),
                    reference.keys().copied().collect::<BTreeSet<_>>(),
                    "colleague {} lacks what the widened remote carries", c
                );
            } else {
                for v in theirs.values().filter(|v| v.project != "work") {
                    prop_assert_eq!(v.peer, me, "colleague {} holds {:?} of another's", c, v);
                    prop_assert!(!reference.contains_key(&v.id), "the colleague's {:?} left the scoped remote", v);
                }
            }
        }
    }
}
