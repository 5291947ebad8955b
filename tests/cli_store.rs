//! The store commands of the contract, flag by flag, through the real binary.

use std::io::Read;
use std::process::Stdio;

use crate::util::{Home, T0, at, bare_command};

#[test]
fn put_prints_a_version_id_and_get_prints_the_body() {
    let home = Home::new();
    let id = home.put("research/background-sync", "first draft\n");
    let uuid = uuid::Uuid::parse_str(&id).expect("a UUID");
    assert_eq!(uuid.get_version_num(), 7, "version ids are UUID v7");
    assert_eq!(home.get("research/background-sync"), "first draft\n");
    assert!(home.db().exists(), "the database lives in the home");
}

#[test]
fn put_reads_a_file_and_keeps_bytes_exactly() {
    let home = Home::new();
    let file = home.path().join("note.bin");
    let body: Vec<u8> = (0u8..=255).chain(b"\r\n\0tail".iter().copied()).collect();
    std::fs::write(&file, &body).unwrap();
    home.run(&["put", "blob", "--file", file.to_str().unwrap()])
        .code(0);
    let got = home.run(&["get", "blob"]).code(0);
    assert_eq!(got.raw_stdout, body);
}

#[test]
fn put_of_a_missing_file_names_it_and_writes_nothing() {
    let home = Home::new();
    let run = home
        .run(&["put", "k", "--file", "/nonexistent/note.md"])
        .code(1);
    assert!(
        run.stderr.contains("/nonexistent/note.md"),
        "{}",
        run.stderr
    );
    home.run(&["get", "k"]).code(1);
}

#[test]
fn every_write_is_a_new_version_and_history_is_newest_first() {
    let home = Home::new();
    let a = home.put("k", "one");
    let b = home.put("k", "two");
    let c = home.put("k", "three");
    assert_eq!(home.get("k"), "three");
    let history = home.run(&["history", "k", "--json"]).code(0).json();
    let list = history.as_array().unwrap();
    let ids: Vec<&str> = list.iter().map(|v| v["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [c.as_str(), b.as_str(), a.as_str()]);
    let parents: Vec<Option<&str>> = list.iter().map(|v| v["parent"].as_str()).collect();
    assert_eq!(parents, [Some(b.as_str()), Some(a.as_str()), None]);
    for v in list {
        assert_eq!(v["kind"], "version");
        assert_eq!(v["peer"].as_str().unwrap().len(), 36);
        assert!(v["created_at"].as_str().unwrap().ends_with('Z'));
        assert!(v["size"].as_u64().is_some());
    }
    // The human table names every version too, by the end of its id.
    let table = home.ok(&["history", "k"]);
    for id in [&a, &b, &c] {
        let short = &id.replace('-', "")[24..];
        assert!(table.contains(short), "{table}");
    }
}

#[test]
fn history_reads_in_local_time_with_short_ids_and_machine_names_in_100_columns() {
    let home = Home::new().with_env("CONTEXT_HOST", "a-laptop-with-a-long-name");
    let now = [("CONTEXT_NOW", "2026-11-26T09:00:00Z")];
    // Written in the same millisecond: v7 ids that share their beginning.
    let a = home.run_with(&["put", "k"], b"one", &now).code(0).stdout;
    let b = home
        .run_with(&["put", "k", "--ttl", "1d"], b"two", &now)
        .code(0)
        .stdout;
    let (a, b) = (a.trim(), b.trim());
    assert_eq!(a[..13], b[..13], "same time prefix");
    let utc = home
        .run_with(&["history", "k"], b"", &[("TZ", "UTC")])
        .code(0)
        .stdout;
    let tokyo = home
        .run_with(&["history", "k"], b"", &[("TZ", "JST-9")])
        .code(0)
        .stdout;
    assert!(utc.contains("2026-11-26 09:00:00"), "{utc}");
    assert!(tokyo.contains("2026-11-26 18:00:00"), "{tokyo}");
    assert!(tokyo.contains("exp 11-27 18:00"), "{tokyo}");
    assert!(
        utc.contains("a-laptop-wi "),
        "the machine, cut to its column: {utc}"
    );
    let json = home
        .run_with(&["history", "k", "--json"], b"", &[("TZ", "JST-9")])
        .code(0)
        .json();
    let peer = json[0]["peer"].as_str().unwrap();
    assert!(!utc.contains(peer), "no peer id without -v");
    let verbose = home
        .run_with(&["-v", "history", "k"], b"", &[("TZ", "UTC")])
        .code(0)
        .stdout;
    assert!(verbose.contains(&format!("peer {peer}")), "{verbose}");
    for line in utc.lines() {
        assert!(
            line.chars().count() <= 100,
            "{} columns: {line}",
            line.len()
        );
    }
    // JSON stays UTC RFC 3339.
    assert_eq!(json[0]["created_at"], "2026-11-26T09:00:00.000Z");
    // The short form the table shows is what commands take.
    let row = utc
        .lines()
        .find(|l| l.contains("2  -") || l.ends_with("  -"))
        .unwrap();
    let short = row.split_whitespace().next().unwrap();
    assert_eq!(short.len(), 8, "{utc}");
    assert!(a.replace('-', "").ends_with(short));
    assert_eq!(home.ok(&["get", "k", "--version", short]), "one");
    home.ok(&["restore", "k", short]);
    assert_eq!(home.get("k"), "one");
    // A prefix both ids share is ambiguous, and says so.
    let run = home.run(&["get", "k", "--version", &a[..8]]).code(1);
    assert!(run.stderr.contains("ambiguous"), "{}", run.stderr);
}

#[test]
fn get_version_reads_an_old_body_by_full_id_or_unique_prefix() {
    let home = Home::new();
    let old = home.put("k", "old body");
    home.put("k", "new body");
    assert_eq!(home.ok(&["get", "k", "--version", &old]), "old body");
    // The random tail of a UUID v7 makes a long enough prefix unique.
    let prefix: String = old.chars().take(30).collect();
    assert_eq!(home.ok(&["get", "k", "--version", &prefix]), "old body");
    let run = home.run(&["get", "k", "--version", "ffffffff"]).code(1);
    assert!(run.stderr.contains("ffffffff"), "{}", run.stderr);
}

#[test]
fn missing_key_exits_1_with_a_message() {
    let home = Home::new();
    home.put("other", "x");
    let run = home.run(&["get", "nothing/here"]).code(1);
    assert!(run.stdout.is_empty());
    assert!(run.stderr.contains("nothing/here"), "{}", run.stderr);
    home.run(&["history", "nothing/here"]).code(1);
    home.run(&["rm", "nothing/here"]).code(1);
}

#[test]
fn rm_writes_a_tombstone_and_keeps_history() {
    let home = Home::new();
    let v = home.put("k", "body");
    let tomb = home.ok(&["rm", "k"]).trim().to_string();
    let run = home.run(&["get", "k"]).code(1);
    assert!(run.stderr.contains("deleted"), "{}", run.stderr);
    let history = home.run(&["history", "k", "--json"]).code(0).json();
    assert_eq!(history[0]["id"], tomb.as_str());
    assert_eq!(history[0]["kind"], "tombstone");
    assert_eq!(history[0]["parent"], v.as_str());
    assert_eq!(history[1]["kind"], "version");
    // The old body is still readable, and a second rm says it is already gone.
    assert_eq!(home.ok(&["get", "k", "--version", &v]), "body");
    home.run(&["rm", "k"]).code(1);
    let run = home.run(&["get", "k", "--version", &tomb]).code(1);
    assert!(run.stderr.contains("tombstone"), "{}", run.stderr);
}

#[test]
fn restore_brings_an_overwritten_body_back_as_a_new_version() {
    let home = Home::new();
    let good = home.put("plan/q1", "the careful plan");
    let bad = home.put("plan/q1", "accidentally overwritten");
    let restored = home.ok(&["restore", "plan/q1", &good]).trim().to_string();
    assert_ne!(restored, good, "a restore is a new version, not a rewind");
    assert_eq!(home.get("plan/q1"), "the careful plan");
    assert_eq!(
        home.history_ids("plan/q1"),
        [restored.as_str(), &bad, &good]
    );
    let history = home.run(&["history", "plan/q1", "--json"]).code(0).json();
    assert_eq!(history[0]["parent"], bad.as_str());
}

#[test]
fn restore_undoes_a_delete_and_refuses_unknown_versions() {
    let home = Home::new();
    let v = home.put("k", "keep me");
    home.ok(&["rm", "k"]);
    home.ok(&["restore", "k", &v]);
    assert_eq!(home.get("k"), "keep me");
    home.run(&["restore", "k", "00000000-0000-7000-8000-000000000000"])
        .code(1);
}

#[test]
fn ls_lists_live_keys_by_prefix_and_deleted_ones_on_request() {
    let home = Home::new();
    home.put("research/a", "1");
    home.put("research/b", "2");
    home.put("plan/a", "3");
    home.ok(&["rm", "research/b"]);
    assert_eq!(home.ok(&["ls"]), "plan/a\nresearch/a\n");
    assert_eq!(home.ok(&["ls", "research/"]), "research/a\n");
    assert_eq!(
        home.ok(&["ls", "research/", "--deleted"]),
        "research/a\nresearch/b (deleted)\n"
    );
    let json = home.run(&["ls", "--deleted", "--json"]).code(0).json();
    let list = json.as_array().unwrap();
    assert_eq!(list.len(), 3);
    for e in list {
        assert_eq!(e["project"], "default");
        assert!(e["key"].is_string());
    }
    assert_eq!(list[2]["key"], "research/b");
    assert_eq!(list[2]["state"], "deleted");
    // An empty listing is valid JSON too.
    let empty = home.run(&["ls", "nothing/", "--json"]).code(0).json();
    assert_eq!(empty, serde_json::json!([]));
}

#[test]
fn projects_are_separate_and_chosen_by_flag_then_env_then_default() {
    let home = Home::new();
    home.run_with(&["put", "k", "--project", "work"], b"from flag", &[])
        .code(0);
    home.run_with(&["put", "k"], b"from env", &[("CONTEXT_PROJECT", "home")])
        .code(0);
    home.run_with(&["put", "k"], b"default", &[]).code(0);
    assert_eq!(home.ok(&["get", "k", "--project", "work"]), "from flag");
    assert_eq!(
        home.run_with(&["get", "k"], b"", &[("CONTEXT_PROJECT", "home")])
            .code(0)
            .stdout,
        "from env"
    );
    // The flag wins over the environment.
    assert_eq!(
        home.run_with(
            &["get", "k", "--project", "work"],
            b"",
            &[("CONTEXT_PROJECT", "home")]
        )
        .code(0)
        .stdout,
        "from flag"
    );
    assert_eq!(home.get("k"), "default");
    let json = home
        .run(&["ls", "--project", "work", "--json"])
        .code(0)
        .json();
    assert_eq!(json[0]["project"], "work");
    let history = home
        .run(&["history", "k", "--project", "work", "--json"])
        .code(0)
        .json();
    let work_version = history[0]["id"].as_str().unwrap().to_string();
    home.run(&["rm", "k", "--project", "work"]).code(0);
    home.run(&["get", "k", "--project", "work"]).code(1);
    // A version of one project is not found from another; restore takes --project too.
    home.run(&["restore", "k", &work_version]).code(1);
    home.run(&["restore", "k", &work_version, "--project", "work"])
        .code(0);
    assert_eq!(home.ok(&["get", "k", "--project", "work"]), "from flag");
    assert_eq!(
        home.get("k"),
        "default",
        "rm in one project leaves the others"
    );
}

#[test]
fn ttl_expires_at_the_writers_time_plus_the_duration() {
    let home = Home::new();
    home.run_with(&["put", "tmp", "--ttl", "1h"], b"short-lived", &at(T0))
        .code(0);
    assert_eq!(
        home.run_with(&["get", "tmp"], b"", &at("2026-11-25T10:59:59Z"))
            .code(0)
            .stdout,
        "short-lived"
    );
    let run = home
        .run_with(&["get", "tmp"], b"", &at("2026-11-25T11:00:00Z"))
        .code(1);
    assert!(run.stderr.contains("expired"), "{}", run.stderr);
    let ls = home
        .run_with(&["ls"], b"", &at("2026-11-25T11:00:00Z"))
        .code(0);
    assert_eq!(ls.stdout, "");
    let ls = home
        .run_with(
            &["ls", "--deleted", "--json"],
            b"",
            &at("2026-11-25T11:00:00Z"),
        )
        .code(0)
        .json();
    assert_eq!(ls[0]["state"], "expired");
    assert_eq!(ls[0]["expires_at"], "2026-11-25T11:00:00.000Z");
    let history = home.run(&["history", "tmp", "--json"]).code(0).json();
    assert_eq!(history[0]["expires_at"], "2026-11-25T11:00:00.000Z");
    // A new put brings the key back without a TTL.
    home.run_with(&["put", "tmp"], b"again", &at("2026-11-25T12:00:00Z"))
        .code(0);
    assert_eq!(
        home.run_with(&["get", "tmp"], b"", &at("2030-01-01T00:00:00Z"))
            .code(0)
            .stdout,
        "again"
    );
}

#[test]
fn every_duration_unit_is_accepted() {
    let home = Home::new();
    for (ttl, expiry) in [
        ("30s", "2026-11-25T10:00:30.000Z"),
        ("15m", "2026-11-25T10:15:00.000Z"),
        ("12h", "2026-11-25T22:00:00.000Z"),
        ("7d", "2026-12-02T10:00:00.000Z"),
        ("2w", "2026-12-09T10:00:00.000Z"),
        ("1h30m", "2026-11-25T11:30:00.000Z"),
    ] {
        home.run_with(&["put", ttl, "--ttl", ttl], b"x", &[("CONTEXT_NOW", T0)])
            .code(0);
        let history = home.run(&["history", ttl, "--json"]).code(0).json();
        assert_eq!(history[0]["expires_at"], expiry, "--ttl {ttl}");
    }
}

#[test]
fn a_bad_duration_is_a_usage_error_naming_the_value_and_writes_nothing() {
    let home = Home::new();
    for bad in ["7y", "soon", "forever", "0s", "-5m", "30m1h"] {
        let run = home
            .run_with(&["put", "k", "--ttl", bad], b"x", &[])
            .code(2);
        assert!(run.stderr.contains(bad), "{}", run.stderr);
    }
    home.run(&["get", "k"]).code(1);
}

#[test]
fn usage_errors_exit_2() {
    let home = Home::new();
    home.run(&["put", "k", "--bogus"]).code(2);
    home.run(&["ls", "--nope"]).code(2);
    home.run(&["frobnicate"]).code(2);
    home.run(&["get"]).code(2);
    home.run(&["restore", "k"]).code(2);
    home.run(&["--help"]).code(0);
}

#[test]
fn invalid_keys_are_refused_with_exit_1() {
    let home = Home::new();
    for key in ["", " padded", "line\nbreak"] {
        let run = home.run_with(&["put", key], b"x", &[]).code(1);
        assert!(run.stderr.contains("invalid key"), "{}", run.stderr);
    }
}

#[test]
fn home_falls_back_to_xdg_data_home_then_home() {
    let base = tempfile::tempdir().unwrap();
    let xdg = base.path().join("xdg");
    let mut cmd = bare_command(&["put", "k"]);
    cmd.env("XDG_DATA_HOME", &xdg)
        .env("HOME", base.path().join("h"));
    crate::util::run_command(cmd, b"xdg").code(0);
    assert!(xdg.join("context").join("context.db").exists());

    let mut cmd = bare_command(&["put", "k"]);
    cmd.env("HOME", base.path().join("h"));
    crate::util::run_command(cmd, b"home").code(0);
    assert!(
        base.path()
            .join("h/.local/share/context/context.db")
            .exists()
    );
}

#[test]
fn database_is_in_wal_mode() {
    let home = Home::new();
    home.put("k", "v");
    let conn = rusqlite::Connection::open(home.db()).unwrap();
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

#[test]
fn a_closed_stdout_exits_quietly() {
    let home = Home::new();
    let body = "line\n".repeat(400_000);
    home.put("big", &body);
    let mut child = home
        .command(&["get", "big"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 5];
    child.stdout.take().unwrap().read_exact(&mut first).unwrap();
    // The read end is dropped here, as `| head -1` does.
    let out = child.wait_with_output().unwrap();
    assert_eq!(&first, b"line\n");
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
}

/// Commands that only read never create a home or a peer identity (a typo in CONTEXT_HOME
/// must not start a new, empty store): they see an empty store and say so on stderr.
#[test]
fn read_only_commands_create_nothing() {
    let parent = tempfile::tempdir().unwrap();
    let typo = parent.path().join("no-such-home");
    let folder = crate::util::Folder::new();
    let run = |args: &[&str]| {
        let mut cmd = bare_command(args);
        cmd.env("CONTEXT_HOME", &typo);
        crate::util::run_command(cmd, b"")
    };
    let ls = run(&["ls", "--json"]).code(0);
    assert_eq!(ls.json(), serde_json::json!([]));
    assert!(ls.stderr.contains("no home at"), "{}", ls.stderr);
    run(&["get", "k"]).code(1);
    assert_eq!(
        run(&["history", "k", "--json"]).code,
        run(&["history", "k"]).code
    );
    assert_eq!(
        run(&["sync", "log", "--json"]).code(0).json(),
        serde_json::json!([])
    );
    let status = run(&["sync", "status", "--remote", folder.arg(), "--json"]).code(0);
    assert_eq!(status.json()["ahead"], 0);
    assert!(!typo.exists(), "a read-only command made the home");
    // A command that writes makes it.
    crate::util::run_command(
        {
            let mut cmd = bare_command(&["put", "k"]);
            cmd.env("CONTEXT_HOME", &typo);
            cmd
        },
        b"v",
    )
    .code(0);
    assert!(typo.join("context.db").exists());
    let again = run(&["ls"]).code(0);
    assert!(!again.stderr.contains("no home"), "{}", again.stderr);
}

/// `context projects` lists the projects with their document counts; `ls` of a project that
/// does not exist says so on stderr (a typo in --project is not an empty project). The host
/// name comes from the operating system, as `hostname` prints it.
#[test]
fn projects_are_listed_and_an_unknown_one_is_named() {
    let home = Home::new();
    home.put("a", "1");
    home.put("b", "2");
    home.run_with(&["put", "p", "--project", "work"], b"w", &[])
        .code(0);
    home.run(&["rm", "p", "--project", "work"]).code(0);
    let list = home.run(&["projects", "--json"]).code(0).json();
    assert_eq!(
        list,
        serde_json::json!([
            {"project": "default", "documents": 2, "deleted": 0},
            {"project": "work", "documents": 0, "deleted": 1}
        ])
    );
    assert!(home.ok(&["projects"]).contains("default  2 documents"));
    let typo = home.run(&["ls", "--project", "wrok"]).code(0);
    assert!(
        typo.stderr.contains("no project \"wrok\""),
        "{}",
        typo.stderr
    );
    let known = home.run(&["ls", "--project", "work"]).code(0);
    assert!(known.stderr.is_empty(), "{}", known.stderr);
    if let Ok(out) = std::process::Command::new("hostname").output() {
        let folder = crate::util::Folder::new();
        let status = home.sync("status", &folder, &["--json"]).code(0).json();
        assert_eq!(
            status["host"],
            String::from_utf8_lossy(&out.stdout).trim(),
            "the host name"
        );
    }
}

/// `context completions bash|zsh|fish` prints a script the shell accepts, naming the commands.
#[test]
fn completions_are_printed_for_each_shell() {
    let home = Home::new();
    let bash = home.ok(&["completions", "bash"]);
    assert!(
        bash.contains("_context()") && bash.contains("restore"),
        "{bash}"
    );
    let check = std::process::Command::new("bash")
        .args(["-n", "-c", &bash])
        .status()
        .unwrap();
    assert!(check.success(), "bash rejects the script");
    assert!(
        home.ok(&["completions", "zsh"])
            .starts_with("#compdef context")
    );
    assert!(
        home.ok(&["completions", "fish"])
            .contains("complete -c context")
    );
    home.run(&["completions", "tcsh"]).code(2);
}

/// `put` on a terminal with nothing piped in says it is reading the body from stdin.
#[test]
fn put_on_a_terminal_says_it_reads_stdin() {
    let home = Home::new();
    let script = std::path::Path::new("/usr/bin/script");
    assert!(
        script.exists(),
        "util-linux's script gives the command a terminal"
    );
    // `script` gives `put` a terminal; `printf` ends its input with Ctrl-D.
    let out = std::process::Command::new("sh")
        .args([
            "-c",
            &format!(
                "printf 'typed body\\n\\004' | {} -qec '{} put typed' /dev/null",
                script.display(),
                crate::util::BIN
            ),
        ])
        .env("CONTEXT_HOME", home.path())
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("reading the body from stdin"), "{said}");
    assert!(home.get("typed").starts_with("typed body"));
}

/// Every argument and flag of every command says what it is in `--help`.
#[test]
fn every_argument_and_flag_is_described() {
    let home = Home::new();
    let commands: &[&[&str]] = &[
        &["put"],
        &["get"],
        &["rm"],
        &["ls"],
        &["history"],
        &["restore"],
        &["projects"],
        &["completions"],
        &["sync"],
        &["sync", "remote"],
        &["sync", "push"],
        &["sync", "pull"],
        &["sync", "status"],
        &["sync", "verify"],
        &["sync", "snapshot"],
        &["sync", "prune"],
        &["sync", "log"],
        &["sync", "schedule"],
        &["sync", "inspect"],
        &["sync", "init"],
        &["sync", "key", "export"],
        &["sync", "key", "import"],
    ];
    for command in commands {
        let mut args = command.to_vec();
        args.push("--help");
        let help = home.run(&args).code(0).stdout;
        for line in help.lines() {
            let t = line.trim();
            // An argument or flag line with nothing after its name.
            let bare = (t.starts_with('<') || t.starts_with('-'))
                && !t.contains("  ")
                && !t.starts_with("-h, --help")
                && !t.starts_with("-V");
            assert!(
                !bare,
                "`context {}`: {line:?} is not described",
                command.join(" ")
            );
        }
    }
}

#[test]
fn edit_opens_the_editor_and_writes_only_a_change() {
    let home = Home::new();
    home.put("plan", "one\n");
    let append = [("EDITOR", "sh -c 'printf \"two\\n\" >> \"$1\"' sh")];
    let run = home.run_with(&["edit", "plan"], b"", &append).code(0);
    assert_eq!(run.stdout.trim().len(), 36, "prints the new version");
    assert_eq!(home.get("plan"), "one\ntwo\n");
    assert_eq!(home.history_ids("plan").len(), 2);
    // VISUAL comes before EDITOR; an editor that changes nothing writes nothing.
    let unchanged = [("VISUAL", "true"), ("EDITOR", "false")];
    let run = home.run_with(&["edit", "plan"], b"", &unchanged).code(0);
    assert!(run.stderr.contains("unchanged"), "{}", run.stderr);
    assert_eq!(home.history_ids("plan").len(), 2);
    // A failing editor writes nothing either, and says so.
    let run = home
        .run_with(&["edit", "plan"], b"", &[("EDITOR", "false")])
        .code(1);
    assert!(run.stderr.contains("nothing was written"), "{}", run.stderr);
    assert_eq!(home.history_ids("plan").len(), 2);
    // A new key: written when the editor leaves a body.
    let write = [("EDITOR", "sh -c 'printf \"fresh\\n\" > \"$1\"' sh")];
    home.run_with(&["edit", "notes/new", "--project", "work"], b"", &write)
        .code(0);
    assert_eq!(
        home.ok(&["get", "notes/new", "--project", "work"]),
        "fresh\n"
    );
}

#[test]
fn make_man_writes_a_page_per_command() {
    let home = Home::new();
    let dir = home.path().join("man");
    home.ok(&["__man", dir.to_str().unwrap()]);
    for page in [
        "context.1",
        "context-put.1",
        "context-resolve.1",
        "context-sync-pull.1",
        "context-sync-key-export.1",
    ] {
        let text =
            std::fs::read_to_string(dir.join(page)).unwrap_or_else(|e| panic!("{page}: {e}"));
        assert!(
            text.starts_with(".ie") || text.contains(".TH"),
            "{page} is roff"
        );
    }
    let pull = std::fs::read_to_string(dir.join("context-sync-pull.1")).unwrap();
    assert!(pull.contains("merge"), "{pull}");
    assert!(
        !dir.join("context-__man.1").exists(),
        "the hidden command has no page"
    );
    // It is not in --help either.
    assert!(!home.ok(&["--help"]).contains("__man"));
}

/// On a terminal, `-v` logs and diffs are in colour; `NO_COLOR` turns both off.
#[test]
fn colour_on_a_terminal_unless_no_color() {
    let home = Home::new();
    home.put("k", "one\n");
    home.put("k", "two\n");
    let on_terminal = |command: &str, no_color: bool| -> String {
        let mut cmd = std::process::Command::new("/usr/bin/script");
        cmd.args([
            "-qec",
            &format!("{} {command}", crate::util::BIN),
            "/dev/null",
        ])
        .env("CONTEXT_HOME", home.path())
        .env_remove("NO_COLOR");
        if no_color {
            cmd.env("NO_COLOR", "1");
        }
        String::from_utf8_lossy(&cmd.output().unwrap().stdout).into_owned()
    };
    let diff = on_terminal("diff k", false);
    assert!(
        diff.contains("\x1b["),
        "a diff on a terminal is coloured: {diff:?}"
    );
    let plain = on_terminal("diff k", true);
    assert!(!plain.contains("\x1b["), "{plain:?}");
    assert!(
        plain.contains("-one") && plain.contains("+two"),
        "{plain:?}"
    );
    home.put("k2", "x\n");
    let logs = on_terminal("-vv rm k", false);
    assert!(logs.contains("wrote"), "{logs:?}");
    assert!(
        logs.contains("\x1b["),
        "-v logs on a terminal are coloured: {logs:?}"
    );
    let logs = on_terminal("-vv rm k2", true);
    assert!(logs.contains("wrote"), "{logs:?}");
    assert!(!logs.contains("\x1b["), "{logs:?}");
}

/// One limit for a body, enforced by every write; at the limit, an incompressible body goes
/// through push and pull; one byte more is refused (exit 1, the limit said) and writes nothing.
#[test]
fn a_body_at_the_limit_syncs_and_one_byte_more_is_refused() {
    let (a, b, folder) = (Home::new(), Home::new(), crate::util::Folder::new());
    const LIMIT: usize = 64 << 20;
    let mut body = crate::util::random_bytes(LIMIT + 1, 0x9e37_79b9_7f4a_7c15);
    let file = a.path().join("big.bin");
    std::fs::write(&file, &body).unwrap();
    let run = a
        .run(&["put", "big", "--file", file.to_str().unwrap()])
        .code(1);
    assert!(
        run.stderr.contains("67108864 bytes, 64 MiB"),
        "{}",
        run.stderr
    );
    let run = a.run_with(&["put", "big"], &body, &[]).code(1);
    assert!(run.stderr.contains("64 MiB"), "{}", run.stderr);
    assert_eq!(a.rows_if_any(), 0, "nothing written");

    body.truncate(LIMIT);
    std::fs::write(&file, &body).unwrap();
    a.ok(&["put", "big", "--file", file.to_str().unwrap()]);
    a.sync("push", &folder, &[]).code(0);
    b.sync("pull", &folder, &[]).code(0);
    let got = b.run(&["get", "big"]).code(0);
    assert_eq!(got.raw_stdout.len(), LIMIT);
    assert!(got.raw_stdout == body, "the same bytes");
}
