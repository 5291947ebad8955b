//! Push, pull and status between real homes and one shared folder, through the real binary.

use crate::util::{Folder, Home, at, inspect, published_ids};

#[test]
fn a_push_with_nothing_new_writes_nothing() {
    let (a, folder) = (Home::new(), Folder::new());
    let run = a.sync("push", &folder, &[]).code(0);
    assert_eq!(run.stdout, "", "silence when nothing happened");
    assert!(folder.changesets().is_empty());
    a.put("k", "v");
    a.sync("push", &folder, &[]).code(0);
    let before = folder.changesets();
    let run = a.sync("push", &folder, &[]).code(0);
    assert_eq!(run.stdout, "");
    assert_eq!(folder.changesets(), before);
}

#[test]
fn a_push_after_n_writes_publishes_n_entries() {
    let (a, folder) = (Home::new(), Folder::new());
    for i in 0..5 {
        a.put(&format!("k{}", i % 3), &format!("body {i}"));
    }
    a.ok(&["rm", "k0"]);
    a.run_with(&["put", "w", "--project", "work"], b"w", &[])
        .code(0);
    let run = a.sync("push", &folder, &["--json"]).code(0);
    let report = run.json();
    assert_eq!(report["entries"], 7);
    assert_eq!(report["per_project"]["default"]["versions"], 5);
    assert_eq!(report["per_project"]["default"]["tombstones"], 1);
    assert_eq!(report["per_project"]["work"]["versions"], 1);
    let ids = published_ids(&folder);
    assert_eq!(ids.len(), 7);
    let files = folder.changesets();
    let cs = inspect(&files[0]);
    assert_eq!(cs["checksum"]["ok"], true);
    assert_eq!(cs["header"]["seq"], 1);
    assert_eq!(cs["header"]["versions"], 6);
    assert_eq!(cs["header"]["tombstones"], 1);
    // Two more writes: one more changeset with exactly those two, chained to the first.
    a.put("k1", "again");
    a.put("k9", "new");
    a.sync("push", &folder, &[]).code(0);
    let files = folder.changesets();
    assert_eq!(files.len(), 2);
    let second = inspect(&files[1]);
    assert_eq!(second["entries"].as_array().unwrap().len(), 2);
    assert_eq!(second["header"]["prev"], cs["checksum"]["sha256"]);
}

#[test]
fn versions_deletes_and_ttl_round_trip_and_a_second_pull_is_a_no_op() {
    let (a, b, folder) = (Home::new(), Home::new(), Folder::new());
    a.put_at("note", "first", "2026-11-25T10:00:00Z");
    a.put_at("note", "second", "2026-11-25T10:01:00Z");
    a.put_at("gone", "bye", "2026-11-25T10:02:00Z");
    a.run_with(&["rm", "gone"], b"", &at("2026-11-25T10:03:00Z"))
        .code(0);
    a.run_with(
        &["put", "tmp", "--ttl", "1h"],
        b"brief",
        &at("2026-11-25T10:00:00Z"),
    )
    .code(0);
    a.sync("push", &folder, &[]).code(0);

    let run = b.sync("pull", &folder, &[]).code(0);
    assert!(
        run.stdout
            .starts_with("pulled 4 versions, 1 tombstone in default"),
        "{}",
        run.stdout
    );
    assert_eq!(b.get("note"), "second");
    assert!(b.run(&["get", "gone"]).code(1).stderr.contains("deleted"));
    let now = at("2026-11-25T10:30:00Z");
    assert_eq!(
        b.run_with(&["get", "tmp"], b"", &now).code(0).stdout,
        "brief"
    );
    let later = at("2026-11-25T11:00:00Z");
    assert!(
        b.run_with(&["get", "tmp"], b"", &later)
            .code(1)
            .stderr
            .contains("expired")
    );
    // The same history, ids and parents included.
    assert_eq!(
        a.run(&["history", "note", "--json"]).code(0).json(),
        b.run(&["history", "note", "--json"]).code(0).json()
    );
    assert_eq!(a.version_ids(), b.version_ids());

    let again = b.sync("pull", &folder, &[]).code(0);
    assert_eq!(again.stdout, "", "a second pull says nothing");
    assert_eq!(a.version_ids(), b.version_ids());
    b.assert_intact();
}

#[test]
fn fast_forward_edits_need_no_force() {
    let (a, b, folder) = (Home::new(), Home::new(), Folder::new());
    a.put("plan", "v1");
    a.sync("push", &folder, &[]).code(0);
    b.sync("pull", &folder, &[]).code(0);
    b.put("plan", "v2 from b");
    b.sync("push", &folder, &[]).code(0);
    a.sync("pull", &folder, &[]).code(0);
    assert_eq!(a.get("plan"), "v2 from b");
    a.put("plan", "v3 from a");
    a.sync("push", &folder, &[]).code(0);
    b.sync("pull", &folder, &[]).code(0);
    assert_eq!(b.get("plan"), "v3 from a");
    assert_eq!(a.version_ids(), b.version_ids());
}

/// Both peers edit the same key; the later edit wins everywhere once forced, and nothing is lost.
fn conflict_scenario(force_a_first: bool) {
    let (a, b, folder) = (Home::new(), Home::new(), Folder::new());
    a.put_at("plan", "base", "2026-11-25T10:00:00Z");
    a.sync("push", &folder, &[]).code(0);
    b.sync("pull", &folder, &[]).code(0);
    let a_edit = a.put_at("plan", "edit on a", "2026-11-25T10:05:00Z");
    let b_edit = b.put_at("plan", "edit on b", "2026-11-25T10:06:00Z");
    a.sync("push", &folder, &[]).code(0);
    b.sync("push", &folder, &[]).code(0);

    // A's local edit would be replaced by B's later one: refused, nothing changed.
    let a_rows = a.version_ids();
    let refused = a.sync("pull", &folder, &[]).code(3);
    assert!(refused.stderr.contains("plan"), "{}", refused.stderr);
    assert!(refused.stderr.contains(&a_edit), "{}", refused.stderr);
    assert!(refused.stderr.contains(&b_edit), "{}", refused.stderr);
    assert_eq!(a.version_ids(), a_rows, "a refused pull changes nothing");
    assert_eq!(a.get("plan"), "edit on a");
    let json = a.sync("pull", &folder, &["--json"]).code(3).json();
    assert_eq!(json["conflicts"][0]["key"], "plan");
    assert_eq!(json["conflicts"][0]["local"], a_edit.as_str());
    assert_eq!(json["conflicts"][0]["winner"], b_edit.as_str());

    let force = |h: &Home| {
        let run = h.sync("pull", &folder, &["--force"]).code(0);
        run.stdout
    };
    let (first, second) = if force_a_first { (&a, &b) } else { (&b, &a) };
    let out_first = force(first);
    let out_second = force(second);
    let a_out = if force_a_first { out_first } else { out_second };
    assert!(
        a_out.contains(&a_edit),
        "the replaced version is listed: {a_out}"
    );
    assert!(a_out.contains("backup"), "{a_out}");
    assert!(std::fs::read_dir(a.path().join("backups")).unwrap().count() == 1);

    assert_eq!(a.get("plan"), "edit on b");
    assert_eq!(b.get("plan"), "edit on b");
    assert_eq!(a.version_ids(), b.version_ids());
    let ids = a.history_ids("plan");
    assert!(ids.contains(&a_edit) && ids.contains(&b_edit));
    // The replaced version is one restore away.
    assert_eq!(a.ok(&["get", "plan", "--version", &a_edit]), "edit on a");
    let status = a.sync("status", &folder, &["--json"]).code(0).json();
    assert_eq!(status["conflicts_resolved"][0]["local"], a_edit.as_str());
    // Still reported after later, ordinary pulls.
    a.sync("pull", &folder, &[]).code(0);
    let status = a.sync("status", &folder, &["--json"]).code(0).json();
    assert_eq!(status["conflicts_resolved"][0]["key"], "plan");
}

#[test]
fn a_conflict_is_refused_then_forced_a_first() {
    conflict_scenario(true);
}

#[test]
fn a_conflict_is_refused_then_forced_b_first() {
    conflict_scenario(false);
}

#[test]
fn a_late_older_version_never_resurrects_a_delete() {
    let (a, b, folder) = (Home::new(), Home::new(), Folder::new());
    a.put_at("k", "v1", "2026-11-25T10:00:00Z");
    a.sync("push", &folder, &[]).code(0);
    b.sync("pull", &folder, &[]).code(0);
    // B edits (earlier clock), A deletes later; B's edit arrives at A after the delete.
    b.put_at("k", "older edit", "2026-11-25T10:01:00Z");
    a.run_with(&["rm", "k"], b"", &at("2026-11-25T10:02:00Z"))
        .code(0);
    b.sync("push", &folder, &[]).code(0);
    a.sync("pull", &folder, &[]).code(0);
    a.run(&["get", "k"]).code(1);
    assert!(a.ok(&["ls", "--deleted"]).contains("k (deleted)"));
    a.sync("push", &folder, &[]).code(0);
    // At B the later delete wins over its own older edit: a conflict (its change is replaced).
    b.sync("pull", &folder, &[]).code(3);
    b.sync("pull", &folder, &["--force"]).code(0);
    b.run(&["get", "k"]).code(1);
}

#[test]
fn a_pull_with_dry_run_prints_the_plan_and_changes_nothing() {
    let (a, b, folder) = (Home::new(), Home::new(), Folder::new());
    a.put("k", "v");
    a.sync("push", &folder, &[]).code(0);
    let run = b.sync("pull", &folder, &["--dry-run"]).code(0);
    assert!(run.stdout.contains("new"), "{}", run.stdout);
    assert!(run.stdout.contains("default/k"), "{}", run.stdout);
    assert_eq!(b.rows(), 0);
    b.sync("pull", &folder, &[]).code(0);
    assert_eq!(b.get("k"), "v");
}

#[test]
fn versions_hop_across_two_remotes_and_are_never_echoed() {
    let (a, b, c) = (Home::new(), Home::new(), Home::new());
    let (x, y) = (Folder::new(), Folder::new());
    a.put("from/a", "hello from a");
    a.sync("push", &x, &[]).code(0);
    b.sync("pull", &x, &[]).code(0);
    let x_files = x.changesets();
    // B pushes back to X: A's row came from X, so nothing is written there.
    b.sync("push", &x, &[]).code(0);
    assert_eq!(x.changesets(), x_files, "nothing echoed to X");
    // But it hops on to Y, and C gets it.
    b.sync("push", &y, &[]).code(0);
    c.sync("pull", &y, &[]).code(0);
    assert_eq!(c.get("from/a"), "hello from a");
    // And C's own writes travel back the other way, without A's echoing into Y again.
    c.put("from/c", "hello from c");
    c.sync("push", &y, &[]).code(0);
    assert_eq!(published_ids(&y).len(), 2);
    b.sync("pull", &y, &[]).code(0);
    b.sync("push", &x, &[]).code(0);
    a.sync("pull", &x, &[]).code(0);
    assert_eq!(a.get("from/c"), "hello from c");
    assert_eq!(published_ids(&x).len(), 2, "each version written to X once");
    let mut ids = published_ids(&y);
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 2, "each version written to Y once");
}

#[test]
fn three_homes_converge_through_one_folder() {
    let (a, b, c, folder) = (Home::new(), Home::new(), Home::new(), Folder::new());
    a.put("a", "1");
    b.put("b", "2");
    c.put("c", "3");
    for h in [&a, &b, &c] {
        h.sync("push", &folder, &[]).code(0);
    }
    for h in [&a, &b, &c] {
        h.sync("pull", &folder, &[]).code(0);
    }
    assert_eq!(a.version_ids(), b.version_ids());
    assert_eq!(b.version_ids(), c.version_ids());
    assert_eq!(c.ok(&["ls"]), "a\nb\nc\n");
}

#[test]
fn the_everyday_sync_command_pulls_then_pushes() {
    let (a, b, folder) = (Home::new(), Home::new(), Folder::new());
    a.ok(&["sync", "remote", folder.arg()]);
    b.ok(&["sync", "remote", &format!("file://{}", folder.arg())]);
    a.put("k", "from a");
    a.ok(&["sync"]);
    b.put("j", "from b");
    b.ok(&["sync"]);
    a.ok(&["sync"]);
    assert_eq!(a.get("j"), "from b");
    assert_eq!(b.get("k"), "from a");
    // For scripts, one JSON object with both reports.
    a.put("k2", "again");
    let both = a.run(&["sync", "--json"]).code(0).json();
    assert_eq!(both["push"]["entries"], 1);
    assert_eq!(both["pull"]["applied"], true);
}

#[test]
fn without_a_remote_sync_says_how_to_set_one() {
    let a = Home::new();
    for sub in ["push", "pull", "status", "prune", "snapshot", "verify"] {
        let run = a.run(&["sync", sub]).code(1);
        assert!(run.stderr.contains("context sync remote"), "{}", run.stderr);
    }
    let run = a
        .run(&["sync", "push", "--remote", "/nonexistent/folder"])
        .code(1);
    assert!(run.stderr.contains("/nonexistent/folder"), "{}", run.stderr);
    a.run(&["sync", "remote", "/nonexistent/folder"]).code(1);
    a.run(&["sync", "push", "--bogus"]).code(2);
}

#[test]
fn status_numbers_are_exact_before_and_after_push_and_pull() {
    let (a, b, folder) = (Home::new(), Home::new(), Folder::new());
    let status = |h: &Home| h.sync("status", &folder, &["--json"]).code(0).json();
    let s = status(&a);
    assert_eq!(
        (s["ahead"].as_u64(), s["behind"].as_u64()),
        (Some(0), Some(0))
    );
    assert!(s["last_push"].is_null() && s["last_pull"].is_null());
    // Looking is not syncing: status of a home not made yet makes nothing.
    assert!(!a.db().exists());
    assert_eq!(s["generation"], 1);
    assert_eq!(s["peer_id"].as_str().unwrap().len(), 36);
    assert_eq!(
        s["remote"],
        std::fs::canonicalize(folder.path())
            .unwrap()
            .to_str()
            .unwrap()
    );

    for i in 0..3 {
        a.put(&format!("k{i}"), "v");
    }
    a.ok(&["rm", "k0"]);
    assert_eq!(status(&a)["ahead"], 4);
    // Nor does it register the remote in a home that exists.
    let remotes: i64 = rusqlite::Connection::open(a.db())
        .unwrap()
        .query_row("SELECT count(*) FROM remotes", [], |r| r.get(0))
        .unwrap();
    assert_eq!(remotes, 0);
    a.sync("push", &folder, &[]).code(0);
    let s = status(&a);
    assert_eq!(
        (s["ahead"].as_u64(), s["behind"].as_u64()),
        (Some(0), Some(0))
    );
    assert!(s["last_push"].as_str().unwrap().ends_with('Z'));

    a.put("k9", "v");
    a.sync("push", &folder, &[]).code(0);
    let s = status(&b);
    assert_eq!(
        (s["ahead"].as_u64(), s["behind"].as_u64()),
        (Some(0), Some(2))
    );
    b.sync("pull", &folder, &[]).code(0);
    let s = status(&b);
    assert_eq!(
        (s["ahead"].as_u64(), s["behind"].as_u64()),
        (Some(0), Some(0))
    );
    assert!(s["last_pull"].as_str().unwrap().ends_with('Z'));
    // Pulled rows are not "ahead" of the remote they came from.
    b.put("mine", "v");
    assert_eq!(status(&b)["ahead"], 1);
    let peers = s["peers"].as_array().unwrap();
    assert!(peers.iter().any(|p| p["peer"] == status(&a)["peer_id"]));
}

/// A remote of a scheme this version does not know is a usage error (exit 2) that names the
/// forms it knows, before anything is created; so is a bad `--wait`. `--wait` takes a DURATION
/// or a bare number of seconds.
#[test]
fn bad_flag_values_are_usage_errors_and_wait_takes_a_duration() {
    let (a, folder) = (Home::new(), Folder::new());
    a.put("k", "v");
    for args in [
        vec!["sync", "push", "--remote", "ftp://host/dir"],
        vec!["sync", "pull", "--remote", "gopher://x"],
        vec!["sync", "remote", "ftp://host/dir"],
        vec!["sync", "status", "--remote", "ftp://host/dir"],
    ] {
        let run = a.run(&args).code(2);
        assert!(
            run.stderr.contains("ftp") || run.stderr.contains("gopher"),
            "{}",
            run.stderr
        );
        assert!(run.stderr.contains("file:///PATH"), "{}", run.stderr);
    }
    for wait in ["--wait=soon", "--wait=-1", "--wait=5 m"] {
        let run = a.sync("pull", &folder, &[wait]).code(2);
        assert!(run.stderr.contains("--wait"), "{}", run.stderr);
    }
    a.run(&["sync", "log", "--json"]).code(0);
    for wait in ["5m", "30", "0", "1m30s"] {
        a.sync("pull", &folder, &["--wait", wait]).code(0);
    }
    a.sync("push", &folder, &["--wait", "2m"]).code(0);
    let url = format!("file://{}", folder.arg());
    let pushed_again = a.run(&["sync", "push", "--remote", &url]).code(0);
    assert_eq!(
        pushed_again.stdout, "",
        "a file:// URL is the same remote as its path"
    );
}

/// `context sync remote` without an argument prints the default remote; `--unset` forgets it.
#[test]
fn the_default_remote_is_printed_and_forgotten() {
    let (a, folder) = (Home::new(), Folder::new());
    let none = a.run(&["sync", "remote"]).code(1);
    assert!(
        none.stderr.contains("context sync remote"),
        "{}",
        none.stderr
    );
    a.ok(&["sync", "remote", folder.arg()]);
    let shown = a.ok(&["sync", "remote"]);
    let canonical = std::fs::canonicalize(folder.path()).unwrap();
    assert_eq!(shown.trim(), canonical.to_str().unwrap());
    let forgot = a.ok(&["sync", "remote", "--unset"]);
    assert!(forgot.contains(canonical.to_str().unwrap()), "{forgot}");
    a.run(&["sync", "push"]).code(1);
    a.run(&["sync", "remote", folder.arg(), "--unset"]).code(2);
}

/// `-q` is for cron: errors only. A pull that applies something and meets a leftover prints
/// nothing; a failure still says why; `push --force` explains itself in a sentence, not a log
/// line.
#[test]
fn quiet_runs_print_errors_only_and_a_forced_push_explains_itself() {
    let (a, b, folder) = (Home::new(), Home::new(), Folder::new());
    a.put("k", "v");
    a.sync("push", &folder, &[]).code(0);
    let dir = folder.changesets()[0].parent().unwrap().to_path_buf();
    std::fs::write(
        dir.join("00000001-0000000000000009.sync-conflict-20261125-101500-ABC1234.cset"),
        b"x",
    )
    .unwrap();
    let quiet = b
        .run(&["-q", "sync", "pull", "--remote", folder.arg()])
        .code(0);
    assert_eq!((quiet.stdout.as_str(), quiet.stderr.as_str()), ("", ""));
    assert_eq!(b.get("k"), "v");
    let failed = b
        .run(&["-q", "sync", "pull", "--remote", "/nonexistent/x"])
        .code(1);
    assert!(
        failed.stderr.contains("/nonexistent/x"),
        "{}",
        failed.stderr
    );
    // A restored backup pushes with --force: a sentence on stdout, no raw log line.
    let backup = Home::new();
    crate::util::copy_db(a.path(), backup.path());
    a.put("k2", "v2");
    a.sync("push", &folder, &[]).code(0);
    crate::util::copy_db(backup.path(), a.path());
    a.put("k3", "v3");
    let forced = a.sync("push", &folder, &["--force"]).code(0);
    assert!(
        forced.stdout.contains("started generation 2"),
        "{}",
        forced.stdout
    );
    assert!(!forced.stderr.contains("WARN"), "{}", forced.stderr);
}

/// `sync status` states this peer's last push once (from the run log), so it cannot contradict
/// itself; other peers show when they last published (from their manifests).
#[test]
fn status_states_this_peers_last_push_once() {
    let (a, b, folder) = (Home::new(), Home::new(), Folder::new());
    a.put("k", "v");
    a.sync("push", &folder, &[]).code(0);
    a.sync("push", &folder, &[]).code(0);
    b.sync("pull", &folder, &[]).code(0);
    let text = a.ok(&["sync", "status", "--remote", folder.arg()]);
    let this: Vec<&str> = text.lines().filter(|l| l.contains("(this peer)")).collect();
    assert_eq!(this.len(), 1, "{text}");
    assert!(!this[0].contains("last"), "{text}");
    assert_eq!(text.lines().filter(|l| l.starts_with("pushed")).count(), 1);
    assert!(text.contains("never published"), "{text}");
    let other = b.ok(&["sync", "status", "--remote", folder.arg()]);
    assert!(other.contains("last published 20"), "{other}");
}

/// A home that only pulls keeps a mark past what it pulled, so that `status` and its first
/// push look only at what came after (not through its whole history); what it writes later
/// is still ahead and pushed, and nothing it pulled goes back.
#[test]
fn a_pull_only_home_keeps_its_mark_past_what_it_pulled() {
    let (a, b, folder) = (Home::new(), Home::new(), Folder::new());
    for i in 0..20 {
        a.put(&format!("k{i}"), "v");
    }
    a.sync("push", &folder, &[]).code(0);
    b.sync("pull", &folder, &[]).code(0);
    let mark: i64 = rusqlite::Connection::open(b.db())
        .unwrap()
        .query_row("SELECT high_water FROM pushed", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mark, 20, "the mark is past the 20 pulled rows");
    let status = b.sync("status", &folder, &["--json"]).code(0).json();
    assert_eq!(status["ahead"], 0);
    b.put("mine", "m");
    let status = b.sync("status", &folder, &["--json"]).code(0).json();
    assert_eq!(status["ahead"], 1);
    let pushed = b.sync("push", &folder, &["--json"]).code(0).json();
    assert_eq!(pushed["entries"], 1, "only its own write");
    a.sync("pull", &folder, &[]).code(0);
    assert_eq!(a.get("mine"), "m");
}

/// Pages of the history index, and how many of them are full (under 100 bytes free).
fn history_index_pages(home: &Home) -> (i64, i64) {
    let conn = rusqlite::Connection::open(home.db()).unwrap();
    conn.query_row(
        "SELECT count(*), count(*) FILTER (WHERE unused < 100) FROM dbstat
         WHERE name = 'document_versions_by_key' AND pagetype = 'leaf'",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .unwrap()
}

#[test]
fn a_new_peer_leaves_room_in_its_history_index_and_nothing_else() {
    // A new peer's first pull builds the history index by a sort, which fills every leaf:
    // then the next version of nearly any key would split a leaf, and a new machine's next
    // pulls would each write several times the pages of later ones. It leaves room instead.
    let (a, b, folder) = (Home::new(), Home::new(), Folder::new());
    a.bulk_put("notes", 3_000, 40);
    a.bulk_put("notes", 3_000, 40);
    a.sync("push", &folder, &[]).code(0);
    b.sync("pull", &folder, &[]).code(0);
    b.assert_intact();
    let (leaves, full) = history_index_pages(&b);
    assert!(
        full * 10 < leaves,
        "{full} of {leaves} leaves are full after the bootstrap"
    );
    // Nothing but what was pulled: the same rows, and the change log without a gap.
    assert_eq!(b.version_ids(), a.version_ids());
    let conn = rusqlite::Connection::open(b.db()).unwrap();
    let (count, max): (i64, i64) = conn
        .query_row(
            "SELECT count(*), max(seq) FROM document_versions",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((count, max), (6_000, 6_000));

    // A third version of every tenth key, spread over every leaf, fits where it goes.
    let rt = context::runtime::Runtime::system();
    let mut store = context::store::Store::open(&a.db(), rt).unwrap();
    for i in (0..3_000).step_by(10) {
        store
            .put("default", &format!("notes/{i}"), b"a third version", None)
            .unwrap();
    }
    drop(store);
    a.sync("push", &folder, &[]).code(0);
    b.sync("pull", &folder, &[]).code(0);
    let (after, _) = history_index_pages(&b);
    assert!(
        after - leaves < leaves / 10,
        "300 new versions split {} of {leaves} leaves",
        after - leaves
    );
    assert_eq!(b.get("notes/990").trim_end(), "a third version");
}
