//! `kill -9` at random instants of real push and pull processes: the database stays intact, no
//! partial changeset is ever visible, no partial import is ever visible, and the next run
//! finishes the job with nothing lost or doubled.

use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::util::{Folder, Home, inspect, published_ids};

/// A small deterministic generator for kill delays (reproducible runs).
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

/// Kills runs of a command at random instants of its run, as long as that run takes on this
/// machine as it is now. Two busy cores make one run several times slower than the next, so a
/// span measured once would let later runs finish before their kill (too short a span) or
/// kill them all at once (too long): every run that finishes unkilled resets the span to how
/// long it took, so the next delays spread over a whole run again.
struct Killer {
    rng: Lcg,
    span_ms: u64,
    pub kills: usize,
    pub finished: usize,
}

impl Killer {
    fn new(seed: u64, first_run: Duration) -> Killer {
        Killer {
            rng: Lcg(seed),
            span_ms: first_run.as_millis() as u64 + 2,
            kills: 0,
            finished: 0,
        }
    }

    /// Starts `args` in `home` and sends SIGKILL at a random instant of the span unless it
    /// ended first; returns whether it was killed.
    fn run(&mut self, home: &Home, args: &[&str]) -> bool {
        let delay = Duration::from_millis(self.rng.below(self.span_ms));
        let mut child = home
            .command(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        let start = Instant::now();
        loop {
            if child.try_wait().expect("poll").is_some() {
                // Ended before its kill: this is how long a whole run takes now.
                self.span_ms = start.elapsed().as_millis() as u64 + 2;
                self.finished += 1;
                return false;
            }
            if start.elapsed() >= delay {
                child.kill().expect("SIGKILL"); // Child::kill sends SIGKILL on Unix.
                child.wait().expect("reap");
                self.kills += 1;
                return true;
            }
            std::thread::sleep(Duration::from_micros(200));
        }
    }
}

#[test]
fn push_killed_at_random_instants_publishes_everything_exactly_once() {
    let (a, folder) = (Home::new(), Folder::new());
    // Calibrate: how long one round's push takes here, so kills spread over all of it.
    a.bulk_put("warmup", 40, 40_000);
    let start = Instant::now();
    a.sync("push", &folder, &[]).code(0);
    let mut killer = Killer::new(0x5eed_0001, start.elapsed());
    for round in 0..400 {
        if killer.kills >= 25 {
            break;
        }
        // New work every round, big enough for the push to take a while.
        a.bulk_put(&format!("r{round}"), 40, 40_000);
        killer.run(&a, &["sync", "push", "--remote", folder.arg()]);
        // Whatever instant it died at: every visible changeset is whole...
        for f in folder.changesets() {
            assert_eq!(inspect(&f)["checksum"]["ok"], true, "{}", f.display());
        }
        a.assert_intact();
        // ...and the next push finishes the job (adopting what the dead one published).
        a.sync("push", &folder, &[]).code(0);
        assert_eq!(
            a.sync("status", &folder, &["--json"]).code(0).json()["ahead"],
            0
        );
    }
    assert!(
        killer.kills >= 20,
        "only {} pushes were killed mid-way",
        killer.kills
    );

    a.sync("push", &folder, &[]).code(0);
    let mut published = published_ids(&folder);
    let total = published.len();
    published.sort();
    published.dedup();
    assert_eq!(published.len(), total, "a version was published twice");
    assert_eq!(total as i64, a.rows(), "every version published");
    // And a fresh peer gets exactly that.
    let b = Home::new();
    b.sync("pull", &folder, &[]).code(0);
    assert_eq!(a.version_ids(), b.version_ids());
}

/// A folder with 4,000 versions, and a home pulling from it under a killer until 25 pulls
/// were killed mid-way: after every run its database is intact and holds none or all of the
/// folder's rows (beside the one row of its own it has with `local`). After a pull that
/// completed, `completed` checks the home, and it starts over (a fresh database, with its own
/// row again) so that later kills land in a large pull again. Returns the home, the folder and
/// how many rows the folder holds.
fn pull_under_kills(
    what: &str,
    seed: u64,
    local: bool,
    completed: impl Fn(&Home, &Folder),
) -> (Home, Folder, i64) {
    let (a, folder) = (Home::new(), Folder::new());
    a.bulk_put("big", 4_000, 3_000);
    a.sync("push", &folder, &[]).code(0);
    let total = a.rows();
    // Calibrate: how long the whole pull takes here, so kills spread over all of it.
    let scratch = Home::new();
    let start = Instant::now();
    scratch.sync("pull", &folder, &[]).code(0);
    let mut killer = Killer::new(seed, start.elapsed());
    let mut done = 0;
    let b = Home::new();
    let own = i64::from(local);
    if local {
        b.put("local/before", "mine");
    }
    for _ in 0..200 {
        if killer.kills >= 25 {
            break;
        }
        killer.run(&b, &["sync", "pull", "--remote", folder.arg()]);
        b.assert_intact();
        let rows = b.rows_if_any();
        assert!(
            rows == own || rows == total + own,
            "a partial import is visible: {rows} rows"
        );
        if rows > own {
            done += 1;
            completed(&b, &folder);
            for f in [
                "context.db",
                "context.db-wal",
                "context.db-shm",
                "context.db-journal",
            ] {
                let _ = std::fs::remove_file(b.path().join(f));
            }
            if local {
                b.put("local/before", "mine");
            }
        }
    }
    eprintln!(
        "{what}: {} kills, {done} completed, last span {}ms",
        killer.kills, killer.span_ms
    );
    assert!(
        killer.kills >= 20,
        "only {} pulls were killed mid-way",
        killer.kills
    );
    (b, folder, total)
}

#[test]
fn pull_killed_at_random_instants_never_leaves_a_partial_import() {
    let (b, folder, total) = pull_under_kills("pull", 0x5eed_0002, true, |b, folder| {
        b.sync("pull", folder, &[]).code(0);
    });
    b.sync("pull", &folder, &[]).code(0);
    assert_eq!(b.rows(), total + 1);
    assert_eq!(b.get("local/before"), "mine");
}

/// A new machine's first pull (into an empty database: rows loaded with a rollback journal,
/// the history index built at the end) killed at random instants: never a partial import,
/// never a database without its index, and the next pull does the whole job.
#[test]
fn a_bootstrap_killed_at_random_instants_never_leaves_a_partial_import() {
    let (b, folder, total) = pull_under_kills("bootstrap", 0x5eed_0004, false, |b, _| {
        // Complete: the index is there, and reads work.
        let conn = rusqlite::Connection::open(b.db()).unwrap();
        let index: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE name = 'document_versions_by_key'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(index, 1, "the history index is there");
        drop(conn);
        assert_eq!(b.history_ids("big/0").len(), 1);
    });
    b.sync("pull", &folder, &[]).code(0);
    assert_eq!(b.rows(), total);
    let mode: String = rusqlite::Connection::open(b.db())
        .unwrap()
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal", "back to WAL after the bootstrap");
}

#[test]
fn prune_killed_at_random_instants_leaves_a_remote_any_peer_can_start_from() {
    let (a, b, folder) = (Home::new(), Home::new(), Folder::new());
    let round = |r: usize| {
        a.bulk_put(&format!("r{r}"), 30, 3_000);
        a.sync("push", &folder, &[]).code(0);
        b.run(&["sync", "--remote", folder.arg()]).code(0);
    };
    // Calibrate: a prune that writes a snapshot and removes what both applied.
    round(0);
    round(1);
    let start = Instant::now();
    a.sync("prune", &folder, &[]).code(0);
    let mut killer = Killer::new(0x5eed_0003, start.elapsed());
    for r in 2..120 {
        if killer.kills >= 12 {
            break;
        }
        round(r);
        killer.run(&a, &["sync", "prune", "--remote", folder.arg()]);
        // Whatever instant it died at: every visible file is whole, the folder verifies (an
        // unsealed snapshot is no damage), and a new peer starts from it with everything.
        for f in folder.changesets() {
            assert_eq!(inspect(&f)["checksum"]["ok"], true, "{}", f.display());
        }
        Home::new().sync("verify", &folder, &[]).code(0);
        let c = Home::new();
        c.sync("pull", &folder, &[]).code(0);
        assert_eq!(
            c.version_ids(),
            a.version_ids(),
            "after a kill in round {r}"
        );
        a.assert_intact();
        // And the next prune finishes the job.
        a.sync("prune", &folder, &[]).code(0);
    }
    eprintln!(
        "prune: {} kills, {} finished, last span {}ms",
        killer.kills, killer.finished, killer.span_ms
    );
    assert!(
        killer.kills >= 8,
        "only {} prunes were killed mid-way",
        killer.kills
    );
}
