//! `context sync status --check`: exit 0 (saying nothing) while sync works; exit 6 with one
//! line saying why when no sync has completed (ever, or within --max-age), the last run
//! failed, a conflict waits for a person, or another peer has not been seen for 14 days. It
//! reads only what the home recorded: it never reaches the remote.

use crate::util::{Folder, Home};

const T0: &str = "2026-11-25T10:00:00Z";
const T0_30M: &str = "2026-11-25T10:30:00Z";
const T0_2H: &str = "2026-11-25T12:00:00Z";
const T0_20D: &str = "2026-12-15T10:00:00Z";

fn check(h: &Home, at: &str, extra: &[&str]) -> crate::util::Run {
    let mut args = vec!["sync", "status", "--check"];
    args.extend_from_slice(extra);
    h.run_with(&args, b"", &[("CONTEXT_NOW", at)])
}

fn sync_at(h: &Home, folder: &Folder, at: &str) -> crate::util::Run {
    h.run_with(
        &["sync", "--remote", folder.arg()],
        b"",
        &[("CONTEXT_NOW", at)],
    )
}

#[test]
fn healthy_after_a_sync_stale_after_max_age_and_never_synced_is_unhealthy() {
    let (a, folder) = (Home::new(), Folder::new());
    a.put_at("k", "v", T0);
    a.run(&["sync", "remote", folder.arg()]).code(0);
    let never = check(&a, T0, &[]).code(6);
    assert!(never.stdout.contains("no sync"), "{}", never.stdout);
    assert_eq!(
        never.stdout.lines().count(),
        1,
        "one line: {}",
        never.stdout
    );

    sync_at(&a, &folder, T0).code(0);
    let ok = check(&a, T0_30M, &[]).code(0);
    assert_eq!(ok.stdout, "", "healthy says nothing");
    let json = check(&a, T0_30M, &["--json"]).code(0).json();
    assert_eq!(json["healthy"], true);
    assert!(json["last_good_sync_at"].is_string());

    let stale = check(&a, T0_2H, &[]).code(6);
    assert!(
        stale.stdout.contains("has completed for 2 h"),
        "{}",
        stale.stdout
    );
    check(&a, T0_2H, &["--max-age", "3h"]).code(0);
    // --max-age needs --check; a bad DURATION is a usage error.
    a.run(&["sync", "status", "--max-age", "3h"]).code(2);
    a.run(&["sync", "status", "--check", "--max-age", "soon"])
        .code(2);
}

#[test]
fn a_failing_remote_and_a_conflict_make_a_home_unhealthy() {
    let (a, b, folder) = (Home::new(), Home::new(), Folder::new());
    a.put_at("k", "a1", T0);
    sync_at(&a, &folder, T0).code(0);
    sync_at(&b, &folder, T0).code(0);
    a.run(&["sync", "remote", folder.arg()]).code(0);
    check(&a, T0_30M, &[]).code(0);

    // Concurrent edits: the pull is refused, a person must choose.
    a.put_at("k", "a2", T0_30M);
    // b's edit is the newer: it would replace a's unseen one.
    b.put_at("k", "b2", "2026-11-25T10:31:00Z");
    sync_at(&b, &folder, "2026-11-25T10:31:00Z").code(0);
    sync_at(&a, &folder, T0_30M).code(3);
    let waiting = check(&a, T0_30M, &[]).code(6);
    assert!(waiting.stdout.contains("conflict"), "{}", waiting.stdout);
    a.run_with(
        &["sync", "pull", "--remote", folder.arg(), "--force"],
        b"",
        &[("CONTEXT_NOW", T0_30M)],
    )
    .code(0);
    a.run_with(
        &["resolve", "k", "--keep", "mine"],
        b"",
        &[("CONTEXT_NOW", T0_30M)],
    )
    .code(0);
    sync_at(&a, &folder, T0_30M).code(0);
    check(&a, T0_30M, &[]).code(0);

    // The folder goes away (an unmounted disk): the next run fails, and the check says so.
    let gone = folder.path().with_extension("moved");
    std::fs::rename(folder.path(), &gone).unwrap();
    sync_at(&a, &folder, T0_30M).code(1);
    let failing = check(&a, T0_30M, &[]).code(6);
    assert!(failing.stdout.contains("failed"), "{}", failing.stdout);
    std::fs::rename(&gone, folder.path()).unwrap();
    sync_at(&a, &folder, T0_30M).code(0);
    check(&a, T0_30M, &[]).code(0);
}

#[test]
fn a_peer_not_seen_for_weeks_makes_a_home_unhealthy() {
    let (a, b, folder) = (Home::new(), Home::new(), Folder::new());
    b.put_at("from-b", "b", T0);
    sync_at(&b, &folder, T0).code(0);
    a.run(&["sync", "remote", folder.arg()]).code(0);
    sync_at(&a, &folder, T0).code(0);
    check(&a, T0_30M, &[]).code(0);
    // Twenty days on, this home syncs every day, but b has been silent.
    sync_at(&a, &folder, T0_20D).code(0);
    let missed = check(&a, T0_20D, &[]).code(6);
    assert!(
        missed.stdout.contains("not been seen for 20 days"),
        "{}",
        missed.stdout
    );
    // b comes back.
    b.put_at("again", "b", T0_20D);
    sync_at(&b, &folder, T0_20D).code(0);
    sync_at(&a, &folder, T0_20D).code(0);
    check(&a, T0_20D, &[]).code(0);
}
