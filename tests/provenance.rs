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
    assert!(table.contains("carol") && table.contains("alice"), "{table}");
    assert!(table.lines().all(|l| l.chars().count() <= 100), "{table}");
    let verbose = b.ok(&["-v", "history", "notes"]);
    assert!(verbose.contains("session sess-42"), "{verbose}");
    // Filters.
    assert_eq!(b.ok(&["ls", "--author", "claude-code"]), "notes\n");
    assert_eq!(b.ok(&["ls", "--author", "carol", "--deleted"]), "plan (deleted)\n");
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
