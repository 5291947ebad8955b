//! Golden changesets of format 1.0 (made once by `cargo run --example make-fixtures`): every
//! later binary must read them, exactly, forever; and each broken copy is refused by name.

use std::path::{Path, PathBuf};

use crate::util::{Folder, Home, inspect};

const V1: &str = "fixtures/changesets/v1";
const PEER: &str = "ce56971c-de35-4897-821e-fc0b1046c8bf";

fn stream() -> PathBuf {
    Path::new(V1).join(PEER)
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
    let (folder, home) = (Folder::new(), Home::new());
    let dest = folder.path().join(PEER);
    std::fs::create_dir(&dest).unwrap();
    for f in std::fs::read_dir(stream()).unwrap() {
        let f = f.unwrap();
        std::fs::copy(f.path(), dest.join(f.file_name())).unwrap();
    }
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
    assert!(run.stderr.contains("format 2.0"), "{}", run.stderr);
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
