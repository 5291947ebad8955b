//! A file still in transit is not damage: a file-sync tool delivers files in any order (and
//! keeps the writer's modification times), so a gap this home met moments ago is waited for
//! (exit 0, what precedes it applied), and only a gap older than the grace is bad data.
//! Judged by this home's own first sighting, never by file times.

use std::time::{Duration, SystemTime};

use crate::util::{Folder, Home, Run};

const T0: &str = "2026-11-25T10:00:00Z";
const T0_30M: &str = "2026-11-25T10:30:00Z";
const T0_2H: &str = "2026-11-25T12:00:00Z";

fn pull_at(h: &Home, folder: &Folder, at: &str, args: &[&str]) -> Run {
    let mut all = vec!["sync", "pull", "--remote", folder.arg()];
    all.extend_from_slice(args);
    h.run_with(&all, b"", &[("CONTEXT_NOW", at)])
}

/// A pushes three changesets; the second is held back, as a file-sync tool still delivering.
fn three_with_the_second_in_transit() -> (Home, Home, Folder, std::path::PathBuf, Vec<u8>) {
    let (a, b, folder) = (Home::new(), Home::new(), Folder::new());
    for i in 1..=3 {
        a.put(&format!("k{i}"), &format!("v{i}"));
        a.sync("push", &folder, &[]).code(0);
    }
    let second = folder
        .changesets()
        .into_iter()
        .find(|p| p.ends_with("00000001-0000000000000002.cset"))
        .unwrap();
    let bytes = std::fs::read(&second).unwrap();
    std::fs::remove_file(&second).unwrap();
    (a, b, folder, second, bytes)
}

#[test]
fn a_gap_met_moments_ago_is_waited_for_and_taken_up_when_the_file_arrives() {
    let (a, b, folder, second, bytes) = three_with_the_second_in_transit();
    // The third arrived days "old" by its file time: file times decide nothing.
    let third = folder
        .changesets()
        .into_iter()
        .find(|p| p.ends_with("00000001-0000000000000003.cset"))
        .unwrap();
    std::fs::File::options()
        .write(true)
        .open(&third)
        .unwrap()
        .set_modified(SystemTime::now() - Duration::from_secs(3 * 86_400))
        .unwrap();
    let run = pull_at(&b, &folder, T0, &[]).code(0);
    assert_eq!(run.stderr, "", "a quiet run says nothing about transit");
    assert_eq!(b.get("k1"), "v1");
    b.run(&["get", "k3"]).code(1);
    let json = pull_at(&b, &folder, T0_30M, &["--json"]).code(0).json();
    assert_eq!(
        json["waiting"][0]["first_missed_at"],
        "2026-11-25T10:00:00.000Z"
    );
    let status = b.sync("status", &folder, &["--json"]).code(0).json();
    assert_eq!(status["in_transit"].as_array().unwrap().len(), 1);
    let text = b.run_with(
        &["sync", "status", "--remote", folder.arg()],
        b"",
        &[("CONTEXT_NOW", T0_30M)],
    );
    assert!(
        text.stdout.contains("first missed 30 min ago"),
        "{}",
        text.stdout
    );
    // Whose files: the writer's host, from its manifest.
    let writer = a.sync("status", &folder, &["--json"]).code(0).json();
    let host = writer["host"].as_str().unwrap();
    assert!(
        text.stdout.contains(&format!("of {host}")),
        "{}",
        text.stdout
    );
    // With -v, a line says what is awaited.
    let verbose = pull_at(&b, &folder, T0_30M, &["-v"]).code(0);
    assert!(verbose.stderr.contains("in transit"), "{}", verbose.stderr);
    // It arrives: the stream is taken up, and nothing is awaited any more.
    std::fs::write(&second, bytes).unwrap();
    pull_at(&b, &folder, T0_2H, &[]).code(0);
    assert_eq!(b.get("k3"), "v3");
    let status = b.sync("status", &folder, &["--json"]).code(0).json();
    assert!(status["in_transit"].as_array().unwrap().is_empty());
}

#[test]
fn a_gap_seen_for_longer_than_the_grace_is_bad_data_and_verify_reports_it_either_way() {
    let (_a, b, folder, _second, _bytes) = three_with_the_second_in_transit();
    pull_at(&b, &folder, T0, &[]).code(0);
    b.sync("verify", &folder, &[]).code(5);
    let run = pull_at(&b, &folder, T0_2H, &[]).code(5);
    assert!(
        run.stderr.contains("00000001-0000000000000002.cset"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("first met the gap at 2026-11-25T10:00:00.000Z"),
        "{}",
        run.stderr
    );
    // A shorter grace, or none, says so sooner.
    let c = Home::new();
    pull_at(&c, &folder, T0, &["--transit-grace", "0"]).code(5);
    let d = Home::new();
    pull_at(&d, &folder, T0, &["--transit-grace", "10m"]).code(0);
    pull_at(&d, &folder, T0_30M, &["--transit-grace", "10m"]).code(5);
    // Bare `context sync` takes the same flag and behaves the same.
    let e = Home::new();
    e.run_with(
        &["sync", "--remote", folder.arg()],
        b"",
        &[("CONTEXT_NOW", T0)],
    )
    .code(0);
}

#[test]
fn a_file_that_is_there_but_damaged_is_bad_data_at_once() {
    let (a, b, folder) = (Home::new(), Home::new(), Folder::new());
    a.put("k", "v");
    a.sync("push", &folder, &[]).code(0);
    let file = folder.changesets().pop().unwrap();
    let mut bytes = std::fs::read(&file).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 1;
    std::fs::write(&file, bytes).unwrap();
    pull_at(&b, &folder, T0, &[]).code(5);
}

/// A snapshot's seal that arrived before its part: waited for like a gap, then used.
#[test]
fn a_seal_that_arrived_before_its_parts_is_waited_for() {
    const PEER: &str = "ce56971c-de35-4897-821e-fc0b1046c8bf";
    let golden = std::path::Path::new("fixtures/changesets/v1").join(PEER);
    let (folder, b) = (Folder::new(), Home::new());
    let dest = folder.path().join(PEER);
    std::fs::create_dir(&dest).unwrap();
    // The stream's first changeset was pruned: the snapshot stands for it; its part is late.
    for f in [
        "00000001-0000000000000002.cset",
        "snapshot-01a1965d9d800000.cset",
    ] {
        std::fs::copy(golden.join(f), dest.join(f)).unwrap();
    }
    let at = |t| [("CONTEXT_NOW", t)];
    let pull = |t| {
        b.run_with(
            &["sync", "pull", "--remote", folder.arg(), "--json"],
            b"",
            &at(t),
        )
    };
    let early = pull("2026-11-01T09:30:00Z").code(0).json();
    let waiting: Vec<&str> = early["waiting"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["file"].as_str().unwrap())
        .collect();
    assert!(
        waiting
            .iter()
            .any(|f| f.ends_with("snapshot-01a1965d9d800000.cset")),
        "{waiting:?}"
    );
    assert_eq!(b.rows_if_any(), 0);
    // Still missing two hours later: damage, named.
    let late = pull("2026-11-01T11:30:00Z").code(5);
    assert!(
        late.stderr.contains("snapshot-01a1965d9d800000.cset"),
        "{}",
        late.stderr
    );
    // The part arrives: the snapshot and the tail apply.
    std::fs::copy(
        golden.join("snapshot-01a1965d9d800000-00000001.cset"),
        dest.join("snapshot-01a1965d9d800000-00000001.cset"),
    )
    .unwrap();
    let done = pull("2026-11-01T11:40:00Z").code(0).json();
    assert_eq!(done["bootstrapped_from"].as_array().unwrap().len(), 1);
    assert!(done["waiting"].as_array().unwrap().is_empty());
    assert_eq!(b.rows(), 6);
}

/// Real Syncthing between two peers' copies of the folder (in their own network namespace):
/// one peer pushes 30 changesets while the other runs `context sync` every fraction of a
/// second; files arrive in random order, and no run ever exits with anything but 0.
#[test]
fn under_a_real_syncthing_a_stream_in_transit_never_alarms() {
    let pair = crate::util::syncthing::Pair::start();
    let (a, b) = (Home::new(), Home::new());
    let fa = pair.a.to_str().unwrap().to_string();
    let fb = pair.b.to_str().unwrap().to_string();
    let codes = std::thread::scope(|s| {
        let writer = s.spawn(|| {
            for i in 0..30 {
                a.put(&format!("k{i}"), &format!("v{i}"));
                a.run(&["sync", "push", "--remote", &fa]).code(0);
            }
        });
        let mut codes = Vec::new();
        while !writer.is_finished() {
            codes.push(b.run(&["sync", "--remote", &fb]).code);
            std::thread::sleep(Duration::from_millis(150));
        }
        codes
    });
    assert!(codes.iter().all(|c| *c == 0), "exit statuses: {codes:?}");
    pair.wait_for(Duration::from_secs(90), "B to hold all 30 keys", || {
        let run = b.run(&["sync", "--remote", &fb]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        b.run(&["get", "k29"]).code == 0 && b.run(&["get", "k0"]).code == 0
    });
    for i in 0..30 {
        assert_eq!(b.get(&format!("k{i}")), format!("v{i}"));
    }
}

/// Both peers write and sync at once for a while, then converge: no exit 5, no conflict, and
/// no file-sync conflict copy of any changeset; a peer offline for a while (its device paused)
/// comes back and its backlog arrives in random order, quietly.
#[test]
fn under_a_real_syncthing_two_writers_converge_and_a_laptop_comes_back() {
    let pair = crate::util::syncthing::Pair::start();
    let (a, b) = (Home::new(), Home::new());
    let fa = pair.a.to_str().unwrap().to_string();
    let fb = pair.b.to_str().unwrap().to_string();
    let work = |h: &Home, folder: &str, tag: &str| {
        let mut codes = Vec::new();
        for i in 0..15 {
            h.put(&format!("{tag}/{i}"), &format!("{tag} {i}"));
            codes.push(h.run(&["sync", "--remote", folder]).code);
            std::thread::sleep(Duration::from_millis(100));
        }
        codes
    };
    let (ca, cb) = std::thread::scope(|s| {
        let x = s.spawn(|| work(&a, &fa, "a"));
        let y = s.spawn(|| work(&b, &fb, "b"));
        (x.join().unwrap(), y.join().unwrap())
    });
    assert!(ca.iter().chain(&cb).all(|c| *c == 0), "{ca:?} {cb:?}");
    // The laptop goes offline: A stops seeing B, B writes a backlog, then comes back.
    pair.set_paused(0, 1, true);
    for i in 0..10 {
        b.put(&format!("offline/{i}"), "written offline");
        b.run(&["sync", "push", "--remote", &fb]).code(0);
    }
    pair.set_paused(0, 1, false);
    pair.wait_for(Duration::from_secs(120), "both homes to converge", || {
        let ra = a.run(&["sync", "--remote", &fa]);
        let rb = b.run(&["sync", "--remote", &fb]);
        assert_eq!(ra.code, 0, "{}", ra.stderr);
        assert_eq!(rb.code, 0, "{}", rb.stderr);
        a.version_ids() == b.version_ids()
    });
    for folder in [&pair.a, &pair.b] {
        let copies: Vec<_> = crate::util::walk(folder)
            .into_iter()
            .filter(|p| {
                let name = p.to_string_lossy();
                name.contains("sync-conflict") && name.ends_with(".cset")
            })
            .collect();
        assert!(copies.is_empty(), "conflict copies: {copies:?}");
    }
    assert_eq!(a.get("offline/9"), "written offline");
}
