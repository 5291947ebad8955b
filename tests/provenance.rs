//! Who wrote each version (`--author`, `$CONTEXT_AUTHOR`, the login name; `$CONTEXT_SESSION`
//! for an agent's session): recorded with every version and tombstone, carried by sync to every
//! machine, shown by `history` and filtered by `history --author` and `ls --author`.

use crate::util::{Folder, Home};

#[test]
fn every_write_names_its_author_and_every_machine_shows_it() {
    let (a, b, folder) = (Home::new(), Home::new(), Folder::new());
    a.run_with(&["put", "plan", "--author", "alice"], b"by alice\n", &[])
        .code(0);
    a.run_with(
        &["put", "notes"],
        b"by an agent\n",
        &[
            ("CONTEXT_AUTHOR", "claude-code"),
            ("CONTEXT_SESSION", "sess-42"),
        ],
    )
    .code(0);
    a.run_with(&["put", "mine"], b"by the login\n", &[("USER", "bob")])
        .code(0);
    a.run_with(&["rm", "plan", "--author", "carol"], b"", &[])
        .code(0);
    a.sync("push", &folder, &[]).code(0);
    b.sync("pull", &folder, &[]).code(0);

    let history = |h: &Home, key: &str| h.run(&["history", key, "--json"]).code(0).json();
    for h in [&a, &b] {
        let plan = history(h, "plan");
        assert_eq!(plan[0]["kind"], "tombstone");
        assert_eq!(plan[0]["author"], "carol");
        assert_eq!(plan[1]["author"], "alice");
        assert!(plan[1]["session"].is_null());
        let notes = history(h, "notes");
        assert_eq!(notes[0]["author"], "claude-code");
        assert_eq!(notes[0]["session"], "sess-42");
        assert_eq!(history(h, "mine")[0]["author"], "bob");
    }
    // The table shows the author in its column, within 100 columns.
    let table = b.ok(&["history", "plan"]);
    assert!(table.lines().next().unwrap().contains("AUTHOR"), "{table}");
    assert!(
        table.contains("carol") && table.contains("alice"),
        "{table}"
    );
    assert!(table.lines().all(|l| l.chars().count() <= 100), "{table}");
    let verbose = b.ok(&["-v", "history", "notes"]);
    assert!(verbose.contains("session sess-42"), "{verbose}");
    // Filters.
    assert_eq!(b.ok(&["ls", "--author", "claude-code"]), "notes\n");
    assert_eq!(
        b.ok(&["ls", "--author", "carol", "--deleted"]),
        "plan (deleted)\n"
    );
    assert_eq!(b.ok(&["ls", "--author", "nobody"]), "");
    let alices = b
        .run(&["history", "plan", "--author", "alice", "--json"])
        .code(0)
        .json();
    assert_eq!(alices.as_array().unwrap().len(), 1);
    // A label a terminal should not show is refused, naming the flag or the variable.
    let bad = a.run_with(&["put", "x", "--author", "a\u{1b}[2J"], b"x", &[]);
    assert_eq!(bad.code, 2, "{bad:?}");
    assert!(bad.stderr.contains("--author"), "{}", bad.stderr);
    let bad = a.run_with(&["put", "x"], b"x", &[("CONTEXT_AUTHOR", "a\tb")]);
    assert_eq!(bad.code, 2, "{bad:?}");
    assert!(bad.stderr.contains("CONTEXT_AUTHOR"), "{}", bad.stderr);
}

/// An agent's session writes on one machine; on the other, after a sync, `revert --session`
/// brings back every key it changed (bodies, absences, deletions undone), leaves the key a
/// person edited since (listed), and the revert syncs back.
#[test]
fn revert_takes_back_a_session_on_another_machine_and_leaves_what_a_person_wrote_since() {
    let (a, b, folder) = (Home::new(), Home::new(), Folder::new());
    a.put("plan", "the person's plan\n");
    a.put("notes", "the person's notes\n");
    a.put("keep", "the person's doc\n");
    a.sync("push", &folder, &[]).code(0);
    b.sync("pull", &folder, &[]).code(0);
    let agent = [
        ("CONTEXT_AUTHOR", "claude-code"),
        ("CONTEXT_SESSION", "sess-9"),
    ];
    a.run_with(&["put", "plan"], b"the agent's plan\n", &agent)
        .code(0);
    a.run_with(&["put", "plan"], b"the agent's second plan\n", &agent)
        .code(0);
    a.run_with(&["put", "new"], b"the agent's new doc\n", &agent)
        .code(0);
    a.run_with(&["rm", "keep"], b"", &agent).code(0);
    a.run_with(&["put", "notes"], b"the agent's notes\n", &agent)
        .code(0);
    a.sync("push", &folder, &[]).code(0);
    b.sync("pull", &folder, &[]).code(0);
    let h = b.run(&["history", "plan", "--json"]).code(0).json();
    assert_eq!(
        (h[0]["author"].as_str(), h[0]["session"].as_str()),
        (Some("claude-code"), Some("sess-9"))
    );
    // A person edits one of the agent's keys afterwards.
    b.run_with(
        &["put", "notes", "--author", "dana"],
        b"dana's notes\n",
        &[],
    )
    .code(0);

    // A dry run writes nothing and says what it would do.
    let dry = b
        .run(&["revert", "--session", "sess-9", "--dry-run", "--json"])
        .code(0)
        .json();
    assert_eq!(dry["dry_run"], true);
    let actions: Vec<(&str, &str)> = dry["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| (k["key"].as_str().unwrap(), k["action"].as_str().unwrap()))
        .collect();
    assert_eq!(
        actions,
        [
            ("keep", "restore"),
            ("new", "delete"),
            ("notes", "left"),
            ("plan", "restore")
        ]
    );
    assert_eq!(b.get("plan"), "the agent's second plan\n");

    let done = b
        .run(&["revert", "--session", "sess-9", "--yes", "--json"])
        .code(0)
        .json();
    assert_eq!(done["dry_run"], false);
    assert_eq!(b.get("plan"), "the person's plan\n");
    assert_eq!(b.get("keep"), "the person's doc\n");
    b.run(&["get", "new"]).code(1);
    assert_eq!(b.get("notes"), "dana's notes\n", "left alone");
    let left = &done["keys"][2];
    assert_eq!(left["written_since_by"], "dana");
    // Again: nothing left to do but the key left alone.
    let again = b
        .run(&["revert", "--session", "sess-9", "--yes", "--json"])
        .code(0)
        .json();
    let still: Vec<&str> = again["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["action"].as_str().unwrap())
        .collect();
    assert_eq!(still, ["unchanged", "unchanged", "left", "unchanged"]);

    // The revert syncs back like any write.
    b.sync("push", &folder, &[]).code(0);
    a.sync("pull", &folder, &[]).code(0);
    assert_eq!(a.get("plan"), "the person's plan\n");
    assert_eq!(a.get("keep"), "the person's doc\n");
    a.run(&["get", "new"]).code(1);
    // --force takes back the key a person wrote since too.
    a.run(&["revert", "--session", "sess-9", "--yes", "--force"])
        .code(0);
    assert_eq!(a.get("notes"), "the person's notes\n");
    // By author and time: the same selection.
    let by_author = a
        .run(&[
            "revert",
            "--author",
            "claude-code",
            "--since",
            "1d",
            "--dry-run",
            "--json",
        ])
        .code(0)
        .json();
    assert_eq!(by_author["keys"].as_array().unwrap().len(), 4);
}
