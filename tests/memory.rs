//! Peak memory of the real binary (GNU time's maximum resident set size of the child): what a
//! pull holds is bounded by the largest document, not by what a file claims to inflate to.

use std::path::Path;

use crate::util::{BIN, Folder, Home};

/// Runs `context ARGS` in `home` under GNU time; returns (exit code, stderr, peak RSS bytes).
fn peak_rss(home: &Home, args: &[&str]) -> (i32, String, u64) {
    let time = Path::new("/usr/bin/time");
    assert!(time.exists(), "GNU time measures the child's peak RSS");
    let out = std::process::Command::new(time)
        .args(["-f", "%M"])
        .arg(BIN)
        .args(args)
        .env("CONTEXT_HOME", home.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let kb: u64 = stderr
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or_else(|| panic!("no RSS from time: {stderr}"));
    (out.status.code().unwrap_or(-1), stderr, kb * 1024)
}

/// A valid changeset file whose payload inflates to 1 GiB of zeros: refused as bad data,
/// without ever holding much of it.
#[test]
fn a_decompression_bomb_is_refused_in_bounded_memory() {
    let (folder, b) = (Folder::new(), Home::new());
    let peer = "0b0b0b0b-0b0b-4b0b-8b0b-0b0b0b0b0b0b";
    let zeros = vec![0u8; 1 << 20];
    let mut enc = zstd::stream::write::Encoder::new(Vec::new(), 19).unwrap();
    for _ in 0..1024 {
        std::io::Write::write_all(&mut enc, &zeros).unwrap();
    }
    let compressed = enc.finish().unwrap();
    let (file, _) = context::changeset::frame_payload(0, &compressed);
    let dir = folder.path().join(peer);
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("00000001-0000000000000001.cset"), file).unwrap();
    let (code, stderr, rss) = peak_rss(&b, &["sync", "pull", "--remote", folder.arg()]);
    assert_eq!(code, 5, "{stderr}");
    eprintln!("bomb: peak RSS {} MB", rss >> 20);
    assert!(
        rss < 100 << 20,
        "a pull meeting a 1 GiB bomb peaked at {} MB",
        rss >> 20
    );
}

/// A 40 MiB document (incompressible) pulls in under 3 times its size plus 64 MB.
#[test]
fn a_large_document_pulls_in_memory_proportional_to_it() {
    let (folder, a, b) = (Folder::new(), Home::new(), Home::new());
    const SIZE: usize = 40 << 20;
    let body = crate::util::random_bytes(SIZE, 0x1234_5678_9abc_def1);
    let file = a.path().join("doc.bin");
    std::fs::write(&file, &body).unwrap();
    a.ok(&["put", "doc", "--file", file.to_str().unwrap()]);
    a.sync("push", &folder, &[]).code(0);
    let (code, stderr, rss) = peak_rss(&b, &["sync", "pull", "--remote", folder.arg()]);
    assert_eq!(code, 0, "{stderr}");
    eprintln!("40 MiB document: pull peak RSS {} MB", rss >> 20);
    let bound = 3 * SIZE as u64 + (64 << 20);
    assert!(
        rss < bound,
        "peaked at {} MB, bound {} MB",
        rss >> 20,
        bound >> 20
    );
}
