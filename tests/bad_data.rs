//! Bad remote data: a damaged stream stops at the bad file (exit 5, the file named) while the
//! healthy streams are applied, and leftovers of file-sync tools are skipped with a warning.

use crate::util::{Folder, Home};

/// A and B each push two changesets; returns their files, A's first.
fn two_streams(folder: &Folder) -> (Home, Home, Vec<std::path::PathBuf>, Vec<std::path::PathBuf>) {
    let (a, b) = (Home::new(), Home::new());
    a.put("a/1", "a one");
    a.sync("push", folder, &[]).code(0);
    a.put("a/2", "a two");
    a.sync("push", folder, &[]).code(0);
    b.put("b/1", "b one");
    b.sync("push", folder, &[]).code(0);
    b.put("b/2", "b two");
    b.sync("push", folder, &[]).code(0);
    let in_dir = |h: &Home| {
        let peer = h.peer_id(folder);
        folder
            .changesets()
            .into_iter()
            .filter(|p| p.to_string_lossy().contains(&peer))
            .collect::<Vec<_>>()
    };
    let (fa, fb) = (in_dir(&a), in_dir(&b));
    assert_eq!((fa.len(), fb.len()), (2, 2));
    (a, b, fa, fb)
}

/// Pulls into a fresh home: exit 5 naming `bad`; B's stream whole, A's up to the bad file.
fn assert_stops_at(folder: &Folder, bad: &std::path::Path, a_first_applied: bool) {
    let c = Home::new();
    let run = c.sync("pull", folder, &[]).code(5);
    let name = bad.file_name().unwrap().to_str().unwrap();
    assert!(run.stderr.contains(name), "names the file: {}", run.stderr);
    assert_eq!(c.get("b/1"), "b one");
    assert_eq!(c.get("b/2"), "b two");
    assert_eq!(c.run(&["get", "a/1"]).code == 0, a_first_applied);
    c.run(&["get", "a/2"]).code(1);
    c.assert_intact();
    // Running again changes nothing and says the same.
    c.sync("pull", folder, &[]).code(5);
}

#[test]
fn a_flipped_byte_stops_its_stream() {
    let folder = Folder::new();
    let (_a, _b, fa, _) = two_streams(&folder);
    let mut bytes = std::fs::read(&fa[1]).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x40;
    std::fs::write(&fa[1], bytes).unwrap();
    assert_stops_at(&folder, &fa[1], true);
}

#[test]
fn a_truncated_file_stops_its_stream() {
    let folder = Folder::new();
    let (_a, _b, fa, _) = two_streams(&folder);
    let bytes = std::fs::read(&fa[0]).unwrap();
    std::fs::write(&fa[0], &bytes[..bytes.len() - 10]).unwrap();
    assert_stops_at(&folder, &fa[0], false);
}

#[test]
fn a_gap_in_a_stream_stops_it() {
    let folder = Folder::new();
    let (a, _b, fa, _) = two_streams(&folder);
    a.put("a/3", "a three");
    a.sync("push", &folder, &[]).code(0);
    std::fs::remove_file(&fa[1]).unwrap();
    let c = Home::new();
    // Past the grace (none here) a gap is damage, named by the file that is missing; before
    // it, a file in transit (tests/transit.rs).
    let run = c.sync("pull", &folder, &["--transit-grace", "0"]).code(5);
    assert!(run.stderr.contains("gap"), "{}", run.stderr);
    assert!(
        run.stderr.contains("0000000000000002.cset"),
        "{}",
        run.stderr
    );
    assert_eq!(c.get("a/1"), "a one");
    c.run(&["get", "a/3"]).code(1);
    assert_eq!(c.get("b/2"), "b two");
    c.assert_intact();
}

#[test]
fn a_changeset_replaced_by_another_one_breaks_the_chain() {
    let folder = Folder::new();
    let (_a, _b, fa, fb) = two_streams(&folder);
    // A well-formed changeset of another stream, under A's name: its header gives it away.
    std::fs::copy(&fb[1], &fa[1]).unwrap();
    assert_stops_at(&folder, &fa[1], true);
}

#[test]
fn random_junk_named_like_a_changeset_is_bad_data() {
    let folder = Folder::new();
    let (_a, _b, fa, _) = two_streams(&folder);
    let junk: Vec<u8> = (0..2000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(&fa[0], junk).unwrap();
    assert_stops_at(&folder, &fa[0], false);
}

#[test]
fn leftovers_of_file_sync_tools_are_skipped_with_a_warning() {
    let folder = Folder::new();
    let (_a, _b, fa, _) = two_streams(&folder);
    let dir = fa[0].parent().unwrap();
    let conflict = dir.join("00000001-0000000000000002.sync-conflict-20261125-101500-ABC1234.cset");
    std::fs::write(&conflict, b"whatever").unwrap();
    std::fs::write(
        dir.join(".syncthing.00000001-0000000000000003.cset.tmp"),
        b"partial",
    )
    .unwrap();
    std::fs::write(folder.path().join("README.txt"), b"not ours").unwrap();
    // What file-sync tools keep in their folders: not ours, passed over silently.
    place_tool_files(folder.path(), dir);
    let c = Home::new();
    let run = c.sync("pull", &folder, &[]).code(0);
    for kept in KEPT_BY_SYNC_TOOLS {
        assert!(!run.stderr.contains(kept), "{kept}: {}", run.stderr);
    }
    assert!(run.stderr.contains("sync-conflict"), "{}", run.stderr);
    assert!(run.stderr.contains("same peer"), "{}", run.stderr);
    assert!(run.stderr.contains(".syncthing."), "{}", run.stderr);
    assert!(!run.stderr.contains("README"), "{}", run.stderr);
    for k in ["a/1", "a/2", "b/1", "b/2"] {
        c.run(&["get", k]).code(0);
    }
}

/// Files Syncthing, Dropbox and desktops keep in a shared folder.
const KEPT_BY_SYNC_TOOLS: [&str; 5] = [
    ".stignore",
    ".DS_Store",
    "desktop.ini",
    "Thumbs.db",
    ".dropbox",
];

/// Places what file-sync tools keep at the root of a shared folder and in a peer's folder.
fn place_tool_files(root: &std::path::Path, peer_dir: &std::path::Path) {
    for kept in KEPT_BY_SYNC_TOOLS {
        std::fs::write(root.join(kept), b"tool's").unwrap();
        std::fs::write(peer_dir.join(kept), b"tool's").unwrap();
    }
    std::fs::create_dir(root.join(".stfolder")).unwrap();
    std::fs::create_dir(root.join(".stversions")).unwrap();
}

/// A Syncthing or Dropbox folder holds the tool's own files: a cron tick says nothing of them.
#[test]
fn files_a_file_sync_tool_keeps_are_passed_over_silently() {
    let folder = Folder::new();
    let (a, b, fa, _) = two_streams(&folder);
    let dir = fa[0].parent().unwrap();
    place_tool_files(folder.path(), dir);
    let c = Home::new();
    let run = c.sync("pull", &folder, &[]).code(0);
    assert!(run.stderr.is_empty(), "{}", run.stderr);
    a.run(&["sync", "--remote", folder.arg()]).code(0);
    b.run(&["sync", "--remote", folder.arg()]).code(0);
    // A cron tick with nothing to do: nothing on stdout, nothing on stderr.
    let tick = a.run(&["sync", "--remote", folder.arg()]).code(0);
    assert_eq!((tick.stdout.as_str(), tick.stderr.as_str()), ("", ""));
    b.sync("verify", &folder, &[]).code(0);
}

#[test]
fn inspect_reports_damage_with_exit_5() {
    let folder = Folder::new();
    let (_a, _b, fa, _) = two_streams(&folder);
    let ok = Home::new()
        .run(&["sync", "inspect", fa[0].to_str().unwrap()])
        .code(0);
    assert!(ok.stdout.contains("checksum   ok"), "{}", ok.stdout);
    assert!(ok.stdout.contains("default/a/1"), "{}", ok.stdout);
    let mut bytes = std::fs::read(&fa[0]).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&fa[0], &bytes).unwrap();
    let bad = Home::new()
        .run(&["sync", "inspect", fa[0].to_str().unwrap()])
        .code(5);
    assert!(bad.stdout.contains("BAD"), "{}", bad.stdout);
    assert!(
        bad.stdout.contains("default/a/1"),
        "the content is still shown: {}",
        bad.stdout
    );
    std::fs::write(&fa[0], b"short").unwrap();
    let run = Home::new()
        .run(&["sync", "inspect", fa[0].to_str().unwrap()])
        .code(5);
    assert!(
        run.stderr.contains(fa[0].to_str().unwrap()),
        "{}",
        run.stderr
    );
}
