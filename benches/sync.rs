//! `make bench`: sync measured against its anchors, in one run, on one machine.
//!
//! A deterministic dataset (fixed seed and clock: changing them makes figures irreproducible):
//! 200,000 versions over 20,000 keys in 3 projects, bodies of about 500 bytes of word-like text.
//! Side by side, each the median of several repetitions:
//!
//! 1. full push of every version into an empty folder, full pull of it into an empty peer
//!    (through the library, as the CLI calls it);
//! 2. incremental push of 100 new versions on the full database, and their pull (library, and
//!    the push as a whole `context sync push` process);
//! 3. the floor: the same rows inserted raw, one transaction, one prepared statement;
//! 4. the whole-database snapshot: `VACUUM INTO` plus zstd, paid on every sync;
//! 5. SQLite's session extension: a changeset of the same inserts, zstd, applied to an empty
//!    database (with `--features bench-session`);
//! 6. bytes per version of each;
//! 7. peak memory (RSS) of a full push and a full pull as whole processes.
//!
//! Prints a table of figures and ratios; writes the same to `target/bench/results.json`.
//! `--quick` runs a small size as a smoke test (CI runs it through `cargo test`; nothing is
//! asserted about time).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use context::remote::{Folder, Remote};
use context::sync::{self, PruneOptions, PullOptions, PushOptions};
use rusqlite::Connection;

#[path = "common/dataset.rs"]
mod dataset;
use dataset::*;

#[path = "common/smoke.rs"]
mod smoke;

struct Size {
    versions: usize,
    keys: usize,
    reps: usize,
    incr: usize,
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

fn dir_bytes(dir: &Path, ext: &str) -> u64 {
    let mut total = 0;
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            total += dir_bytes(&p, ext);
        } else if p.to_string_lossy().ends_with(ext) {
            total += e.metadata().map(|m| m.len()).unwrap_or(0);
        }
    }
    total
}

/// The floor: every row (made beforehand, not timed), one transaction, one prepared statement.
fn insert_raw(conn: &Connection, g: &Gen, rows: &[Row]) -> Res<()> {
    let tx = conn.unchecked_transaction()?;
    {
        let mut stmt = tx.prepare(INSERT_RAW)?;
        for r in rows {
            insert_row(&mut stmt, g, r)?;
        }
    }
    tx.commit()?;
    Ok(())
}

/// Runs `context ARGS` with `home`; returns its wall time and peak RSS in bytes (with GNU
/// time: [`context_command`]).
fn process(home: &Path, args: &[&str]) -> Res<(Duration, Option<u64>)> {
    let mut cmd = context_command();
    let start = Instant::now();
    let out = cmd
        .args(args)
        .env("CONTEXT_HOME", home)
        .env_remove("CONTEXT_PROJECT")
        .stdout(std::process::Stdio::null())
        .output()?;
    let elapsed = start.elapsed();
    if !out.status.success() {
        return Err(format!(
            "context {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    if !gnu_time() {
        return Ok((elapsed, None));
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let rss =
        peak_rss(&stderr).ok_or_else(|| format!("no peak RSS from /usr/bin/time: {stderr}"))?;
    Ok((elapsed, Some(rss)))
}

fn main() -> Res<()> {
    let args: Vec<String> = std::env::args().collect();
    let quick = smoke::smoke("sync");
    let size = if quick {
        Size {
            versions: 2_000,
            keys: 200,
            reps: 1,
            incr: 3,
        }
    } else {
        Size {
            versions: 200_000,
            keys: 20_000,
            reps: 3,
            incr: 7,
        }
    };
    let g = Gen::new(size.keys);
    let work = tempfile::tempdir()?;
    // `--keep` leaves the homes and folders behind, for profiling a pull or a push by hand.
    let root = if args.iter().any(|a| a == "--keep") {
        let kept = work.keep();
        eprintln!("keeping {}", kept.display());
        kept
    } else {
        work.path().to_path_buf()
    };
    let root = root.as_path();
    let n = size.versions;
    println!(
        "sync bench: {n} versions over {} keys, ~500-byte bodies; medians of {} (incremental: {})",
        size.keys, size.reps, size.incr
    );

    // 3. The floor, which also builds the source peer's database.
    let rows: Vec<Row> = (0..n).map(|i| g.row(i)).collect();
    let mut floor = Vec::new();
    let mut source = PathBuf::new();
    for rep in 0..size.reps {
        let home = empty_home(root, &format!("floor-{rep}"))?;
        let conn = raw_connection(&home.join("context.db"))?;
        let start = Instant::now();
        insert_raw(&conn, &g, &rows)?;
        floor.push(start.elapsed());
        source = home;
    }

    let floor = median(floor);
    let db_bytes = std::fs::metadata(source.join("context.db"))?.len()
        + std::fs::metadata(source.join("context.db-wal"))
            .map(|m| m.len())
            .unwrap_or(0);
    eprintln!("floor {:.3}s", secs(floor));

    // 4. The snapshot: VACUUM INTO and zstd of the file, paid on every sync; and 1. the full
    // push into an empty folder, each paired with a snapshot run just before it.
    let snapshot_once = |rep: usize| -> Res<(Duration, u64)> {
        let out = root.join(format!("snapshot-{rep}.db"));
        let conn = Connection::open(source.join("context.db"))?;
        let start = Instant::now();
        conn.execute("VACUUM INTO ?1", [out.to_str().ok_or("path")?])?;
        let file = std::fs::File::open(&out)?;
        let mut compressed = Vec::new();
        zstd::stream::copy_encode(file, &mut compressed, 3)?;
        let t = start.elapsed();
        std::fs::remove_file(&out)?;
        Ok((t, compressed.len() as u64))
    };
    let mut snapshot = Vec::new();
    let mut snapshot_bytes = 0;
    let mut push_full = Vec::new();
    let mut push_ratio = Vec::new();
    let mut remote_dir = PathBuf::new();
    {
        let mut store = open(&source)?;
        for rep in 0..size.reps {
            let (snap_t, bytes) = snapshot_once(rep)?;
            snapshot.push(snap_t);
            snapshot_bytes = bytes;
            let dir = root.join(format!("remote-{rep}"));
            std::fs::create_dir_all(&dir)?;
            let remote = Remote::new(Folder::open(&dir)?);
            let start = Instant::now();
            sync::push(&mut store, &remote, PushOptions::default())?;
            let push_t = start.elapsed();
            push_full.push(push_t);
            push_ratio.push(Duration::from_secs_f64(secs(push_t) / secs(snap_t)));
            remote_dir = dir;
        }
    }
    let push_full = median(push_full);
    let push_ratio = secs(median(push_ratio));
    let changeset_bytes = dir_bytes(&remote_dir, ".cset");
    let remote = Remote::new(Folder::open(&remote_dir)?);
    eprintln!("push {:.3}s", secs(push_full));

    // Each pull is paired with a floor run just before it, so that the ratio compares runs
    // made under the same conditions (this machine's disk is not steady from minute to minute).
    let mut pull_full = Vec::new();
    let mut pull_ratio = Vec::new();
    let mut floors = vec![floor];
    let mut peer = PathBuf::new();
    for rep in 0..size.reps {
        let floor_home = empty_home(root, &format!("floor-paired-{rep}"))?;
        let conn = raw_connection(&floor_home.join("context.db"))?;
        let start = Instant::now();
        insert_raw(&conn, &g, &rows)?;
        let floor_t = start.elapsed();
        drop(conn);
        std::fs::remove_dir_all(&floor_home)?;
        let home = empty_home(root, &format!("peer-{rep}"))?;
        let mut store = open(&home)?;
        let start = Instant::now();
        let report = sync::pull(&mut store, &remote, PullOptions::default())?;
        let pull_t = start.elapsed();
        assert_eq!(report.rows(), n as u64);
        pull_full.push(pull_t);
        pull_ratio.push(Duration::from_secs_f64(secs(pull_t) / secs(floor_t)));
        floors.push(floor_t);
        peer = home;
    }
    drop(rows);
    let pull_full = median(pull_full);
    let pull_ratio = secs(median(pull_ratio));
    let floor_paired = median(floors);
    eprintln!("pull {:.3}s", secs(pull_full));

    // 2. Incremental: 100 new versions on the full database, pushed and pulled.
    let mut push_incr = Vec::new();
    let mut pull_incr = Vec::new();
    let mut push_incr_cli = Vec::new();
    {
        let mut src = open(&source)?;
        let mut dst = open(&peer)?;
        for rep in 0..size.incr {
            for j in 0..100 {
                let r = g.row((rep * 100 + j) % n);
                src.put(r.project, &r.key, &r.body, None)?;
            }
            let start = Instant::now();
            sync::push(&mut src, &remote, PushOptions::default())?;
            push_incr.push(start.elapsed());
            let start = Instant::now();
            let report = sync::pull(&mut dst, &remote, PullOptions::default())?;
            pull_incr.push(start.elapsed());
            assert_eq!(report.rows(), 100);
        }
        for rep in 0..size.incr {
            for j in 0..100 {
                let r = g.row((rep * 100 + j + 5_000) % n);
                src.put(r.project, &r.key, &r.body, None)?;
            }
            let (t, _) = process(
                &source,
                &[
                    "sync",
                    "push",
                    "--remote",
                    remote_dir.to_str().ok_or("path")?,
                ],
            )?;
            push_incr_cli.push(t);
        }
    }
    let (push_incr, pull_incr, push_incr_cli) =
        (median(push_incr), median(pull_incr), median(push_incr_cli));

    let snapshot = median(snapshot);

    // 5. The session extension.
    let session = session_extension(root, &g, n, size.reps)?;

    // 7. Peak memory of a full push and a full pull as whole processes.
    let cli_remote = root.join("remote-cli");
    std::fs::create_dir_all(&cli_remote)?;
    let cli_source = root.join("source-cli");
    std::fs::create_dir_all(&cli_source)?;
    open(&source)?.copy_to(&cli_source.join("context.db"))?;
    let cli_remote_s = cli_remote.to_str().ok_or("path")?;
    let (push_cli, push_rss) = process(&cli_source, &["sync", "push", "--remote", cli_remote_s])?;
    let cli_peer = empty_home(root, "peer-cli")?;
    let (pull_cli, pull_rss) = process(&cli_peer, &["sync", "pull", "--remote", cli_remote_s])?;

    // 8. Housekeeping: `context sync snapshot` of the source, a prune, and a new home
    // bootstrapping from what is left; against the full push and the full pull (a replay).
    let folder_before = dir_bytes(&remote_dir, ".cset");
    let src = open(&source)?;
    let start = Instant::now();
    let written = sync::snapshot(&src, &remote)?;
    let snapshot_write = start.elapsed();
    let pruned = sync::prune(&src, &remote, PruneOptions::default())?;
    let folder_after = dir_bytes(&remote_dir, ".cset");
    let source_rows = src.max_seq()? as u64;
    drop(src);
    // A median of 3, each into a new home (one run alone moves by a third on this machine).
    let mut boots = Vec::new();
    for rep in 0..3 {
        let home = empty_home(root, &format!("bootstrap-{rep}"))?;
        let mut store = open(&home)?;
        let start = Instant::now();
        let boot = sync::pull(&mut store, &remote, PullOptions::default())?;
        boots.push(start.elapsed());
        assert!(
            !boot.bootstrapped_from.is_empty(),
            "the bootstrap did not start from the snapshot"
        );
        assert_eq!(boot.rows(), source_rows);
        drop(store);
        std::fs::remove_dir_all(&home)?;
    }
    boots.sort();
    let bootstrap = boots[boots.len() / 2];
    let boot_cli = empty_home(root, "bootstrap-cli")?;
    let remote_s = remote_dir.to_str().ok_or("path")?;
    let (bootstrap_cli, bootstrap_rss) =
        process(&boot_cli, &["sync", "pull", "--remote", remote_s])?;
    eprintln!(
        "snapshot {:.3}s ({} parts), pruned {}, bootstrap {:.3}s",
        secs(snapshot_write),
        written.parts,
        pruned.removed.len(),
        secs(bootstrap)
    );

    let edits = edit_workload(root, if quick { 2 } else { 20 })?;
    eprintln!(
        "edits: {:.0} B per version with deltas, {:.0} B whole",
        edits.delta.bytes_per_version, edits.whole.bytes_per_version
    );

    report(Report {
        edits,
        housekeeping: Housekeeping {
            snapshot_write,
            snapshot_parts: written.parts,
            removed: pruned.removed.len(),
            folder_before,
            folder_after,
            bootstrap,
            bootstrap_cli,
            bootstrap_rss,
        },
        versions: n,
        db_bytes,
        floor: floor_paired,
        pull_ratio,
        push_ratio,
        push_full,
        pull_full,
        push_incr,
        pull_incr,
        push_incr_cli,
        snapshot,
        snapshot_bytes,
        session,
        changeset_bytes,
        push_cli,
        pull_cli,
        push_rss,
        pull_rss,
    })
}

struct Session {
    apply: Duration,
    bytes: u64,
}

/// The edit workload, pushed and pulled once with deltas and once with every body whole; and
/// the same edits made by two machines taking turns (each round by the other), both ways.
struct Edits {
    delta: EditRun,
    whole: EditRun,
    turns_delta: EditRun,
    turns_whole: EditRun,
}

struct EditRun {
    bytes_per_version: f64,
    push: Duration,
    pull: Duration,
}

/// 200 text documents of 5–50 KB (prose-like, deterministic), then `rounds` rounds of small
/// edits (a line appended, changed or removed) to a random tenth of them, a push after each
/// round and a pull of it by a second peer: the bytes the rounds put in the folder per version,
/// and the time of their pushes and pulls; with deltas, then with every body whole. With
/// `turns`, the two peers take turns: odd rounds are the second peer's edits, pulled by the
/// first.
fn edit_workload(root: &Path, rounds: usize) -> Res<Edits> {
    let g = Gen::new(1);
    let run = |name: &str, delta_min_body: Option<usize>, turns: bool| -> Res<EditRun> {
        let (writer, reader) = (
            empty_home(root, &format!("edit-{name}-w"))?,
            empty_home(root, &format!("edit-{name}-r"))?,
        );
        let dir = root.join(format!("edit-{name}-folder"));
        std::fs::create_dir_all(&dir)?;
        let remote = Remote::new(Folder::open(&dir)?);
        let (mut w, mut r) = (open(&writer)?, open(&reader)?);
        let opts = PushOptions {
            force: false,
            delta_min_body,
            ..PushOptions::default()
        };
        let mut docs: Vec<Vec<String>> = (0..200)
            .map(|d| {
                let size = 5_000 + (splitmix(d ^ SEED) % 45_000) as usize;
                let mut lines = Vec::new();
                let mut len = 0;
                let mut i = d as usize * 1_000;
                while len < size {
                    let line = String::from_utf8_lossy(&g.row(i).body[..80]).replace('\n', " ");
                    len += line.len() + 1;
                    lines.push(line);
                    i += 1;
                }
                lines
            })
            .collect();
        for (d, lines) in docs.iter().enumerate() {
            w.put(
                "notes",
                &format!("doc-{d}"),
                lines.join("\n").as_bytes(),
                None,
            )?;
        }
        sync::push(&mut w, &remote, opts.clone())?;
        sync::pull(&mut r, &remote, PullOptions::default())?;
        let before = dir_bytes(&dir, ".cset");
        let (mut push, mut pull, mut versions) = (Duration::ZERO, Duration::ZERO, 0u64);
        for round in 0..rounds {
            let (editor, other) = if turns && round % 2 == 1 {
                (&mut r, &mut w)
            } else {
                (&mut w, &mut r)
            };
            for k in 0..20u64 {
                let x = splitmix(((round as u64) << 32) ^ k ^ SEED);
                let d = (x % 200) as usize;
                let lines = &mut docs[d];
                let at = (x >> 8) as usize % lines.len();
                let text = String::from_utf8_lossy(&g.row((x >> 16) as usize % 100_000).body[..60])
                    .replace('\n', " ");
                match (x >> 40) % 3 {
                    0 => lines.push(text),
                    1 => lines[at] = text,
                    _ if lines.len() > 1 => {
                        lines.remove(at);
                    }
                    _ => lines.push(text),
                }
                editor.put(
                    "notes",
                    &format!("doc-{d}"),
                    lines.join("\n").as_bytes(),
                    None,
                )?;
                versions += 1;
            }
            let t = Instant::now();
            sync::push(editor, &remote, opts.clone())?;
            push += t.elapsed();
            let t = Instant::now();
            sync::pull(other, &remote, PullOptions::default())?;
            pull += t.elapsed();
        }
        let written = dir_bytes(&dir, ".cset") - before;
        Ok(EditRun {
            bytes_per_version: written as f64 / versions.max(1) as f64,
            push,
            pull,
        })
    };
    Ok(Edits {
        delta: run("delta", None, false)?,
        whole: run("whole", Some(usize::MAX), false)?,
        turns_delta: run("turns-delta", None, true)?,
        turns_whole: run("turns-whole", Some(usize::MAX), true)?,
    })
}

#[cfg(feature = "bench-session")]
fn session_extension(root: &Path, g: &Gen, n: usize, reps: usize) -> Res<Option<Session>> {
    use rusqlite::session::{ConflictAction, ConflictType, Session as SqlSession};
    // Capture: the same inserts as the floor, recorded by a session.
    let home = empty_home(root, "session-capture")?;
    let conn = raw_connection(&home.join("context.db"))?;
    let mut changeset = Vec::new();
    {
        let mut session = SqlSession::new(&conn)?;
        session.attach(Some("document_versions"))?;
        // The session records the connection's changes: the floor's inserts, through it.
        let rows: Vec<Row> = (0..n).map(|i| g.row(i)).collect();
        insert_raw(&conn, g, &rows)?;
        session.changeset_strm(&mut changeset)?;
    }
    let compressed = zstd::bulk::compress(&changeset, 3)?;
    let mut applies = Vec::new();
    for rep in 0..reps {
        let home = empty_home(root, &format!("session-apply-{rep}"))?;
        let conn = raw_connection(&home.join("context.db"))?;
        let start = Instant::now();
        let raw = zstd::bulk::decompress(&compressed, changeset.len())?;
        conn.apply_strm(
            &mut &raw[..],
            None::<fn(&str) -> bool>,
            |_: ConflictType, _| ConflictAction::SQLITE_CHANGESET_OMIT,
        )?;
        applies.push(start.elapsed());
    }
    Ok(Some(Session {
        apply: median(applies),
        bytes: compressed.len() as u64,
    }))
}

#[cfg(not(feature = "bench-session"))]
fn session_extension(_: &Path, _: &Gen, _: usize, _: usize) -> Res<Option<Session>> {
    eprintln!(
        "(session extension not measured: build with --features bench-session, as `make bench` does)"
    );
    Ok(None)
}

struct Report {
    edits: Edits,
    versions: usize,
    db_bytes: u64,
    floor: Duration,
    /// Median of full pull / floor over paired runs.
    pull_ratio: f64,
    /// Median of full push / snapshot over paired runs.
    push_ratio: f64,
    push_full: Duration,
    pull_full: Duration,
    push_incr: Duration,
    pull_incr: Duration,
    push_incr_cli: Duration,
    snapshot: Duration,
    snapshot_bytes: u64,
    session: Option<Session>,
    changeset_bytes: u64,
    push_cli: Duration,
    pull_cli: Duration,
    push_rss: Option<u64>,
    pull_rss: Option<u64>,
    housekeeping: Housekeeping,
}

/// `context sync snapshot`, prune, and a bootstrap from what is left.
struct Housekeeping {
    snapshot_write: Duration,
    snapshot_parts: u64,
    removed: usize,
    folder_before: u64,
    folder_after: u64,
    bootstrap: Duration,
    bootstrap_cli: Duration,
    bootstrap_rss: Option<u64>,
}

fn report(r: Report) -> Res<()> {
    let n = r.versions as f64;
    let mb = |b: u64| b as f64 / 1e6;
    println!("database: {:.1} MB", mb(r.db_bytes));
    println!();
    println!("{:<52} {:>12} {:>26}", "measure", "figure", "ratio");
    let row =
        |name: &str, figure: String, ratio: String| println!("{name:<52} {figure:>12} {ratio:>26}");
    let s = |d: Duration| format!("{:.3} s", secs(d));
    let ms = |d: Duration| format!("{:.2} ms", secs(d) * 1e3);
    row(
        "floor: raw insert, one transaction",
        s(r.floor),
        "1.00× floor".into(),
    );
    row(
        "full push (library)",
        s(r.push_full),
        format!("{:.2}× snapshot (paired runs)", r.push_ratio),
    );
    row(
        "full pull (library)",
        s(r.pull_full),
        format!("{:.2}× floor (paired runs)", r.pull_ratio),
    );
    if let Some(sess) = &r.session {
        row(
            "session extension: apply",
            s(sess.apply),
            format!("{:.2}× our full pull", secs(sess.apply) / secs(r.pull_full)),
        );
    }
    row(
        "snapshot: VACUUM INTO + zstd",
        s(r.snapshot),
        "on every sync".into(),
    );
    row(
        "incremental push of 100 (library)",
        ms(r.push_incr),
        format!(
            "{:.0}× cheaper than snapshot",
            secs(r.snapshot) / secs(r.push_incr)
        ),
    );
    row(
        "incremental push of 100 (whole process)",
        ms(r.push_incr_cli),
        format!(
            "{:.0}× cheaper than snapshot",
            secs(r.snapshot) / secs(r.push_incr_cli)
        ),
    );
    row(
        "incremental pull of 100 (library)",
        ms(r.pull_incr),
        String::new(),
    );
    let rss = |b: Option<u64>| match b {
        Some(b) => format!("peak RSS {:.1} MB", mb(b)),
        None => "peak RSS: no /usr/bin/time".to_string(),
    };
    row("full push (whole process)", s(r.push_cli), rss(r.push_rss));
    row("full pull (whole process)", s(r.pull_cli), rss(r.pull_rss));
    let per = |b: u64| b as f64 / n;
    row(
        "changesets: bytes per version",
        format!("{:.0} B", per(r.changeset_bytes)),
        match &r.session {
            Some(sess) => format!(
                "{:.2}× session",
                r.changeset_bytes as f64 / sess.bytes as f64
            ),
            None => String::new(),
        },
    );
    if let Some(sess) = &r.session {
        row(
            "session changeset (zstd): bytes per version",
            format!("{:.0} B", per(sess.bytes)),
            String::new(),
        );
    }
    row(
        "snapshot (zstd): bytes per sync",
        format!("{:.1} MB", mb(r.snapshot_bytes)),
        format!("{:.0} B per version", per(r.snapshot_bytes)),
    );

    let h = &r.housekeeping;
    row(
        "sync snapshot, every version (library)",
        s(h.snapshot_write),
        format!(
            "{:.2}× full push; {} parts",
            secs(h.snapshot_write) / secs(r.push_full),
            h.snapshot_parts
        ),
    );
    row(
        "prune: changesets removed",
        format!("{}", h.removed),
        format!(
            "folder {:.1} -> {:.1} MB",
            mb(h.folder_before),
            mb(h.folder_after)
        ),
    );
    row(
        "bootstrap pull from the snapshot (library)",
        s(h.bootstrap),
        format!(
            "{:.2}× full pull (replay)",
            secs(h.bootstrap) / secs(r.pull_full)
        ),
    );
    row(
        "bootstrap pull (whole process)",
        s(h.bootstrap_cli),
        rss(h.bootstrap_rss),
    );

    let e = &r.edits;
    for (edits, delta, whole) in [
        ("edits", &e.delta, &e.whole),
        ("edits taking turns", &e.turns_delta, &e.turns_whole),
    ] {
        row(
            &format!("{edits}: bytes per pushed version, deltas"),
            format!("{:.0} B", delta.bytes_per_version),
            format!(
                "{:.3}× whole bodies",
                delta.bytes_per_version / whole.bytes_per_version
            ),
        );
        row(
            &format!("{edits}: bytes per pushed version, whole"),
            format!("{:.0} B", whole.bytes_per_version),
            String::new(),
        );
    }
    row(
        "edits: push / pull of the rounds, deltas",
        format!("{:.3} / {:.3} s", secs(e.delta.push), secs(e.delta.pull)),
        format!(
            "{:.2}× / {:.2}× whole bodies",
            secs(e.delta.push) / secs(e.whole.push),
            secs(e.delta.pull) / secs(e.whole.pull)
        ),
    );
    row(
        "edits: push / pull of the rounds, whole bodies",
        format!("{:.3} / {:.3} s", secs(e.whole.push), secs(e.whole.pull)),
        String::new(),
    );

    let json = serde_json::json!({
        "edit_bytes_per_version": e.delta.bytes_per_version,
        "edit_whole_bytes_per_version": e.whole.bytes_per_version,
        "edit_push_s": secs(e.delta.push),
        "edit_pull_s": secs(e.delta.pull),
        "edit_whole_push_s": secs(e.whole.push),
        "edit_whole_pull_s": secs(e.whole.pull),
        "edit_turns_bytes_per_version": e.turns_delta.bytes_per_version,
        "edit_turns_whole_bytes_per_version": e.turns_whole.bytes_per_version,
        "sync_snapshot_s": secs(h.snapshot_write),
        "prune_removed": h.removed,
        "folder_bytes_before_prune": h.folder_before,
        "folder_bytes_after_prune": h.folder_after,
        "bootstrap_pull_s": secs(h.bootstrap),
        "bootstrap_pull_process_s": secs(h.bootstrap_cli),
        "bootstrap_peak_rss_bytes": h.bootstrap_rss,
        "versions": r.versions,
        "push_full_s": secs(r.push_full),
        "pull_full_s": secs(r.pull_full),
        "push_incr_s": secs(r.push_incr),
        "pull_incr_s": secs(r.pull_incr),
        "push_incr_process_s": secs(r.push_incr_cli),
        "floor_s": secs(r.floor),
        "pull_full_over_floor": r.pull_ratio,
        "push_full_over_snapshot": r.push_ratio,
        "snapshot_s": secs(r.snapshot),
        "snapshot_bytes": r.snapshot_bytes,
        "session_apply_s": r.session.as_ref().map(|s| secs(s.apply)),
        "session_bytes": r.session.as_ref().map(|s| s.bytes),
        "changeset_bytes": r.changeset_bytes,
        "push_peak_rss_bytes": r.push_rss,
        "pull_peak_rss_bytes": r.pull_rss,
        "database_bytes": r.db_bytes,
    });
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target")
        .join("bench");
    std::fs::create_dir_all(&dir)?;
    std::fs::write(
        dir.join("results.json"),
        serde_json::to_string_pretty(&json)?,
    )?;
    println!("\nwritten to {}", dir.join("results.json").display());
    Ok(())
}
