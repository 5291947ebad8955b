//! `make bench-scale` (not in CI): sync at 20k, 200k and 2M versions (keys = versions / 10,
//! ~500-byte bodies of word-like text), every figure a whole `context` process.
//!
//! Per size, medians of 3: the floor (the same rows inserted raw, one transaction, in this
//! process); a full push into an empty folder and a full pull of it into an empty home (a new
//! machine's bootstrap), with their peak RSS and, for the pull, the peak extra disk it needs
//! beside the database (its WAL or rollback journal, sampled every 5 ms; not SQLite's
//! temporary sort files, which building the history index writes outside the home).
//!
//! Then, medians of 7 rounds, each round taking every size in turn (so that the machine's
//! state weighs on each size alike): an incremental push and pull of 100 versions; a no-op
//! `context sync`; `context ls --project notes`; `context sync status` on the home that pulled
//! and never pushed. Written to `target/bench/scale.json` and printed as a table.
//!
//! Without `--bench` (what `cargo test --all-targets` runs) it is a smoke run at 2,000
//! versions, one repetition and one round. `SCALE_SIZES=20000,200000` picks the sizes,
//! `SCALE_REPS=N` the repetitions, `SCALE_ROUNDS=N` the rounds, and `SCALE_KEEP=DIR` keeps
//! each size's homes and folder in `DIR/VERSIONS/` (source, folder, peer-N) for a look by hand.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use context::store::Store;
use rusqlite::Connection;

#[path = "common/dataset.rs"]
mod dataset;
use dataset::*;

/// Rows generated (untimed) and inserted (timed) at a time by the floor.
const BATCH: usize = 20_000;

/// Inserts rows `0..n` raw, one transaction, timing only the inserts; with `current`, also
/// records each key's current row as the store keeps it (untimed; the floor has none).
fn insert_raw(db: &Path, g: &Gen, n: usize, current: bool) -> Res<Duration> {
    let conn = raw_connection(db)?;
    let tx = conn.unchecked_transaction()?;
    let mut timed = Duration::ZERO;
    {
        let mut stmt = tx.prepare(INSERT_RAW)?;
        for start in (0..n).step_by(BATCH) {
            let rows: Vec<Row> = (start..(start + BATCH).min(n)).map(|i| g.row(i)).collect();
            let t = Instant::now();
            for r in &rows {
                insert_row(&mut stmt, g, r)?;
            }
            timed += t.elapsed();
        }
    }
    let t = Instant::now();
    tx.commit()?;
    timed += t.elapsed();
    if current {
        conn.execute_batch(
            "INSERT OR REPLACE INTO current_versions (project, key, seq)
                 SELECT project, key, max(seq) FROM document_versions GROUP BY project, key;
             PRAGMA wal_checkpoint(TRUNCATE);",
        )?;
    }
    Ok(timed)
}

/// What a whole `context` process took: wall time, peak RSS, and the largest the home's WAL
/// or rollback journal grew to while it ran.
struct Ran {
    time: Duration,
    rss: u64,
    wal: u64,
}

/// Runs `context ARGS` in `home` (through GNU time for the peak RSS: [`context_command`]).
fn run(home: &Path, args: &[&str]) -> Res<Ran> {
    let mut cmd = context_command();
    cmd.args(args)
        .env("CONTEXT_HOME", home)
        .env("CONTEXT_NOW", (T0 + 20_000_000_000).to_string())
        .env_remove("CONTEXT_PROJECT")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    // The extra disk beside the database: its WAL, or the rollback journal a new peer's
    // first pull writes with.
    let extra = [home.join("context.db-wal"), home.join("context.db-journal")];
    let peak = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (peak, done) = (peak.clone(), done.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                let now: u64 = extra
                    .iter()
                    .filter_map(|f| std::fs::metadata(f).ok())
                    .map(|m| m.len())
                    .sum();
                peak.fetch_max(now, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };
    let start = Instant::now();
    let out = cmd.output()?;
    let time = start.elapsed();
    done.store(true, Ordering::Relaxed);
    let _ = sampler.join();
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        return Err(format!("context {args:?} failed: {stderr}").into());
    }
    let rss = peak_rss(&stderr).unwrap_or(0);
    Ok(Ran {
        time,
        rss,
        wal: peak.load(Ordering::Relaxed),
    })
}

/// Waits for the file system to write out what earlier commands left dirty (`sync(1)`).
fn settle() {
    let _ = Command::new("sync").status();
}

fn median<T: Clone + PartialOrd>(mut v: Vec<T>) -> T {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    v[v.len() / 2].clone()
}

#[derive(serde::Serialize, Clone)]
struct SizeReport {
    versions: usize,
    keys: usize,
    floor_s: f64,
    push_full_s: f64,
    pull_full_s: f64,
    push_incr_s: f64,
    pull_incr_s: f64,
    noop_sync_s: f64,
    ls_s: f64,
    status_pull_only_s: f64,
    push_peak_rss_bytes: u64,
    pull_peak_rss_bytes: u64,
    db_bytes: u64,
    pull_peak_extra_disk_bytes: u64,
}

/// Builds one size (the floor, full pushes and pulls) and keeps its source, folder and the
/// last peer that pulled, for the incremental rounds.
fn build(root: &Path, versions: usize, reps: usize) -> Res<Size> {
    let keys = versions / 10;
    let g = Gen::new(keys);
    let secs = |d: Duration| d.as_secs_f64();
    eprintln!("{versions} versions over {keys} keys:");

    let mut floor = Vec::new();
    for rep in 0..reps {
        let home = empty_home(root, &format!("floor-{rep}"))?;
        floor.push(secs(insert_raw(
            &home.join("context.db"),
            &g,
            versions,
            false,
        )?));
        std::fs::remove_dir_all(&home)?;
    }
    let floor_s = median(floor);
    eprintln!("  floor {floor_s:.3}s");

    let source = empty_home(root, "source")?;
    insert_raw(&source.join("context.db"), &g, versions, true)?;
    let folder = root.join("folder");
    let (mut push, mut push_rss) = (Vec::new(), Vec::new());
    for rep in 0..reps {
        // Each push from scratch: a fresh folder and a home that never pushed.
        let _ = std::fs::remove_dir_all(&folder);
        std::fs::create_dir_all(&folder)?;
        let conn = Connection::open(source.join("context.db"))?;
        conn.execute_batch("DELETE FROM pushed; DELETE FROM published;")?;
        drop(conn);
        let r = run(
            &source,
            &["sync", "push", "--remote", folder.to_str().ok_or("path")?],
        )?;
        eprintln!("  push {:.3}s (rep {rep})", secs(r.time));
        push.push(secs(r.time));
        push_rss.push(r.rss);
    }
    let remote = folder.to_str().ok_or("path")?.to_string();

    let (mut pull, mut pull_rss, mut pull_wal) = (Vec::new(), Vec::new(), Vec::new());
    let mut peer = PathBuf::new();
    for rep in 0..reps {
        let home = empty_home(root, &format!("peer-{rep}"))?;
        let r = run(&home, &["sync", "pull", "--remote", &remote])?;
        eprintln!("  pull {:.3}s (rep {rep})", secs(r.time));
        pull.push(secs(r.time));
        pull_rss.push(r.rss);
        pull_wal.push(r.wal);
        if rep > 0 {
            std::fs::remove_dir_all(&peer)?;
        }
        peer = home;
    }
    let db_bytes = std::fs::metadata(peer.join("context.db"))?.len();

    Ok(Size {
        report: SizeReport {
            versions,
            keys,
            floor_s,
            push_full_s: median(push),
            pull_full_s: median(pull),
            push_incr_s: 0.0,
            pull_incr_s: 0.0,
            noop_sync_s: 0.0,
            ls_s: 0.0,
            status_pull_only_s: 0.0,
            push_peak_rss_bytes: push_rss.into_iter().max().unwrap_or(0),
            pull_peak_rss_bytes: pull_rss.into_iter().max().unwrap_or(0),
            db_bytes,
            pull_peak_extra_disk_bytes: pull_wal.into_iter().max().unwrap_or(0),
        },
        store: Store::open(&source.join("context.db"), runtime(&source))?,
        g,
        source,
        peer,
        folder,
        remote,
        incr: Default::default(),
    })
}

/// One size's homes, kept for its incremental rounds, and what they measured.
struct Size {
    report: SizeReport,
    store: Store,
    g: Gen,
    source: PathBuf,
    peer: PathBuf,
    folder: PathBuf,
    remote: String,
    /// Per round: push and pull of 100, no-op sync, ls, status.
    incr: [Vec<f64>; 5],
}

/// One incremental round at one size: 100 new versions pushed, then pulled by the peer that
/// bootstrapped; a no-op sync, `ls` and `status` there.
fn round(size: &mut Size, rep: usize) -> Res<()> {
    let versions = size.report.versions;
    for j in 0..100 {
        let r = size.g.row((rep * 100 + j) % versions);
        size.store.put(r.project, &r.key, &r.body, None)?;
    }
    let (source, peer, remote) = (&size.source, &size.peer, size.remote.as_str());
    let [push, pull, noop, ls, status] = &mut size.incr;
    push.push(
        run(source, &["sync", "push", "--remote", remote])?
            .time
            .as_secs_f64(),
    );
    // The disk settles between the push and the pull: each figure is of its own command,
    // not of the other's writes still being flushed (which make an fsync cost a multiple).
    settle();
    pull.push(
        run(peer, &["sync", "pull", "--remote", remote])?
            .time
            .as_secs_f64(),
    );
    settle();
    noop.push(run(peer, &["sync", "--remote", remote])?.time.as_secs_f64());
    ls.push(run(peer, &["ls", "--project", "notes"])?.time.as_secs_f64());
    status.push(
        run(peer, &["sync", "status", "--remote", remote])?
            .time
            .as_secs_f64(),
    );
    Ok(())
}

/// The medians of a size's rounds, into its report; removes its homes unless kept.
fn finish(size: Size) -> Res<SizeReport> {
    let Size {
        mut report,
        store,
        source,
        peer,
        folder,
        incr,
        ..
    } = size;
    drop(store);
    let [push, pull, noop, ls, status] = incr;
    report.push_incr_s = median(push);
    report.pull_incr_s = median(pull);
    report.noop_sync_s = median(noop);
    report.ls_s = median(ls);
    report.status_pull_only_s = median(status);
    // Kept for looking into one figure by hand (`SCALE_KEEP=DIR`).
    if std::env::var_os("SCALE_KEEP").is_none() {
        for dir in [source, peer, folder] {
            std::fs::remove_dir_all(dir)?;
        }
    }
    Ok(report)
}

fn main() -> Res<()> {
    let args: Vec<String> = std::env::args().collect();
    let full = args.iter().any(|a| a == "--bench") && !args.iter().any(|a| a == "--quick");
    let sizes: Vec<usize> = match std::env::var("SCALE_SIZES") {
        Ok(s) => s.split(',').filter_map(|n| n.trim().parse().ok()).collect(),
        Err(_) if full => vec![20_000, 200_000, 2_000_000],
        Err(_) => vec![2_000],
    };
    let reps = std::env::var("SCALE_REPS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(if full { 3 } else { 1 });
    let work = tempfile::tempdir()?;
    let mut built = Vec::new();
    for &n in &sizes {
        let root = match std::env::var_os("SCALE_KEEP") {
            Some(keep) => {
                let root = Path::new(&keep).join(n.to_string());
                let _ = std::fs::remove_dir_all(&root);
                std::fs::create_dir_all(&root)?;
                root
            }
            None => work.path().join(n.to_string()),
        };
        built.push(build(&root, n, reps)?);
    }
    // The incremental figures, compared across sizes, are measured in rounds that take every
    // size in turn, so that whatever state the machine is in weighs on each size alike (and
    // each size's first pulls after its bootstrap are counted as such, not those of one size
    // against later ones of another). More rounds than repetitions of the builds: they are
    // cheap.
    let rounds = std::env::var("SCALE_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(if full { 7 } else { 1 });
    for rep in 0..rounds {
        for size in &mut built {
            round(size, rep)?;
        }
    }
    let reports = built.into_iter().map(finish).collect::<Res<Vec<_>>>()?;

    println!(
        "{:>9} {:>8} {:>8} {:>8} {:>9} {:>9} {:>9} {:>8} {:>8} {:>9} {:>8} {:>8} {:>9} {:>9}",
        "versions",
        "floor s",
        "push s",
        "pull s",
        "pull/flr",
        "push+100",
        "pull+100",
        "no-op s",
        "ls s",
        "status s",
        "push MB",
        "pull MB",
        "db MB",
        "wal/db"
    );
    let mb = |b: u64| b as f64 / 1e6;
    for r in &reports {
        println!(
            "{:>9} {:>8.3} {:>8.3} {:>8.3} {:>8.2}× {:>9.3} {:>9.3} {:>8.3} {:>8.3} {:>9.3} {:>8.1} {:>8.1} {:>9.1} {:>8.2}×",
            r.versions,
            r.floor_s,
            r.push_full_s,
            r.pull_full_s,
            r.pull_full_s / r.floor_s,
            r.push_incr_s,
            r.pull_incr_s,
            r.noop_sync_s,
            r.ls_s,
            r.status_pull_only_s,
            mb(r.push_peak_rss_bytes),
            mb(r.pull_peak_rss_bytes),
            mb(r.db_bytes),
            r.pull_peak_extra_disk_bytes as f64 / r.db_bytes.max(1) as f64,
        );
    }
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench");
    std::fs::create_dir_all(&out)?;
    let file = out.join(if full {
        "scale.json"
    } else {
        "scale-quick.json"
    });
    std::fs::write(
        &file,
        serde_json::to_string_pretty(&serde_json::json!({ "sizes": reports }))?,
    )?;
    println!("written to {}", file.display());
    Ok(())
}
