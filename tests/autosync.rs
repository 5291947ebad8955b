//! Sync after writes: once a home has a default remote, `put` (and every writing command)
//! starts a background sync, so another home sees the write with no sync command typed on the
//! first; a burst of writes starts a handful of syncs and its last write is always pushed; a
//! sync typed right after a write waits for the background one instead of exiting 4; and it
//! is off with `CONTEXT_AUTO_SYNC=0` or `context sync auto off`.

use std::time::{Duration, Instant};

use crate::util::s3::{Bucket, moto};
use crate::util::{Folder, Home};

fn auto_home() -> Home {
    Home::new().with_env("CONTEXT_AUTO_SYNC", "1")
}

/// Pulls `url` into `reader` until `key` reads `body` (a background sync elsewhere pushes it),
/// for at most `secs`; returns how long it took.
#[track_caller]
fn wait_for(reader: &Home, url: &str, key: &str, body: &str, secs: u64) -> Duration {
    let started = Instant::now();
    loop {
        reader.run(&["sync", "pull", "--remote", url]);
        let got = reader.run(&["get", key]);
        if got.code == 0 && got.stdout == body {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(secs),
            "{key} did not arrive within {secs}s"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_write_reaches_another_home_with_no_sync_typed_over_a_folder() {
    let (a, b, folder) = (auto_home(), Home::new(), Folder::new());
    a.run(&["sync", "remote", folder.arg()]).code(0);
    let put = a.run_with(&["put", "plan/q1"], b"ship it", &[]).code(0);
    assert_eq!(put.stderr, "", "nothing printed by the background sync");
    wait_for(&b, folder.arg(), "plan/q1", "ship it", 30);
    // Every writing command: rm, restore, edit.
    a.run(&["rm", "plan/q1"]).code(0);
    let started = Instant::now();
    while b.run(&["get", "plan/q1"]).code == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the rm never arrived"
        );
        b.run(&["sync", "pull", "--remote", folder.arg()]);
        std::thread::sleep(Duration::from_millis(200));
    }
    // Each run is in the log like any other.
    let log = a.run(&["sync", "log", "--json"]).code(0).json();
    assert!(
        log.as_array()
            .unwrap()
            .iter()
            .any(|r| r["command"] == "push")
    );
}

#[test]
fn a_write_reaches_another_home_with_no_sync_typed_over_s3() {
    let bucket = Bucket::new();
    let env = moto().env();
    let with = |h: Home| env.iter().fold(h, |h, (k, v)| h.with_env(k, v));
    let (a, b) = (with(auto_home()), with(Home::new()));
    a.run(&["sync", "remote", &bucket.url]).code(0);
    a.run_with(&["put", "notes/a"], b"over s3", &[]).code(0);
    wait_for(&b, &bucket.url, "notes/a", "over s3", 30);
}

#[test]
fn a_burst_of_writes_starts_a_handful_of_syncs_and_the_last_is_pushed() {
    let (a, b, folder) = (auto_home(), Home::new(), Folder::new());
    a.run(&["sync", "remote", folder.arg()]).code(0);
    let n = 120;
    for i in 0..n {
        a.run_with(&["put", &format!("k{i}")], format!("v{i}").as_bytes(), &[])
            .code(0);
    }
    let last = format!("k{}", n - 1);
    wait_for(&b, folder.arg(), &last, &format!("v{}", n - 1), 60);
    // Let the last background sync end, then count them.
    std::thread::sleep(Duration::from_secs(2));
    let log = a.run(&["sync", "log", "--json"]).code(0).json();
    let pushes = log
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["command"] == "push")
        .count();
    assert!(pushes >= 1, "{log}");
    assert!(pushes <= 12, "{n} writes started {pushes} syncs");
    let status = a
        .run(&["sync", "status", "--remote", folder.arg(), "--json"])
        .code(0)
        .json();
    assert_eq!(status["ahead"], 0, "everything pushed: {status}");
}

#[test]
fn a_sync_typed_right_after_a_write_waits_for_the_background_one() {
    let (a, folder) = (auto_home(), Folder::new());
    a.run(&["sync", "remote", folder.arg()]).code(0);
    for i in 0..5 {
        a.run_with(&["put", &format!("k{i}")], b"v", &[]).code(0);
        // Right after the write: the background sync holds the lock; this one waits.
        a.run(&["sync"]).code(0);
    }
    let status = a.run(&["sync", "status", "--json"]).code(0).json();
    assert_eq!(status["ahead"], 0, "{status}");
}

#[test]
fn sync_after_writes_is_off_with_the_variable_or_the_setting() {
    let (a, folder) = (auto_home(), Folder::new());
    a.run(&["sync", "remote", folder.arg()]).code(0);
    a.run_with(&["put", "k"], b"v", &[("CONTEXT_AUTO_SYNC", "0")])
        .code(0);
    let said = a.run(&["sync", "auto", "off"]).code(0);
    assert!(said.stdout.contains("off"), "{}", said.stdout);
    a.run_with(&["put", "k2"], b"v", &[]).code(0);
    std::thread::sleep(Duration::from_secs(2));
    assert!(folder.changesets().is_empty(), "no background sync ran");
    let on = a.run(&["sync", "auto", "on"]).code(0);
    assert!(on.stdout.contains("on"), "{}", on.stdout);
    a.run_with(&["put", "k3"], b"v", &[]).code(0);
    let started = Instant::now();
    while folder.changesets().is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no sync started"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // A home with no remote has nothing to sync to.
    let lone = auto_home();
    let state = lone.run(&["sync", "auto"]).code(0);
    assert!(
        state.stdout.contains("no default remote") || state.stdout.contains("until"),
        "{}",
        state.stdout
    );
}
