//! A bench runs for its figures under `cargo bench` (which passes `--bench`), and as a smoke
//! test under `cargo test --all-targets` (`make test`, CI): a small size, to show it still
//! runs. A smoke run's figures mean nothing, so it prints one line and nothing else, and test
//! output stays test results.

/// Whether this run is a smoke test (no `--bench`, or `--quick`). A smoke run says so on stdout
/// once and sends the rest of its stdout to `/dev/null`.
pub fn smoke(name: &str) -> bool {
    let args: Vec<String> = std::env::args().collect();
    let smoke = args.iter().any(|a| a == "--quick") || !args.iter().any(|a| a == "--bench");
    if smoke && !args.iter().any(|a| a == "--verbose") {
        println!("bench {name}: smoke run, figures not printed (`make bench` measures)");
        if let Ok(null) = std::fs::OpenOptions::new().write(true).open("/dev/null") {
            // Best effort: a smoke run that cannot silence itself prints its table.
            let _ = rustix::stdio::dup2_stdout(&null);
        }
    }
    smoke
}
