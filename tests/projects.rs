//! A remote's projects (`context sync remote add NAME URL --projects P1,P2`): push never
//! writes another project's versions, tombstones or names into it, pull refuses what it holds
//! of another (exit 5, nothing of it applied), and a project added to its list arrives whole at
//! the other side. Three homes (a laptop, a desktop, a colleague's) and three remotes (a folder
//! between laptop and desktop, a bucket the desktop keeps, an encrypted folder shared with the
//! colleague holding one project).

use crate::util::s3::{Bucket, moto};
use crate::util::{Folder, Home};

fn home() -> Home {
    Home::new().with_envs(moto().env())
}

fn put(h: &Home, project: &str, key: &str, body: &str) {
    h.run_with(&["put", key, "--project", project], body.as_bytes(), &[])
        .code(0);
}

fn get(h: &Home, project: &str, key: &str) -> Option<String> {
    let run = h.run(&["get", key, "--project", project]);
    (run.code == 0).then_some(run.stdout)
}

/// Every byte of every file under `dir`, as text (lossy).
fn all_text(dir: &std::path::Path) -> String {
    crate::util::tree_of(dir)
        .into_iter()
        .map(|(path, bytes)| format!("{}\n{}\n", path.display(), String::from_utf8_lossy(&bytes)))
        .collect()
}

#[test]
fn three_homes_and_three_remotes_each_hold_what_they_should_and_nothing_else() {
    let (laptop, desktop, colleague) = (home(), home(), home());
    let (near, share, bucket) = (Folder::new(), Folder::new(), Bucket::new());
    laptop.ok(&["sync", "remote", "add", "desktop", near.arg()]);
    laptop.ok(&[
        "sync",
        "remote",
        "add",
        "share",
        share.arg(),
        "--projects",
        "shared",
    ]);
    laptop.ok(&["sync", "init", "--encrypt", "--remote", "share"]);
    let key = laptop.ok(&["sync", "key", "export", "--remote", "share"]);
    desktop.ok(&["sync", "remote", "add", "laptop", near.arg()]);
    desktop.ok(&["sync", "remote", "add", "server", &bucket.url]);
    colleague.ok(&[
        "sync",
        "remote",
        "add",
        "share",
        share.arg(),
        "--projects",
        "shared",
    ]);
    colleague
        .run_with(
            &["sync", "key", "import", "--remote", "share"],
            key.as_bytes(),
            &[],
        )
        .code(0);

    put(&laptop, "personal", "diary", "the laptop's private diary");
    put(&laptop, "work", "plan", "the first plan of work");
    put(&laptop, "work", "plan", "the second plan of work");
    put(&laptop, "shared", "notes", "notes for the colleague");
    laptop.run(&["rm", "plan", "--project", "work"]).code(0);
    put(&laptop, "work", "plan", "the third plan of work");
    put(&colleague, "theirs", "secret", "the colleague's own secret");
    put(&colleague, "shared", "reply", "the colleague's reply");

    // Each run pulls then pushes each remote in turn: the colleague's reply reaches the desktop
    // through the laptop, one hop a run.
    for _ in 0..3 {
        for h in [&laptop, &colleague, &desktop] {
            h.ok(&["sync"]);
        }
    }
    // Each home holds what it should.
    assert_eq!(
        get(&colleague, "shared", "notes").as_deref(),
        Some("notes for the colleague")
    );
    assert_eq!(get(&colleague, "personal", "diary"), None);
    assert_eq!(get(&colleague, "work", "plan"), None);
    for h in [&laptop, &desktop] {
        assert_eq!(
            get(h, "shared", "reply").as_deref(),
            Some("the colleague's reply")
        );
        assert_eq!(get(h, "theirs", "secret"), None);
        assert_eq!(
            get(h, "work", "plan").as_deref(),
            Some("the third plan of work")
        );
    }
    let projects = colleague.ok(&["projects"]);
    assert!(
        !projects.contains("personal") && !projects.contains("work"),
        "{projects}"
    );
    // The bucket (the desktop's) holds everything the desktop has, the colleague's reply too,
    // and nothing of the colleague's own project.
    let server = home();
    server.ok(&["sync", "remote", "add", "desktop", &bucket.url]);
    server.ok(&["sync"]);
    assert_eq!(
        get(&server, "shared", "reply").as_deref(),
        Some("the colleague's reply")
    );
    assert_eq!(
        get(&server, "personal", "diary").as_deref(),
        Some("the laptop's private diary")
    );
    assert_eq!(get(&server, "theirs", "secret"), None);
    // Machine names show whose machine wrote a version.
    let history = laptop
        .run(&["history", "reply", "--project", "shared", "--json"])
        .code(0)
        .json();
    assert!(history[0]["host"].is_string(), "{history}");

    // Nothing of the private projects is in the shared folder, in any form.
    let text = all_text(share.path());
    for needle in [
        "personal",
        "diary",
        "work",
        "plan of work",
        "theirs",
        "secret",
    ] {
        assert!(!text.contains(needle), "{needle:?} in the shared folder");
    }

    // A project added to the shared remote's list arrives whole, its history included.
    let said = laptop.ok(&[
        "sync",
        "remote",
        "add",
        "share",
        share.arg(),
        "--projects",
        "shared,work",
    ]);
    assert!(said.contains("history of work"), "{said}");
    laptop.ok(&["sync"]);
    colleague.ok(&[
        "sync",
        "remote",
        "add",
        "share",
        share.arg(),
        "--projects",
        "shared,work",
    ]);
    colleague.ok(&["sync"]);
    assert_eq!(
        get(&colleague, "work", "plan").as_deref(),
        Some("the third plan of work")
    );
    let theirs = colleague
        .run(&["history", "plan", "--project", "work", "--json"])
        .code(0)
        .json();
    let mine = laptop
        .run(&["history", "plan", "--project", "work", "--json"])
        .code(0)
        .json();
    assert_eq!(theirs.as_array().unwrap().len(), 4, "{theirs}");
    assert_eq!(theirs, mine);
    assert_eq!(get(&colleague, "personal", "diary"), None);
    // Taken out again: no longer published; what is there stays.
    let said = laptop.ok(&[
        "sync",
        "remote",
        "add",
        "share",
        share.arg(),
        "--projects",
        "shared",
    ]);
    assert!(said.contains("no longer published"), "{said}");
    put(&laptop, "work", "plan", "a fourth plan, kept private");
    laptop.ok(&["sync"]);
    colleague.ok(&["sync"]);
    assert_eq!(
        get(&colleague, "work", "plan").as_deref(),
        Some("the third plan of work")
    );
}

/// A colleague who shares one project cannot write into another: a changeset in the shared
/// remote that carries another project is bad data (exit 5, the file named), nothing of it
/// applied; the other remotes sync on.
#[test]
fn a_changeset_carrying_another_project_is_refused_and_applies_nothing() {
    let (mine, theirs, share, other) = (Home::new(), Home::new(), Folder::new(), Folder::new());
    mine.ok(&[
        "sync",
        "remote",
        "add",
        "share",
        share.arg(),
        "--projects",
        "shared",
    ]);
    mine.ok(&["sync", "remote", "add", "backup", other.arg()]);
    put(&mine, "personal", "diary", "mine alone");
    put(&mine, "shared", "notes", "for both");
    mine.ok(&["sync"]);
    // The plain folder shows what was written there: the shared project only.
    let text = all_text(share.path());
    assert!(text.contains("for both"), "the shared folder is plain");
    assert!(
        !text.contains("personal") && !text.contains("mine alone"),
        "{text}"
    );

    // The colleague's home carries every project through it (it lies about its list).
    theirs.ok(&["sync", "remote", "add", "share", share.arg()]);
    theirs.ok(&["sync"]);
    assert_eq!(get(&theirs, "shared", "notes").as_deref(), Some("for both"));
    put(&theirs, "shared", "notes", "edited by the colleague, fine");
    theirs.ok(&["sync"]);
    put(
        &theirs,
        "personal",
        "diary",
        "written by the colleague into your diary",
    );
    put(&theirs, "shared", "later", "after the hostile one");
    theirs.ok(&["sync"]);

    put(&mine, "personal", "other", "still backed up");
    let run = mine.run(&["sync"]).code(5);
    assert!(
        run.stderr.contains("\"personal\"") && run.stderr.contains("does not carry"),
        "{}",
        run.stderr
    );
    // What came before the hostile changeset is applied; nothing of it, nor after it.
    assert_eq!(
        get(&mine, "shared", "notes").as_deref(),
        Some("edited by the colleague, fine")
    );
    assert_eq!(
        get(&mine, "personal", "diary").as_deref(),
        Some("mine alone")
    );
    assert_eq!(get(&mine, "shared", "later"), None);
    // The other remote synced on.
    let backup = Home::new();
    backup.ok(&["sync", "remote", "add", "backup", other.arg()]);
    backup.ok(&["sync"]);
    assert_eq!(
        get(&backup, "personal", "other").as_deref(),
        Some("still backed up")
    );
    // A pull of that remote alone says the same, every time.
    mine.run(&["sync", "pull", "--remote", "share"]).code(5);
    assert_eq!(
        get(&mine, "personal", "diary").as_deref(),
        Some("mine alone")
    );
}
