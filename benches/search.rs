//! `make bench`: full-text search (`context search`) and what keeping its index costs.
//!
//! - `search_s`: one search of the current versions for a word a few dozen keys hold, over
//!   200,000 versions (20,000 keys, ~500-byte bodies);
//! - `put_with_fts_over_plain`: a durable `put` with the index kept by its trigger, over the
//!   same put with the trigger dropped (the store as it was before search);
//! - `pull_full_with_fts_over_plain`: a new machine's first pull of every version, likewise
//!   (a pull leaves the indexing of what it brought to the next search);
//! - `search_first_after_pull_s`: that next search, which indexes the 20,000 pulled versions.
//!
//! Fixed seed and clock. Figures are ratios against the anchors measured in the same run, and
//! go to `target/bench/results.json`. Without `--bench` (as `cargo test --all-targets` runs
//! it), a small smoke run that records nothing.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use context::clock::{Hlc, ManualClock};
use context::ids::{PeerId, SeededIds, VersionId};
use context::remote::{Folder, Remote};
use context::runtime::Runtime;
use context::store::Store;
use context::sync::{self, PullOptions, PushOptions};
use rusqlite::{Connection, params};
use sha2::{Digest, Sha256};

#[path = "common/results.rs"]
mod results;
#[path = "common/smoke.rs"]
mod smoke;
#[path = "common/words.rs"]
mod words;

const SEED: u64 = 0x5eed;
const T0: i64 = 1_795_600_000_000;
const REPS: usize = 5;

type Res<T> = Result<T, Box<dyn std::error::Error>>;

fn main() -> Res<()> {
    let quick = smoke::smoke("search");
    let versions = if quick { 2_000 } else { 200_000 };
    let keys = versions / 10;
    let search = search_over(versions, keys)?;
    let puts = if quick { 50 } else { 3_000 };
    let (put_fts, put_plain) = pair(|fts| puts_into(puts, fts))?;
    let pulled = if quick { 1_000 } else { 20_000 };
    let source = tempfile::tempdir()?;
    let remote_dir = tempfile::tempdir()?;
    publish(pulled, source.path(), remote_dir.path())?;
    let (pull_fts, pull_plain) =
        pair(|fts| pull_into(remote_dir.path(), pulled, fts).map(|(t, _)| t))?;
    let (_, first_search) = pull_into(remote_dir.path(), pulled, true)?;

    println!("search bench ({versions} versions over {keys} keys; medians of {REPS})");
    println!(
        "search of the current versions: {:.2} ms  (search_s)",
        search.as_secs_f64() * 1e3
    );
    let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64();
    println!(
        "put ×{puts}: {:.0} ms with the index, {:.0} ms without: {:.2}×  (put_with_fts_over_plain)",
        put_fts.as_secs_f64() * 1e3,
        put_plain.as_secs_f64() * 1e3,
        ratio(put_fts, put_plain)
    );
    println!(
        "first pull of {pulled} versions: {:.0} ms with the index, {:.0} ms without: {:.2}×  \
         (pull_full_with_fts_over_plain)",
        pull_fts.as_secs_f64() * 1e3,
        pull_plain.as_secs_f64() * 1e3,
        ratio(pull_fts, pull_plain)
    );
    println!(
        "the first search after it (indexes what the pull brought): {:.0} ms  \
         (search_first_after_pull_s)",
        first_search.as_secs_f64() * 1e3
    );
    if !quick {
        let path = results::add(serde_json::json!({
            "search_s": search.as_secs_f64(),
            "put_with_fts_over_plain": ratio(put_fts, put_plain),
            "pull_full_with_fts_over_plain": ratio(pull_fts, pull_plain),
            "search_first_after_pull_s": first_search.as_secs_f64(),
        }))?;
        println!("figures added to {}", path.display());
    }
    Ok(())
}

fn runtime() -> Runtime {
    Runtime::new(
        Arc::new(ManualClock::new(T0)),
        Arc::new(SeededIds::new(SEED)),
        "bench",
    )
}

/// A ~500-byte body of common words, and one of 997 rarer ones (`topic<n>`).
fn body(i: u64) -> Vec<u8> {
    words::body(i, SEED, format!("topic{} ", i % 997), 500)
}

/// A store without the search index's trigger: what every write cost before search.
fn drop_index_trigger(db: &Path) -> Res<()> {
    Connection::open(db)?.execute_batch("DROP TRIGGER search_index_insert")?;
    Ok(())
}

/// Both variants, taken in turn, medians of [`REPS`]: (with the index, without).
fn pair(mut f: impl FnMut(bool) -> Res<Duration>) -> Res<(Duration, Duration)> {
    let (mut fts, mut plain) = (Vec::new(), Vec::new());
    for _ in 0..REPS {
        fts.push(f(true)?);
        plain.push(f(false)?);
    }
    fts.sort();
    plain.sort();
    Ok((fts[REPS / 2], plain[REPS / 2]))
}

/// `versions` rows over `keys` keys, inserted in one transaction (the index kept by its
/// trigger), then the median time of one search of the current versions.
fn search_over(versions: usize, keys: usize) -> Res<Duration> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("context.db");
    drop(Store::open(&path, runtime())?);
    let mut conn = Connection::open(&path)?;
    let ids = SeededIds::new(SEED);
    let peer = PeerId::generate(&ids);
    let tx = conn.transaction()?;
    {
        let mut stmt = tx.prepare(
            "INSERT INTO document_versions
                 (version_id, project, key, kind, body, body_sha256, hlc, peer_id)
             VALUES (?1, 'bench', ?2, 0, ?3, ?4, ?5, ?6)",
        )?;
        for i in 0..versions {
            let b = body(i as u64);
            let sha: [u8; 32] = Sha256::digest(&b).into();
            stmt.execute(params![
                VersionId::generate(&ids, T0).as_bytes(),
                format!("key/{}", i % keys),
                b,
                sha.as_slice(),
                Hlc::from_parts(T0 + (i / keys) as i64, 0).to_i64(),
                peer.as_bytes(),
            ])?;
        }
    }
    // The current row of each key, as every write keeps it.
    tx.execute_batch(
        "INSERT INTO current_versions (project, key, seq)
         SELECT project, key, max(seq) FROM document_versions GROUP BY project, key",
    )?;
    tx.commit()?;
    drop(conn);
    let mut store = Store::open(&path, runtime())?;
    let mut times = Vec::new();
    for _ in 0..REPS {
        let start = Instant::now();
        // The word of the current version of key/0 (and of every key's whose version has it).
        let word = format!("topic{}", (versions - keys) % 997);
        let hits = store.search("bench", &word, false)?;
        times.push(start.elapsed());
        assert!(!hits.is_empty());
    }
    times.sort();
    Ok(times[REPS / 2])
}

/// `n` durable puts (one transaction each), over 100 keys.
fn puts_into(n: usize, fts: bool) -> Res<Duration> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("context.db");
    let mut store = Store::open(&path, runtime())?;
    if !fts {
        drop_index_trigger(&path)?;
    }
    let bodies: Vec<Vec<u8>> = (0..n).map(|i| body(i as u64)).collect();
    let start = Instant::now();
    for (i, b) in bodies.iter().enumerate() {
        store.put("bench", &format!("key/{}", i % 100), b, None)?;
    }
    Ok(start.elapsed())
}

/// A home with `n` versions (over `n / 4` keys), pushed to a folder.
fn publish(n: usize, home: &Path, remote: &Path) -> Res<()> {
    let mut store = Store::open(&home.join("context.db"), runtime())?;
    for i in 0..n {
        store.put(
            "bench",
            &format!("key/{}", i % (n / 4)),
            &body(i as u64),
            None,
        )?;
    }
    sync::push(
        &mut store,
        &Remote::new(Folder::open(remote)?),
        PushOptions::default(),
    )?;
    Ok(())
}

/// A new home's first pull of everything in `remote` (the `n` versions [`publish`] wrote),
/// then its first search.
fn pull_into(remote: &Path, n: usize, fts: bool) -> Res<(Duration, Duration)> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("context.db");
    let rt = Runtime::new(
        Arc::new(ManualClock::new(T0)),
        Arc::new(SeededIds::new(SEED + 1)),
        "reader",
    );
    let mut store = Store::open(&path, rt)?;
    if !fts {
        drop_index_trigger(&path)?;
    }
    let remote = Remote::new(Folder::open(remote)?);
    let start = Instant::now();
    sync::pull(&mut store, &remote, PullOptions::default())?;
    let pulled = start.elapsed();
    let start = Instant::now();
    let hits = store.search("bench", &format!("topic{}", (n - n / 4) % 997), false)?;
    assert!(!hits.is_empty());
    Ok((pulled, start.elapsed()))
}
