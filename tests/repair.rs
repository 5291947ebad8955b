//! `context sync repair`: the writer of a damaged or lost changeset puts it back, byte for
//! byte, and readers that stopped at it go on; what it cannot rebuild it says so.

use crate::util::{Folder, Home};

/// A pushes three changesets; B has applied none.
fn three_changesets() -> (Folder, Home, Home, Vec<std::path::PathBuf>) {
    let (folder, a, b) = (
        Folder::new(),
        Home::new().with_env("CONTEXT_HOST", "laptop"),
        Home::new(),
    );
    for i in 0..3 {
        a.put(&format!("k{i}"), &format!("body {i}\n"));
        a.sync("push", &folder, &[]).code(0);
    }
    let files = folder.changesets();
    assert_eq!(files.len(), 3);
    (folder, a, b, files)
}

#[test]
fn a_flipped_byte_is_repaired_by_its_writer_and_the_reader_goes_on() {
    let (folder, a, b, files) = three_changesets();
    let original = std::fs::read(&files[1]).unwrap();
    let mut damaged = original.clone();
    let mid = damaged.len() / 2;
    damaged[mid] ^= 0x01;
    std::fs::write(&files[1], &damaged).unwrap();

    // The reader stops there, and is told who can repair it and how.
    let run = b.sync("pull", &folder, &[]).code(5);
    assert!(run.stderr.contains("checksum"), "{}", run.stderr);
    assert!(
        run.stderr.contains("written by laptop") && run.stderr.contains("context sync repair"),
        "{}",
        run.stderr
    );
    let verify = a.sync("verify", &folder, &[]).code(5);
    assert!(
        verify.stdout.contains("to repair: on laptop"),
        "{}",
        verify.stdout
    );

    // The writer's ordinary sync does not see it (it only reads past its last changeset)...
    a.run(&["sync", "--remote", folder.arg()]).code(0);
    assert_eq!(std::fs::read(&files[1]).unwrap(), damaged);
    // ...repair does: a dry run first, then the real one, byte for byte.
    let dry = a.sync("repair", &folder, &["--dry-run"]).code(0);
    assert!(dry.stdout.contains("would put back"), "{}", dry.stdout);
    assert_eq!(std::fs::read(&files[1]).unwrap(), damaged);
    let run = a.sync("repair", &folder, &["--json"]).code(0);
    let report = run.json();
    assert_eq!(report["files"][0]["state"], "damaged");
    assert_eq!(report["files"][0]["repaired"], true);
    assert_eq!(
        std::fs::read(&files[1]).unwrap(),
        original,
        "the same bytes"
    );

    b.sync("pull", &folder, &[]).code(0);
    assert_eq!(b.get("k2"), "body 2\n");
    a.sync("verify", &folder, &[]).code(0);
    let again = a.sync("repair", &folder, &[]).code(0);
    assert!(again.stdout.contains("all intact"), "{}", again.stdout);
}

#[test]
fn a_lost_changeset_is_put_back_but_a_pruned_one_is_not() {
    let (folder, a, b, files) = three_changesets();
    let original = std::fs::read(&files[1]).unwrap();
    std::fs::remove_file(&files[1]).unwrap();
    a.sync("repair", &folder, &[]).code(0);
    assert_eq!(std::fs::read(&files[1]).unwrap(), original);
    b.sync("pull", &folder, &[]).code(0);
    assert_eq!(b.rows(), 3);

    // Both have applied everything: a prune removes the first two; repair leaves them gone.
    a.sync("pull", &folder, &[]).code(0);
    b.sync("push", &folder, &[]).code(0);
    a.sync("prune", &folder, &[]).code(0);
    assert!(!files[0].exists() && !files[1].exists(), "pruned");
    let run = a.sync("repair", &folder, &[]).code(0);
    assert!(run.stdout.contains("all intact"), "{}", run.stdout);
    assert!(!files[0].exists());
}

#[test]
fn what_cannot_be_rebuilt_is_said_with_what_to_do_instead() {
    let (folder, a, _b, files) = three_changesets();
    // As if published by a version that kept no record of how.
    let conn = rusqlite::Connection::open(a.db()).unwrap();
    conn.execute("DELETE FROM published", []).unwrap();
    drop(conn);
    let mut damaged = std::fs::read(&files[1]).unwrap();
    let last = damaged.len() - 40;
    damaged[last] ^= 0xff;
    std::fs::write(&files[1], &damaged).unwrap();
    let run = a.sync("repair", &folder, &[]).code(5);
    assert!(run.stderr.contains("cannot put back"), "{}", run.stderr);
    assert!(run.stderr.contains("push --force"), "{}", run.stderr);
    assert_eq!(
        std::fs::read(&files[1]).unwrap(),
        damaged,
        "nothing written"
    );
}

/// Over an encrypted folder: the damaged file (a delta, sealed as format 4) is sealed again (a
/// fresh nonce; the file inside is the same, byte for byte), and the reader with the key goes
/// on.
#[test]
fn repair_works_in_an_encrypted_remote() {
    let (folder, a, b) = (Folder::new(), Home::new(), Home::new());
    crate::util::share_encrypted(&folder, &a, &b);
    let doc = crate::util::prose(20_000, 4);
    let edited = format!("{doc}one more line\n");
    for body in [&doc, &edited] {
        a.put("doc", body);
        a.sync("push", &folder, &[]).code(0);
    }
    a.put("k2", "secret 2\n");
    a.sync("push", &folder, &[]).code(0);
    let files = folder.changesets();
    let mut damaged = std::fs::read(&files[1]).unwrap();
    assert_eq!(&damaged[8..10], &4u16.to_be_bytes(), "a sealed delta");
    let mid = damaged.len() / 2;
    damaged[mid] ^= 0x01;
    std::fs::write(&files[1], &damaged).unwrap();
    b.sync("pull", &folder, &[]).code(5);
    a.sync("repair", &folder, &[]).code(0);
    assert_ne!(std::fs::read(&files[1]).unwrap(), damaged);
    b.sync("pull", &folder, &[]).code(0);
    assert_eq!(b.get("k2"), "secret 2\n");
    assert_eq!(b.get("doc"), edited);
    a.sync("verify", &folder, &[]).code(0);
}
