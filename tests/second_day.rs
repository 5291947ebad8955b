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
