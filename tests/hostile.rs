//! A remote is hostile input: whoever can write to a shared folder (a Dropbox, a bucket) can put
//! links, FIFOs, damaged or deleted files there. Each test is one attack of issue 24 on the real
//! binary: nothing outside the remote is written or deleted, nothing hangs, nothing is
//! downgraded, and what was changed is called bad data (exit 5) or refused (exit 1), never
//! applied.

use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;
use std::process::Command;

use crate::util::{Folder, Home, mkfifo, tree_of};

/// A folder outside every remote, with what an attacker would like a sync to overwrite or
/// delete: a manifest, a changeset-like file, and an old file named like our temporary files.
fn victim() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("manifest.json"), b"precious\n").unwrap();
    std::fs::write(
        dir.path().join("00000001-0000000000000001.cset"),
        b"also precious",
    )
    .unwrap();
    let tmp = dir.path().join(".manifest.json.tmp-12345");
    std::fs::write(&tmp, b"a file prune must not sweep").unwrap();
    let aged = Command::new("touch")
        .args(["-d", "3 days ago"])
        .arg(&tmp)
        .status()
        .unwrap();
    assert!(aged.success());
    dir
}

/// Replaces the folder `dir` with a link to `to`.
fn swap_for_link(dir: &Path, to: &Path) {
    std::fs::remove_dir_all(dir).unwrap();
    symlink(to, dir).unwrap();
}

#[test]
fn a_peer_folder_that_links_out_of_the_remote_is_never_written_or_deleted_through() {
    let (a, b, folder) = (Home::new(), Home::new(), Folder::new());
    let outside = victim();
    let before = tree_of(outside.path());
    a.put("k1", "one");
    a.sync("push", &folder, &[]).code(0);
    b.put("theirs", "b's");
    b.sync("push", &folder, &[]).code(0);
    let (pa, pb) = (a.peer_id(&folder), b.peer_id(&folder));

    // A's own folder now points outside: its push, pull, repair and prune refuse to go there.
    swap_for_link(&folder.path().join(&pa), outside.path());
    a.put("k2", "two");
    let push = a.sync("push", &folder, &[]).code(1);
    assert!(push.stderr.contains("link"), "{}", push.stderr);
    assert!(
        push.stderr.contains(&pa),
        "names the folder: {}",
        push.stderr
    );
    a.sync("pull", &folder, &[]);
    a.sync("repair", &folder, &[]);
    a.sync("prune", &folder, &["--forget-after", "1s"]);
    a.sync("snapshot", &folder, &[]);

    // B's folder too, seen from B (its manifest) and from A (a stream to read).
    swap_for_link(&folder.path().join(&pb), outside.path());
    b.sync("pull", &folder, &[]);
    b.sync("push", &folder, &[]);
    b.sync("prune", &folder, &[]);
    a.sync("pull", &folder, &[]);
    a.run(&["sync", "--remote", folder.arg()]);

    assert_eq!(
        tree_of(outside.path()),
        before,
        "something outside was touched"
    );
    // The verdict names each link.
    let verify = a.sync("verify", &folder, &[]).code(5);
    assert!(
        verify.stdout.contains(&pa) && verify.stdout.contains("link"),
        "{}",
        verify.stdout
    );
}

#[test]
fn a_fifo_named_like_a_file_context_reads_never_hangs_a_sync() {
    let (a, b, folder) = (Home::new(), Home::new(), Folder::new());
    a.put("k", "v");
    a.sync("push", &folder, &[]).code(0);
    b.put("mine", "b");
    b.sync("push", &folder, &[]).code(0);
    let pa = a.peer_id(&folder);

    // A FIFO where another peer's manifest was: skipped, named by verify.
    std::fs::remove_file(folder.path().join(&pa).join("manifest.json")).unwrap();
    mkfifo(&folder.path().join(&pa).join("manifest.json"));
    for args in [
        &["sync", "pull", "--remote", folder.arg()][..],
        &["sync", "push", "--remote", folder.arg()],
        &["sync", "--remote", folder.arg()],
        &["sync", "status", "--remote", folder.arg()],
        &["sync", "prune", "--remote", folder.arg()],
    ] {
        let run = b.run_within(60, args);
        assert!(
            run.code == 0 || run.code == 1 || run.code == 5,
            "{args:?}: {run:?}"
        );
    }
    assert_eq!(b.get("k"), "v");
    // A folder named like a changeset: never read as one.
    std::fs::create_dir(
        folder
            .path()
            .join(&pa)
            .join("00000001-0000000000000009.cset"),
    )
    .unwrap();
    let verify = b
        .run_within(60, &["sync", "verify", "--remote", folder.arg()])
        .code(5);
    assert!(verify.stdout.contains("FIFO"), "{}", verify.stdout);
    assert!(
        verify.stdout.contains("00000001-0000000000000009.cset")
            && verify.stdout.contains("a folder where a file should be"),
        "{}",
        verify.stdout
    );

    // A FIFO as the key record: refused, naming it (whether the remote is encrypted cannot
    // be told), never waited on.
    mkfifo(&folder.path().join("encryption.json"));
    for sub in ["pull", "push", "status"] {
        let run = b
            .run_within(60, &["sync", sub, "--remote", folder.arg()])
            .code(1);
        assert!(
            run.stderr.contains("encryption.json"),
            "{sub}: {}",
            run.stderr
        );
        assert!(run.stderr.contains("FIFO"), "{sub}: {}", run.stderr);
    }
    b.run_within(60, &["sync", "--remote", folder.arg()])
        .code(1);
    // The lock was let go: a later run is not told another sync is running.
    let later = b.run_within(60, &["sync", "pull", "--remote", folder.arg()]);
    assert_ne!(later.code, 4, "{later:?}");
}

#[test]
fn two_writers_of_one_name_never_replace_each_other_in_a_folder() {
    use context::remote::{Created, Folder as FolderRemote, Transport};
    let folder = Folder::new();
    for round in 0..20 {
        let key = format!("peer/{round:08}.cset");
        let winners: Vec<(Created, Vec<u8>)> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..4u8)
                .map(|w| {
                    let key = key.clone();
                    let path = folder.path().to_path_buf();
                    s.spawn(move || {
                        let store = FolderRemote::open(&path).unwrap();
                        let bytes = vec![w; 4096];
                        (store.put_if_absent(&key, &bytes).unwrap(), bytes)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let created: Vec<_> = winners.iter().filter(|(c, _)| *c == Created::New).collect();
        assert_eq!(
            created.len(),
            1,
            "round {round}: one writer creates the file"
        );
        let on_disk = std::fs::read(folder.path().join(&key)).unwrap();
        assert_eq!(
            on_disk, created[0].1,
            "round {round}: the creator's bytes stay"
        );
    }
}

#[test]
fn a_new_home_is_readable_by_its_owner_only() {
    let parent = tempfile::tempdir().unwrap();
    let home_dir = parent.path().join("home");
    let run = crate::util::run_command(
        {
            let mut cmd = crate::util::bare_command(&["put", "secret/plan"]);
            cmd.env("CONTEXT_HOME", &home_dir);
            cmd
        },
        b"nobody else reads this",
    );
    assert_eq!(run.code, 0, "{run:?}");
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&home_dir), 0o700, "the home");
    for entry in std::fs::read_dir(&home_dir).unwrap().flatten() {
        let m = mode(&entry.path());
        assert_eq!(m & 0o077, 0, "{} is {m:o}", entry.path().display());
    }
}

#[test]
fn a_database_from_a_newer_version_is_refused_untouched() {
    let home = Home::new();
    home.put("k", "v");
    // As a newer binary would leave it: a later schema, a rollback journal.
    let conn = rusqlite::Connection::open(home.db()).unwrap();
    let _: String = conn
        .query_row("PRAGMA journal_mode = DELETE", [], |r| r.get(0))
        .unwrap();
    conn.pragma_update(None, "user_version", 9999).unwrap();
    drop(conn);
    let before = tree_of(home.path());
    for args in [
        &["ls"][..],
        &["get", "k"],
        &["put", "k2"],
        &["sync", "status"],
    ] {
        let run = home.run(args).code(1);
        assert!(run.stderr.contains("newer"), "{args:?}: {}", run.stderr);
    }
    assert_eq!(tree_of(home.path()), before, "the database was changed");
}

/// Every file in the remote that a home could have written in plaintext: none may hold `text`.
fn assert_nowhere(folder: &Folder, text: &str) {
    for (path, bytes) in tree_of(folder.path()) {
        assert!(
            !String::from_utf8_lossy(&bytes).contains(text),
            "{} holds {text:?} in plaintext",
            path.display()
        );
    }
}

#[test]
fn an_encrypted_remote_whose_key_record_is_deleted_never_receives_plaintext() {
    let (owner, reader, stranger, folder) = (Home::new(), Home::new(), Home::new(), Folder::new());
    crate::util::share_encrypted(&folder, &owner, &reader);
    owner.put("plan", "the owner's secret plan");
    owner.sync("push", &folder, &[]).code(0);
    reader.sync("pull", &folder, &[]).code(0);
    std::fs::remove_file(folder.path().join("encryption.json")).unwrap();

    // A home that never held the key: nothing of it reaches the remote, and it is told why.
    stranger.put("diary", "the stranger's own diary");
    for sub in ["push", "pull", "snapshot"] {
        let run = stranger.sync(sub, &folder, &[]);
        assert_ne!(run.code, 0, "{sub}: {run:?}");
    }
    let push = stranger.sync("push", &folder, &[]).code(1);
    assert!(push.stderr.contains("encryption.json"), "{}", push.stderr);
    assert!(
        push.stderr.contains("key import"),
        "says how to fix it: {}",
        push.stderr
    );
    stranger.run(&["sync", "--remote", folder.arg()]);
    assert_nowhere(&folder, "diary");
    assert_nowhere(&folder, "stranger");

    // The homes that hold the key refuse too, and one of them puts the record back.
    reader.put("note", "the reader's plaintext note");
    reader.sync("push", &folder, &[]).code(1);
    owner.sync("push", &folder, &[]).code(1);
    assert_nowhere(&folder, "plaintext note");
    let line = owner.sync("key", &folder, &[]);
    assert_eq!(line.code, 2, "`sync key` needs a subcommand");
    let exported = owner
        .run(&["sync", "key", "export", "--remote", folder.arg()])
        .code(0)
        .stdout;
    let restored = owner
        .run_with(
            &["sync", "key", "import", "--remote", folder.arg()],
            exported.as_bytes(),
            &[],
        )
        .code(0);
    assert!(restored.stdout.contains("put back"), "{}", restored.stdout);
    assert!(folder.path().join("encryption.json").exists());
    reader.sync("push", &folder, &[]).code(0);
    owner.sync("pull", &folder, &[]).code(0);
    assert_eq!(owner.get("note"), "the reader's plaintext note");
    assert_nowhere(&folder, "plaintext note");
    // A key that does not open the remote's files does not put a record back.
    std::fs::remove_file(folder.path().join("encryption.json")).unwrap();
    let other = Folder::new();
    let (x, _y) = (Home::new(), Home::new());
    x.run(&["sync", "init", "--encrypt", "--remote", other.arg()])
        .code(0);
    let wrong = x
        .run(&["sync", "key", "export", "--remote", other.arg()])
        .code(0)
        .stdout;
    stranger
        .run_with(
            &["sync", "key", "import", "--remote", folder.arg()],
            wrong.as_bytes(),
            &[],
        )
        .code(1);
    assert!(!folder.path().join("encryption.json").exists());
}

/// A peer's manifest in an encrypted remote is authenticated like its changesets.
#[test]
fn a_tampered_or_unsealed_manifest_in_an_encrypted_remote_is_bad_data() {
    let (a, b, folder) = (Home::new(), Home::new(), Folder::new());
    crate::util::share_encrypted(&folder, &a, &b);
    a.put("k", "v");
    a.sync("push", &folder, &[]).code(0);
    b.sync("pull", &folder, &[]).code(0);
    let pa = a.peer_id(&folder);
    let manifest = folder.path().join(&pa).join("manifest.json");
    let sealed = std::fs::read(&manifest).unwrap();

    // One byte changed inside the sealed text.
    let mut flipped = sealed.clone();
    let at = flipped.len() / 2 + 10;
    flipped[at] = if flipped[at] == b'a' { b'b' } else { b'a' };
    // A plaintext manifest in its place, as an attacker without the key would write it.
    let plain = format!(
        "{{\"format\":1,\"peer\":\"{pa}\",\"generation\":1,\"host\":\"evil\",\"published\":[],\
         \"last_push_at\":null,\"acks\":[]}}"
    );
    for (what, bytes) in [
        ("a changed byte", flipped),
        ("plaintext", plain.into_bytes()),
    ] {
        std::fs::write(&manifest, &bytes).unwrap();
        for sub in ["pull", "status", "verify"] {
            let run = b.sync(sub, &folder, &[]);
            assert_eq!(run.code, 5, "{what}, {sub}: {run:?}");
            let said = format!("{}{}", run.stdout, run.stderr);
            assert!(said.contains("manifest.json"), "{what}, {sub}: {said}");
        }
    }
    std::fs::write(&manifest, &sealed).unwrap();
    b.sync("pull", &folder, &[]).code(0);
}

/// Changesets a peer's manifest says it published, deleted from the remote: a gap like any
/// other (in transit for the grace, bad data after it), and `verify` names them.
#[test]
fn the_newest_changesets_deleted_behind_a_manifest_that_lists_them_are_a_gap() {
    for encrypted in [false, true] {
        let (a, b, folder) = (Home::new(), Home::new(), Folder::new());
        if encrypted {
            crate::util::share_encrypted(&folder, &a, &b);
        }
        a.put("k1", "one");
        a.sync("push", &folder, &[]).code(0);
        b.sync("pull", &folder, &[]).code(0);
        a.put("k2", "two");
        a.sync("push", &folder, &[]).code(0);
        a.put("k3", "three");
        a.sync("push", &folder, &[]).code(0);
        let newest: Vec<_> = folder.changesets().into_iter().rev().take(2).collect();
        for f in &newest {
            std::fs::remove_file(f).unwrap();
        }
        // Within the grace: a file on its way, no alarm.
        b.sync("pull", &folder, &[]).code(0);
        let status = b.sync("status", &folder, &["--json"]).code(0).json();
        assert_eq!(
            status["in_transit"].as_array().unwrap().len(),
            1,
            "{status}"
        );
        // Past it: bad data, naming the first missing changeset.
        let late = b.sync("pull", &folder, &["--transit-grace", "0s"]).code(5);
        assert!(late.stderr.contains("manifest says"), "{}", late.stderr);
        let verify = b.sync("verify", &folder, &[]).code(5);
        assert!(verify.stdout.contains("missing"), "{}", verify.stdout);
        // The writer puts them back, and the reader goes on.
        a.sync("repair", &folder, &[]).code(0);
        b.sync("pull", &folder, &[]).code(0);
        assert_eq!(b.get("k3"), "three");
    }
}

/// A typo that names a folder of something else (`/etc`): refused before anything is written.
#[test]
fn a_folder_that_is_not_a_remote_is_refused_and_left_as_it_was() {
    let home = Home::new();
    home.put("k", "v");
    let etc = tempfile::tempdir().unwrap();
    std::fs::write(etc.path().join("passwd"), b"root:x:0:0\n").unwrap();
    std::fs::create_dir(etc.path().join("ssl")).unwrap();
    let before = tree_of(etc.path());
    let dirs_before = std::fs::read_dir(etc.path()).unwrap().count();
    let at = etc.path().to_str().unwrap();
    for sub in ["pull", "push", "snapshot", "prune"] {
        let run = home.run(&["sync", sub, "--remote", at]).code(1);
        assert!(
            run.stderr.contains("does not look like a remote"),
            "{sub}: {}",
            run.stderr
        );
        assert!(
            run.stderr.contains("passwd"),
            "names what it found: {}",
            run.stderr
        );
    }
    home.run(&["sync", "--remote", at]).code(1);
    assert_eq!(tree_of(etc.path()), before);
    assert_eq!(std::fs::read_dir(etc.path()).unwrap().count(), dirs_before);
    // An empty folder, and one holding only a file-sync tool's files, are remotes.
    let empty = Folder::new();
    std::fs::create_dir(empty.path().join(".stfolder")).unwrap();
    std::fs::write(empty.path().join(".DS_Store"), b"").unwrap();
    home.sync("push", &empty, &[]).code(0);
}

/// A password written into a URL is neither used, nor printed, nor stored.
#[test]
fn a_password_in_a_url_is_never_stored_or_printed() {
    let home = Home::new();
    home.put("k", "v");
    for url in [
        "ssh://me:hunter2@127.0.0.1:1/srv/notes",
        "s3://bucket:hunter2@x/prefix",
    ] {
        for args in [
            &["sync", "push", "--remote", url][..],
            &["sync", "remote", url],
            &["sync", "--remote", url, "--json"],
        ] {
            let run = home.run(args);
            assert_eq!(run.code, 2, "{args:?}: {run:?}");
            assert!(!run.stderr.contains("hunter2"), "{}", run.stderr);
            assert!(!run.stdout.contains("hunter2"), "{}", run.stdout);
            assert!(run.stderr.contains("***"), "{}", run.stderr);
        }
    }
    // In an S3 endpoint: ignored, and redacted wherever it would show.
    let dead = format!(
        "http://id:hunter2@127.0.0.1:{}",
        crate::util::server::free_port()
    );
    let run = home.run_with(
        &["sync", "push", "--remote", "s3://bucket"],
        b"",
        &[
            ("AWS_ENDPOINT_URL", dead.as_str()),
            ("AWS_ALLOW_HTTP", "true"),
            ("AWS_ACCESS_KEY_ID", "id"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
            ("CONTEXT_RETRY_BUDGET", "1s"),
        ],
    );
    assert_eq!(run.code, 1, "{run:?}");
    assert!(!run.stderr.contains("hunter2"), "{}", run.stderr);
    let log = home.run(&["sync", "log", "--json"]).code(0);
    assert!(!log.stdout.contains("hunter2"), "{}", log.stdout);
    for (path, bytes) in tree_of(home.path()) {
        assert!(
            !bytes.windows(7).any(|w| w == b"hunter2"),
            "{} holds the password",
            path.display()
        );
    }
}

/// The seeds `make fuzz` starts the manifest and key record decoders from are what peers write.
#[test]
fn the_remote_file_seeds_decode() {
    use context::remote::{KeyRecord, Manifest};
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/remote_files");
    let plain = std::fs::read(dir.join("manifest-plain.json")).unwrap();
    let text: serde_json::Value = serde_json::from_slice(&plain).unwrap();
    let peer = text["peer"].as_str().unwrap().parse().unwrap();
    let m = Manifest::decode(&plain, peer, None).unwrap();
    assert_eq!(m.published.len(), 1);
    let record = KeyRecord::decode(&std::fs::read(dir.join("encryption.json")).unwrap());
    assert!(record.is_some());
    let sealed = std::fs::read(dir.join("manifest-sealed.json")).unwrap();
    assert!(
        Manifest::decode(&sealed, peer, None).is_err(),
        "sealed: not plain"
    );
    // Every damaged byte of a key record gives a record or none, never a panic.
    let bytes = std::fs::read(dir.join("encryption.json")).unwrap();
    for i in 0..bytes.len() {
        let mut b = bytes.clone();
        b[i] ^= 0x55;
        let _ = KeyRecord::decode(&b);
        let _ = Manifest::decode(&b, peer, None);
    }
}
