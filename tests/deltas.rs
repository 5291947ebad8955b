//! Versions that travel as deltas against what the reader already holds (format 3).

use crate::util::{Folder, Home, inspect, prose};

#[test]
fn a_one_line_append_to_a_long_document_costs_a_few_hundred_bytes() {
    let (a, b, folder) = (Home::new(), Home::new(), Folder::new());
    let mut doc = prose(35_000, 7);
    a.put("research/background-sync", &doc);
    a.sync("push", &folder, &[]).code(0);
    for i in 0..5 {
        doc.push_str(&format!("finding {i}: a one-line append by an agent\n"));
        a.put("research/background-sync", &doc);
        a.sync("push", &folder, &[]).code(0);
    }
    let files = folder.changesets();
    assert_eq!(files.len(), 6);
    let first = std::fs::metadata(&files[0]).unwrap().len();
    assert!(first > 10_000, "the first travels whole: {first} bytes");
    for f in &files[1..] {
        let size = std::fs::metadata(f).unwrap().len();
        assert!(size <= 400, "{}: {size} bytes", f.display());
        let cs = inspect(f);
        // Format 3 (deltas); its minor says what else the header holds (1.4: authors).
        assert!(cs["format"].as_str().unwrap().starts_with("3."), "{cs}");
        assert!(cs["entries"][0]["delta"]["base"].is_string(), "{cs}");
    }
    // The reader rebuilds every version exactly, history included.
    b.sync("pull", &folder, &[]).code(0);
    assert_eq!(b.get("research/background-sync"), doc);
    let ids = a.history_ids("research/background-sync");
    for id in &ids {
        assert_eq!(
            b.ok(&["get", "research/background-sync", "--version", id]),
            a.ok(&["get", "research/background-sync", "--version", id])
        );
    }
    b.sync("verify", &folder, &[]).code(0);
}

#[test]
fn versions_travel_whole_where_a_delta_would_not_pay_or_the_reader_may_lack_the_base() {
    let (a, b, folder) = (Home::new(), Home::new(), Folder::new());
    // Short bodies, and a rewrite that shares nothing with its parent: whole.
    a.put("short", "one");
    a.put("long", &prose(20_000, 1));
    a.sync("push", &folder, &[]).code(0);
    a.put("short", "two");
    a.put("long", &prose(20_000, 2));
    a.sync("push", &folder, &[]).code(0);
    let files = folder.changesets();
    let whole = inspect(&files[1]);
    assert!(
        whole["format"].as_str().unwrap().starts_with("1."),
        "{whole}"
    );
    // A parent pulled from another peer's stream is not a base (its stream may come later).
    b.sync("pull", &folder, &[]).code(0);
    let edited = format!("{}one more line\n", b.get("long"));
    b.put("long", &edited);
    b.sync("push", &folder, &[]).code(0);
    let mine = b.peer_id(&folder);
    let newest = folder
        .changesets()
        .into_iter()
        .rfind(|f| f.to_string_lossy().contains(&mine))
        .unwrap();
    assert_eq!(
        inspect(&newest)["entries"][0]["delta"],
        serde_json::Value::Null
    );
    // In a stream of its own, the next edit of it is a delta.
    let edited = format!("{edited}and another\n");
    b.put("long", &edited);
    b.sync("push", &folder, &[]).code(0);
    let newest = folder
        .changesets()
        .into_iter()
        .rfind(|f| f.to_string_lossy().contains(&mine))
        .unwrap();
    assert!(inspect(&newest)["entries"][0]["delta"]["base"].is_string());
    a.sync("pull", &folder, &[]).code(0);
    assert_eq!(a.get("long"), edited);
}

#[test]
fn a_delta_against_a_missing_base_or_the_wrong_one_is_bad_data() {
    use context::changeset::{self, Changeset, Header};
    use context::clock::Hlc;
    use context::ids::{PeerId, SeededIds, VersionId};
    use context::record::{Checksum, Delta, Kind, Record};
    use sha2::{Digest, Sha256};

    let ids = SeededIds::new(3);
    let peer = PeerId::generate(&ids);
    let base = prose(5_000, 3).into_bytes();
    let mut body = base.clone();
    body.extend_from_slice(b"appended\n");
    let delta = context::changeset::delta::encode(&base, &body).unwrap();
    let base_id = VersionId::generate(&ids, 1_793_491_200_000);
    let entry = |sha: [u8; 32]| Record {
        id: VersionId::generate(&ids, 1_793_491_260_000),
        project: "default".into(),
        key: "doc".into(),
        kind: Kind::Version,
        body: Some(delta.clone()),
        hlc: Hlc::from_parts(1_793_491_260_000, 0),
        peer,
        parent: Some(base_id),
        expires_at_ms: None,
        settles: vec![],
        delta: Some(Delta {
            base: base_id,
            sha256: Checksum(sha),
        }),
        author: None,
    };
    let header = Header::of_stream(peer, 1, 1, None, 1_793_491_300_000, "crafted".into());
    // A base this home does not hold.
    let (bytes, _) = changeset::encode(&Changeset::new(
        header.clone(),
        vec![entry(Sha256::digest(&body).into())],
    ))
    .unwrap();
    let folder = Folder::new();
    let dir = folder.path().join(peer.to_string());
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("00000001-0000000000000001.cset"), &bytes).unwrap();
    let b = Home::new();
    let run = b.sync("pull", &folder, &[]).code(5);
    assert!(run.stderr.contains("does not hold"), "{}", run.stderr);
    assert_eq!(b.rows_if_any(), 0);

    // The base in the same changeset, but the digest of another body: a wrong document is
    // never written.
    let whole = Record {
        id: base_id,
        body: Some(base.clone()),
        hlc: Hlc::from_parts(1_793_491_200_000, 0),
        parent: None,
        delta: None,
        ..entry([0; 32])
    };
    let (bytes, _) =
        changeset::encode(&Changeset::new(header, vec![whole, entry([7; 32])])).unwrap();
    std::fs::write(dir.join("00000001-0000000000000001.cset"), &bytes).unwrap();
    let c = Home::new();
    let run = c.sync("pull", &folder, &[]).code(5);
    assert!(run.stderr.contains("does not match"), "{}", run.stderr);
    assert_eq!(c.rows_if_any(), 0);
}

#[test]
fn in_an_encrypted_remote_edits_travel_as_sealed_deltas() {
    let (a, b, folder) = (Home::new(), Home::new(), Folder::new());
    crate::util::share_encrypted(&folder, &a, &b);
    let mut doc = prose(35_000, 9);
    a.put("plan", &doc);
    a.sync("push", &folder, &[]).code(0);
    for i in 0..3 {
        doc.push_str(&format!("finding {i}: appended where nobody may read it\n"));
        a.put("plan", &doc);
        a.sync("push", &folder, &[]).code(0);
    }
    let files = folder.changesets();
    assert_eq!(files.len(), 4);
    assert!(std::fs::metadata(&files[0]).unwrap().len() > 10_000);
    for f in &files[1..] {
        let bytes = std::fs::read(f).unwrap();
        // A delta sealed: format 4 on disk, a few hundred bytes (the seal adds ~170).
        assert_eq!(&bytes[8..10], &4u16.to_be_bytes(), "{}", f.display());
        assert!(bytes.len() <= 600, "{}: {} bytes", f.display(), bytes.len());
        assert!(!bytes.windows(8).any(|w| w == b"appended"));
        let public = inspect(f);
        assert_eq!(public["format"], "4.0");
        assert_eq!(public["encrypted"]["opened"], false);
        let opened = a
            .run(&["sync", "inspect", f.to_str().unwrap(), "--json"])
            .code(0)
            .json();
        assert!(
            opened["format"].as_str().unwrap().starts_with("3."),
            "{opened}"
        );
        assert!(
            opened["entries"][0]["delta"]["base"].is_string(),
            "{opened}"
        );
    }
    b.sync("pull", &folder, &[]).code(0);
    for id in a.history_ids("plan") {
        assert_eq!(
            b.ok(&["get", "plan", "--version", &id]),
            a.ok(&["get", "plan", "--version", &id])
        );
    }
    assert_eq!(b.get("plan"), doc);
    b.sync("verify", &folder, &[]).code(0);
}

#[test]
fn two_machines_taking_turns_edit_by_deltas_against_what_each_last_published() {
    let (a, b, folder) = (Home::new(), Home::new(), Folder::new());
    let mut doc = prose(30_000, 11);
    let mut last = [a.put("plan", &doc), String::new()];
    a.sync("push", &folder, &[]).code(0);
    for turn in 0..6 {
        // b, a, b, a, ...: each pulls the other's edit, appends a line and pushes.
        let who = (turn + 1) % 2;
        let me = [&a, &b][who];
        me.sync("pull", &folder, &[]).code(0);
        doc.push_str(&format!("turn {turn}: a line by whoever holds the pen\n"));
        let id = me.put("plan", &doc);
        me.sync("push", &folder, &[]).code(0);
        let mine = me.peer_id(&folder);
        let newest = folder
            .changesets()
            .into_iter()
            .rfind(|f| f.to_string_lossy().contains(&mine))
            .unwrap();
        let size = std::fs::metadata(&newest).unwrap().len();
        let delta = &inspect(&newest)["entries"][0]["delta"];
        if turn == 0 {
            // b's first edit: its parent is a's, and b's stream never held a version of it.
            assert!(delta.is_null(), "{delta}");
            assert!(size > 10_000, "{size} bytes");
        } else {
            // Against this machine's previous version (the parent's parent): a reader of this
            // stream holds it, whatever order it applies the two streams in.
            assert_eq!(delta["base"], last[who].as_str(), "turn {turn}");
            assert!(size <= 400, "turn {turn}: {size} bytes");
        }
        last[who] = id;
    }
    // A third machine applies the streams in its own order and rebuilds every version.
    let c = Home::new();
    c.sync("pull", &folder, &[]).code(0);
    for id in a.history_ids("plan") {
        assert_eq!(
            c.ok(&["get", "plan", "--version", &id]),
            a.ok(&["get", "plan", "--version", &id])
        );
    }
    assert_eq!(c.get("plan"), doc);

    // Its writer rebuilds a damaged one (a delta against the parent's parent) byte for byte,
    // with the rule the record says it was written with.
    let mine = a.peer_id(&folder);
    let file = folder
        .changesets()
        .into_iter()
        .rfind(|f| f.to_string_lossy().contains(&mine))
        .unwrap();
    let original = std::fs::read(&file).unwrap();
    let mut damaged = original.clone();
    let mid = damaged.len() / 2;
    damaged[mid] ^= 0x01;
    std::fs::write(&file, &damaged).unwrap();
    a.sync("repair", &folder, &[]).code(0);
    assert_eq!(std::fs::read(&file).unwrap(), original);
    // A record from before the rule was kept (schema 7: the parent only) would not rebuild it.
    let conn = rusqlite::Connection::open(a.db()).unwrap();
    conn.execute("UPDATE published SET delta_reach = NULL", [])
        .unwrap();
    drop(conn);
    std::fs::write(&file, &damaged).unwrap();
    let refused = a.sync("repair", &folder, &[]).code(5);
    assert!(
        refused.stderr.contains("rebuilt from this database"),
        "{}",
        refused.stderr
    );
}
