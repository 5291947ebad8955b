//! Housekeeping for unattended use: `sync verify`, `sync log`, `sync schedule`.

use std::process::Command;

use crate::util::{Folder, Home};

/// A remote with two healthy peers, A with three changesets.
fn remote() -> (Folder, Vec<std::path::PathBuf>) {
    let (a, b, folder) = (Home::new(), Home::new(), Folder::new());
    for i in 0..3 {
        a.put(&format!("a/{i}"), "x");
        a.sync("push", &folder, &[]).code(0);
    }
    b.put("b", "y");
    b.sync("push", &folder, &[]).code(0);
    let peer = a.peer_id(&folder);
    let files = folder
        .changesets()
        .into_iter()
        .filter(|p| p.to_string_lossy().contains(&peer))
        .collect();
    (folder, files)
}

fn verify(folder: &Folder) -> crate::util::Run {
    Home::new().sync("verify", folder, &[])
}

#[test]
fn verify_passes_a_healthy_remote() {
    let (folder, _) = remote();
    let run = verify(&folder).code(0);
    assert_eq!(run.stdout.matches(": ok;").count(), 2, "{}", run.stdout);
    let json = Home::new()
        .sync("verify", &folder, &["--json"])
        .code(0)
        .json();
    assert_eq!(json["changesets"], 4);
    assert_eq!(json["problems"], 0);
}

#[test]
fn verify_finds_each_kind_of_damage() {
    type Damage = fn(&Folder, &[std::path::PathBuf]) -> std::path::PathBuf;
    let cases: [(&str, Damage); 6] = [
        ("checksum", |_, f| {
            let mut b = std::fs::read(&f[1]).unwrap();
            let mid = b.len() / 2;
            b[mid] ^= 1;
            std::fs::write(&f[1], b).unwrap();
            f[1].clone()
        }),
        ("truncated", |_, f| {
            let b = std::fs::read(&f[0]).unwrap();
            std::fs::write(&f[0], &b[..b.len() - 3]).unwrap();
            f[0].clone()
        }),
        ("gap", |_, f| {
            std::fs::remove_file(&f[1]).unwrap();
            f[2].clone()
        }),
        ("chain", |_, f| {
            // The stream's second changeset replaced by its third: a well-formed file that
            // does not chain on (and says another sequence number).
            std::fs::copy(&f[2], &f[1]).unwrap();
            f[1].clone()
        }),
        ("duplicate", |_, f| {
            let copy = f[0].with_file_name(
                "00000001-0000000000000001.sync-conflict-20261125-101500-ABC1234.cset",
            );
            std::fs::copy(&f[0], &copy).unwrap();
            copy
        }),
        ("never writes", |folder, _| {
            let stray = folder.path().join("notes.cset");
            std::fs::write(&stray, b"?").unwrap();
            stray
        }),
    ];
    for (what, damage) in cases {
        let (folder, files) = remote();
        let bad = damage(&folder, &files);
        let run = verify(&folder).code(5);
        let name = bad.file_name().unwrap().to_string_lossy().to_string();
        assert!(
            run.stdout.contains(&name),
            "{what}: names {name}: {}",
            run.stdout
        );
        assert!(
            run.stdout.contains("DAMAGED") || what == "never writes",
            "{what}: {}",
            run.stdout
        );
        let said = format!("{}{}", run.stdout, run.stderr);
        let expected = match what {
            "checksum" => "checksum",
            "truncated" => "truncated",
            "gap" => "gap",
            "chain" => "header says",
            "duplicate" => "duplicate",
            _ => "never writes",
        };
        assert!(said.contains(expected), "{what}: {said}");
    }
}

#[test]
fn the_log_shows_the_runs_with_their_scenario_ids() {
    let (a, folder) = (Home::new(), Folder::new());
    a.put("k", "v");
    a.run_with(
        &["sync", "push", "--remote", folder.arg()],
        b"",
        &[("CONTEXT_SCENARIO_ID", "nightly-42")],
    )
    .code(0);
    a.run_with(
        &["sync", "pull", "--remote", folder.arg()],
        b"",
        &[("CONTEXT_SCENARIO_ID", "nightly-43")],
    )
    .code(0);
    a.run(&["sync", "push", "--remote", "/nonexistent/folder"])
        .code(1);
    let log = a.run(&["sync", "log", "--json"]).code(0).json();
    let runs = log.as_array().unwrap();
    assert_eq!(runs.len(), 3);
    assert_eq!(runs[0]["outcome"], "error", "newest first");
    assert_eq!(runs[1]["command"], "pull");
    assert_eq!(runs[1]["scenario_id"], "nightly-43");
    assert_eq!(runs[2]["command"], "push");
    assert_eq!(runs[2]["scenario_id"], "nightly-42");
    assert_eq!(runs[2]["summary"]["per_project"]["default"]["versions"], 1);
    let text = a.ok(&["sync", "log"]);
    assert!(
        text.contains("nightly-42") && text.contains("1 version in default"),
        "{text}"
    );
}

#[test]
fn schedule_prints_a_valid_crontab_line() {
    let home = Home::new();
    for (every, spec) in [
        ("15m", "*/15 * * * *"),
        ("1h", "0 */1 * * *"),
        ("1d", "0 0 * * *"),
    ] {
        let line = home.ok(&["sync", "schedule", "--every", every, "--cron"]);
        let line = line.trim_end();
        assert!(!line.contains('\n'), "one line: {line}");
        let fields: Vec<&str> = line.splitn(6, ' ').collect();
        assert_eq!(fields[..5].join(" "), spec, "{line}");
        for (field, (lo, hi)) in
            fields[..5]
                .iter()
                .zip([(0, 59), (0, 23), (1, 31), (1, 12), (0, 7)])
        {
            let n = field.trim_start_matches("*/");
            assert!(
                *field == "*" || n.parse::<u32>().is_ok_and(|v| v >= lo && v <= hi.max(60)),
                "{field}"
            );
        }
        let command = fields[5];
        assert!(
            command.starts_with(&format!("CONTEXT_HOME={} ", home.path().display())),
            "{command}"
        );
        // After the home, the variables passed on to the job (`NAME=value`), then the binary.
        let exe = command
            .split(' ')
            .skip(1)
            .find(|t| !t.contains('='))
            .unwrap();
        assert!(std::path::Path::new(exe).is_file(), "{exe}");
        assert!(command.ends_with("sync --wait 120"), "{command}");
    }
    // Bad values for the flag are usage errors, like bad flags.
    for bad in ["7m", "90s", "soon"] {
        let run = home.run(&["sync", "schedule", "--every", bad]).code(2);
        assert!(run.stderr.contains("--every"), "{}", run.stderr);
    }
}

#[test]
fn schedule_prints_systemd_units_that_systemd_accepts() {
    let home = Home::new();
    let text = home.ok(&["sync", "schedule", "--every", "30m", "--systemd"]);
    let dir = tempfile::tempdir().unwrap();
    let mut current: Option<std::path::PathBuf> = None;
    let mut units: Vec<(std::path::PathBuf, String)> = Vec::new();
    for line in text.lines() {
        if let Some(name) = line.strip_prefix("# ~/.config/systemd/user/") {
            current = Some(dir.path().join(name));
            units.push((dir.path().join(name), String::new()));
        } else if current.is_some() {
            let body = &mut units.last_mut().unwrap().1;
            body.push_str(line);
            body.push('\n');
        }
    }
    assert_eq!(units.len(), 2, "{text}");
    for (path, body) in &units {
        std::fs::write(path, body).unwrap();
    }
    assert!(units[0].1.contains(&format!(
        "Environment=\"CONTEXT_HOME={}\"",
        home.path().display()
    )));
    assert!(units[1].1.contains("OnCalendar=*:0/30\nPersistent=true"));
    let Ok(out) = Command::new("systemd-analyze")
        .arg("verify")
        .args(units.iter().map(|(p, _)| p))
        .output()
    else {
        eprintln!("systemd-analyze is not available here: the units are not verified");
        return;
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.trim().is_empty(), "systemd-analyze warns: {stderr}");
}

// Prune and snapshots.

/// `context sync --remote FOLDER`: pull, then push.
fn sync_both(home: &Home, folder: &Folder) {
    home.run(&["sync", "--remote", folder.arg()]).code(0);
}

/// Every key of a home, with `ls --deleted --json`, and every key's `history --json`.
fn state_and_history(home: &Home) -> (serde_json::Value, Vec<serde_json::Value>) {
    let ls = home.run(&["ls", "--deleted", "--json"]).code(0).json();
    let histories = ls
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            home.run(&["history", e["key"].as_str().unwrap(), "--json"])
                .code(0)
                .json()
        })
        .collect();
    (ls, histories)
}

fn file_names(folder: &Folder) -> Vec<String> {
    folder
        .changesets()
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn prune_removes_only_what_every_peer_applied_and_says_why() {
    let (a, b, folder) = (Home::new(), Home::new(), Folder::new());
    for i in 0..3 {
        a.put(&format!("k{i}"), "x");
        a.sync("push", &folder, &[]).code(0);
    }
    b.sync("pull", &folder, &[]).code(0);
    for i in 3..5 {
        a.put(&format!("k{i}"), "y");
        a.sync("push", &folder, &[]).code(0);
    }
    let before = file_names(&folder);
    let dry = a.sync("prune", &folder, &["--dry-run"]).code(0);
    assert!(
        dry.stdout.contains("would remove 3 changesets"),
        "{}",
        dry.stdout
    );
    assert!(
        dry.stdout.contains("would write a snapshot"),
        "{}",
        dry.stdout
    );
    assert_eq!(file_names(&folder), before, "a dry run removed something");

    let b_peer = b.peer_id(&folder);
    let run = a.sync("prune", &folder, &[]).code(0);
    assert!(run.stdout.contains("wrote snapshot"), "{}", run.stdout);
    assert!(
        run.stdout.contains("removed 3 changesets"),
        "{}",
        run.stdout
    );
    // The two B has not pulled stay, and the output says whose they wait for.
    let a_peer = a.peer_id(&folder);
    assert!(
        run.stdout.contains(&format!(
            "kept 2 changesets of peer {a_peer} generation 1 from changeset 4: peer {b_peer}"
        )),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("only up to changeset 3"),
        "{}",
        run.stdout
    );
    let left = file_names(&folder);
    assert!(left.contains(&"00000001-0000000000000004.cset".to_string()));
    assert!(left.contains(&"00000001-0000000000000005.cset".to_string()));
    assert!(!left.contains(&"00000001-0000000000000003.cset".to_string()));
    // B takes up where it was, with no snapshot needed, and has everything.
    let pulled = b.sync("pull", &folder, &[]).code(0);
    assert!(!pulled.stdout.contains("snapshot"), "{}", pulled.stdout);
    assert_eq!(b.rows(), a.rows());
    Home::new().sync("verify", &folder, &[]).code(0);
    // Pushing on from a pruned stream works as before.
    a.put("k5", "z");
    a.sync("push", &folder, &[]).code(0);
    b.sync("pull", &folder, &[]).code(0);
    assert_eq!(b.get("k5"), "z");
    let log = a.run(&["sync", "log", "--json"]).code(0).json();
    let commands: Vec<&str> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["command"].as_str().unwrap())
        .collect();
    assert!(commands.contains(&"prune"), "{commands:?}");
}

#[test]
fn a_new_peer_bootstraps_after_a_prune_to_the_same_state_and_history() {
    let (a, b, folder) = (Home::new(), Home::new(), Folder::new());
    let at = |t: &str| [("CONTEXT_NOW", t.to_string())];
    let put_at = |home: &Home, t: &str, args: &[&str], body: &str| {
        let env = at(t);
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let run = home.run_with(args, body.as_bytes(), &env);
        assert_eq!(run.code, 0, "{}", run.stderr);
    };
    put_at(&a, "2026-11-01T10:00:00Z", &["put", "plan"], "v1");
    put_at(&a, "2026-11-01T10:01:00Z", &["put", "notes/x"], "x");
    put_at(
        &a,
        "2026-11-01T10:02:00Z",
        &["put", "tmp", "--ttl", "1h"],
        "t",
    );
    sync_both(&a, &folder);
    sync_both(&b, &folder);
    put_at(&b, "2026-11-01T11:00:00Z", &["put", "plan"], "v2 from b");
    put_at(&b, "2026-11-01T11:01:00Z", &["rm", "notes/x"], "");
    put_at(
        &b,
        "2026-11-01T11:02:00Z",
        &["put", "--project", "work", "todo"],
        "w",
    );
    sync_both(&b, &folder);
    sync_both(&a, &folder);
    let v1 = a.history_ids("plan").last().unwrap().clone();
    put_at(&a, "2026-11-01T12:00:00Z", &["restore", "plan", &v1], "");
    sync_both(&a, &folder);
    sync_both(&b, &folder);

    let prune = a.sync("prune", &folder, &[]).code(0);
    assert!(prune.stdout.contains("wrote snapshot"), "{}", prune.stdout);
    assert!(
        !prune.stdout.contains("removed 0 changesets"),
        "{}",
        prune.stdout
    );

    let c = Home::new();
    let pulled = c.sync("pull", &folder, &[]).code(0);
    assert!(
        pulled.stdout.contains("after the snapshot"),
        "{}",
        pulled.stdout
    );
    assert_eq!(state_and_history(&c), state_and_history(&a));
    assert_eq!(state_and_history(&c), state_and_history(&b));
    for project in ["default", "work"] {
        let ls = |h: &Home| {
            h.run(&["ls", "--deleted", "--json", "--project", project])
                .code(0)
                .json()
        };
        assert_eq!(ls(&c), ls(&a), "{project}");
    }
    assert_eq!(c.get("plan"), "v1");
    // The newcomer is a peer like the others: it pushes, the others pull it.
    c.put("from-c", "hello");
    sync_both(&c, &folder);
    sync_both(&a, &folder);
    assert_eq!(a.get("from-c"), "hello");
    Home::new().sync("verify", &folder, &[]).code(0);
}

#[test]
fn forget_after_leaves_a_silent_peer_behind_and_it_comes_back_through_the_snapshot() {
    let (a, b, folder) = (Home::new(), Home::new(), Folder::new());
    let day = |d: u32| format!("2026-11-{d:02}T10:00:00Z");
    let sync_at = |h: &Home, sub: &str, t: &str, extra: &[&str]| {
        let mut args = vec!["sync", sub, "--remote", folder.arg()];
        args.extend_from_slice(extra);
        h.run_with(&args, b"", &[("CONTEXT_NOW", t)])
    };
    a.run_with(&["put", "one"], b"1", &[("CONTEXT_NOW", &day(1))])
        .code(0);
    sync_at(&a, "push", &day(1), &[]).code(0);
    sync_at(&b, "pull", &day(1), &[]).code(0);
    for d in 10..13 {
        a.run_with(
            &["put", &format!("d{d}")],
            b"x",
            &[("CONTEXT_NOW", &day(d))],
        )
        .code(0);
        sync_at(&a, "push", &day(d), &[]).code(0);
    }
    // B has been silent since the 1st: without --forget-after, it holds back all it has not
    // applied.
    let kept = sync_at(&a, "prune", &day(20), &[]).code(0);
    assert!(
        kept.stdout.contains("removed 1 changeset "),
        "{}",
        kept.stdout
    );
    assert!(
        kept.stdout.contains("only up to changeset 1"),
        "{}",
        kept.stdout
    );
    // Left behind when asked.
    let bad = sync_at(&a, "prune", &day(20), &["--forget-after", "soon"]).code(2);
    assert!(bad.stderr.contains("--forget-after"), "{}", bad.stderr);
    let forgot = sync_at(&a, "prune", &day(20), &["--forget-after", "7d"]).code(0);
    assert!(
        forgot.stdout.contains("left behind peer"),
        "{}",
        forgot.stdout
    );
    assert!(
        forgot.stdout.contains("removed 2 changesets"),
        "{}",
        forgot.stdout
    );
    // B wrote something while away, and comes back: the snapshot stands for what it missed,
    // and what it wrote goes out as usual.
    b.run_with(
        &["put", "from-b"],
        b"written offline",
        &[("CONTEXT_NOW", &day(15))],
    )
    .code(0);
    let back = sync_at(&b, "pull", &day(21), &[]).code(0);
    assert!(
        back.stdout.contains("after the snapshot"),
        "{}",
        back.stdout
    );
    sync_at(&b, "push", &day(21), &[]).code(0);
    sync_at(&a, "pull", &day(21), &[]).code(0);
    assert_eq!(a.get("from-b"), "written offline");
    assert_eq!(state_and_history(&b), state_and_history(&a));
}

#[test]
fn a_damaged_snapshot_is_named_and_relied_on_for_nothing() {
    let (a, b, folder) = (Home::new(), Home::new(), Folder::new());
    for i in 0..3 {
        a.put(&format!("k{i}"), "x");
        sync_both(&a, &folder);
    }
    sync_both(&b, &folder);
    a.sync("prune", &folder, &[]).code(0);
    let part = folder
        .changesets()
        .into_iter()
        .find(|p| {
            let n = p.file_name().unwrap().to_string_lossy().into_owned();
            n.starts_with("snapshot-") && n.matches('-').count() == 2
        })
        .expect("a snapshot part");
    let mut bytes = std::fs::read(&part).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 1;
    std::fs::write(&part, bytes).unwrap();
    let part_name = part.file_name().unwrap().to_string_lossy().into_owned();

    let c = Home::new();
    let refused = c.sync("pull", &folder, &[]).code(5);
    assert!(refused.stderr.contains(&part_name), "{}", refused.stderr);
    c.assert_intact();
    let verified = Home::new().sync("verify", &folder, &[]).code(5);
    assert!(verified.stdout.contains(&part_name), "{}", verified.stdout);

    // The next prune says so, writes a sound snapshot, and retires the damaged one.
    let again = a.sync("prune", &folder, &[]).code(0);
    assert!(again.stderr.contains(&part_name), "{}", again.stderr);
    assert!(again.stdout.contains("wrote snapshot"), "{}", again.stdout);
    assert!(!part.exists(), "the damaged snapshot is still there");
    let d = Home::new();
    d.sync("pull", &folder, &[]).code(0);
    assert_eq!(d.rows(), a.rows());
    Home::new().sync("verify", &folder, &[]).code(0);
}

#[test]
fn snapshot_publishes_everything_and_prune_sweeps_what_killed_writes_left() {
    let (a, folder) = (Home::new(), Folder::new());
    a.put("k", "v1");
    a.put("k", "v2");
    a.sync("push", &folder, &[]).code(0);
    let run = a.sync("snapshot", &folder, &["--json"]).code(0).json();
    assert_eq!(run["parts"], 1);
    let seal = folder.path().join(run["seal"].as_str().unwrap());
    let header = &crate::util::inspect(&seal)["header"];
    assert_eq!(header["snapshot"], true);
    assert_eq!(header["covers"][0]["seq"], 1);
    let peer = a.peer_id(&folder);
    let dir = folder.path().join(&peer);
    // A temporary file of a push killed two hours ago, one being written now, and a
    // file-sync tool's: only the first is ours to remove.
    let old = dir.join(".00000001-0000000000000009.cset.tmp-4242");
    let fresh = dir.join(".00000001-000000000000000a.cset.tmp-4243");
    let foreign = dir.join(".syncthing.00000001-0000000000000002.cset.tmp");
    for f in [&old, &fresh, &foreign] {
        std::fs::write(f, b"partial").unwrap();
    }
    let two_hours_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(7200);
    for f in [&old, &foreign] {
        std::fs::File::options()
            .write(true)
            .open(f)
            .unwrap()
            .set_modified(two_hours_ago)
            .unwrap();
    }
    let dry = a
        .sync("prune", &folder, &["--dry-run", "--json"])
        .code(0)
        .json();
    assert_eq!(dry["temporary"].as_array().unwrap().len(), 1, "{dry}");
    assert!(old.exists());
    a.sync("prune", &folder, &[]).code(0);
    assert!(!old.exists());
    assert!(fresh.exists() && foreign.exists());
}

#[test]
fn a_long_sync_shows_progress_on_a_terminal_and_nothing_otherwise() {
    let (a, folder) = (Home::new(), Folder::new());
    a.bulk_put("notes", 50, 10);
    // Under cron or a pipe: the one-line summary, no bar, no escape codes.
    let piped = a.sync("push", &folder, &[]).code(0);
    assert!(!piped.stderr.contains('\r') && !piped.stderr.contains('\x1b'));
    assert!(!piped.stdout.contains('\x1b'), "{}", piped.stdout);
    // On a terminal (util-linux `script` gives the command one): a bar that counts up.
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("skipped the terminal half: no `script` here");
        return;
    }
    let b = Home::new();
    let log = b.path().join("typescript");
    let inner = format!("{} sync pull --remote {}", crate::util::BIN, folder.arg());
    let out = Command::new("script")
        .args(["-qec", &inner, log.to_str().unwrap()])
        .env("CONTEXT_HOME", b.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let seen = String::from_utf8_lossy(&std::fs::read(&log).unwrap()).into_owned();
    assert!(seen.contains("pull ["), "{seen}");
    assert!(seen.contains("1/1 changesets"), "{seen}");
    assert!(seen.contains("pulled 50 versions"), "{seen}");
}

#[test]
fn an_interrupted_snapshot_is_ignored_then_removed() {
    let (a, folder) = (Home::new(), Folder::new());
    let t0 = "2026-11-25T10:00:00Z";
    let later = "2026-11-25T12:00:00Z";
    a.run_with(&["put", "k"], b"v", &[("CONTEXT_NOW", t0)])
        .code(0);
    let at = |t: &str, sub: &str| {
        a.run_with(
            &["sync", sub, "--remote", folder.arg()],
            b"",
            &[("CONTEXT_NOW", t)],
        )
    };
    at(t0, "push").code(0);
    let written = a
        .run_with(
            &["sync", "snapshot", "--remote", folder.arg(), "--json"],
            b"",
            &[("CONTEXT_NOW", t0)],
        )
        .code(0)
        .json();
    // Killed before the seal: the parts are there, the seal is not.
    let seal = folder.path().join(written["seal"].as_str().unwrap());
    std::fs::remove_file(&seal).unwrap();
    let verified = Home::new().sync("verify", &folder, &[]).code(0);
    assert!(
        verified.stdout.contains("without a seal"),
        "{}",
        verified.stdout
    );
    let b = Home::new();
    let pulled = b.sync("pull", &folder, &[]).code(0);
    assert!(!pulled.stdout.contains("snapshot"), "{}", pulled.stdout);
    assert_eq!(b.get("k"), "v");
    // Within the hour it may still be being written: kept. After it: removed.
    let soon = at(t0, "prune").code(0);
    assert!(soon.stdout.contains("0 snapshot files"), "{}", soon.stdout);
    let gone = at(later, "prune").code(0);
    assert!(gone.stdout.contains("1 snapshot file"), "{}", gone.stdout);
    assert!(
        !folder.changesets().iter().any(|p| p
            .to_string_lossy()
            .contains(written["seal"].as_str().unwrap().trim_end_matches(".cset"))),
        "the parts are still there"
    );
}

/// The crontab line works for a home whose path has a space and a `%`: run through `sh -c` as
/// cron runs it (cron first turns each unescaped `%` into a newline and drops the backslash
/// of an escaped one).
#[test]
fn the_crontab_line_runs_from_a_home_with_a_space_and_a_percent() {
    let parent = tempfile::tempdir().unwrap();
    let odd = parent.path().join("notes with space 100%");
    let folder = Folder::new();
    let home = |args: &[&str]| {
        let mut cmd = crate::util::bare_command(args);
        cmd.env("CONTEXT_HOME", &odd);
        crate::util::run_command(cmd, b"")
    };
    home(&["put", "k"]).code(0);
    home(&["sync", "remote", folder.arg()]).code(0);
    let line = home(&["sync", "schedule", "--every", "15m", "--cron"])
        .code(0)
        .stdout;
    let command = line.trim_end().splitn(6, ' ').nth(5).unwrap().to_string();
    // What cron does to the command field before the shell sees it.
    let mut for_shell = String::new();
    let mut chars = command.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'%') => {
                for_shell.push('%');
                chars.next();
            }
            '%' => panic!("an unescaped % would end the command: {command}"),
            c => for_shell.push(c),
        }
    }
    let out = std::process::Command::new("sh")
        .args(["-c", &for_shell])
        .env_remove("CONTEXT_HOME")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(odd.join("context.db").exists());
    let log = home(&["sync", "log", "--json"]).code(0).json();
    assert!(
        log.as_array()
            .unwrap()
            .iter()
            .any(|r| r["command"] == "push"),
        "{log}"
    );
    assert_eq!(folder.changesets().len(), 1);
    // The systemd units quote the same path for systemd, and catch up missed runs.
    let units = home(&["sync", "schedule", "--every", "15m", "--systemd"])
        .code(0)
        .stdout;
    assert!(
        units.contains(&format!(
            "Environment=\"CONTEXT_HOME={}\"",
            odd.display().to_string().replace('%', "%%")
        )),
        "{units}"
    );
    assert!(
        units.contains("OnCalendar=*:0/15\nPersistent=true"),
        "{units}"
    );
}

/// `sync log` says what each run did (a prune that wrote a snapshot and removed changesets is
/// not "nothing to do"), filters by command, count and age, and keeps runs by age: last
/// week's prune is still there however often cron ticked since.
#[test]
fn the_log_says_what_each_run_did_filters_and_keeps_by_age() {
    let (a, b, folder) = (Home::new(), Home::new(), Folder::new());
    for i in 0..3 {
        a.put(&format!("k{i}"), "v");
        sync_both(&a, &folder);
        sync_both(&b, &folder);
    }
    sync_both(&a, &folder);
    a.sync("prune", &folder, &[]).code(0);
    let text = a.ok(&["sync", "log", "--command", "prune"]);
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(
        text.contains("wrote snapshot") && text.contains("removed"),
        "{text}"
    );
    assert!(!text.contains("nothing to do"), "{text}");
    assert_eq!(a.ok(&["sync", "log", "-n", "2"]).lines().count(), 2);
    let pulls = a
        .run(&["sync", "log", "--command", "pull", "--json"])
        .code(0)
        .json();
    assert!(
        pulls
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["command"] == "pull")
    );
    a.run(&["sync", "log", "--command", "bogus"]).code(2);
    // Ages: a week of cron ticks (two runs each) after the prune.
    {
        let rt = context::runtime::Runtime::system();
        let store = context::store::Store::open(&a.db(), rt).unwrap();
        let now = store.now_ms();
        for i in 0..(7 * 96) {
            let at = now + i64::from(i) * 15 * 60_000;
            store
                .log_run(&context::store::Run {
                    command: if i % 2 == 0 { "pull" } else { "push" }.into(),
                    remote: None,
                    scenario_id: format!("tick-{i}"),
                    started_at_ms: at,
                    finished_at_ms: at,
                    exit_status: 0,
                    outcome: "ok".into(),
                    summary: "{}".into(),
                })
                .unwrap();
        }
    }
    let later = [("CONTEXT_NOW", "2099-01-01T00:00:00Z")];
    let prunes = a
        .run_with(
            &["sync", "log", "--command", "prune", "--json"],
            b"",
            &later,
        )
        .code(0)
        .json();
    assert_eq!(
        prunes.as_array().unwrap().len(),
        1,
        "last week's prune is kept"
    );
    let recent = a
        .run_with(&["sync", "log", "--since", "1d", "--json"], b"", &later)
        .code(0)
        .json();
    assert!(recent.as_array().unwrap().is_empty(), "{recent}");
}
