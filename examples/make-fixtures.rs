//! Writes the committed fixtures under `fixtures/`: `cargo run --example make-fixtures`.
//!
//! Fixed times and seeds: running it again makes the same files. Tests read these files forever
//! after, so never regenerate one that a released binary wrote; add a new one beside it.
//!
//! - `fixtures/db/schema-1.db`: a database as the first schema left it (migration 0001 only),
//!   rows written with that schema's columns, for the migrate-forward test.

use std::path::Path;

use context::clock::Hlc;
use context::ids::{PeerId, SeededIds, VersionId};
use context::store::migrations;
use rusqlite::{Connection, params};
use sha2::{Digest, Sha256};

/// 2026-11-01T09:00:00Z.
const T: i64 = 1_793_523_600_000;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    schema_1(&root.join("db").join("schema-1.db"))?;
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
