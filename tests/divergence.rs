//! Generations: a push refuses (exit 3) when the remote and this database disagree about this
//! peer's history, and `--force` recovers with nothing lost.

use crate::util::{Folder, Home, copy_db};

#[test]
fn a_database_restored_from_a_backup_is_refused_then_forced_into_a_new_generation() {
    let (a, b, folder) = (Home::new(), Home::new(), Folder::new());
    let backup = tempfile::tempdir().unwrap();
    a.put("one", "1");
    a.sync("push", &folder, &[]).code(0);
    copy_db(a.path(), backup.path());
    a.put("two", "2 (lost with the restore)");
    a.sync("push", &folder, &[]).code(0);

    copy_db(backup.path(), a.path());
    a.put("three", "3 (after the restore)");
    let refused = a.sync("push", &folder, &[]).code(3);
    assert!(
        refused.stderr.contains("restored from a backup"),
        "{}",
        refused.stderr
    );
    assert!(refused.stderr.contains("--force"), "{}", refused.stderr);

    let forced = a
        .sync("push", &folder, &["--force", "--json"])
        .code(0)
        .json();
    assert_eq!(forced["generation"], 2);
    // Said as a message of the command, not as a raw log line.
    a.put("four", "4");
    copy_db(backup.path(), a.path());
    let again = a.sync("push", &folder, &["--force"]).code(0);
    assert!(
        again.stdout.starts_with("started generation 3: "),
        "{}",
        again.stdout
    );
    assert!(!again.stderr.contains("WARN"), "{}", again.stderr);
    assert_eq!(forced["entries"], 1, "only what the remote lacks");
    // The lost generation comes back to this peer, and everyone gets both histories.
    a.sync("pull", &folder, &[]).code(0);
    assert_eq!(a.get("two"), "2 (lost with the restore)");
    b.sync("pull", &folder, &[]).code(0);
    for k in ["one", "two", "three"] {
        b.run(&["get", k]).code(0);
    }
    assert_eq!(a.version_ids(), b.version_ids());
    // And from then on pushes are ordinary.
    a.put("four", "4");
    a.sync("push", &folder, &[]).code(0);
}

#[test]
fn a_home_copied_to_another_machine_is_noticed_and_both_histories_survive() {
    let (a, b, folder) = (Home::new(), Home::new(), Folder::new());
    a.put("shared", "before the copy");
    a.sync("push", &folder, &[]).code(0);
    let copy = Home::new().with_env("CONTEXT_HOST", "other-laptop");
    copy_db(a.path(), copy.path());

    a.put("from/original", "o");
    a.sync("push", &folder, &[]).code(0);
    copy.put("from/copy", "c");
    let refused = copy.sync("push", &folder, &[]).code(3);
    assert!(refused.stderr.contains("copied"), "{}", refused.stderr);
    assert!(
        refused.stderr.contains("other-laptop"),
        "{}",
        refused.stderr
    );

    copy.sync("push", &folder, &["--force"]).code(0);
    b.sync("pull", &folder, &[]).code(0);
    assert_eq!(b.get("from/original"), "o");
    assert_eq!(b.get("from/copy"), "c");
    a.sync("pull", &folder, &[]).code(0);
    copy.sync("pull", &folder, &[]).code(0);
    assert_eq!(a.version_ids(), copy.version_ids());
    assert_eq!(a.version_ids(), b.version_ids());
    // The original keeps pushing in its generation; the copy in its new one.
    a.put("later", "x");
    a.sync("push", &folder, &[]).code(0);
    copy.put("later/copy", "y");
    copy.sync("push", &folder, &[]).code(0);
}

#[test]
fn an_emptied_remote_is_refused_then_republished() {
    let (a, b, folder) = (Home::new(), Home::new(), Folder::new());
    let c = Home::new();
    a.put("k", "1");
    c.put("from/c", "c");
    c.sync("push", &folder, &[]).code(0);
    a.sync("pull", &folder, &[]).code(0);
    a.sync("push", &folder, &[]).code(0);
    for entry in std::fs::read_dir(folder.path()).unwrap() {
        std::fs::remove_dir_all(entry.unwrap().path()).unwrap();
    }
    a.put("k2", "2");
    let refused = a.sync("push", &folder, &[]).code(3);
    assert!(refused.stderr.contains("lacks"), "{}", refused.stderr);
    assert!(refused.stderr.contains("mounted"), "{}", refused.stderr);

    let forced = a
        .sync("push", &folder, &["--force", "--json"])
        .code(0)
        .json();
    // Everything A holds goes out again, C's version included (the remote lost it too).
    assert_eq!(forced["entries"], 3);
    b.sync("pull", &folder, &[]).code(0);
    assert_eq!(a.version_ids(), b.version_ids());
    assert_eq!(b.get("from/c"), "c");
}

#[test]
fn a_missing_remote_folder_is_not_created() {
    let a = Home::new();
    let gone = tempfile::tempdir().unwrap().path().join("usb-stick");
    a.put("k", "v");
    let run = a
        .run(&["sync", "push", "--remote", gone.to_str().unwrap()])
        .code(1);
    assert!(run.stderr.contains("mounted"), "{}", run.stderr);
    assert!(!gone.exists());
}
