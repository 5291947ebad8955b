//! The build itself: `make test` after `make demo` reuses what the demo built.

use std::collections::BTreeMap;

/// Each package of the dependency graph with its features, as `cargo tree` resolves them for
/// the given edge kinds.
fn features(edges: &str) -> BTreeMap<String, String> {
    let out = std::process::Command::new(env!("CARGO"))
        .args([
            "tree",
            "--offline",
            "-e",
            edges,
            "--prefix",
            "none",
            "-f",
            "{p}|{f}",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo tree");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.trim_end_matches(" (*)").split_once('|'))
        .map(|(p, f)| (p.to_string(), f.to_string()))
        .collect()
}

/// A crate that test-only dependencies build with other features would be built twice: once
/// for `cargo build`, again for `cargo test` (SQLite and zstd among them, minutes on a fresh
/// machine). Cargo.toml turns on in the normal build what the test-only ones need.
#[test]
fn test_only_dependencies_change_no_shared_crate_s_features() {
    let plain = features("normal,build");
    let with_tests = features("normal,build,dev");
    let differ: Vec<String> = plain
        .iter()
        .filter(|(p, f)| with_tests.get(*p).is_some_and(|g| g != *f))
        .map(|(p, f)| {
            format!(
                "{p}: [{f}] in a plain build, [{}] with the tests",
                with_tests[p]
            )
        })
        .collect();
    assert!(differ.is_empty(), "{}", differ.join("\n"));
}
