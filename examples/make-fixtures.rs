//! Writes the committed fixtures under `fixtures/`: `cargo run --example make-fixtures`.
//!
//! Fixed times and seeds: running it again makes the same files. Tests read these files forever
//! after, so never regenerate one that a released binary wrote; add a new one beside it.
//!
//! - `fixtures/db/schema-1.db`: a database as the first schema left it (migration 0001 only),
//!   rows written with that schema's columns, for the migrate-forward test.
//! - `fixtures/changesets/v1/`: golden changesets of format 1.0, a stream of two, laid out as in
//!   a remote (`<peer>/<generation>-<seq>.cset`), and broken copies of the first one:
//!   `truncated.cset`, `flipped-byte.cset`, `future-version.cset`, `wrong-magic.cset`; and,
//!   in format 1.1, a snapshot of that stream (`snapshot-<id>-00000001.cset` and its seal).

use std::path::Path;

use context::changeset::{self, Changeset, Header};
use context::clock::Hlc;
use context::ids::{PeerId, SeededIds, VersionId};
use context::record::{Author, Kind, Record};
use context::remote::{CsetName, FileName, SnapshotName};
use context::store::migrations;
use rusqlite::{Connection, params};
use sha2::{Digest, Sha256};

/// 2026-11-01T09:00:00Z.
const T: i64 = 1_793_523_600_000;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    schema_1(&root.join("db").join("schema-1.db"))?;
    changesets_v1(&root.join("changesets").join("v1"))?;
    changesets_v2(
        &root.join("changesets").join("v1"),
        &root.join("changesets").join("v2"),
    )?;
    changesets_v1_2(&root.join("changesets").join("v1.2"))?;
    changesets_v1_3(&root.join("changesets").join("v1.3"))?;
    changesets_v1_4(&root.join("changesets").join("v1.4"))?;
    changesets_v3(&root.join("changesets").join("v3"))?;
    // Format 4.0: the format-3 stream (deltas inside) sealed as an encrypted remote holds it.
    changesets_v2(
        &root.join("changesets").join("v3"),
        &root.join("changesets").join("v4"),
    )?;
    Ok(())
}

/// The body of the format-3 golden document: `lines` numbered lines of a plan.
pub fn v3_body(lines: usize) -> Vec<u8> {
    (0..lines)
        .map(|i| format!("step {i}: measure, then write down what the figure means\n"))
        .collect::<String>()
        .into_bytes()
}

/// `fixtures/changesets/v3/`: format 3.0, versions as deltas. Changeset 1 holds `plan` whole
/// (120 lines) and, as a delta against it, the same with a line appended; changeset 2 holds a
/// third version, a delta against the second (an entry of the changeset before).
fn changesets_v3(dir: &Path) -> Result<(), Box<dyn std::error::Error>> {
    use context::record::{Checksum, Delta};
    if dir.exists() {
        std::fs::remove_dir_all(dir)?;
    }
    let ids = SeededIds::new(33);
    let p = PeerId::generate(&ids);
    let doc = ("default", "plan");
    let bodies = [v3_body(120), v3_body(121), v3_body(122)];
    let first = entry(&ids, p, doc, Some(&bodies[0]), T, None, None);
    let as_delta = |mut e: Record, base: &[u8]| -> Result<Record, Box<dyn std::error::Error>> {
        let body = e.body.take().ok_or("no body")?;
        let d = changeset::delta::encode(base, &body).ok_or("zstd refused")?;
        e.delta = Some(Delta {
            base: e.parent.ok_or("no parent")?,
            sha256: Checksum(Sha256::digest(&body).into()),
        });
        e.body = Some(d);
        Ok(e)
    };
    let second = as_delta(
        entry(
            &ids,
            p,
            doc,
            Some(&bodies[1]),
            T + 60_000,
            Some(first.id),
            None,
        ),
        &bodies[0],
    )?;
    let third = as_delta(
        entry(
            &ids,
            p,
            doc,
            Some(&bodies[2]),
            T + 120_000,
            Some(second.id),
            None,
        ),
        &bodies[1],
    )?;
    let header = first_header(p, T + 180_000);
    let (one, sum) = changeset::encode(&Changeset::new(header.clone(), vec![first, second]))?;
    let (two, _) = changeset::encode(&Changeset::new(
        Header {
            seq: 2,
            prev: Some(sum),
            created_at_ms: T + 240_000,
            ..header
        },
        vec![third],
    ))?;
    write_stream(dir, p, &[&one, &two])?;
    Ok(())
}

/// `fixtures/changesets/v1.2/`: format 1.2, a changeset whose header says which entry settled
/// a conflict. Peer P wrote `plan`; P and Q edited it concurrently (Q's relayed here); P then
/// resolved the conflict with a version whose parent is its own side and which settles Q's.
fn changesets_v1_2(dir: &Path) -> Result<(), Box<dyn std::error::Error>> {
    if dir.exists() {
        std::fs::remove_dir_all(dir)?;
    }
    let ids = SeededIds::new(12);
    let p = PeerId::generate(&ids);
    let q = PeerId::generate(&ids);
    let doc = ("default", "plan");
    let base = entry(&ids, p, doc, Some(b"one\ntwo\nthree\n"), T, None, None);
    let theirs = entry(
        &ids,
        q,
        doc,
        Some(b"ONE\ntwo\nthree\n"),
        T + 60_000,
        Some(base.id),
        None,
    );
    let mine = entry(
        &ids,
        p,
        doc,
        Some(b"one\ntwo\nTHREE\n"),
        T + 61_000,
        Some(base.id),
        None,
    );
    let mut resolution = entry(
        &ids,
        p,
        doc,
        Some(b"ONE\ntwo\nTHREE\n"),
        T + 120_000,
        Some(mine.id),
        None,
    );
    resolution.settles = vec![theirs.id];
    let header = first_header(p, T + 180_000);
    let cs = Changeset::new(header, vec![base, theirs, mine, resolution]);
    let (bytes, _) = changeset::encode(&cs)?;
    write_stream(dir, p, &[&bytes])?;
    Ok(())
}

/// `fixtures/changesets/v1.3/`: format 1.3, a snapshot whose seal names the machines whose
/// streams it covers. Peer P ("laptop") wrote `plan` in two changesets; peer Q ("desktop")
/// wrote `notes`, relayed into P's database. P's snapshot covers P's stream to 2 and Q's to 1;
/// the folder holds P's changeset 2 (1 was pruned), the snapshot, and nothing of Q's: only the
/// seal says what Q's machine is called.
fn changesets_v1_3(dir: &Path) -> Result<(), Box<dyn std::error::Error>> {
    if dir.exists() {
        std::fs::remove_dir_all(dir)?;
    }
    let ids = SeededIds::new(13);
    let p = PeerId::generate(&ids);
    let q = PeerId::generate(&ids);
    let first = entry(
        &ids,
        p,
        ("default", "plan"),
        Some(b"draft\n"),
        T,
        None,
        None,
    );
    let notes = entry(
        &ids,
        q,
        ("default", "notes"),
        Some(b"from the desktop\n"),
        T + 30_000,
        None,
        None,
    );
    let second = entry(
        &ids,
        p,
        ("default", "plan"),
        Some(b"final\n"),
        T + 60_000,
        Some(first.id),
        None,
    );
    let head = Header::of_stream(p, 1, 1, None, T + 10_000, "laptop".into());
    let (_, first_sum) = changeset::encode(&Changeset::new(head.clone(), vec![first.clone()]))?;
    let (second_bytes, second_sum) = changeset::encode(&Changeset::new(
        Header {
            seq: 2,
            prev: Some(first_sum),
            created_at_ms: T + 70_000,
            ..head.clone()
        },
        vec![second.clone()],
    ))?;
    let q_sum = changeset::encode(&Changeset::new(
        Header::of_stream(q, 1, 1, None, T + 40_000, "desktop".into()),
        vec![notes.clone()],
    ))?
    .1;
    let stream = dir.join(p.to_string());
    std::fs::create_dir_all(&stream)?;
    let name = CsetName {
        peer: p,
        generation: 1,
        seq: 2,
    };
    std::fs::write(stream.join(name.file_name()), &second_bytes)?;
    let snapshot_id = ((T + 90_000) as u64) << 16;
    let part_header = Header {
        seq: 1,
        prev: None,
        created_at_ms: T + 90_000,
        snapshot: true,
        ..head
    };
    let (part_bytes, part_sum) = changeset::encode(&Changeset::new(
        part_header.clone(),
        vec![first, notes, second],
    ))?;
    let cover = |peer, seq, checksum| changeset::Cover {
        peer,
        generation: 1,
        seq,
        checksum,
    };
    let (seal_bytes, _) = changeset::encode(&Changeset::new(
        Header {
            seq: 2,
            prev: Some(part_sum),
            covers: vec![cover(p, 2, second_sum), cover(q, 1, q_sum)],
            hosts: vec![(p, "laptop".into()), (q, "desktop".into())],
            ..part_header
        },
        vec![],
    ))?;
    for (part, bytes) in [(Some(1), &part_bytes), (None, &seal_bytes)] {
        let name = SnapshotName {
            peer: p,
            id: snapshot_id,
            part,
        };
        std::fs::write(stream.join(name.file_name()), bytes)?;
    }
    println!(
        "wrote {} (a snapshot of peer {p} naming {q})",
        dir.display()
    );
    Ok(())
}

/// `fixtures/changesets/v1.4/`: format 1.4, a changeset whose header names who wrote each
/// entry: `plan` by a person ("alice", no session), `notes` by an agent ("claude-code" in
/// session "sess-7f3a"), and a tombstone whose writer recorded no author.
fn changesets_v1_4(dir: &Path) -> Result<(), Box<dyn std::error::Error>> {
    if dir.exists() {
        std::fs::remove_dir_all(dir)?;
    }
    let ids = SeededIds::new(14);
    let p = PeerId::generate(&ids);
    let mut plan = entry(
        &ids,
        p,
        ("default", "plan"),
        Some(b"by a person\n"),
        T,
        None,
        None,
    );
    plan.author = Some(Author {
        name: "alice".into(),
        session: None,
    });
    let mut notes = entry(
        &ids,
        p,
        ("default", "notes"),
        Some(b"by an agent\n"),
        T + 1_000,
        None,
        None,
    );
    notes.author = Some(Author {
        name: "claude-code".into(),
        session: Some("sess-7f3a".into()),
    });
    let gone = entry(
        &ids,
        p,
        ("default", "old"),
        Some(b"x\n"),
        T + 2_000,
        None,
        None,
    );
    let tomb = entry(
        &ids,
        p,
        ("default", "old"),
        None,
        T + 3_000,
        Some(gone.id),
        None,
    );
    let (bytes, _) = changeset::encode(&Changeset::new(
        first_header(p, T + 10_000),
        vec![plan, notes, gone, tomb],
    ))?;
    let stream = write_stream(dir, p, &[&bytes])?;
    println!("wrote {} (authors and a session)", stream.display());
    Ok(())
}

/// The header of the first changeset of `peer`'s stream (generation 1), written at
/// `created_at_ms` on the fixtures' host; the counts are filled in by `Changeset::new`.
fn first_header(peer: PeerId, created_at_ms: i64) -> Header {
    Header::of_stream(peer, 1, 1, None, created_at_ms, "fixture-host".into())
}

/// Writes `files` as changesets 1, 2, ... of `peer`'s generation 1 under `dir`, laid out as
/// in a remote; returns the stream's folder.
fn write_stream(
    dir: &Path,
    peer: PeerId,
    files: &[&[u8]],
) -> Result<std::path::PathBuf, Box<dyn std::error::Error>> {
    let stream = dir.join(peer.to_string());
    std::fs::create_dir_all(&stream)?;
    for (seq, bytes) in (1..).zip(files) {
        let name = CsetName {
            peer,
            generation: 1,
            seq,
        };
        std::fs::write(stream.join(name.file_name()), bytes)?;
    }
    Ok(stream)
}

/// The key of the sealed golden files: bytes 0, 1, ..., 31. A test key, public on purpose.
pub const TEST_KEY: [u8; 32] = {
    let mut k = [0u8; 32];
    let mut i = 0;
    while i < 32 {
        k[i] = i as u8;
        i += 1;
    }
    k
};

/// `fixtures/changesets/v2/`: the v1 stream and snapshot sealed (format 2.0) under
/// [`TEST_KEY`], each with a nonce made from its name (fixed, so the files come out the same;
/// a real write draws a random nonce). Also `v4/`: the v3 stream sealed (format 4.0).
fn changesets_v2(v1: &Path, v2: &Path) -> Result<(), Box<dyn std::error::Error>> {
    use context::encryption::sealed::{SecretKey, seal_with_nonce};
    use context::remote::names::{Found, classify};
    let key = SecretKey::from_bytes(TEST_KEY);
    for peer_dir in std::fs::read_dir(v1)?.flatten() {
        let peer = peer_dir.file_name().to_string_lossy().into_owned();
        if peer == "broken" {
            continue;
        }
        let out = v2.join(&peer);
        std::fs::create_dir_all(&out)?;
        for file in std::fs::read_dir(peer_dir.path())?.flatten() {
            let name = file.file_name().to_string_lossy().into_owned();
            let role = match classify(Some(&peer), &name) {
                Found::Changeset(n) => n.role(),
                Found::Snapshot(n) => n.role(),
                _ => continue,
            };
            let digest: [u8; 32] = Sha256::digest(name.as_bytes()).into();
            let mut nonce = [0u8; 24];
            nonce.copy_from_slice(&digest[..24]);
            let sealed = seal_with_nonce(&key, role, &std::fs::read(file.path())?, nonce)?;
            std::fs::write(out.join(&name), sealed)?;
        }
    }
    println!("wrote {} (sealed under the test key)", v2.display());
    Ok(())
}

fn entry(
    ids: &SeededIds,
    peer: PeerId,
    (project, key): (&str, &str),
    body: Option<&[u8]>,
    at: i64,
    parent: Option<VersionId>,
    expires_at_ms: Option<i64>,
) -> Record {
    let hlc = Hlc::from_parts(at, 0);
    Record {
        id: VersionId::generate(ids, at),
        project: project.to_string(),
        key: key.to_string(),
        kind: if body.is_some() {
            Kind::Version
        } else {
            Kind::Tombstone
        },
        body: body.map(<[u8]>::to_vec),
        hlc,
        peer,
        parent,
        expires_at_ms,
        settles: vec![],
        delta: None,
        author: None,
    }
}

fn changesets_v1(dir: &Path) -> Result<(), Box<dyn std::error::Error>> {
    if dir.exists() {
        std::fs::remove_dir_all(dir)?;
    }
    let ids = SeededIds::new(2);
    let peer = PeerId::generate(&ids);
    let other = PeerId::generate(&ids);
    let draft = entry(
        &ids,
        peer,
        ("default", "research/background-sync"),
        Some(b"first draft\n"),
        T,
        None,
        None,
    );
    let second = entry(
        &ids,
        peer,
        ("default", "research/background-sync"),
        Some(b"second draft\n"),
        T + 60_000,
        Some(draft.id),
        None,
    );
    let short = entry(
        &ids,
        peer,
        ("default", "tmp/scratch"),
        Some(b"short-lived\n"),
        T + 120_000,
        None,
        Some(T + 120_000 + 3_600_000),
    );
    // A version written by another peer, passed on by this one (versions hop between remotes).
    let relayed = entry(
        &ids,
        other,
        ("plans", "plan/q1"),
        Some(b"ship it\n"),
        T + 180_000,
        None,
        None,
    );
    let binary = entry(
        &ids,
        peer,
        ("plans", "blob"),
        Some(&[0, 159, 146, 150, 255, 10]),
        T + 240_000,
        None,
        None,
    );
    let first_header = first_header(peer, T + 300_000);
    let first = Changeset::new(
        first_header.clone(),
        vec![draft, second.clone(), short, relayed, binary],
    );
    let (first_bytes, first_sum) = changeset::encode(&first)?;
    let gone = entry(
        &ids,
        peer,
        ("default", "research/background-sync"),
        None,
        T + 360_000,
        Some(second.id),
        None,
    );
    let second_cs = Changeset::new(
        Header {
            seq: 2,
            prev: Some(first_sum),
            created_at_ms: T + 420_000,
            ..first_header.clone()
        },
        vec![gone],
    );
    let (second_bytes, second_sum) = changeset::encode(&second_cs)?;

    let stream = write_stream(dir, peer, &[&first_bytes, &second_bytes])?;
    // Format 1.1: a snapshot of that stream by its own peer (one part, then the seal), as
    // `context sync snapshot` writes it, covering both changesets.
    let snapshot_id = ((T + 480_000) as u64) << 16;
    let mut all = first.entries.clone();
    all.extend(second_cs.entries.iter().cloned());
    let part_header = Header {
        seq: 1,
        prev: None,
        created_at_ms: T + 480_000,
        snapshot: true,
        ..first_header.clone()
    };
    let (part_bytes, part_sum) = changeset::encode(&Changeset::new(part_header.clone(), all))?;
    let seal = Changeset::new(
        Header {
            seq: 2,
            prev: Some(part_sum),
            covers: vec![changeset::Cover {
                peer,
                generation: 1,
                seq: 2,
                checksum: second_sum,
            }],
            ..part_header
        },
        vec![],
    );
    let (seal_bytes, _) = changeset::encode(&seal)?;
    for (part, bytes) in [(Some(1), &part_bytes), (None, &seal_bytes)] {
        let name = SnapshotName {
            peer,
            id: snapshot_id,
            part,
        };
        std::fs::write(stream.join(name.file_name()), bytes)?;
    }

    let broken = dir.join("broken");
    std::fs::create_dir_all(&broken)?;
    std::fs::write(
        broken.join("truncated.cset"),
        &first_bytes[..first_bytes.len() / 2],
    )?;
    let mut flipped = first_bytes.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0x01;
    std::fs::write(broken.join("flipped-byte.cset"), flipped)?;
    // Major 5: no binary reads it yet (2 and 4 are the sealed formats of encrypted remotes,
    // 3 the format with deltas).
    let mut future = first_bytes.clone();
    future[8..10].copy_from_slice(&5u16.to_be_bytes());
    std::fs::write(broken.join("future-version.cset"), future)?;
    let mut magic = first_bytes.clone();
    magic[..8].copy_from_slice(b"PK\x03\x04zip!");
    std::fs::write(broken.join("wrong-magic.cset"), magic)?;
    println!("wrote {} (stream of peer {peer})", dir.display());
    Ok(())
}

fn schema_1(path: &Path) -> Result<(), Box<dyn std::error::Error>> {
    std::fs::create_dir_all(path.parent().ok_or("no parent")?)?;
    if path.exists() {
        std::fs::remove_file(path)?;
    }
    let mut conn = Connection::open(path)?;
    // A single self-contained file (no -wal beside it).
    conn.pragma_update(None, "journal_mode", "DELETE")?;
    migrations::migrate_to(&mut conn, path, 1)?;

    let ids = SeededIds::new(1);
    let peer = PeerId::generate(&ids);
    conn.execute(
        "INSERT INTO peer (id, peer_id, generation, host, created_at) VALUES (1, ?1, 1, 'fixture-host', ?2)",
        params![peer.as_bytes(), T],
    )?;
    let mut parent_of_key: std::collections::HashMap<(String, String), VersionId> =
        Default::default();
    let rows: [(&str, &str, Option<&str>, i64); 5] = [
        (
            "default",
            "research/background-sync",
            Some("first draft\n"),
            0,
        ),
        (
            "default",
            "research/background-sync",
            Some("second draft\n"),
            60_000,
        ),
        ("plans", "plan/q1", Some("ship it\n"), 120_000),
        ("default", "gone", Some("short-lived\n"), 180_000),
        ("default", "gone", None, 240_000),
    ];
    for (project, key, body, offset) in rows {
        let hlc = Hlc::from_parts(T + offset, 0);
        let id = VersionId::generate(&ids, hlc.wall_ms());
        let k = (project.to_string(), key.to_string());
        let parent = parent_of_key.get(&k).copied();
        let sha: Option<[u8; 32]> = body.map(|b| Sha256::digest(b.as_bytes()).into());
        conn.execute(
            "INSERT INTO document_versions
                 (version_id, project, key, kind, body, body_sha256, hlc, peer_id, parent_id, expires_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, NULL)",
            params![
                id.as_bytes(),
                project,
                key,
                if body.is_some() { 0 } else { 1 },
                body.map(str::as_bytes),
                sha.as_ref().map(|s| s.as_slice()),
                hlc.to_i64(),
                peer.as_bytes(),
                parent.as_ref().map(|p| p.as_bytes().as_slice()),
            ],
        )?;
        parent_of_key.insert(k, id);
    }
    conn.execute_batch("VACUUM")?;
    println!("wrote {}", path.display());
    Ok(())
}
