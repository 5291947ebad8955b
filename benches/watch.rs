//! `make bench`, the watch rows: how soon a write on one home is readable on another when both
//! run `context sync watch`, over a folder (file-system events) and over the S3 server (a
//! 2-second poll), and what an idle watch costs over S3 at its default poll (requests counted
//! by a loopback proxy) for 10 minutes (`BENCH_WATCH_IDLE_SECS` changes it).
//!
//! Each write is a whole `context put` process; the clock runs from just before it to the first
//! `get` on the other home that returns the body. Prints a table; adds `watch_folder_p50_s`,
//! `watch_folder_p95_s`, `watch_s3_p95_s`, `watch_s3_idle_requests_10min` and
//! `watch_s3_idle_poll_s` to `target/bench/results.json`. Without `--bench` (as `cargo test`
//! runs it) a few writes and a short idle spell, as a smoke test.

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

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use proxy::Proxy;
use s3_server::{Bucket, moto};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

fn context(home: &Path, env: &[(String, String)], args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_context"));
    cmd.args(args)
        .env("CONTEXT_HOME", home)
        .env("CONTEXT_AUTO_SYNC", "0")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

fn run(home: &Path, env: &[(String, String)], args: &[&str], input: &[u8]) -> Res<String> {
    let mut child = context(home, env, args).spawn()?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(input)?;
    }
    let out = child.wait_with_output()?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

struct Watch(Child);

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let _ = self.0.wait();
    }
}

fn watch(home: &Path, env: &[(String, String)], args: &[&str]) -> Res<Watch> {
    let mut all = vec!["sync", "watch"];
    all.extend_from_slice(args);
    let mut cmd = context(home, env, &all);
    cmd.stdin(Stdio::null()).stdout(Stdio::null());
    Ok(Watch(cmd.spawn()?))
}

/// `n` writes on `a`, each timed until `b` reads it.
fn latencies(a: &Path, b: &Path, env: &[(String, String)], n: usize) -> Res<Vec<Duration>> {
    let mut out = Vec::new();
    for i in 0..n {
        let (key, body) = (format!("watched/{i}"), format!("body {i}"));
        let started = Instant::now();
        run(a, env, &["put", &key], body.as_bytes())?;
        loop {
            if run(b, env, &["get", &key], b"")? == body {
                break;
            }
            if started.elapsed() > Duration::from_secs(60) {
                return Err(format!("{key} never arrived").into());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        out.push(started.elapsed());
    }
    out.sort();
    Ok(out)
}

fn pct(v: &[Duration], p: f64) -> f64 {
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i.min(v.len() - 1)].as_secs_f64()
}

fn main() -> Res<()> {
    let full = !smoke::smoke("watch");
    let (folder_writes, s3_writes) = if full { (50, 10) } else { (3, 2) };
    let idle_secs: u64 = std::env::var("BENCH_WATCH_IDLE_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if full { 600 } else { 12 });

    // Over a folder.
    let root = tempfile::tempdir()?;
    let (a, b, folder) = (
        root.path().join("a"),
        root.path().join("b"),
        root.path().join("folder"),
    );
    std::fs::create_dir_all(&folder)?;
    let none: Vec<(String, String)> = Vec::new();
    for h in [&a, &b] {
        run(
            h,
            &none,
            &["sync", "remote", folder.to_str().unwrap_or_default()],
            b"",
        )?;
    }
    let folder_times = {
        let _wa = watch(&a, &none, &[])?;
        let _wb = watch(&b, &none, &[])?;
        std::thread::sleep(Duration::from_millis(500));
        latencies(&a, &b, &none, folder_writes)?
    };

    // Over S3, a 2-second poll.
    let moto = moto();
    let bucket = Bucket::new();
    let env = moto.env();
    let (sa, sb) = (root.path().join("sa"), root.path().join("sb"));
    for h in [&sa, &sb] {
        run(h, &env, &["sync", "remote", &bucket.url], b"")?;
    }
    let s3_times = {
        let _wa = watch(&sa, &env, &["--poll", "2s"])?;
        let _wb = watch(&sb, &env, &["--poll", "2s"])?;
        std::thread::sleep(Duration::from_millis(500));
        latencies(&sa, &sb, &env, s3_writes)?
    };

    // An idle watch over S3 at its default poll, its requests counted.
    let proxy = Proxy::start(moto.addr, Duration::ZERO);
    let via: Vec<(String, String)> = env
        .iter()
        .cloned()
        .chain([("AWS_ENDPOINT_URL".to_string(), proxy.url())])
        .collect();
    let idle_poll = 10.0;
    let idle_requests = {
        let _w = watch(&sa, &via, &[])?;
        // Its first cycle (a pull and a push) is not idleness.
        std::thread::sleep(Duration::from_secs(3));
        let before = proxy.requests();
        std::thread::sleep(Duration::from_secs(idle_secs));
        proxy.requests() - before
    };
    let per_10min = idle_requests as f64 * 600.0 / idle_secs as f64;

    println!("watch bench: a write on one home until readable on the other (whole processes)");
    println!("{:<52} {:>10} {:>28}", "measure", "figure", "wanted");
    println!(
        "{:<52} {:>8.3} s {:>28}",
        format!("watch over a folder, p50 of {folder_writes} writes"),
        pct(&folder_times, 0.5),
        ""
    );
    println!(
        "{:<52} {:>8.3} s {:>28}",
        format!("watch over a folder, p95 of {folder_writes} writes"),
        pct(&folder_times, 0.95),
        "≤ 1.5 s"
    );
    println!(
        "{:<52} {:>8.3} s {:>28}",
        format!("watch over S3 (2 s poll), p95 of {s3_writes} writes"),
        pct(&s3_times, 0.95),
        "≤ poll + 1 s = 3 s"
    );
    println!(
        "{:<52} {:>10} {:>28}",
        format!("idle watch over S3, requests in {idle_secs} s (10 s poll)"),
        idle_requests,
        format!("≤ {:.0} per 10 min", 600.0 / idle_poll + 5.0)
    );

    let add = serde_json::json!({
        "watch_folder_p50_s": pct(&folder_times, 0.5),
        "watch_folder_p95_s": pct(&folder_times, 0.95),
        "watch_s3_p95_s": pct(&s3_times, 0.95),
        "watch_s3_idle_requests_10min": per_10min,
        "watch_s3_idle_poll_s": idle_poll,
    });
    if full {
        let path = results::add(add)?;
        println!("\nadded to {}", path.display());
    }
    Ok(())
}
