//! `context sync watch`: two homes watching one remote see each other's writes within seconds
//! (over a folder, by file-system events; over S3, by polling); one watch per home; SIGTERM
//! ends it with exit 0; a remote gone for a while and back, and a conflict, do not end it.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::s3::{Bucket, moto};
use crate::util::{Folder, Home};

struct Watching {
    child: Child,
    log: tempfile::NamedTempFile,
}

impl Watching {
    fn start(home: &Home, args: &[&str]) -> Watching {
        let log = tempfile::NamedTempFile::new().unwrap();
        let mut all = vec!["sync", "watch"];
        all.extend_from_slice(args);
        let child = home
            .command(&all)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log.reopen().unwrap())
            .spawn()
            .unwrap();
        Watching { child, log }
    }

    /// SIGTERM; the exit status, within 10 s.
    fn stop(mut self) -> i32 {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code().unwrap_or(-1);
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "SIGTERM did not end it"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn alive(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    fn said(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap_or_default()
    }
}

impl Drop for Watching {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until `key` reads `body` in `home` (a watch pulls it), for at most `secs`.
#[track_caller]
fn arrives(home: &Home, key: &str, body: &str, secs: u64) -> Duration {
    let started = Instant::now();
    loop {
        let got = home.run(&["get", key]);
        if got.code == 0 && got.stdout == body {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(secs),
            "{key} did not arrive within {secs}s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn two_homes_watching_a_folder_see_each_others_writes_within_seconds() {
    let (a, b, folder) = (Home::new(), Home::new(), Folder::new());
    for h in [&a, &b] {
        h.run(&["sync", "remote", folder.arg()]).code(0);
    }
    let (wa, wb) = (Watching::start(&a, &[]), Watching::start(&b, &[]));
    std::thread::sleep(Duration::from_millis(500));
    // One watch per home.
    let second = a.run(&["sync", "watch"]).code(4);
    assert!(second.stderr.contains("already runs"), "{}", second.stderr);

    a.put("from/a", "one");
    let took = arrives(&b, "from/a", "one", 15);
    b.put("from/b", "two");
    arrives(&a, "from/b", "two", 15);
    for i in 0..5 {
        a.put(&format!("burst/{i}"), "x");
    }
    arrives(&b, "burst/4", "x", 15);
    eprintln!("a write on a readable on b after {took:?}");
    assert_eq!(wa.stop(), 0);
    assert_eq!(wb.stop(), 0);
    // Nothing left half-done: both hold everything, the remote verifies.
    a.sync("verify", &folder, &[]).code(0);
}

#[test]
fn a_watch_over_s3_polls_and_rides_out_a_remote_away_and_a_conflict() {
    let bucket = Bucket::new();
    let env = moto().env();
    let with = |h: Home| env.iter().fold(h, |h, (k, v)| h.with_env(k, v));
    let (a, b) = (with(Home::new()), with(Home::new()));
    for h in [&a, &b] {
        h.run(&["sync", "remote", &bucket.url]).code(0);
    }
    let mut wa = Watching::start(&a, &["--poll", "1s"]);
    let wb = Watching::start(&b, &["--poll", "1s"]);
    b.put("from/b", "over s3");
    arrives(&a, "from/b", "over s3", 20);
    a.put("from/a", "back over s3");
    arrives(&b, "from/a", "back over s3", 20);
    assert_eq!(wb.stop(), 0);

    // The store away for a while (an endpoint that answers nothing): the watch goes on.
    let dead = format!("http://127.0.0.1:{}", crate::util::server::free_port());
    let lonely = Home::new()
        .with_env("AWS_ENDPOINT_URL", &dead)
        .with_env("AWS_ACCESS_KEY_ID", "x")
        .with_env("AWS_SECRET_ACCESS_KEY", "y")
        .with_env("AWS_ALLOW_HTTP", "true")
        .with_env("CONTEXT_RETRY_BUDGET", "1s");
    let mut away = Watching::start(&lonely, &["--remote", &bucket.url, "--poll", "1s"]);
    std::thread::sleep(Duration::from_secs(4));
    assert!(
        away.alive(),
        "a remote away does not end a watch: {}",
        away.said()
    );
    assert_eq!(away.stop(), 0);

    // A conflict: said once, and this home's other writes still go out.
    a.put("shared", "a's");
    b.put("shared", "b's, newer");
    b.run(&["sync"]).code(0);
    std::thread::sleep(Duration::from_secs(3));
    a.put("after/conflict", "still pushed");
    let started = Instant::now();
    while b.run(&["get", "after/conflict"]).code != 0 {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "a's write after the conflict was not pushed: {}",
            wa.said()
        );
        let _ = b.run(&["sync", "pull"]);
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(wa.alive());
    let said = wa.said();
    assert_eq!(
        said.matches("writes are still pushed").count(),
        1,
        "said once: {said}"
    );
    assert_eq!(wa.stop(), 0);
}

/// SIGTERM in the middle of a pull: exit 0, the database intact with all or nothing of the
/// backlog, and the next watch finishes the job. And a folder that goes away and comes back
/// (an unmounted disk) does not end a watch.
#[test]
fn sigterm_mid_pull_leaves_nothing_partial_and_a_folder_away_and_back_is_ridden_out() {
    let (a, b, folder) = (Home::new(), Home::new(), Folder::new());
    a.bulk_put("doc", 3_000, 2_000);
    a.sync("push", &folder, &[]).code(0);
    b.run(&["sync", "remote", folder.arg()]).code(0);
    let wb = Watching::start(&b, &[]);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(wb.stop(), 0);
    b.assert_intact();
    let rows = b.rows_if_any();
    assert!(rows == 0 || rows == 3_000, "a partial pull: {rows} rows");
    let mut wb = Watching::start(&b, &[]);
    let started = Instant::now();
    while b.rows_if_any() < 3_000 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the next watch did not finish"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    // The folder away (renamed), a write made meanwhile on a, the folder back.
    let away = folder.path().with_extension("away");
    std::fs::rename(folder.path(), &away).unwrap();
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        wb.alive(),
        "a folder away does not end a watch: {}",
        wb.said()
    );
    std::fs::rename(&away, folder.path()).unwrap();
    a.put("after/return", "back");
    a.sync("push", &folder, &[]).code(0);
    let started = Instant::now();
    while b.run(&["get", "after/return"]).code != 0 {
        assert!(
            started.elapsed() < Duration::from_secs(40),
            "nothing arrived after the folder came back: {}",
            wb.said()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(wb.stop(), 0);
}

/// SIGTERM in the middle of a push: exit 0, every changeset in the remote whole, and the next
/// watch publishes the rest, each version once.
#[test]
fn sigterm_mid_push_keeps_what_was_published_and_the_next_watch_finishes() {
    let (a, b, folder) = (Home::new(), Home::new(), Folder::new());
    a.bulk_put("doc", 3_000, 2_000);
    a.run(&["sync", "remote", folder.arg()]).code(0);
    let wa = Watching::start(&a, &[]);
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(wa.stop(), 0);
    for f in folder.changesets() {
        assert_eq!(
            crate::util::inspect(&f)["checksum"]["ok"],
            true,
            "{}",
            f.display()
        );
    }
    let _wa = Watching::start(&a, &[]);
    let started = Instant::now();
    loop {
        let status = a.run(&["sync", "status", "--json"]).code(0).json();
        if status["ahead"] == 0 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "{status}");
        std::thread::sleep(Duration::from_millis(200));
    }
    let mut ids = crate::util::published_ids(&folder);
    let n = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), n, "a version published twice");
    b.sync("pull", &folder, &[]).code(0);
    assert_eq!(b.rows(), 3_000);
}

/// A long run of cycles: the watch's peak memory after 150 writes is that after 50.
#[test]
fn a_long_run_of_cycles_keeps_memory_flat() {
    let (a, folder) = (Home::new(), Folder::new());
    a.run(&["sync", "remote", folder.arg()]).code(0);
    let wa = Watching::start(&a, &[]);
    let peak = || -> u64 {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", wa.child.id())).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
            .unwrap_or(0)
    };
    let write = |from: usize, to: usize| {
        for i in from..to {
            a.put(&format!("k{i}"), &format!("body {i}"));
            std::thread::sleep(Duration::from_millis(40));
        }
    };
    write(0, 50);
    std::thread::sleep(Duration::from_secs(1));
    let after_50 = peak();
    write(50, 150);
    std::thread::sleep(Duration::from_secs(1));
    let after_150 = peak();
    eprintln!("peak RSS of the watch: {after_50} kB after 50 writes, {after_150} kB after 150");
    assert!(after_50 > 0, "no /proc status for the watch");
    assert!(
        after_150 <= after_50 + after_50 / 5 + 2_048,
        "memory grew: {after_50} kB after 50 writes, {after_150} kB after 150"
    );
    let pushes = a.run(&["sync", "log", "--json"]).code(0).json();
    assert!(
        pushes.as_array().unwrap().len() >= 2,
        "the watch synced: {pushes}"
    );
}
