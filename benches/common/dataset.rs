//! What the benches share: the deterministic dataset (fixed seed and clock: changing them makes
//! figures irreproducible) and the homes it goes into. Included by `sync.rs` and `scale.rs`
//! (`#[path]`: a file of its own under `benches/` would be a bench target).

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use context::clock::{Hlc, ManualClock};
use context::ids::{PeerId, SeededIds, VersionId};
use context::runtime::Runtime;
use context::store::Store;
use sha2::{Digest, Sha256};

pub type Res<T> = Result<T, Box<dyn std::error::Error>>;

pub const SEED: u64 = 0x5eed_c0de;
/// 2026-11-01T00:00:00Z.
pub const T0: i64 = 1_793_491_200_000;
pub const PROJECTS: [&str; 3] = ["research", "plans", "notes"];

pub fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A vocabulary of word-like syllable strings, drawn with a skew like real prose.
pub fn vocabulary() -> Vec<String> {
    const SYL: [&str; 24] = [
        "sync", "ver", "sion", "peer", "re", "mote", "chan", "ge", "set", "log", "da", "ta",
        "base", "note", "plan", "in", "con", "flict", "time", "stamp", "hist", "ory", "the", "and",
    ];
    (0..2_000u64)
        .map(|i| {
            let r = splitmix(i ^ SEED);
            let n = 1 + (r % 3) as usize;
            (0..n)
                .map(|k| SYL[((r >> (8 * k + 8)) % SYL.len() as u64) as usize])
                .collect()
        })
        .collect()
}

/// Row `i` of the dataset: the `i / keys`-th version of key `i % keys`, whose parent is row
/// `i - keys`.
pub struct Gen {
    vocab: Vec<String>,
    pub keys: usize,
    pub peer: PeerId,
}

pub struct Row {
    pub id: VersionId,
    pub project: &'static str,
    pub key: String,
    pub body: Vec<u8>,
    pub sha: [u8; 32],
    pub hlc: Hlc,
    pub parent: Option<VersionId>,
}

impl Gen {
    pub fn new(keys: usize) -> Gen {
        Gen {
            vocab: vocabulary(),
            keys,
            peer: PeerId::generate(&SeededIds::new(SEED)),
        }
    }

    pub fn id(&self, i: usize) -> VersionId {
        let ms = T0 + i as i64 * 10;
        let r = splitmix(i as u64 ^ SEED).to_le_bytes();
        let r2 = splitmix(i as u64 ^ !SEED).to_le_bytes();
        let mut tail = [0u8; 10];
        tail[..8].copy_from_slice(&r);
        tail[8..].copy_from_slice(&r2[..2]);
        VersionId::from_bytes(
            *uuid::Builder::from_unix_timestamp_millis(ms as u64, &tail)
                .into_uuid()
                .as_bytes(),
        )
    }

    pub fn row(&self, i: usize) -> Row {
        let k = i % self.keys;
        let mut body = String::with_capacity(560);
        let mut x = splitmix(i as u64 ^ 0xb0d1);
        while body.len() < 500 {
            x = splitmix(x);
            // Squaring skews the draw toward the first words, as prose repeats its common ones.
            let u = (x % 1_000) as f64 / 1_000.0;
            let w = (u * u * self.vocab.len() as f64) as usize;
            body.push_str(&self.vocab[w]);
            body.push(if x.is_multiple_of(11) { '\n' } else { ' ' });
        }
        let body = body.into_bytes();
        Row {
            id: self.id(i),
            project: PROJECTS[k % PROJECTS.len()],
            key: format!("topic-{}/note-{k}", k % 97),
            sha: Sha256::digest(&body).into(),
            body,
            hlc: Hlc::from_parts(T0 + i as i64 * 10, 0),
            parent: (i >= self.keys).then(|| self.id(i - self.keys)),
        }
    }
}

/// The runtime of the home at `home`: each home its own seed, so each is its own peer.
pub fn runtime(home: &Path) -> Runtime {
    let seed = home
        .to_string_lossy()
        .bytes()
        .fold(SEED, |h, b| splitmix(h ^ u64::from(b)));
    Runtime::new(
        Arc::new(ManualClock::new(T0 + 100_000_000)),
        Arc::new(SeededIds::new(seed)),
        "bench",
    )
}

pub fn open(home: &Path) -> Res<Store> {
    Ok(Store::open(&home.join("context.db"), runtime(home))?)
}

/// A new home with the schema and nothing else.
pub fn empty_home(root: &Path, name: &str) -> Res<PathBuf> {
    let home = root.join(name);
    drop(open(&home)?);
    Ok(home)
}

/// The floor's insert: one row as the store keeps it, nothing else (no current-row table).
pub const INSERT_RAW: &str = "INSERT INTO document_versions
     (version_id, project, key, kind, body, body_sha256, hlc, peer_id, parent_id, expires_at)
     VALUES (?1, ?2, ?3, 0, ?4, ?5, ?6, ?7, ?8, NULL)";

/// Inserts `r` with [`INSERT_RAW`] prepared as `stmt`.
pub fn insert_row(stmt: &mut rusqlite::Statement<'_>, g: &Gen, r: &Row) -> rusqlite::Result<usize> {
    stmt.execute(rusqlite::params![
        r.id.as_bytes(),
        r.project,
        r.key,
        r.body,
        r.sha.as_slice(),
        r.hlc.to_i64(),
        g.peer.as_bytes(),
        r.parent.map(|p| p.as_bytes().to_vec()),
    ])
}

/// The store's own connection settings (`src/store/mod.rs`), for the raw paths.
pub fn raw_connection(db: &Path) -> Res<rusqlite::Connection> {
    let conn = rusqlite::Connection::open(db)?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA cache_size = -24576;",
    )?;
    Ok(conn)
}

/// Whether GNU time is installed (`/usr/bin/time`), which the benches read peak RSS from.
pub fn gnu_time() -> bool {
    Path::new("/usr/bin/time").exists()
}

/// The `context` binary as a command, run through GNU time (`-f %M`) where it is installed, so
/// that [`peak_rss`] can read its peak RSS: GNU time forks a small process to exec `context`,
/// whereas a child forked from a bench directly would report the bench's own (large) memory as
/// its peak, since Linux carries the pre-exec high-water mark across exec.
pub fn context_command() -> Command {
    if gnu_time() {
        let mut c = Command::new("/usr/bin/time");
        c.args(["-f", "%M"]).arg(env!("CARGO_BIN_EXE_context"));
        c
    } else {
        Command::new(env!("CARGO_BIN_EXE_context"))
    }
}

/// The peak RSS in bytes that GNU time printed as the last line of a [`context_command`]'s
/// stderr; `None` without GNU time or without that line.
pub fn peak_rss(stderr: &str) -> Option<u64> {
    if !gnu_time() {
        return None;
    }
    stderr
        .lines()
        .last()
        .and_then(|l| l.trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
}
