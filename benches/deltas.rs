//! `make bench`: a one-line append to a large document, as it travels (`edit_large_bytes`).
//!
//! For 8 MB and 60 MB documents of prose-like text: one home writes the document and pushes, a
//! second pulls it; the first appends one line and pushes again. Figures: the bytes of that
//! last changeset (`edit_large_bytes_8mb`, `edit_large_bytes_60mb`, each wanted ≤ 2 KB), the
//! same append sent whole for the ratio, and the reader's peak RSS while it pulls and rebuilds
//! the 60 MB version from its delta (`delta_60mb_reader_peak_rss_mb`, with GNU time). Whole
//! `context` processes; fixed seed. A smoke run (`cargo test`) uses 1 MB and records nothing.

use std::path::Path;
use std::process::{Command, Stdio};

#[path = "common/results.rs"]
mod results;
#[path = "common/smoke.rs"]
mod smoke;

type Res<T> = Result<T, Box<dyn std::error::Error>>;

fn main() -> Res<()> {
    let quick = smoke::smoke("deltas");
    let sizes: &[(usize, &str)] = if quick {
        &[(1 << 20, "1mb")]
    } else {
        &[(8_000_000, "8mb"), (60_000_000, "60mb")]
    };
    let mut figures = serde_json::Map::new();
    println!("deltas bench: a one-line append to a large document, as it travels");
    for &(size, name) in sizes {
        let m = append(size)?;
        println!(
            "{name}: the append's changeset {} bytes (whole: {} bytes, {:.0}x); reader's pull of \
             it: peak RSS {}",
            m.delta_bytes,
            m.whole_bytes,
            m.whole_bytes as f64 / m.delta_bytes.max(1) as f64,
            m.reader_rss_kb
                .map_or("(no GNU time)".to_string(), |kb| format!(
                    "{:.1} MB",
                    kb as f64 / 1024.0
                ))
        );
        figures.insert(format!("edit_large_bytes_{name}"), m.delta_bytes.into());
        if name == "60mb"
            && let Some(kb) = m.reader_rss_kb
        {
            figures.insert(
                "delta_60mb_reader_peak_rss_mb".into(),
                (kb as f64 / 1024.0).into(),
            );
        }
    }
    if !quick {
        let path = results::add(serde_json::Value::Object(figures))?;
        println!("figures added to {}", path.display());
    }
    Ok(())
}

struct Measure {
    delta_bytes: u64,
    whole_bytes: u64,
    reader_rss_kb: Option<u64>,
}

/// `n` bytes of prose-like lines (a fixed vocabulary, xorshift-chosen).
fn prose(n: usize) -> Vec<u8> {
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let words: Vec<String> = (0..4_000)
        .map(|_| {
            let r = next();
            (0..3 + r % 7)
                .map(|k| char::from(b'a' + ((r >> (k * 5)) % 26) as u8))
                .collect()
        })
        .collect();
    let mut out = String::with_capacity(n + 100);
    while out.len() < n {
        for _ in 0..12 {
            out.push_str(&words[(next() % 4_000) as usize]);
            out.push(' ');
        }
        out.push('\n');
    }
    out.into_bytes()
}

fn context(home: &Path, args: &[&str], stdin: Option<&Path>) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_context"));
    c.args(args)
        .env("CONTEXT_HOME", home)
        .env("CONTEXT_AUTO_SYNC", "0")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(f) = stdin {
        c.args(["--file", &f.display().to_string()]);
    }
    c
}

fn ok(mut c: Command) -> Res<std::process::Output> {
    let out = c.output()?;
    if !out.status.success() {
        return Err(format!("{c:?}: {}", String::from_utf8_lossy(&out.stderr)).into());
    }
    Ok(out)
}

/// The bytes of the newest changeset a `sync push --json` published.
fn pushed_bytes(home: &Path, folder: &Path, extra: &[&str]) -> Res<u64> {
    let mut args = vec!["sync", "push", "--json", "--remote"];
    let f = folder.display().to_string();
    args.push(&f);
    args.extend_from_slice(extra);
    let out = ok(context(home, &args, None))?;
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    let file = report["published"][0]["file"]
        .as_str()
        .ok_or("no changeset published")?;
    Ok(std::fs::metadata(folder.join(file))?.len())
}

fn append(size: usize) -> Res<Measure> {
    let root = tempfile::tempdir()?;
    let (writer, reader, folder, doc) = (
        root.path().join("w"),
        root.path().join("r"),
        root.path().join("folder"),
        root.path().join("doc.txt"),
    );
    std::fs::create_dir_all(&folder)?;
    let mut body = prose(size);
    std::fs::write(&doc, &body)?;
    ok(context(&writer, &["put", "doc"], Some(&doc)))?;
    pushed_bytes(&writer, &folder, &[])?;
    let f = folder.display().to_string();
    ok(context(&reader, &["sync", "pull", "--remote", &f], None))?;
    body.extend_from_slice(b"one line appended by an agent, with a finding\n");
    std::fs::write(&doc, &body)?;
    ok(context(&writer, &["put", "doc"], Some(&doc)))?;
    let delta_bytes = pushed_bytes(&writer, &folder, &[])?;
    // The reader pulls it: its peak RSS, with GNU time where there is one.
    let rss = if Path::new("/usr/bin/time").exists() {
        let mut c = Command::new("/usr/bin/time");
        c.args(["-f", "%M", env!("CARGO_BIN_EXE_context")])
            .args(["sync", "pull", "--remote", &f])
            .env("CONTEXT_HOME", &reader)
            .env("CONTEXT_AUTO_SYNC", "0");
        let out = ok(c)?;
        String::from_utf8_lossy(&out.stderr)
            .lines()
            .last()
            .and_then(|l| l.trim().parse().ok())
    } else {
        ok(context(&reader, &["sync", "pull", "--remote", &f], None))?;
        None
    };
    let rebuilt = ok(context(&reader, &["get", "doc"], None))?.stdout;
    if rebuilt != body {
        return Err("the reader rebuilt another body".into());
    }
    // The same append sent whole, for the ratio: a new document of the same body.
    ok(context(&writer, &["put", "doc-whole"], Some(&doc)))?;
    let whole_bytes = pushed_bytes(&writer, &folder, &[])?;
    Ok(Measure {
        delta_bytes,
        whole_bytes,
        reader_rss_kb: rss,
    })
}
