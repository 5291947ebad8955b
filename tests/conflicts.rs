//! Conflicts a person settles: `conflicts`, `resolve --keep`, `resolve --merge`, `pull --merge`
//! and `diff`, between real homes and one shared folder, through the real binary.

use crate::util::{Folder, Home, at};

const BASE: &str = "Plan\n\n- one\n- two\n- three\n- four\n- five\n";

/// Two machines, `laptop` and `desktop`, that share `key` at BASE and then edit it
/// concurrently: the laptop first, the desktop a minute later (so the desktop's edit wins
/// last-writer-wins). Both have pushed; neither has pulled the other's edit.
struct Pair {
    folder: Folder,
    laptop: Home,
    desktop: Home,
    base: String,
    laptop_edit: String,
    desktop_edit: String,
}

fn pair(key: &str, laptop_body: &str, desktop_body: &str) -> Pair {
    let folder = Folder::new();
    let laptop = Home::new().with_env("CONTEXT_HOST", "laptop");
    let desktop = Home::new().with_env("CONTEXT_HOST", "desktop");
    let base = laptop.put_at(key, BASE, "2026-11-26T09:00:00Z");
    laptop.sync("push", &folder, &[]).code(0);
    desktop.sync("pull", &folder, &[]).code(0);
    let laptop_edit = laptop.put_at(key, laptop_body, "2026-11-26T10:00:00Z");
    let desktop_edit = desktop.put_at(key, desktop_body, "2026-11-26T10:01:00Z");
    laptop.sync("push", &folder, &[]).code(0);
    desktop.sync("push", &folder, &[]).code(0);
    Pair {
        folder,
        laptop,
        desktop,
        base,
        laptop_edit,
        desktop_edit,
    }
}

fn conflicts(home: &Home) -> Vec<serde_json::Value> {
    home.run(&["conflicts", "--json"]).code(0).json()["conflicts"]
        .as_array()
        .expect("a list")
        .clone()
}

/// Both machines pull everything: the desktop keeps its newer edit (the laptop's loses), the
/// laptop is refused, then forced. Both then list the conflict.
fn pull_both(p: &Pair) {
    p.desktop.sync("pull", &p.folder, &[]).code(0);
    p.laptop.sync("pull", &p.folder, &[]).code(3);
    p.laptop.sync("pull", &p.folder, &["--force"]).code(0);
}

fn one_line(body: &str, from: &str, to: &str) -> String {
    assert!(body.contains(from));
    body.replace(from, to)
}

#[test]
fn both_machines_list_the_conflict_with_their_own_side_as_mine() {
    let p = pair(
        "plan",
        &one_line(BASE, "one", "ONE"),
        &one_line(BASE, "five", "FIVE"),
    );
    assert!(conflicts(&p.desktop).is_empty(), "not pulled yet");
    pull_both(&p);
    let on_desktop = conflicts(&p.desktop);
    let on_laptop = conflicts(&p.laptop);
    assert_eq!(on_desktop.len(), 1, "{on_desktop:?}");
    assert_eq!(on_laptop.len(), 1, "{on_laptop:?}");
    let (d, l) = (&on_desktop[0], &on_laptop[0]);
    assert_eq!(d["key"], "plan");
    assert_eq!(d["mine"]["version"], p.desktop_edit.as_str());
    assert_eq!(d["theirs"]["version"], p.laptop_edit.as_str());
    assert_eq!(l["mine"]["version"], p.laptop_edit.as_str());
    assert_eq!(l["theirs"]["version"], p.desktop_edit.as_str());
    // Hosts, times, which side is current, and the common ancestor.
    assert_eq!(d["mine"]["host"], "desktop");
    assert_eq!(d["theirs"]["host"], "laptop");
    assert_eq!(l["theirs"]["host"], "desktop");
    assert_eq!(d["mine"]["written_at"], "2026-11-26T10:01:00.000Z");
    assert_eq!(d["mine"]["current"], true);
    assert_eq!(l["theirs"]["current"], true);
    assert_eq!(l["mine"]["current"], false);
    assert_eq!(d["ancestor"], p.base.as_str());

    let d = p.laptop.ok(&["diff", "plan", "mine", "theirs"]);
    assert!(
        d.starts_with(&format!(
            "--- plan@{}\n+++ plan@{}\n",
            p.laptop_edit, p.desktop_edit
        )),
        "{d}"
    );
    let human = p.laptop.ok(&["conflicts"]);
    assert!(human.contains("plan (project default)"), "{human}");
    assert!(human.contains("desktop  (current)"), "{human}");
    assert!(human.contains("context resolve"), "{human}");
    // Short ids, as history shows them (the end of the id: its beginning is the time).
    for id in [&p.laptop_edit, &p.desktop_edit] {
        assert!(human.contains(&id[id.len() - 8..]), "{human}");
        assert!(!human.contains(id.as_str()), "{human}");
    }
    let status = p
        .laptop
        .sync("status", &p.folder, &["--json"])
        .code(0)
        .json();
    assert_eq!(status["conflicts"], 1);
    let status = p.laptop.sync("status", &p.folder, &[]).code(0).stdout;
    assert!(status.contains("conflicts 1 unsettled"), "{status}");
}

#[test]
fn keep_mine_on_one_machine_settles_the_conflict_on_both() {
    let laptop_body = one_line(BASE, "one", "ONE");
    let p = pair("plan", &laptop_body, &one_line(BASE, "five", "FIVE"));
    pull_both(&p);
    assert_ne!(p.laptop.get("plan"), laptop_body, "the desktop's edit won");
    let resolved = p
        .laptop
        .run_with(
            &["resolve", "plan", "--keep", "mine"],
            b"",
            &at("2026-11-26T11:00:00Z"),
        )
        .code(0);
    let id = resolved.stdout.trim().to_string();
    assert_eq!(id.len(), 36, "prints the new version: {}", resolved.stdout);
    assert_eq!(p.laptop.get("plan"), laptop_body);
    assert!(conflicts(&p.laptop).is_empty());
    let history = p.laptop.run(&["history", "plan", "--json"]).code(0).json();
    assert_eq!(history[0]["id"], id.as_str());
    assert_eq!(
        history[0]["parent"],
        p.desktop_edit.as_str(),
        "its parent is the current version: a fast-forward everywhere"
    );

    p.laptop.sync("push", &p.folder, &[]).code(0);
    // No --force: the resolution descends from the desktop's edit.
    p.desktop.sync("pull", &p.folder, &[]).code(0);
    assert_eq!(p.desktop.get("plan"), laptop_body);
    assert!(conflicts(&p.desktop).is_empty());
    assert_eq!(p.laptop.version_ids(), p.desktop.version_ids());
}

#[test]
fn keep_theirs_and_keep_a_version_id() {
    let laptop_body = one_line(BASE, "one", "ONE");
    let p = pair("plan", &laptop_body, &one_line(BASE, "five", "FIVE"));
    pull_both(&p);
    // On the desktop, theirs is the laptop's edit.
    p.desktop.ok(&["resolve", "plan", "--keep", "theirs"]);
    assert_eq!(p.desktop.get("plan"), laptop_body);
    assert!(conflicts(&p.desktop).is_empty());
    // On the laptop, a version id (a prefix of it): the common ancestor.
    p.laptop.ok(&["resolve", "plan", "--keep", &p.base[..13]]);
    assert_eq!(p.laptop.get("plan"), BASE);
    assert!(conflicts(&p.laptop).is_empty());
    // A key with no conflict is refused, and nothing is written.
    let rows = p.laptop.rows();
    let run = p.laptop.run(&["resolve", "plan", "--keep", "mine"]).code(1);
    assert!(
        run.stderr.contains("no unsettled conflict"),
        "{}",
        run.stderr
    );
    assert_eq!(p.laptop.rows(), rows);
    // Exactly one way to resolve.
    p.laptop.run(&["resolve", "plan"]).code(2);
    p.laptop
        .run(&["resolve", "plan", "--keep", "mine", "--merge"])
        .code(2);
}

#[test]
fn a_clean_merge_of_edits_to_different_lines_is_written_and_syncs() {
    let p = pair(
        "plan",
        &one_line(BASE, "one", "ONE (laptop)"),
        &one_line(BASE, "five", "FIVE (desktop)"),
    );
    pull_both(&p);
    let merged = one_line(
        &one_line(BASE, "one", "ONE (laptop)"),
        "five",
        "FIVE (desktop)",
    );
    p.desktop.ok(&["resolve", "plan", "--merge"]);
    assert_eq!(p.desktop.get("plan"), merged);
    assert!(conflicts(&p.desktop).is_empty());
    p.desktop.sync("push", &p.folder, &[]).code(0);
    p.laptop.sync("pull", &p.folder, &[]).code(0);
    assert_eq!(p.laptop.get("plan"), merged);
    assert!(conflicts(&p.laptop).is_empty());
}

#[test]
fn an_overlapping_merge_is_refused_with_nothing_written_and_the_hunks_shown() {
    let p = pair(
        "plan",
        &one_line(BASE, "three", "THREE on the laptop"),
        &one_line(BASE, "three", "three on the desktop"),
    );
    pull_both(&p);
    let rows = p.desktop.rows();
    let run = p.desktop.run(&["resolve", "plan", "--merge"]).code(3);
    assert_eq!(p.desktop.rows(), rows, "nothing written");
    assert_eq!(conflicts(&p.desktop).len(), 1);
    assert!(run.stderr.contains("same lines"), "{}", run.stderr);
    assert!(
        run.stdout
            .contains("<<<<<<< mine\n- three on the desktop\n"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains(">>>>>>> theirs"), "{}", run.stdout);
    // With --output the merge goes to the file, said on stderr, and nothing to stdout.
    let out = p.desktop.path().join("merge.txt");
    let run = p
        .desktop
        .run(&[
            "resolve",
            "plan",
            "--merge",
            "--output",
            out.to_str().unwrap(),
        ])
        .code(3);
    assert_eq!(run.stdout, "");
    assert!(
        run.stderr.contains(&format!("to {}", out.display())),
        "{}",
        run.stderr
    );
    assert_eq!(p.desktop.rows(), rows, "nothing written");
    let marked = std::fs::read_to_string(&out).unwrap();
    assert!(marked.starts_with("Plan\n\n- one\n"), "{marked}");
    assert!(
        marked.contains("||||||| common ancestor\n- three\n"),
        "{marked}"
    );
    // The person edits the file and puts it: that write settles the conflict.
    let settled = marked
        .lines()
        .filter(|l| !l.starts_with("<<<<<<<") && !l.starts_with("|||||||"))
        .filter(|l| !l.starts_with("=======") && !l.starts_with(">>>>>>>"))
        .filter(|l| *l != "- three" && *l != "- three on the desktop")
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(&out, format!("{settled}\n")).unwrap();
    p.desktop
        .ok(&["put", "plan", "--file", out.to_str().unwrap()]);
    assert!(conflicts(&p.desktop).is_empty());
    assert!(p.desktop.get("plan").contains("THREE on the laptop"));
}

#[test]
fn binary_bodies_and_deletions_are_not_merged() {
    let folder = Folder::new();
    let (a, b) = (Home::new(), Home::new());
    a.put_at("blob", "v\0one", "2026-11-26T09:00:00Z");
    a.sync("push", &folder, &[]).code(0);
    b.sync("pull", &folder, &[]).code(0);
    a.put_at("blob", "v\0two", "2026-11-26T10:00:00Z");
    b.put_at("blob", "v\0three", "2026-11-26T10:01:00Z");
    a.sync("push", &folder, &[]).code(0);
    b.sync("pull", &folder, &[]).code(0);
    // Refused like an overlap: exit 3, nothing written.
    let rows = b.rows();
    let run = b.run(&["resolve", "blob", "--merge"]).code(3);
    assert!(run.stderr.contains("not text"), "{}", run.stderr);
    assert_eq!(b.rows(), rows);

    let folder = Folder::new();
    let (a, b) = (Home::new(), Home::new());
    a.put_at("doc", "text\n", "2026-11-26T09:00:00Z");
    a.sync("push", &folder, &[]).code(0);
    b.sync("pull", &folder, &[]).code(0);
    a.run_with(&["rm", "doc"], b"", &at("2026-11-26T10:00:00Z"))
        .code(0);
    b.put_at("doc", "more text\n", "2026-11-26T10:01:00Z");
    a.sync("push", &folder, &[]).code(0);
    b.sync("pull", &folder, &[]).code(0);
    let run = b.run(&["resolve", "doc", "--merge"]).code(3);
    assert!(run.stderr.contains("deleted it"), "{}", run.stderr);
    // Keeping the deletion writes a tombstone.
    b.ok(&["resolve", "doc", "--keep", "theirs"]);
    assert!(b.run(&["get", "doc"]).code(1).stderr.contains("deleted"));
    assert!(conflicts(&b).is_empty());
}

/// Two machines that share `clean` and `overlap` at BASE, then edit both concurrently (the
/// desktop a minute later): `clean` on different lines, `overlap` on the same one. The desktop
/// has pushed; the laptop has not pulled it.
fn clean_and_overlapping() -> (Folder, Home, Home) {
    let folder = Folder::new();
    let (laptop, desktop) = (Home::new(), Home::new());
    for key in ["clean", "overlap"] {
        laptop.put_at(key, BASE, "2026-11-26T09:00:00Z");
    }
    laptop.sync("push", &folder, &[]).code(0);
    desktop.sync("pull", &folder, &[]).code(0);
    laptop.put_at(
        "clean",
        &one_line(BASE, "one", "ONE"),
        "2026-11-26T10:00:00Z",
    );
    laptop.put_at(
        "overlap",
        &one_line(BASE, "two", "TWO"),
        "2026-11-26T10:00:00Z",
    );
    desktop.put_at(
        "clean",
        &one_line(BASE, "five", "FIVE"),
        "2026-11-26T10:01:00Z",
    );
    desktop.put_at(
        "overlap",
        &one_line(BASE, "two", "2"),
        "2026-11-26T10:01:00Z",
    );
    desktop.sync("push", &folder, &[]).code(0);
    (folder, laptop, desktop)
}

#[test]
fn pull_merge_merges_the_clean_ones_and_refuses_the_rest() {
    let (folder, laptop, desktop) = clean_and_overlapping();

    // The clean key is merged and written here; the overlapping one is refused, with why.
    let rows = laptop.rows();
    let refused = laptop
        .sync("pull", &folder, &["--merge", "--json"])
        .code(3)
        .json();
    let keys: Vec<&str> = refused["conflicts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["overlap"]);
    let why = refused["conflicts"][0]["why"].as_str().unwrap();
    assert!(why.contains("same lines"), "{why}");
    assert_eq!(refused["merged"][0]["key"], "clean");
    assert_eq!(refused["applied"], false);
    assert_eq!(laptop.rows(), rows + 1, "only the merge is written");
    let both = one_line(&one_line(BASE, "one", "ONE"), "five", "FIVE");
    assert_eq!(laptop.get("clean"), both);
    assert_eq!(laptop.get("overlap"), one_line(BASE, "two", "TWO"));

    // Again: only the key that cannot merge is named, and --merge is not suggested again.
    let human = laptop.sync("pull", &folder, &["--merge"]).code(3);
    assert!(
        human
            .stderr
            .contains("overlap in project default: local version"),
        "{}",
        human.stderr
    );
    assert!(
        human
            .stderr
            .contains("not merged: both sides changed the same lines"),
        "{}",
        human.stderr
    );
    assert!(
        !human.stderr.contains("clean in project"),
        "{}",
        human.stderr
    );
    assert!(
        !human.stderr.contains("`--merge` merges"),
        "{}",
        human.stderr
    );

    // The refused side is visible and settled without --force.
    let listed = conflicts(&laptop);
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["key"], "overlap");
    assert_eq!(listed[0]["incoming"], true);
    let diff = laptop.ok(&["diff", "overlap", "mine", "theirs"]);
    assert!(diff.contains("-- TWO\n+- 2\n"), "{diff}");
    let run = laptop.run(&["resolve", "overlap", "--merge"]).code(3);
    assert!(run.stderr.contains("same lines"), "{}", run.stderr);
    laptop.ok(&["resolve", "overlap", "--keep", "theirs"]);
    assert!(conflicts(&laptop).is_empty());
    laptop.sync("pull", &folder, &[]).code(0);
    assert!(conflicts(&laptop).is_empty());
    assert_eq!(laptop.get("clean"), both);
    assert_eq!(laptop.get("overlap"), one_line(BASE, "two", "2"));
    // Both sides and the merge are in history.
    assert_eq!(laptop.history_ids("clean").len(), 4);

    // The merge and the resolution reach the desktop as fast-forwards.
    laptop.sync("push", &folder, &[]).code(0);
    desktop.sync("pull", &folder, &[]).code(0);
    assert_eq!(desktop.get("clean"), both);
    assert_eq!(desktop.get("overlap"), one_line(BASE, "two", "2"));
    assert!(conflicts(&desktop).is_empty());
}

#[test]
fn pull_merge_with_force_merges_the_clean_ones_and_lets_the_rest_win() {
    let (folder, laptop, _desktop) = clean_and_overlapping();
    let run = laptop
        .sync("pull", &folder, &["--merge", "--force"])
        .code(0);
    assert!(run.stdout.contains("merged: clean"), "{}", run.stdout);
    let both = one_line(&one_line(BASE, "one", "ONE"), "five", "FIVE");
    assert_eq!(laptop.get("clean"), both);
    assert_eq!(laptop.get("overlap"), one_line(BASE, "two", "2"));
    let left: Vec<String> = conflicts(&laptop)
        .iter()
        .map(|c| c["key"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(left, ["overlap"]);
    assert_eq!(conflicts(&laptop)[0]["incoming"], false);
}

#[test]
fn a_refused_pull_leaves_the_other_side_to_see_and_settle() {
    let p = pair(
        "plan",
        &one_line(BASE, "one", "ONE on the laptop"),
        &one_line(BASE, "five", "FIVE on the desktop"),
    );
    let rows = p.laptop.rows();
    let run = p.laptop.sync("pull", &p.folder, &[]).code(3);
    assert!(
        run.stderr.contains("`context diff KEY mine theirs`"),
        "{}",
        run.stderr
    );
    assert_eq!(p.laptop.rows(), rows, "nothing applied");
    assert_eq!(
        p.laptop.get("plan"),
        one_line(BASE, "one", "ONE on the laptop")
    );

    // Listed, with the incoming side not applied yet.
    let listed = conflicts(&p.laptop);
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["mine"]["version"], p.laptop_edit.as_str());
    assert_eq!(listed[0]["theirs"]["version"], p.desktop_edit.as_str());
    assert_eq!(listed[0]["incoming"], true);
    assert_eq!(listed[0]["ancestor"], p.base.as_str());
    let human = p.laptop.ok(&["conflicts"]);
    assert!(human.contains("incoming"), "{human}");
    let diff = p.laptop.ok(&["diff", "plan", "mine", "theirs"]);
    assert!(diff.contains("+- FIVE on the desktop"), "{diff}");
    // A pull refused again holds it once.
    p.laptop.sync("pull", &p.folder, &[]).code(3);
    assert_eq!(conflicts(&p.laptop).len(), 1);
    // The health check sees a conflict waiting.
    let check = p.laptop.sync("status", &p.folder, &["--check"]).code(6);
    assert!(
        format!("{}{}", check.stdout, check.stderr).contains("conflict"),
        "{}{}",
        check.stdout,
        check.stderr
    );

    // Settled by a merge, without --force: the next pull applies and nothing conflicts.
    p.laptop.ok(&["resolve", "plan", "--merge"]);
    let merged = p.laptop.get("plan");
    assert!(merged.contains("ONE on the laptop") && merged.contains("FIVE on the desktop"));
    assert!(conflicts(&p.laptop).is_empty());
    p.laptop.sync("pull", &p.folder, &[]).code(0);
    assert!(conflicts(&p.laptop).is_empty());
    assert_eq!(p.laptop.get("plan"), merged);
    p.laptop.sync("push", &p.folder, &[]).code(0);
    p.desktop.sync("pull", &p.folder, &[]).code(0);
    assert_eq!(p.desktop.get("plan"), merged);
    assert!(conflicts(&p.desktop).is_empty());
}

#[test]
fn two_machines_that_merge_one_conflict_alike_do_not_conflict_again() {
    let p = pair(
        "plan",
        &one_line(BASE, "one", "ONE"),
        &one_line(BASE, "five", "FIVE"),
    );
    pull_both(&p);
    // Each merges on its own, before seeing the other's merge.
    p.laptop
        .run_with(
            &["resolve", "plan", "--merge"],
            b"",
            &at("2026-11-26T11:00:00Z"),
        )
        .code(0);
    p.desktop
        .run_with(
            &["resolve", "plan", "--merge"],
            b"",
            &at("2026-11-26T11:05:00Z"),
        )
        .code(0);
    p.laptop.sync("push", &p.folder, &[]).code(0);
    p.desktop.sync("push", &p.folder, &[]).code(0);
    // No refusal, although the laptop's merge loses to the desktop's: the same bytes.
    p.laptop.sync("pull", &p.folder, &[]).code(0);
    p.desktop.sync("pull", &p.folder, &[]).code(0);
    assert!(conflicts(&p.laptop).is_empty());
    assert!(conflicts(&p.desktop).is_empty());
    assert_eq!(p.laptop.get("plan"), p.desktop.get("plan"));
    assert_eq!(p.laptop.version_ids(), p.desktop.version_ids());
}

#[test]
fn a_resolution_settles_the_conflict_on_every_peer() {
    let p = pair(
        "plan",
        &one_line(BASE, "one", "ONE"),
        &one_line(BASE, "five", "FIVE"),
    );
    let third = Home::new().with_env("CONTEXT_HOST", "server");
    third.sync("pull", &p.folder, &[]).code(0);
    pull_both(&p);
    assert_eq!(
        conflicts(&third).len(),
        1,
        "a third peer sees the conflict too"
    );
    p.desktop.ok(&["resolve", "plan", "--keep", "theirs"]);
    p.desktop.sync("push", &p.folder, &[]).code(0);
    for h in [&p.laptop, &third] {
        h.sync("pull", &p.folder, &[]).code(0);
        assert!(conflicts(h).is_empty());
        assert_eq!(h.get("plan"), one_line(BASE, "one", "ONE"));
    }
}

#[test]
fn a_later_edit_made_before_seeing_the_other_side_does_not_settle_it() {
    let p = pair(
        "plan",
        &one_line(BASE, "one", "ONE"),
        &one_line(BASE, "five", "FIVE"),
    );
    // The desktop edits again, still without the laptop's edit.
    p.desktop
        .put_at("plan", "rewritten\n", "2026-11-26T10:30:00Z");
    p.desktop.sync("push", &p.folder, &[]).code(0);
    p.desktop.sync("pull", &p.folder, &[]).code(0);
    let c = conflicts(&p.desktop);
    assert_eq!(c.len(), 1, "{c:?}");
    assert_eq!(c[0]["theirs"]["version"], p.laptop_edit.as_str());
    // An edit made after seeing it does.
    p.desktop
        .put_at("plan", "rewritten again\n", "2026-11-26T10:40:00Z");
    assert!(conflicts(&p.desktop).is_empty());
}

#[test]
fn diff_shows_a_unified_diff_between_versions() {
    let home = Home::new();
    let v1 = home.put_at("plan", BASE, "2026-11-26T09:00:00Z");
    let v2 = home.put_at(
        "plan",
        &one_line(BASE, "two", "TWO"),
        "2026-11-26T09:01:00Z",
    );
    let v3 = home.put_at(
        "plan",
        &one_line(&one_line(BASE, "two", "TWO"), "four", "FOUR"),
        "2026-11-26T09:02:00Z",
    );
    // Default: the current version against its parent.
    let d = home.ok(&["diff", "plan"]);
    assert!(
        d.starts_with(&format!("--- plan@{v2}\n+++ plan@{v3}\n")),
        "{d}"
    );
    assert!(d.contains("-- four\n+- FOUR\n"), "{d}");
    assert!(
        !d.contains("\x1b["),
        "no colour when stdout is not a terminal"
    );
    // One version: it against the current one.
    let d = home.ok(&["diff", "plan", &v1]);
    assert!(
        d.contains("-- two\n+- TWO\n") && d.contains("+- FOUR"),
        "{d}"
    );
    // Two versions, by prefix.
    let d = home.ok(&["diff", "plan", &v3, &v1[..14]]);
    assert!(
        d.starts_with(&format!("--- plan@{v3}\n+++ plan@{v1}\n")),
        "{d}"
    );
    // The sides of a conflict by name: only where there is one.
    assert!(
        home.run(&["diff", "plan", "mine", "theirs"])
            .code(1)
            .stderr
            .contains("no unsettled conflict")
    );
    // The same bodies: no output.
    assert_eq!(home.ok(&["diff", "plan", &v3, &v3]), "");
    // The first version against nothing.
    let first = Home::new();
    first.put_at("k", "a\n", "2026-11-26T09:00:00Z");
    assert!(first.ok(&["diff", "k"]).contains("--- /dev/null"));
    // Unknown key or version: exit 1, named.
    assert!(home.run(&["diff", "nope"]).code(1).stderr.contains("nope"));
    assert!(
        home.run(&["diff", "plan", "ffff"])
            .code(1)
            .stderr
            .contains("ffff")
    );
    // A binary body.
    home.put_at("plan", "\0\u{1}", "2026-11-26T09:03:00Z");
    assert!(home.ok(&["diff", "plan"]).starts_with("Binary versions"));
}

#[test]
fn conflicts_and_diff_create_no_home() {
    let home = Home::new();
    let missing = home.path().join("nothing-here");
    let run = crate::util::run_command(
        {
            let mut c = crate::util::bare_command(&["conflicts"]);
            c.env("CONTEXT_HOME", &missing);
            c
        },
        b"",
    )
    .code(0);
    assert_eq!(run.stdout, "no conflicts\n");
    assert!(!missing.exists());
}

#[test]
fn a_third_machine_names_the_sides_current_and_other() {
    let p = pair(
        "plan",
        &one_line(BASE, "one", "ONE on the laptop"),
        &one_line(BASE, "five", "FIVE on the desktop"),
    );
    pull_both(&p);
    p.laptop.sync("push", &p.folder, &[]).code(0);
    let server = Home::new().with_env("CONTEXT_HOST", "server");
    server.sync("pull", &p.folder, &[]).code(0);
    let listed = conflicts(&server);
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["local"], false);
    assert_eq!(conflicts(&p.laptop)[0]["local"], true);
    let human = server.ok(&["conflicts"]);
    assert!(!human.contains("mine"), "{human}");
    assert!(
        human.contains("  current ") && human.contains("  other "),
        "{human}"
    );
    assert!(human.contains("--keep current`, `--keep other`"), "{human}");
    let diff = server.ok(&["diff", "plan", "current", "other"]);
    assert!(diff.contains("ONE on the laptop"), "{diff}");
    server.ok(&["resolve", "plan", "--keep", "other"]);
    assert!(conflicts(&server).is_empty());
}
