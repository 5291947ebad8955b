//! Encrypted remotes through the real binary: nothing a user wrote is readable in the remote,
//! a changed byte anywhere is caught, a missing or wrong key is told apart from damage, and
//! plaintext is never pushed into an encrypted remote. Over a folder and over S3.

use std::path::Path;

use crate::util::s3::{Bucket, moto};
use crate::util::{Folder, Home, Run, walk};

/// Words a test writes that must appear in no byte of the remote.
const SECRETS: [&str; 4] = [
    "ZanzibarBody",
    "quarterly-zephyr-plan",
    "ProjectXylophone",
    "mango-secret-host",
];

fn writer() -> Home {
    Home::new().with_env("CONTEXT_HOST", SECRETS[3])
}

fn write_secrets(h: &Home) {
    h.run_with(
        &["put", SECRETS[1], "--project", SECRETS[2]],
        format!("{} and more {}", SECRETS[0], "x".repeat(300)).as_bytes(),
        &[],
    )
    .code(0);
    h.run_with(&["put", "plain/key"], SECRETS[0].as_bytes(), &[])
        .code(0);
}

/// Every byte of every file under `dir`, scanned for each secret (and its reverse, and
/// upper case, so a trivial transformation would not hide it).
fn assert_no_plaintext(dir: &Path) {
    let mut files = 0;
    for entry in walk(dir) {
        let bytes = std::fs::read(&entry).unwrap();
        files += 1;
        for s in SECRETS {
            for needle in [s.to_string(), s.to_uppercase(), s.chars().rev().collect()] {
                assert!(
                    !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
                    "{needle:?} is readable in {}",
                    entry.display()
                );
            }
        }
    }
    assert!(files >= 2, "only {files} files scanned");
}

fn export(h: &Home, folder: &Folder) -> String {
    h.run(&["sync", "key", "export", "--remote", folder.arg()])
        .code(0)
        .stdout
}

fn import(h: &Home, folder: &Folder, line: &str) -> Run {
    h.run_with(
        &["sync", "key", "import", "--remote", folder.arg()],
        line.as_bytes(),
        &[],
    )
}

#[test]
fn an_encrypted_folder_round_trips_and_holds_no_plaintext() {
    let (a, b, folder) = (writer(), Home::new(), Folder::new());
    a.run(&["sync", "init", "--encrypt", "--remote", folder.arg()])
        .code(0);
    write_secrets(&a);
    for round in 0..3 {
        a.put(&format!("round/{round}"), SECRETS[0]);
        a.sync("push", &folder, &[]).code(0);
    }
    // Without the key: refused, told how to get it, nothing applied.
    let refused = b.sync("pull", &folder, &[]).code(1);
    assert!(refused.stderr.contains("key import"), "{}", refused.stderr);
    // A wrong key is refused as such; the right one opens the remote.
    let wrong = import(
        &b,
        &folder,
        "ctxkey1-00000000-00000000-00000000-00000000-00000000-00000000-00000000-00000001",
    )
    .code(1);
    assert!(wrong.stderr.contains("does not open"), "{}", wrong.stderr);
    let line = export(&a, &folder);
    assert!(line.trim().starts_with("ctxkey1-"), "{line}");
    import(&b, &folder, &line).code(0);
    b.sync("pull", &folder, &[]).code(0);
    assert_eq!(
        b.run(&["get", SECRETS[1], "--project", SECRETS[2]])
            .code(0)
            .stdout
            .len(),
        "ZanzibarBody and more ".len() + 300
    );
    // B writes too; both converge; snapshot, prune and a bootstrap work sealed.
    b.put("from/b", "b");
    b.run(&["sync", "--remote", folder.arg()]).code(0);
    a.run(&["sync", "--remote", folder.arg()]).code(0);
    b.run(&["sync", "--remote", folder.arg()]).code(0);
    let pruned = a.sync("prune", &folder, &["--json"]).code(0).json();
    assert!(pruned["snapshot"].is_object(), "{pruned}");
    assert!(
        !pruned["removed"].as_array().unwrap().is_empty(),
        "{pruned}"
    );
    a.sync("verify", &folder, &[]).code(0);
    let c = Home::new();
    import(&c, &folder, &line).code(0);
    let boot = c.sync("pull", &folder, &["--json"]).code(0).json();
    assert_eq!(boot["bootstrapped_from"].as_array().unwrap().len(), 1);
    assert_eq!(c.version_ids(), a.version_ids());
    assert_no_plaintext(folder.path());
    // Without the key, verify checks structure; inspect shows what is public.
    let outsider = Home::new();
    let v = outsider.sync("verify", &folder, &["--json"]).code(0).json();
    assert_eq!(v["structure_only"], true);
    let file = folder.changesets().pop().unwrap();
    let public = outsider
        .run(&["sync", "inspect", file.to_str().unwrap(), "--json"])
        .code(0)
        .json();
    assert_eq!(public["encrypted"]["opened"], false);
    assert_eq!(public["format"], "2.0");
    assert!(public["entries"].as_array().unwrap().is_empty());
    let opened = a
        .run(&["sync", "inspect", file.to_str().unwrap(), "--json"])
        .code(0)
        .json();
    assert_eq!(opened["encrypted"]["opened"], true);
}

#[test]
fn a_changed_byte_anywhere_is_caught_and_damage_is_told_from_a_missing_or_wrong_key() {
    let (a, b, folder) = (writer(), Home::new(), Folder::new());
    a.run(&["sync", "init", "--encrypt", "--remote", folder.arg()])
        .code(0);
    write_secrets(&a);
    a.sync("push", &folder, &[]).code(0);
    import(&b, &folder, &export(&a, &folder)).code(0);
    b.sync("pull", &folder, &[]).code(0);
    a.put("next", "n");
    a.sync("push", &folder, &[]).code(0);

    // A changeset: bad data, the file named, the other streams applied.
    let newest = folder.changesets().pop().unwrap();
    let original = std::fs::read(&newest).unwrap();
    let mut flipped = original.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0x01;
    std::fs::write(&newest, &flipped).unwrap();
    let run = b.sync("pull", &folder, &[]).code(5);
    let name = newest.file_name().unwrap().to_str().unwrap();
    assert!(run.stderr.contains(name), "{}", run.stderr);
    b.sync("verify", &folder, &[]).code(5);
    std::fs::write(&newest, &original).unwrap();
    b.sync("pull", &folder, &[]).code(0);
    assert_eq!(b.get("next"), "n");

    // A manifest: whoever reads it (prune) says it does not check out.
    let manifest = walk(folder.path())
        .into_iter()
        .find(|p| p.ends_with("manifest.json"))
        .unwrap();
    let original = std::fs::read(&manifest).unwrap();
    let mut flipped = original.clone();
    let at = flipped.iter().rposition(|b| b.is_ascii_hexdigit()).unwrap() - 3;
    flipped[at] = if flipped[at] == b'0' { b'1' } else { b'0' };
    std::fs::write(&manifest, &flipped).unwrap();
    let run = a.sync("prune", &folder, &["--dry-run"]);
    let run_b = b.sync("prune", &folder, &["--dry-run"]);
    let said = format!("{}{}", run.stderr, run_b.stderr);
    assert!(said.contains("does not check out"), "{said}");
    std::fs::write(&manifest, &original).unwrap();

    // The key record: damage (exit 5), told from another key (exit 1).
    let record = folder.path().join("encryption.json");
    let original = std::fs::read_to_string(&record).unwrap();
    for (from, to) in [
        ("\"check\": \"", "\"check\": \"00"),
        ("\"key_id\": \"", "\"key_id\": \"0"),
    ] {
        let changed = original.replacen(from, to, 1);
        let changed = if from.contains("key_id") {
            // Same length: change one hex digit of the id.
            let at = original.find("\"key_id\": \"").unwrap() + 11;
            let mut bytes = original.clone().into_bytes();
            bytes[at] = if bytes[at] == b'a' { b'b' } else { b'a' };
            String::from_utf8(bytes).unwrap()
        } else {
            changed
        };
        std::fs::write(&record, changed).unwrap();
        let run = a.sync("pull", &folder, &[]).code(5);
        assert!(run.stderr.contains("encryption.json"), "{}", run.stderr);
    }
    std::fs::write(&record, "not json").unwrap();
    a.sync("push", &folder, &[]).code(5);
    std::fs::write(&record, &original).unwrap();
    a.sync("pull", &folder, &[]).code(0);
}

#[test]
fn plaintext_is_never_pushed_into_an_encrypted_remote() {
    let (a, folder) = (writer(), Folder::new());
    a.run(&["sync", "init", "--encrypt", "--remote", folder.arg()])
        .code(0);
    // A home without the key cannot push.
    let stranger = Home::new();
    stranger.put("k", SECRETS[0]);
    stranger.sync("push", &folder, &[]).code(1);
    // Only an empty remote can be made encrypted, and only once.
    a.run(&["sync", "init", "--encrypt", "--remote", folder.arg()])
        .code(1);
    let plain = Folder::new();
    a.put("k", "v");
    a.sync("push", &plain, &[]).code(0);
    let run = a
        .run(&["sync", "init", "--encrypt", "--remote", plain.arg()])
        .code(1);
    assert!(run.stderr.contains("not empty"), "{}", run.stderr);
    // The record gone (a replaced or emptied remote): the home that encrypted it refuses to
    // write there in plaintext.
    write_secrets(&a);
    a.sync("push", &folder, &[]).code(0);
    std::fs::remove_file(folder.path().join("encryption.json")).unwrap();
    let before = walk(folder.path()).len();
    a.put("more", SECRETS[0]);
    let run = a.sync("push", &folder, &[]).code(1);
    assert!(run.stderr.contains("no key record"), "{}", run.stderr);
    assert_eq!(walk(folder.path()).len(), before);
    assert_no_plaintext(folder.path());
}

#[test]
fn an_encrypted_bucket_round_trips_and_holds_no_plaintext() {
    let moto = moto();
    let env: Vec<(String, String)> = moto.env();
    let home = |h: Home| env.iter().fold(h, |h, (k, v)| h.with_env(k, v));
    let (a, b, bucket) = (home(writer()), home(Home::new()), Bucket::new());
    a.run(&["sync", "init", "--encrypt", "--remote", &bucket.url])
        .code(0);
    write_secrets(&a);
    a.run(&["sync", "push", "--remote", &bucket.url]).code(0);
    let line = a
        .run(&["sync", "key", "export", "--remote", &bucket.url])
        .code(0)
        .stdout;
    b.run_with(
        &["sync", "key", "import", "--remote", &bucket.url],
        line.as_bytes(),
        &[],
    )
    .code(0);
    b.run(&["sync", "pull", "--remote", &bucket.url]).code(0);
    assert_eq!(b.get("plain/key"), SECRETS[0]);
    // Every object in the bucket, byte by byte.
    let remote = Bucket::remote_of(&bucket.name);
    let listing = remote.list().unwrap();
    let mut seen = 0;
    for name in &listing.changesets {
        let raw = remote.read_raw(name).unwrap();
        seen += 1;
        for s in SECRETS {
            assert!(
                !raw.windows(s.len()).any(|w| w == s.as_bytes()),
                "{s} in {name}"
            );
        }
    }
    assert!(seen >= 1);
}
