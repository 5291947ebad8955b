//! Golden changesets of format 1.0, a snapshot of format 1.1, and both sealed in format 2.0
//! under a test key (made once by `cargo run --example make-fixtures`): every later binary must
//! read them, exactly, forever; and each broken copy is refused by name.

use std::path::{Path, PathBuf};

use crate::util::{Folder, Home, inspect};

const V1: &str = "fixtures/changesets/v1";
const PEER: &str = "ce56971c-de35-4897-821e-fc0b1046c8bf";

fn stream() -> PathBuf {
    Path::new(V1).join(PEER)
}

/// A remote folder holding the files of `from` (a peer's folder of golden files) whose names
/// `keep` accepts, in the folder of peer `peer`: where they would be in a remote.
fn remote_of(from: &Path, peer: &str, keep: impl Fn(&str) -> bool) -> Folder {
    let folder = Folder::new();
    let dest = folder.path().join(peer);
    std::fs::create_dir(&dest).unwrap();
    for f in std::fs::read_dir(from).unwrap().flatten() {
        if keep(&f.file_name().to_string_lossy()) {
            std::fs::copy(f.path(), dest.join(f.file_name())).unwrap();
        }
    }
    folder
}

/// The one peer whose folder `dir` holds.
fn only_peer(dir: &str) -> String {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .next()
        .unwrap()
        .file_name()
        .to_string_lossy()
        .into_owned()
}

#[test]
fn the_golden_stream_decodes_to_what_was_written() {
    let first = inspect(&stream().join("00000001-0000000000000001.cset"));
    assert_eq!(first["format"], "1.0");
    assert_eq!(first["checksum"]["ok"], true);
    let h = &first["header"];
    assert_eq!(h["peer"], PEER);
    assert_eq!(
        (h["generation"].as_u64(), h["seq"].as_u64()),
        (Some(1), Some(1))
    );
    assert!(h["prev"].is_null());
    assert_eq!(h["host"], "fixture-host");
    assert_eq!(h["created_at"], "2026-11-01T09:05:00.000Z");
    assert_eq!(
        (h["versions"].as_u64(), h["tombstones"].as_u64()),
        (Some(5), Some(0))
    );
    let keys: Vec<&str> = first["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["key"].as_str().unwrap())
        .collect();
    assert_eq!(
        keys,
        [
            "research/background-sync",
            "research/background-sync",
            "tmp/scratch",
            "plan/q1",
            "blob"
        ]
    );
    let e = &first["entries"];
    assert_eq!(e[1]["parent"], e[0]["id"]);
    assert_eq!(e[2]["expires_at"], "2026-11-01T10:02:00.000Z");
    assert_ne!(e[3]["peer"], PEER, "a relayed version keeps its writer");
    assert_eq!(e[4]["size"], 6);

    let second = inspect(&stream().join("00000001-0000000000000002.cset"));
    assert_eq!(second["header"]["prev"], first["checksum"]["sha256"]);
    assert_eq!(second["entries"][0]["kind"], "tombstone");
    assert_eq!(second["entries"][0]["parent"], e[1]["id"]);
}

#[test]
fn a_remote_holding_the_golden_stream_pulls_into_a_new_home() {
    let (folder, home) = (remote_of(&stream(), PEER, |_| true), Home::new());
    let at = [("CONTEXT_NOW", "2026-11-01T09:30:00Z")];
    home.run_with(&["sync", "pull", "--remote", folder.arg()], b"", &at)
        .code(0);
    assert!(
        home.run(&["get", "research/background-sync"])
            .code(1)
            .stderr
            .contains("deleted")
    );
    assert_eq!(
        home.run_with(&["get", "tmp/scratch"], b"", &at)
            .code(0)
            .stdout,
        "short-lived\n"
    );
    assert_eq!(
        home.ok(&["get", "plan/q1", "--project", "plans"]),
        "ship it\n"
    );
    let blob = home.run(&["get", "blob", "--project", "plans"]).code(0);
    assert_eq!(blob.raw_stdout, [0, 159, 146, 150, 255, 10]);
    assert_eq!(home.rows(), 6);
}

#[test]
fn each_broken_fixture_is_refused_with_its_own_reason() {
    for (file, reason) in [
        ("truncated.cset", "truncated"),
        ("flipped-byte.cset", "checksum"),
        ("future-version.cset", "newer than this binary reads"),
        ("wrong-magic.cset", "magic"),
    ] {
        let path = Path::new(V1).join("broken").join(file);
        let run = Home::new().run(&["sync", "inspect", path.to_str().unwrap()]);
        assert_eq!(run.code, 5, "{file}: {}", run.stderr);
        let said = format!("{}{}", run.stdout, run.stderr);
        assert!(said.contains(reason), "{file}: {said}");
    }
}

#[test]
fn a_future_format_is_refused_in_a_pull_and_named() {
    let (folder, home) = (Folder::new(), Home::new());
    let dest = folder.path().join(PEER);
    std::fs::create_dir(&dest).unwrap();
    std::fs::copy(
        Path::new(V1).join("broken/future-version.cset"),
        dest.join("00000001-0000000000000001.cset"),
    )
    .unwrap();
    let run = home.sync("pull", &folder, &[]).code(5);
    assert!(run.stderr.contains("format 5.0"), "{}", run.stderr);
    assert!(run.stderr.contains("upgrade"), "{}", run.stderr);
    assert!(
        run.stderr.contains("00000001-0000000000000001.cset"),
        "{}",
        run.stderr
    );
}

/// Every input the fuzzer ever found troublesome (`fixtures/changesets/fuzz/`) is refused or
/// decoded, never a panic.
#[test]
fn fuzzer_findings_stay_fixed() {
    for f in std::fs::read_dir("fixtures/changesets/fuzz")
        .unwrap()
        .flatten()
    {
        let path = f.path();
        if path.extension().is_some_and(|e| e == "cset") {
            let bytes = std::fs::read(&path).unwrap();
            let _ = context::changeset::decode(&bytes);
            let _ = context::changeset::inspect(&bytes);
        }
    }
}

const SNAPSHOT: &str = "snapshot-01a1965d9d800000";

#[test]
fn the_golden_snapshot_is_format_1_1_and_covers_the_stream() {
    let seal = inspect(&stream().join(format!("{SNAPSHOT}.cset")));
    assert_eq!(seal["format"], "1.1");
    assert_eq!(seal["checksum"]["ok"], true);
    let h = &seal["header"];
    assert_eq!(
        (h["snapshot"].as_bool(), h["seq"].as_u64()),
        (Some(true), Some(2))
    );
    assert!(seal["entries"].as_array().unwrap().is_empty());
    let second = inspect(&stream().join("00000001-0000000000000002.cset"));
    assert_eq!(h["covers"][0]["peer"], PEER);
    assert_eq!(h["covers"][0]["seq"], 2);
    assert_eq!(h["covers"][0]["checksum"], second["checksum"]["sha256"]);
    let part = inspect(&stream().join(format!("{SNAPSHOT}-00000001.cset")));
    assert_eq!(part["format"], "1.1");
    assert_eq!(h["prev"], part["checksum"]["sha256"]);
    assert_eq!(part["entries"].as_array().unwrap().len(), 6);
    // The stream's own files are still 1.0, readable by a 1.0 reader.
    assert_eq!(second["format"], "1.0");
}

#[test]
fn the_golden_snapshot_and_the_tail_alone_bootstrap_the_same_documents() {
    let at = [("CONTEXT_NOW", "2026-11-01T09:30:00Z")];
    let pull_into = |files: &[&str]| {
        let (folder, home) = (Folder::new(), Home::new());
        let dest = folder.path().join(PEER);
        std::fs::create_dir(&dest).unwrap();
        for f in files {
            std::fs::copy(stream().join(f), dest.join(f)).unwrap();
        }
        let run = home
            .run_with(&["sync", "pull", "--remote", folder.arg()], b"", &at)
            .code(0);
        (home, run.stdout)
    };
    let part = format!("{SNAPSHOT}-00000001.cset");
    let seal = format!("{SNAPSHOT}.cset");
    let (replayed, _) = pull_into(&[
        "00000001-0000000000000001.cset",
        "00000001-0000000000000002.cset",
    ]);
    let (booted, said) = pull_into(&[&part, &seal, "00000001-0000000000000002.cset"]);
    assert!(said.contains("after the snapshot"), "{said}");
    assert_eq!(booted.version_ids(), replayed.version_ids());
    for (key, project) in [
        ("research/background-sync", "default"),
        ("tmp/scratch", "default"),
        ("plan/q1", "plans"),
        ("blob", "plans"),
    ] {
        let history = |h: &Home| {
            h.run(&["history", key, "--project", project, "--json"])
                .code(0)
                .json()
        };
        assert_eq!(history(&booted), history(&replayed), "{key}");
    }
}

const V2: &str = "fixtures/changesets/v2";

/// The key the sealed golden files were made with (`examples/make-fixtures.rs`): 0, 1, ..., 31.
fn test_key() -> context::encryption::sealed::SecretKey {
    let mut k = [0u8; 32];
    for (i, b) in k.iter_mut().enumerate() {
        *b = i as u8;
    }
    context::encryption::sealed::SecretKey::from_bytes(k)
}

/// Makes `folder` an encrypted remote under the test key (its key record, as `sync init
/// --encrypt` writes it), and `home` a holder of the key.
fn encrypt_with_test_key(folder: &Folder, home: &Home) {
    use context::remote::{Folder as RemoteFolder, KeyRecord, Remote};
    let remote = Remote::new(RemoteFolder::open(folder.path()).unwrap());
    assert!(
        remote
            .create_key_record(&KeyRecord::new(&test_key()).unwrap())
            .unwrap()
    );
    home.run_with(
        &["sync", "key", "import", "--remote", folder.arg()],
        test_key().export().as_bytes(),
        &[],
    )
    .code(0);
}

/// The golden stream and snapshot sealed under the test key (format 2.0): each opens to the
/// very format-1 file it seals, says which file it is, and opens under no other key.
#[test]
fn the_sealed_golden_files_open_to_the_plain_ones() {
    use context::encryption::sealed::{self, OpenError, SecretKey};
    use context::remote::names::{Found, classify};
    let key = test_key();
    let mut seen = 0;
    for f in std::fs::read_dir(Path::new(V2).join(PEER))
        .unwrap()
        .flatten()
    {
        let name = f.file_name().to_string_lossy().into_owned();
        let bytes = std::fs::read(f.path()).unwrap();
        let role = match classify(Some(PEER), &name) {
            Found::Changeset(n) => context::remote::FileName::role(&n),
            Found::Snapshot(n) => context::remote::FileName::role(&n),
            other => panic!("{name}: {other:?}"),
        };
        let public = sealed::public(&bytes).unwrap();
        assert_eq!(public.role, role, "{name}");
        assert_eq!(public.key, key.id());
        let (_, plain) = sealed::open(&key, &bytes).unwrap();
        assert_eq!(
            plain,
            std::fs::read(stream().join(&name)).unwrap(),
            "{name}"
        );
        let other = SecretKey::from_bytes([7; 32]);
        assert!(matches!(
            sealed::open(&other, &bytes),
            Err(OpenError::OtherKey { .. })
        ));
        seen += 1;
    }
    assert_eq!(seen, 4);
}

/// A remote holding the sealed golden stream, with its key record, pulls into a home that
/// imported the test key: the same documents as from the plain stream.
#[test]
fn a_remote_holding_the_sealed_golden_stream_pulls_with_the_key() {
    let sealed = Path::new(V2).join(PEER);
    let folder = remote_of(&sealed, PEER, |name| !name.starts_with("snapshot"));
    let (without, home) = (Home::new(), Home::new());
    encrypt_with_test_key(&folder, &home);
    let refused = without.sync("pull", &folder, &[]).code(1);
    assert!(refused.stderr.contains("key import"), "{}", refused.stderr);
    let at = [("CONTEXT_NOW", "2026-11-01T09:30:00Z")];
    home.run_with(&["sync", "pull", "--remote", folder.arg()], b"", &at)
        .code(0);
    assert_eq!(
        home.ok(&["get", "plan/q1", "--project", "plans"]),
        "ship it\n"
    );
    assert_eq!(home.rows(), 6);
}

const V1_2: &str = "fixtures/changesets/v1.2";
const V1_2_PEER: &str = "038fde99-fcf9-4f94-97a4-a89d26aa80f0";

#[test]
fn the_format_1_2_golden_file_says_which_version_settled_a_conflict() {
    let stream = Path::new(V1_2).join(V1_2_PEER);
    let file = stream.join("00000001-0000000000000001.cset");
    let cs = inspect(&file);
    assert_eq!(cs["format"], "1.2");
    let e = cs["entries"].as_array().unwrap();
    assert_eq!(e.len(), 4);
    let (base, theirs, mine, resolution) = (&e[0], &e[1], &e[2], &e[3]);
    assert_eq!(theirs["parent"], base["id"]);
    assert_eq!(mine["parent"], base["id"]);
    assert_eq!(resolution["parent"], mine["id"]);
    assert_eq!(resolution["settles"], serde_json::json!([theirs["id"]]));
    assert_eq!(mine["settles"], serde_json::json!([]));

    // Pulled into a new home: both sides and the resolution in history, no conflict left.
    let (folder, home) = (Folder::new(), Home::new());
    let dest = folder.path().join(V1_2_PEER);
    std::fs::create_dir(&dest).unwrap();
    std::fs::copy(&file, dest.join(file.file_name().unwrap())).unwrap();
    home.ok(&["sync", "pull", "--remote", folder.arg()]);
    assert_eq!(home.ok(&["get", "plan"]), "ONE\ntwo\nTHREE\n");
    assert_eq!(home.rows(), 4);
    assert_eq!(home.ok(&["conflicts"]), "no conflicts\n");
}

const V1_3: &str = "fixtures/changesets/v1.3";
const V1_3_PEER: &str = "ff8aadf8-b737-4ac4-b1a0-36afdee32454";

#[test]
fn the_format_1_3_golden_seal_names_the_machines_a_bootstrapped_home_shows() {
    let stream = Path::new(V1_3).join(V1_3_PEER);
    let seal = std::fs::read_dir(&stream)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            name.starts_with("snapshot-") && !name.contains("-0000000")
        })
        .expect("the seal");
    let cs = inspect(&seal);
    assert_eq!(cs["format"], "1.3");
    let hosts: Vec<&str> = cs["header"]["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["host"].as_str().unwrap())
        .collect();
    assert_eq!(hosts, ["laptop", "desktop"]);

    // A new home starts from it (the stream's first changeset was pruned) and names both
    // writers, the desktop by the seal alone.
    let (folder, home) = (Folder::new(), Home::new());
    let dest = folder.path().join(V1_3_PEER);
    std::fs::create_dir(&dest).unwrap();
    for f in std::fs::read_dir(&stream).unwrap() {
        let f = f.unwrap().path();
        std::fs::copy(&f, dest.join(f.file_name().unwrap())).unwrap();
    }
    home.ok(&["sync", "pull", "--remote", folder.arg()]);
    assert_eq!(home.ok(&["get", "plan"]), "final\n");
    let host = |key: &str| {
        home.run(&["history", key, "--json"]).code(0).json()[0]["host"]
            .as_str()
            .unwrap_or("<none>")
            .to_string()
    };
    assert_eq!(host("notes"), "desktop");
    assert_eq!(host("plan"), "laptop");
}

const V1_4: &str = "fixtures/changesets/v1.4";

/// Format 1.4: the header names who wrote each entry (a person, an agent and its session);
/// a home that pulls it shows them in `history` and filters by them; an entry without an
/// author stays without one. (A 1.3 reader reads the same file whole and skips the authors:
/// a reader of 1.x ignores the header fields after those it knows, as
/// `changeset::codec::tests::fields_a_later_minor_version_appends_are_ignored` holds.)
#[test]
fn the_format_1_4_golden_changeset_names_who_wrote_each_entry() {
    let peer = only_peer(V1_4);
    let stream = Path::new(V1_4).join(&peer);
    let cs = inspect(&stream.join("00000001-0000000000000001.cset"));
    assert_eq!(cs["format"], "1.4");
    let who: Vec<(String, Option<String>)> = cs["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["author"].as_str().unwrap_or("-").to_string(),
                e["session"].as_str().map(str::to_string),
            )
        })
        .collect();
    assert_eq!(
        who,
        [
            ("alice".to_string(), None),
            ("claude-code".to_string(), Some("sess-7f3a".to_string())),
            ("-".to_string(), None),
            ("-".to_string(), None),
        ]
    );
    let (folder, home) = (remote_of(&stream, &peer, |_| true), Home::new());
    home.ok(&["sync", "pull", "--remote", folder.arg()]);
    let notes = home.run(&["history", "notes", "--json"]).code(0).json();
    assert_eq!(notes[0]["author"], "claude-code");
    assert_eq!(notes[0]["session"], "sess-7f3a");
    let old = home.run(&["history", "old", "--json"]).code(0).json();
    assert!(old[0]["author"].is_null(), "{old}");
    assert_eq!(home.ok(&["ls", "--author", "alice"]), "plan\n");
    let table = home.ok(&["history", "plan"]);
    assert!(table.contains("alice"), "{table}");
    assert_eq!(
        home.run(&["history", "plan", "--author", "someone", "--json"])
            .code(0)
            .json(),
        serde_json::json!([])
    );
}

const V3: &str = "fixtures/changesets/v3";

/// The body of the format-3 golden document (as `examples/make-fixtures.rs` writes it).
fn v3_body(lines: usize) -> String {
    (0..lines)
        .map(|i| format!("step {i}: measure, then write down what the figure means\n"))
        .collect()
}

#[test]
fn the_format_3_golden_stream_carries_deltas_that_rebuild_exactly() {
    let peer = only_peer(V3);
    let stream = Path::new(V3).join(&peer);
    let one = inspect(&stream.join("00000001-0000000000000001.cset"));
    assert_eq!(one["format"], "3.0");
    let e = one["entries"].as_array().unwrap();
    assert!(e[0]["delta"].is_null(), "the first travels whole");
    assert_eq!(e[1]["delta"]["base"], e[0]["id"]);
    assert!(e[1]["size"].as_u64().unwrap() < 100, "{}", e[1]);
    let two = inspect(&stream.join("00000001-0000000000000002.cset"));
    assert_eq!(two["entries"][0]["delta"]["base"], e[1]["id"]);

    let (folder, home) = (remote_of(&stream, &peer, |_| true), Home::new());
    home.ok(&["sync", "pull", "--remote", folder.arg()]);
    assert_v3_plan(&home);
}

/// The three versions of the format-3 golden document, each rebuilt exactly.
fn assert_v3_plan(home: &Home) {
    assert_eq!(home.get("plan"), v3_body(122));
    let ids = home.history_ids("plan");
    assert_eq!(
        home.ok(&["get", "plan", "--version", &ids[1]]),
        v3_body(121)
    );
    assert_eq!(
        home.ok(&["get", "plan", "--version", &ids[2]]),
        v3_body(120)
    );
}

const V4: &str = "fixtures/changesets/v4";

/// The format-3 golden stream sealed under the test key (format 4.0): each file says so in
/// public, opens to the very format-3 file it seals, is refused as newer by a reader of the
/// sealed format 2 (it cannot rebuild deltas), and a remote holding it pulls with the key to
/// the same versions, rebuilt exactly.
#[test]
fn the_format_4_golden_stream_seals_deltas_for_an_encrypted_remote() {
    use context::encryption::sealed;
    let peer = only_peer(V4);
    let (stream, plain) = (Path::new(V4).join(&peer), Path::new(V3).join(&peer));
    let key = test_key();
    for name in [
        "00000001-0000000000000001.cset",
        "00000001-0000000000000002.cset",
    ] {
        let bytes = std::fs::read(stream.join(name)).unwrap();
        assert_eq!(&bytes[8..10], &4u16.to_be_bytes(), "{name}");
        let public = sealed::public(&bytes).unwrap();
        assert_eq!((public.major, public.inner_major), (4, 3), "{name}");
        let (_, opened) = sealed::open(&key, &bytes).unwrap();
        assert_eq!(opened, std::fs::read(plain.join(name)).unwrap(), "{name}");
        // What a reader of format 2 sees: a major it does not read.
        assert!(matches!(
            context::changeset::decode(&bytes),
            Err(context::changeset::DecodeError::NewerFormat { major: 4, .. })
        ));
        // Without the key: what anyone can see, format 4.0 among it.
        let shown = Home::new().ok(&["sync", "inspect", stream.join(name).to_str().unwrap()]);
        assert!(shown.contains("format     4.0 (encrypted)"), "{shown}");
    }

    let (folder, home) = (remote_of(&stream, &peer, |_| true), Home::new());
    encrypt_with_test_key(&folder, &home);
    // Without the key, verify checks what it can see: the framing and checksums of format 4.
    let checked = Home::new().sync("verify", &folder, &[]).code(0);
    assert!(
        checked.stdout.contains("2 changesets"),
        "{}",
        checked.stdout
    );
    home.ok(&["sync", "pull", "--remote", folder.arg()]);
    assert_v3_plan(&home);

    // A file of a format newer than any this binary reads, in an encrypted remote, is refused
    // as newer (not taken for a plain file written by someone without the key).
    let mut future = std::fs::read(stream.join("00000001-0000000000000002.cset")).unwrap();
    future[8..10].copy_from_slice(&5u16.to_be_bytes());
    let third = folder
        .path()
        .join(&peer)
        .join("00000001-0000000000000003.cset");
    std::fs::write(third, future).unwrap();
    let run = home.sync("pull", &folder, &[]).code(5);
    assert!(run.stderr.contains("format 5.0"), "{}", run.stderr);
    assert!(run.stderr.contains("upgrade"), "{}", run.stderr);
}
