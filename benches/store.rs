//! `make bench`: the store's write and read paths against the raw-insert floor, in one run.
//!
//! Fixed seed and clock: changing them makes figures irreproducible across runs. Figures are
//! printed as ratios against the floor measured in the same run, never asserted.
//! `cargo bench --bench store -- --quick` runs a small size (a smoke run, not a measurement).

use std::sync::Arc;
use std::time::{Duration, Instant};

use context::clock::{Hlc, ManualClock};
use context::ids::{PeerId, SeededIds, VersionId};
use context::runtime::Runtime;
use context::store::Store;
use rusqlite::{Connection, params};
use sha2::{Digest, Sha256};

#[path = "common/smoke.rs"]
mod smoke;
#[path = "common/words.rs"]
mod words;
const SEED: u64 = 0x5eed;
const T0: i64 = 1_795_600_000_000;
const REPS: usize = 3;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // `cargo bench` passes --bench; `cargo test --all-targets` runs this as a smoke test without
    // it, where the small size is enough.
    let quick = smoke::smoke("store");
    let writes = if quick { 200 } else { 2_000 };
    let keys = writes / 10;
    let bodies: Vec<Vec<u8>> = (0..writes).map(|i| body(i as u64)).collect();

    let put = median(REPS, || library_puts(&bodies, keys))?;
    let floor = median(REPS, || raw_floor(&bodies, keys))?;
    let (ls, history) = reads(&bodies, keys)?;

    println!(
        "store bench: {writes} versions over {keys} keys, ~500-byte bodies (median of {REPS})"
    );
    println!("{:<44} {:>12} {:>14}", "measure", "time", "vs floor");
    let row = |name: &str, d: Duration, base: Duration| {
        println!(
            "{:<44} {:>10.3}ms {:>13.1}×",
            name,
            d.as_secs_f64() * 1e3,
            d.as_secs_f64() / base.as_secs_f64()
        )
    };
    let per = |d: Duration| d / writes as u32;
    row("floor: raw insert, one transaction", floor, floor);
    row("library put, one durable commit each", put, floor);
    row("  per put (vs floor per row)", per(put), per(floor));
    row("ls of every key", ls, floor);
    let puts = if quick { 6 } else { 40 };
    let (plain, auto) = put_processes(puts)?;
    println!(
        "{:<44} {:>10.3}ms {:>13.2}×  (put_autosync_over_plain)",
        "`context put` with sync after writes, per put",
        auto.as_secs_f64() * 1e3 / puts as f64,
        auto.as_secs_f64() / plain.as_secs_f64()
    );
    row("history of one key", history, floor);
    Ok(())
}

fn body(i: u64) -> Vec<u8> {
    words::body(i, SEED, String::new(), 500)
}

fn runtime() -> Runtime {
    Runtime::new(
        Arc::new(ManualClock::new(T0)),
        Arc::new(SeededIds::new(SEED)),
        "bench",
    )
}

fn median(
    reps: usize,
    mut f: impl FnMut() -> Result<Duration, Box<dyn std::error::Error>>,
) -> Result<Duration, Box<dyn std::error::Error>> {
    let mut times = (0..reps).map(|_| f()).collect::<Result<Vec<_>, _>>()?;
    times.sort();
    Ok(times[times.len() / 2])
}

fn library_puts(bodies: &[Vec<u8>], keys: usize) -> Result<Duration, Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let mut store = Store::open(&dir.path().join("context.db"), runtime())?;
    let start = Instant::now();
    for (i, b) in bodies.iter().enumerate() {
        store.put("bench", &format!("key/{}", i % keys), b, None)?;
    }
    Ok(start.elapsed())
}

/// The same rows, inserted with one prepared statement in one transaction: what no store can
/// beat on this schema.
fn raw_floor(bodies: &[Vec<u8>], keys: usize) -> Result<Duration, Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("context.db");
    drop(Store::open(&path, runtime())?);
    let mut conn = Connection::open(&path)?;
    conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA cache_size = -65536;")?;
    let ids = SeededIds::new(SEED);
    let peer = PeerId::generate(&ids);
    let start = Instant::now();
    let tx = conn.transaction()?;
    {
        let mut stmt = tx.prepare(
            "INSERT INTO document_versions
                 (version_id, project, key, kind, body, body_sha256, hlc, peer_id, parent_id, expires_at)
             VALUES (?1, 'bench', ?2, 0, ?3, ?4, ?5, ?6, NULL, NULL)",
        )?;
        for (i, b) in bodies.iter().enumerate() {
            let hlc = Hlc::from_parts(T0, i as u16);
            let sha: [u8; 32] = Sha256::digest(b).into();
            stmt.execute(params![
                VersionId::generate(&ids, T0).as_bytes(),
                format!("key/{}", i % keys),
                b,
                sha.as_slice(),
                hlc.to_i64(),
                peer.as_bytes(),
            ])?;
        }
    }
    tx.commit()?;
    Ok(start.elapsed())
}

fn reads(
    bodies: &[Vec<u8>],
    keys: usize,
) -> Result<(Duration, Duration), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let mut store = Store::open(&dir.path().join("context.db"), runtime())?;
    for (i, b) in bodies.iter().enumerate() {
        store.put("bench", &format!("key/{}", i % keys), b, None)?;
    }
    let ls = median(REPS, || {
        let start = Instant::now();
        let n = store.ls("bench", "", false)?.len();
        assert_eq!(n, keys);
        Ok(start.elapsed())
    })?;
    let history = median(REPS, || {
        let start = Instant::now();
        store.history("bench", "key/0")?;
        Ok(start.elapsed())
    })?;
    Ok((ls, history))
}

/// `n` whole `context put` processes into a home with a default remote (a folder), with sync
/// after writes off and then on, each the median of [`REPS`] rounds taking both in turn: what a
/// write costs the person who typed it when it also starts a background sync (which it does
/// not wait for).
fn put_processes(n: usize) -> Result<(Duration, Duration), Box<dyn std::error::Error>> {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let run = |auto: bool| -> Result<Duration, Box<dyn std::error::Error>> {
        let home = tempfile::tempdir()?;
        let folder = tempfile::tempdir()?;
        let ctx = |args: &[&str]| {
            let mut c = Command::new(env!("CARGO_BIN_EXE_context"));
            c.args(args)
                .env("CONTEXT_HOME", home.path())
                .env("CONTEXT_AUTO_SYNC", if auto { "1" } else { "0" })
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            c
        };
        ctx(&["sync", "remote", folder.path().to_str().unwrap_or_default()]).status()?;
        let started = Instant::now();
        for i in 0..n {
            let mut child = ctx(&["put", &format!("k{i}")]).spawn()?;
            if let Some(mut stdin) = child.stdin.take() {
                stdin.write_all(&body(i as u64))?;
            }
            child.wait()?;
        }
        let took = started.elapsed();
        // Let the background syncs end before the folders go.
        std::thread::sleep(Duration::from_millis(if auto { 4_000 } else { 0 }));
        Ok(took)
    };
    let mut plain = Vec::new();
    let mut auto = Vec::new();
    for _ in 0..REPS {
        plain.push(run(false)?);
        auto.push(run(true)?);
    }
    plain.sort();
    auto.sort();
    Ok((plain[REPS / 2], auto[REPS / 2]))
}
