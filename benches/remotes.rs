//! `make bench`, the remote rows: sync through a real S3 server (moto), a real sshd and a real
//! WebDAV server (wsgidav) on loopback, beside the shared folder, in one run on one machine.
//!
//! 1. full push and full pull of a deterministic dataset (fixed seed and clock), to and from a
//!    folder, the same folder encrypted, a bucket, a folder over SSH and one over WebDAV, run
//!    by run; the ratios are over the plain folder;
//! 2. requests made by a no-op `context sync` (a cron tick with nothing to do) with 3 peers and
//!    300 changesets, over S3 and over WebDAV, counted by a loopback proxy;
//! 3. a pull of 300 small changesets through a proxy that adds 20 ms to every request, against
//!    300 × 20 ms (what reading them one at a time would wait).
//!
//! Prints a table; adds its figures to `target/bench/results.json` (`s3_push_full_s`,
//! `s3_pull_full_s`, `s3_noop_requests`, `s3_pull_300_latency_s`, `ssh_push_full_s`,
//! `ssh_pull_full_s`, `webdav_push_full_s`, `webdav_pull_full_s`, `webdav_noop_requests`, ...). Without `--bench` (as
//! `cargo test` runs it) a small size, as a smoke test.

#[path = "../tests/util/proxy.rs"]
mod proxy;
#[path = "common/results.rs"]
mod results;
#[path = "../tests/util/s3.rs"]
mod s3_server;
#[path = "../tests/util/server.rs"]
mod server;
#[path = "common/smoke.rs"]
mod smoke;
#[path = "../tests/util/ssh.rs"]
mod ssh_server;
#[path = "../tests/util/webdav.rs"]
mod webdav_server;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use context::clock::ManualClock;
use context::encryption::sealed::SecretKey;
use context::ids::SeededIds;
use context::remote::{Folder, Remote};
use context::runtime::Runtime;
use context::store::Store;
use context::sync::{self, PullOptions, PushOptions};

use proxy::Proxy;
use s3_server::{Bucket, moto};
use ssh_server::SshFolder;
use webdav_server::DavFolder;

type Res<T> = Result<T, Box<dyn std::error::Error>>;

/// Changing these makes the figures irreproducible.
const SEED: u64 = 0x5eed_0053;
const T0: i64 = 1_793_491_200_000;
const LATENCY: Duration = Duration::from_millis(20);

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn store(home: &Path, seed: u64) -> Res<Store> {
    let rt = Runtime::new(
        Arc::new(ManualClock::new(T0)),
        Arc::new(SeededIds::new(seed)),
        "bench",
    );
    Ok(Store::open(&home.join("context.db"), rt)?)
}

/// About 500 bytes of word-like text, the same for the same `i`.
fn body(i: u64) -> Vec<u8> {
    const WORDS: [&str; 12] = [
        "sync",
        "folder",
        "peer",
        "version",
        "history",
        "changeset",
        "plan",
        "research",
        "notes",
        "bucket",
        "stream",
        "merge",
    ];
    let mut out = String::new();
    let mut z = splitmix(SEED ^ i);
    while out.len() < 500 {
        z = splitmix(z);
        out.push_str(WORDS[(z % WORDS.len() as u64) as usize]);
        out.push(' ');
    }
    out.into_bytes()
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Runs the real binary in `home` with the environment that reaches the test server through
/// `endpoint`; returns how long it took.
fn process(home: &Path, endpoint: &str, args: &[&str]) -> Res<Duration> {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_context"));
    for (k, v) in moto().env().into_iter().chain(webdav_server::env()) {
        cmd.env(k, v);
    }
    for var in [
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
    ] {
        cmd.env_remove(var);
    }
    let start = Instant::now();
    let out = cmd
        .args(args)
        .env("CONTEXT_HOME", home)
        .env("AWS_ENDPOINT_URL", endpoint)
        .output()?;
    let elapsed = start.elapsed();
    if !out.status.success() {
        return Err(format!(
            "context {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    Ok(elapsed)
}

fn main() -> Res<()> {
    let full = !smoke::smoke("remotes");
    let (versions, reps, small) = if full {
        (50_000u64, 3, 300u64)
    } else {
        (2_000, 1, 30)
    };
    let root = tempfile::tempdir()?;
    let root = root.path();
    let moto = moto();
    let direct = format!("http://{}", moto.addr);
    println!(
        "s3 bench: {versions} versions over {} keys, ~500-byte bodies, against moto on {}; \
         medians of {reps}",
        versions / 10,
        moto.addr
    );

    // The source peer.
    let source = root.join("source");
    std::fs::create_dir_all(&source)?;
    {
        let mut s = store(&source, SEED)?;
        for i in 0..versions {
            s.put(
                "notes",
                &format!("doc/{}", i % (versions / 10)),
                &body(i),
                None,
            )?;
        }
    }

    // 1. Full push and pull, a folder and a bucket, paired.
    let (mut f_push, mut s_push, mut f_pull, mut s_pull) = (vec![], vec![], vec![], vec![]);
    let (mut h_push, mut h_pull) = (vec![], vec![]);
    let (mut e_push, mut e_pull) = (vec![], vec![]);
    let (mut w_push, mut w_pull) = (vec![], vec![]);
    for rep in 0..reps {
        let dir = root.join(format!("folder-{rep}"));
        std::fs::create_dir_all(&dir)?;
        let folder = Remote::new(Folder::open(&dir)?);
        let enc_dir = root.join(format!("encrypted-{rep}"));
        std::fs::create_dir_all(&enc_dir)?;
        let key = SecretKey::generate()?;
        let encrypted = Remote::new(Folder::open(&enc_dir)?).with_secret(key);
        let bucket = Bucket::new();
        let s3 = bucket.remote();
        let over_ssh = SshFolder::new();
        let ssh = over_ssh.remote();
        let dav = DavFolder::new().remote();
        for (remote, push_t, pull_t) in [
            (&folder, &mut f_push, &mut f_pull),
            (&encrypted, &mut e_push, &mut e_pull),
            (&s3, &mut s_push, &mut s_pull),
            (&ssh, &mut h_push, &mut h_pull),
            (&dav, &mut w_push, &mut w_pull),
        ] {
            let mut src = store(&source, SEED)?;
            // Each remote is new to the source: a full push.
            let start = Instant::now();
            sync::push(&mut src, remote, PushOptions::default())?;
            push_t.push(start.elapsed());
            drop(src);
            let peer = tempfile::tempdir_in(root)?;
            let mut dst = store(peer.path(), SEED + 1 + rep as u64)?;
            let start = Instant::now();
            let report = sync::pull(&mut dst, remote, PullOptions::default())?;
            pull_t.push(start.elapsed());
            assert_eq!(report.rows(), versions);
        }
    }
    let (f_push, s_push) = (median(f_push), median(s_push));
    let (f_pull, s_pull) = (median(f_pull), median(s_pull));
    let (h_push, h_pull) = (median(h_push), median(h_pull));
    let (e_push, e_pull) = (median(e_push), median(e_pull));
    let (w_push, w_pull) = (median(w_push), median(w_pull));
    eprintln!(
        "full push {:.3}s folder / {:.3}s s3 / {:.3}s ssh / {:.3}s webdav; \
         pull {:.3}s / {:.3}s / {:.3}s / {:.3}s",
        secs(f_push),
        secs(s_push),
        secs(h_push),
        secs(w_push),
        secs(f_pull),
        secs(s_pull),
        secs(h_pull),
        secs(w_pull)
    );

    // 2. A cron tick with nothing to do: 3 peers, `small` changesets among them, all applied.
    let bucket = Bucket::new();
    let remote = bucket.remote();
    let peers: Vec<tempfile::TempDir> = (0..3)
        .map(|_| tempfile::tempdir_in(root))
        .collect::<Result<_, _>>()?;
    for (n, p) in peers.iter().enumerate() {
        let mut s = store(p.path(), SEED + 100 + n as u64)?;
        for i in 0..small / 3 {
            s.put("notes", &format!("peer{n}/{i}"), &body(i), None)?;
            sync::push(&mut s, &remote, PushOptions::default())?;
        }
    }
    for p in &peers {
        process(p.path(), &direct, &["sync", "--remote", &bucket.url])?;
    }
    let counter = Proxy::start(moto.addr, Duration::ZERO);
    let mut noop_requests = 0;
    for p in &peers {
        let before = counter.requests();
        process(p.path(), &counter.url(), &["sync", "--remote", &bucket.url])?;
        noop_requests = noop_requests.max(counter.requests() - before);
    }
    let changesets = remote.list()?.changesets.len();
    eprintln!("no-op sync: {noop_requests} requests ({changesets} changesets)");

    // The same over WebDAV: the folder reached through a counting proxy.
    let dav = DavFolder::new();
    let dav_remote = dav.remote();
    for (n, p) in peers.iter().enumerate() {
        // Another seed: the ids of new versions must not repeat the S3 round's.
        let mut s = store(p.path(), SEED + 300 + n as u64)?;
        for i in 0..small / 3 {
            s.put("notes", &format!("dav{n}/{i}"), &body(i), None)?;
            sync::push(&mut s, &dav_remote, PushOptions::default())?;
        }
    }
    // The host is in a WebDAV URL, and a home knows a remote by it: every run, the first
    // included, goes through the proxy.
    let dav_counter = Proxy::start(webdav_server::server().addr, Duration::ZERO);
    let proxied = dav.url.replace(
        &webdav_server::server().addr.to_string(),
        dav_counter.url().trim_start_matches("http://"),
    );
    for p in &peers {
        process(p.path(), &direct, &["sync", "--remote", &proxied])?;
    }
    let mut dav_noop_requests = 0;
    for p in &peers {
        let before = dav_counter.requests();
        process(p.path(), &direct, &["sync", "--remote", &proxied])?;
        dav_noop_requests = dav_noop_requests.max(dav_counter.requests() - before);
    }
    eprintln!("no-op sync over WebDAV: {dav_noop_requests} requests");

    // 3. One peer's `small` changesets pulled through 20 ms of added latency per request.
    let slow = Proxy::start(moto.addr, LATENCY);
    let newcomer = tempfile::tempdir_in(root)?;
    let one_stream = Bucket::new();
    {
        let remote = one_stream.remote();
        let mut fresh = store(&root.join("one-stream"), SEED + 200)?;
        for i in 0..small {
            fresh.put("notes", &format!("s/{i}"), &body(i), None)?;
            sync::push(&mut fresh, &remote, PushOptions::default())?;
        }
    }
    let latency_pull = process(
        newcomer.path(),
        &slow.url(),
        &["sync", "pull", "--remote", &one_stream.url],
    )?;
    let one_at_a_time = LATENCY * small as u32;
    eprintln!(
        "pull of {small} changesets at +20 ms: {:.3}s",
        secs(latency_pull)
    );

    println!();
    println!("{:<58} {:>10} {:>30}", "measure", "figure", "ratio");
    let row =
        |name: &str, figure: String, ratio: String| println!("{name:<58} {figure:>10} {ratio:>30}");
    let s = |d: Duration| format!("{:.3} s", secs(d));
    row("full push to a folder (library)", s(f_push), "1.00×".into());
    row(
        "full push to S3 on loopback (library)",
        s(s_push),
        format!("{:.2}× the folder", secs(s_push) / secs(f_push)),
    );
    row(
        "full pull from a folder (library)",
        s(f_pull),
        "1.00×".into(),
    );
    row(
        "full pull from S3 on loopback (library)",
        s(s_pull),
        format!("{:.2}× the folder", secs(s_pull) / secs(f_pull)),
    );
    row(
        "full push to an encrypted folder (library)",
        s(e_push),
        format!("{:.2}× the plain folder", secs(e_push) / secs(f_push)),
    );
    row(
        "full pull from an encrypted folder (library)",
        s(e_pull),
        format!("{:.2}× the plain folder", secs(e_pull) / secs(f_pull)),
    );
    row(
        "full push over SSH on loopback (library)",
        s(h_push),
        format!("{:.2}× the folder", secs(h_push) / secs(f_push)),
    );
    row(
        "full pull over SSH on loopback (library)",
        s(h_pull),
        format!("{:.2}× the folder", secs(h_pull) / secs(f_pull)),
    );
    row(
        "full push over WebDAV on loopback (library)",
        s(w_push),
        format!("{:.2}× the folder", secs(w_push) / secs(f_push)),
    );
    row(
        "full pull over WebDAV on loopback (library)",
        s(w_pull),
        format!("{:.2}× the folder", secs(w_pull) / secs(f_pull)),
    );
    row(
        &format!("requests of a no-op `context sync` (3 peers, {changesets} changesets)"),
        noop_requests.to_string(),
        "≤ 12 wanted".into(),
    );
    row(
        "requests of a no-op `context sync` over WebDAV (3 peers)",
        dav_noop_requests.to_string(),
        format!(
            "{:.2}× S3's",
            dav_noop_requests as f64 / noop_requests as f64
        ),
    );
    row(
        &format!("pull of {small} changesets, +20 ms per request (process)"),
        s(latency_pull),
        format!(
            "{:.2}× one at a time ({:.1} s)",
            secs(latency_pull) / secs(one_at_a_time),
            secs(one_at_a_time)
        ),
    );

    let add = serde_json::json!({
        "s3_versions": versions,
        "s3_folder_push_full_s": secs(f_push),
        "s3_folder_pull_full_s": secs(f_pull),
        "s3_push_full_s": secs(s_push),
        "s3_pull_full_s": secs(s_pull),
        "s3_push_over_folder": secs(s_push) / secs(f_push),
        "s3_pull_over_folder": secs(s_pull) / secs(f_pull),
        "s3_noop_requests": noop_requests,
        "s3_noop_changesets": changesets,
        "s3_pull_latency_changesets": small,
        "s3_pull_300_latency_s": secs(latency_pull),
        "s3_pull_300_one_at_a_time_s": secs(one_at_a_time),
        "enc_push_full_s": secs(e_push),
        "enc_pull_full_s": secs(e_pull),
        "plain_push_full_s": secs(f_push),
        "plain_pull_full_s": secs(f_pull),
        "enc_push_over_plain": secs(e_push) / secs(f_push),
        "enc_pull_over_plain": secs(e_pull) / secs(f_pull),
        "ssh_push_full_s": secs(h_push),
        "ssh_pull_full_s": secs(h_pull),
        "ssh_push_over_folder": secs(h_push) / secs(f_push),
        "ssh_pull_over_folder": secs(h_pull) / secs(f_pull),
        "webdav_push_full_s": secs(w_push),
        "webdav_pull_full_s": secs(w_pull),
        "webdav_push_over_folder": secs(w_push) / secs(f_push),
        "webdav_pull_over_folder": secs(w_pull) / secs(f_pull),
        "webdav_noop_requests": dav_noop_requests,
    });
    if full {
        let path = results::add(add)?;
        println!("\nadded to {}", path.display());
    }
    Ok(())
}
