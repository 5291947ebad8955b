//! What a person met on the second day (issue 29's smaller things), each pinned: `-q` keeps a
//! command's result, a DURATION is bounded and an error names what was typed, counts agree
//! with their nouns, and a home given as a relative path or a file is refused with a reason.

use crate::util::{Folder, Home, bare_command, inspect, run_command};

#[test]
fn quiet_keeps_a_commands_result_and_silences_only_reports() {
    let (home, folder) = (Home::new(), Folder::new());
    let put = home.run_with(&["-q", "put", "k"], b"body", &[]).code(0);
    assert_eq!(
        put.stdout.trim().len(),
        36,
        "the version id: {:?}",
        put.stdout
    );
    assert_eq!(home.run(&["-q", "get", "k"]).code(0).stdout, "body");
    let pushed = home
        .run(&["-q", "sync", "push", "--remote", folder.arg()])
        .code(0);
    assert_eq!(pushed.stdout, "", "a sync's summary is a report");
    let key_line = home.run(&["-q", "sync", "schedule", "--cron"]).code(0);
    assert!(
        key_line.stdout.contains("sync --wait 120"),
        "a result asked for"
    );
}

#[test]
fn durations_are_bounded_and_errors_name_what_was_typed() {
    let home = Home::new();
    let ttl = home
        .run_with(&["put", "k", "--ttl", "1000000w"], b"x", &[])
        .code(2);
    assert!(ttl.stderr.contains("100 years"), "{}", ttl.stderr);
    let every = home.run(&["sync", "schedule", "--every", "7m"]).code(2);
    assert!(every.stderr.contains("\"7m\""), "{}", every.stderr);
    assert!(!every.stderr.contains("420s"), "{}", every.stderr);
}

#[test]
fn counts_agree_with_their_nouns() {
    let (home, folder) = (Home::new(), Folder::new());
    home.put("one", "1");
    home.sync("push", &folder, &[]).code(0);
    let file = folder.changesets().pop().unwrap();
    let run = home
        .run(&["sync", "inspect", file.to_str().unwrap()])
        .code(0);
    assert!(
        run.stdout.contains("1 version, 0 tombstones"),
        "{}",
        run.stdout
    );
    assert_eq!(inspect(&file)["header"]["versions"], 1);
}

#[test]
fn a_relative_home_or_one_naming_a_file_is_refused_with_why() {
    let relative = run_command(
        {
            let mut cmd = bare_command(&["ls"]);
            cmd.env("CONTEXT_HOME", "notes/home");
            cmd
        },
        b"",
    );
    assert_eq!(relative.code, 1, "{relative:?}");
    assert!(relative.stderr.contains("absolute"), "{}", relative.stderr);
    let file = tempfile::NamedTempFile::new().unwrap();
    for args in [&["ls"][..], &["put", "k"]] {
        let run = run_command(
            {
                let mut cmd = bare_command(args);
                cmd.env("CONTEXT_HOME", file.path());
                cmd
            },
            b"x",
        );
        assert_eq!(run.code, 1, "{args:?}: {run:?}");
        assert!(run.stderr.contains("names a file"), "{}", run.stderr);
    }
}

/// `sync --json` that fails still gives a script a JSON object on stdout.
#[test]
fn sync_json_with_a_bad_remote_prints_a_json_error() {
    let home = Home::new();
    home.put("k", "v");
    let run = home
        .run(&["sync", "--remote", "/nonexistent/remote", "--json"])
        .code(1);
    let v = run.json();
    assert_eq!(v["error"]["exit_status"], 1, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("/nonexistent/remote"),
        "{v}"
    );
    assert!(v["pull"].is_null() && v["push"].is_null(), "{v}");
}

/// A version is found by what a person types from `history`'s short form, its beginning too;
/// an unknown one is told with the forms that exist.
#[test]
fn a_version_is_found_by_the_beginning_of_its_short_form() {
    let home = Home::new();
    for body in ["one", "two", "three"] {
        home.put("k", body);
    }
    let history = home.run(&["history", "k", "--json"]).code(0).json();
    let ids: Vec<String> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["id"].as_str().unwrap().replace('-', ""))
        .collect();
    // history shows the last 8 hex digits; a person types the first 4 of those.
    let shown = &ids[2][ids[2].len() - 8..];
    assert!(
        home.run(&["history", "k"]).code(0).stdout.contains(shown),
        "history shows {shown}"
    );
    let typed = &shown[..4];
    let got = home.run(&["get", "k", "--version", typed]).code(0);
    assert_eq!(got.stdout, "one");
    let unknown = home.run(&["get", "k", "--version", "zzzz"]).code(1);
    assert!(unknown.stderr.contains(shown), "{}", unknown.stderr);
}

/// `-v` and `-q` are shown apart from a command's own options.
#[test]
fn global_flags_are_listed_apart_from_a_commands_own() {
    let help = Home::new().run(&["put", "--help"]).code(0).stdout;
    let (own, global) = help
        .split_once("Global options:")
        .expect("a Global options section");
    assert!(
        !own.contains("--quiet") && !own.contains("--verbose"),
        "{own}"
    );
    assert!(
        global.contains("--quiet") && global.contains("--verbose"),
        "{global}"
    );
}

/// The `peer` column of `history --json` entries, newest first, as names (`host`).
fn writers(home: &Home, key: &str) -> Vec<String> {
    let h = home.run(&["history", key, "--json"]).code(0).json();
    h.as_array()
        .unwrap()
        .iter()
        .map(|v| v["host"].as_str().unwrap_or("<none>").to_string())
        .collect()
}

#[test]
fn a_machines_name_is_fixed_at_first_use_and_changed_only_by_sync_name() {
    let folder = Folder::new();
    let laptop = Home::new().with_env("CONTEXT_HOST", "laptop");
    let desktop = Home::new().with_env("CONTEXT_HOST", "desktop");
    laptop.put("plan", "one\n");
    laptop.sync("push", &folder, &[]).code(0);
    // A run under another host name (a container, a VPN) renames nothing.
    laptop
        .run_with(
            &["put", "plan"],
            b"two\n",
            &[("CONTEXT_HOST", "ci-runner-7")],
        )
        .code(0);
    laptop.sync("push", &folder, &[]).code(0);
    assert_eq!(laptop.ok(&["sync", "name"]), "laptop\n");
    assert_eq!(writers(&laptop, "plan"), ["laptop", "laptop"]);
    desktop.sync("pull", &folder, &[]).code(0);
    assert_eq!(writers(&desktop, "plan"), ["laptop", "laptop"]);

    // `sync name NAME` renames it here, and the next sync tells every peer.
    assert_eq!(laptop.ok(&["sync", "name", "work-laptop"]), "work-laptop\n");
    assert_eq!(writers(&laptop, "plan"), ["work-laptop", "work-laptop"]);
    laptop.sync("push", &folder, &[]).code(0);
    desktop.sync("pull", &folder, &[]).code(0);
    assert_eq!(writers(&desktop, "plan"), ["work-laptop", "work-laptop"]);
    let verify = desktop.sync("verify", &folder, &["--json"]).code(0).json();
    let mut hosts: Vec<&str> = verify["peers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["host"].as_str().unwrap_or("<null>"))
        .collect();
    hosts.sort();
    assert_eq!(hosts, ["work-laptop"]);
    // A name that could not be shown is refused.
    laptop.run(&["sync", "name", "two\nlines"]).code(1);
    assert_eq!(laptop.ok(&["sync", "name"]), "work-laptop\n");
}

#[test]
fn a_home_that_starts_from_a_snapshot_knows_every_writers_name() {
    let folder = Folder::new();
    let laptop = Home::new().with_env("CONTEXT_HOST", "laptop");
    let desktop = Home::new().with_env("CONTEXT_HOST", "desktop");
    // Two changesets in each stream, every one applied by both: the first of each is pruned.
    for body in ["one\n", "two\n"] {
        laptop.put("plan", body);
        laptop.sync("push", &folder, &[]).code(0);
    }
    desktop.sync("pull", &folder, &[]).code(0);
    for body in ["n\n", "m\n"] {
        desktop.put("notes", body);
        desktop.sync("push", &folder, &[]).code(0);
    }
    laptop.sync("pull", &folder, &[]).code(0);
    desktop.sync("pull", &folder, &[]).code(0);
    desktop.sync("snapshot", &folder, &[]).code(0);
    desktop.sync("prune", &folder, &[]).code(0);
    // The laptop left long ago: its manifest is gone, only the snapshot names it.
    let laptop_peer = laptop.peer_id(&folder);
    std::fs::remove_file(folder.path().join(&laptop_peer).join("manifest.json")).unwrap();
    let server = Home::new().with_env("CONTEXT_HOST", "server");
    let pulled = server.sync("pull", &folder, &["--json"]).code(0).json();
    assert!(
        !pulled["bootstrapped_from"].as_array().unwrap().is_empty(),
        "{pulled}"
    );
    assert_eq!(writers(&server, "plan"), ["laptop", "laptop"]);
    assert_eq!(writers(&server, "notes"), ["desktop", "desktop"]);
}

#[test]
fn mv_renames_with_history_reachable_and_syncs_as_one_change() {
    let folder = Folder::new();
    let laptop = Home::new().with_env("CONTEXT_HOST", "laptop");
    let desktop = Home::new().with_env("CONTEXT_HOST", "desktop");
    let body = "a long plan\n".repeat(2000);
    let first = laptop.put("plan/q1", "draft\n");
    let second = laptop.put("plan/q1", &body);
    laptop.sync("push", &folder, &[]).code(0);
    desktop.sync("pull", &folder, &[]).code(0);

    let moved = laptop.ok(&["mv", "plan/q1", "plan/2027-q1"]);
    let moved = moved.trim();
    assert_eq!(laptop.get("plan/2027-q1"), body);
    assert!(
        laptop
            .run(&["get", "plan/q1"])
            .code(1)
            .stderr
            .contains("deleted")
    );
    // The new key's history reaches the old one's.
    let history = laptop
        .run(&["history", "plan/2027-q1", "--json"])
        .code(0)
        .json();
    let seen: Vec<(&str, &str)> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["key"].as_str().unwrap(), v["id"].as_str().unwrap()))
        .collect();
    assert_eq!(
        seen,
        [
            ("plan/2027-q1", moved),
            ("plan/q1", second.as_str()),
            ("plan/q1", first.as_str())
        ]
    );
    let text = laptop.ok(&["history", "plan/2027-q1"]);
    assert!(text.contains("renamed from plan/q1:"), "{text}");

    // One push, one small changeset (the body travels as a delta against the old key's).
    let pushed = laptop.sync("push", &folder, &["--json"]).code(0).json();
    assert_eq!(pushed["changesets"], 1, "{pushed}");
    let file = folder
        .path()
        .join(pushed["published"][0]["file"].as_str().unwrap());
    let size = std::fs::metadata(&file).unwrap().len();
    assert!(size < 1000, "{size} bytes for a rename of a 24 KB document");
    desktop.sync("pull", &folder, &[]).code(0);
    assert_eq!(desktop.get("plan/2027-q1"), body);
    assert!(
        desktop
            .run(&["get", "plan/q1"])
            .code(1)
            .stderr
            .contains("deleted")
    );
    let there = desktop
        .run(&["history", "plan/2027-q1", "--json"])
        .code(0)
        .json();
    assert_eq!(there.as_array().unwrap().len(), 3);

    // A key that ever had a version is not a rename's target; a missing source is named.
    laptop.put("other", "x\n");
    let taken = laptop.run(&["mv", "other", "plan/q1"]).code(1);
    assert!(
        taken.stderr.contains("already has a history"),
        "{}",
        taken.stderr
    );
    let missing = laptop.run(&["mv", "nothing", "new"]).code(1);
    assert!(missing.stderr.contains("\"nothing\""), "{}", missing.stderr);
}

#[test]
fn search_finds_current_versions_by_their_words_as_grep_would() {
    let folder = Folder::new();
    let (a, b) = (Home::new(), Home::new());
    a.put(
        "research/sync",
        "Litestream ships WAL segments.\nWe ship changesets.\n",
    );
    a.put(
        "plan/q1",
        "First: background sync.\nThen: encrypted remotes.\n",
    );
    a.put("plan/q1", "First: encrypted remotes.\n");
    a.put("gone", "Litestream too\n");
    a.ok(&["rm", "gone"]);
    a.run_with(&["put", "blob"], b"litestream\0binary", &[])
        .code(0);
    a.run_with(
        &["put", "elsewhere", "--project", "work"],
        b"litestream at work\n",
        &[],
    )
    .code(0);

    // Words in any case and order; the first matching line shown.
    let hits = a.run(&["search", "wal", "LITESTREAM"]).code(0);
    assert_eq!(
        hits.stdout,
        "research/sync: Litestream ships WAL segments.\n"
    );
    // Only current versions; --all-versions finds the older one too.
    a.run(&["search", "background"]).code(1);
    let all = a.run(&["search", "background", "--all-versions"]).code(0);
    assert!(all.stdout.starts_with("plan/q1@"), "{}", all.stdout);
    assert!(
        all.stdout.contains("First: background sync."),
        "{}",
        all.stdout
    );
    // The project's own documents; a prefix with `*`; words that look like syntax are words.
    let work = a
        .run(&["search", "litestream", "--project", "work", "--json"])
        .code(0)
        .json();
    assert_eq!(work[0]["key"], "elsewhere");
    assert_eq!(work[0]["current"], true);
    a.run(&["search", "encrypt*"]).code(0);
    a.run(&["search", "AND", "(", "NOT"]).code(1);
    // Nothing matches: exit 1, nothing on stdout; `[]` with --json.
    let none = a.run(&["search", "nowhere"]).code(1);
    assert_eq!(none.stdout, "");
    assert_eq!(
        a.run(&["search", "nowhere", "--json"])
            .code(1)
            .stdout
            .trim(),
        "[]"
    );

    // What a pull imports is found on the other machine.
    a.sync("push", &folder, &[]).code(0);
    b.sync("pull", &folder, &[]).code(0);
    assert_eq!(
        b.run(&["search", "changesets"]).code(0).stdout,
        "research/sync: We ship changesets.\n"
    );

    // A home from before search is indexed by its migration.
    let old = Home::new();
    std::fs::copy("fixtures/db/schema-1.db", old.db()).unwrap();
    let found = old.run(&["search", "draft"]).code(0);
    assert_eq!(found.stdout, "research/background-sync: second draft\n");
}

/// What bash offers for `context WORDS...` with the cursor at the end, through the script
/// `context completions bash` prints (the real function, the real binary on PATH).
fn bash_offers(home: &Home, words: &[&str]) -> Vec<String> {
    let script = home.path().join("completion.bash");
    std::fs::write(&script, home.ok(&["completions", "bash"])).unwrap();
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let bin_dir = std::path::Path::new(crate::util::BIN).parent().unwrap();
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!(
            "source '{}'; COMP_WORDS=(context {}); COMP_CWORD={}; COMP_LINE=\"${{COMP_WORDS[*]}}\"; \
             COMP_POINT=${{#COMP_LINE}}; _context_keys context; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            script.display(),
            quoted.join(" "),
            words.len()
        ))
        .env("CONTEXT_HOME", home.path())
        .env("CONTEXT_AUTO_SYNC", "0")
        .env(
            "PATH",
            format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap_or_default()),
        )
        .output()
        .unwrap();
    let mut offered: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect();
    offered.sort();
    offered
}

#[test]
fn completions_offer_document_keys_where_a_command_takes_one() {
    let home = Home::new();
    home.put("plan/q1", "a\n");
    home.put("plan/q2", "b\n");
    home.put("notes/today", "c\n");
    home.run_with(&["put", "x/elsewhere", "--project", "work"], b"d\n", &[])
        .code(0);
    assert_eq!(bash_offers(&home, &["get", "pl"]), ["plan/q1", "plan/q2"]);
    assert_eq!(bash_offers(&home, &["history", "no"]), ["notes/today"]);
    assert_eq!(
        bash_offers(&home, &["get", "--project", "work", ""]),
        ["x/elsewhere"]
    );
    // Flags are still completed as before, and a flag's value is not taken for a key.
    assert!(bash_offers(&home, &["get", "--"]).contains(&"--version".to_string()));
    assert!(!bash_offers(&home, &["put", "--file", "pl"]).contains(&"plan/q1".to_string()));

    // zsh and fish ask the store the same way.
    let zsh = home.ok(&["completions", "zsh"]);
    assert!(
        zsh.contains(":_context_keys'"),
        "no key argument hooked in zsh"
    );
    assert!(zsh.contains("_context_keys() {"), "{zsh}");
    let fish = home.ok(&["completions", "fish"]);
    assert!(
        fish.contains(
            "__fish_seen_subcommand_from get put edit rm history restore diff mv resolve"
        ),
        "{fish}"
    );
}

#[test]
fn an_s3_endpoint_that_never_answers_is_said_so_in_words() {
    // A server that takes the connection and never says a word.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in listener.incoming().flatten() {
            held.push(conn);
        }
    });
    let home = Home::new();
    home.put("k", "v\n");
    let endpoint = format!("http://{addr}");
    let run = home
        .run_with(
            &["sync", "push", "--remote", "s3://bucket"],
            b"",
            &[
                ("AWS_ENDPOINT_URL", endpoint.as_str()),
                ("AWS_ALLOW_HTTP", "true"),
                ("AWS_ACCESS_KEY_ID", "id"),
                ("AWS_SECRET_ACCESS_KEY", "secret"),
                ("AWS_REGION", "us-east-1"),
                ("CONTEXT_REQUEST_TIMEOUT", "1s"),
                ("CONTEXT_RETRY_BUDGET", "0s"),
            ],
        )
        .code(1);
    assert!(
        run.stderr.contains("no complete answer within 1s"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("CONTEXT_REQUEST_TIMEOUT"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("timeout: global"), "{}", run.stderr);
}

#[test]
fn key_import_on_a_terminal_says_what_it_waits_for() {
    let (a, b, folder) = (Home::new(), Home::new(), Folder::new());
    a.run(&["sync", "init", "--encrypt", "--remote", folder.arg()])
        .code(0);
    let line = a.ok(&["sync", "key", "export", "--remote", folder.arg()]);
    // `script` runs the import on a real terminal and types the line into it, then Ctrl-D.
    let command = format!(
        "{} sync key import --remote {}",
        crate::util::BIN,
        folder.arg()
    );
    let mut child = std::process::Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env("CONTEXT_HOME", b.path())
        .env("CONTEXT_AUTO_SYNC", "0")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(500));
        stdin.write_all(line.trim().as_bytes()).unwrap();
        stdin.write_all(b"\n\x04").unwrap();
    }
    let out = child.wait_with_output().unwrap();
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(
        shown.contains("paste the line `context sync key export` printed"),
        "{shown}"
    );
    assert!(out.status.success(), "{shown}");
    // The key was kept: this home reads the encrypted remote now.
    b.sync("pull", &folder, &[]).code(0);
}

#[test]
fn two_machines_of_one_name_are_told_apart_in_status() {
    let folder = Folder::new();
    let a = Home::new().with_env("CONTEXT_HOST", "box");
    let b = Home::new().with_env("CONTEXT_HOST", "box");
    a.put("k", "a\n");
    a.sync("push", &folder, &[]).code(0);
    b.sync("pull", &folder, &[]).code(0);
    b.put("j", "b\n");
    b.sync("push", &folder, &[]).code(0);
    let a_peer = a.peer_id(&folder);
    let status = b.sync("status", &folder, &[]).code(0).stdout;
    assert!(
        status.contains(&format!("peer seen box ({})", &a_peer[..8])),
        "{status}"
    );
}
