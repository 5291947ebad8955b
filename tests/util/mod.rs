//! Helpers for running the real `context` binary in temporary homes.

#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use tempfile::TempDir;

pub const BIN: &str = env!("CARGO_BIN_EXE_context");

pub mod model;
pub mod proxy;
pub mod s3;
pub mod server;
pub mod ssh;
pub mod syncthing;
pub mod webdav;

/// A fixed instant for tests that need one: 2026-11-25T10:00:00Z.
pub const T0: &str = "2026-11-25T10:00:00Z";

/// The environment that pins the binary's clock to `t` (RFC 3339).
pub fn at(t: &str) -> [(&str, &str); 1] {
    [("CONTEXT_NOW", t)]
}

/// The result of one run of the binary.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub raw_stdout: Vec<u8>,
}

impl Run {
    fn from(out: Output) -> Run {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            raw_stdout: out.stdout,
        }
    }

    /// Asserts exit status `code` and returns self for further checks.
    #[track_caller]
    pub fn code(self, code: i32) -> Run {
        assert_eq!(
            self.code, code,
            "expected exit {code}; stdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }

    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", self.stdout))
    }
}

/// A temporary home, with the binary run in it and nothing of the caller's environment.
pub struct Home {
    dir: TempDir,
    envs: Vec<(String, String)>,
}

impl Home {
    pub fn new() -> Home {
        Home {
            dir: tempfile::tempdir().expect("temp dir"),
            envs: Vec::new(),
        }
    }

    /// The same home with an extra environment variable for every later run.
    pub fn with_env(mut self, name: &str, value: &str) -> Home {
        self.envs.push((name.to_string(), value.to_string()));
        self
    }

    /// Every variable of `envs` (what a test server says its clients need).
    pub fn with_envs(mut self, envs: Vec<(String, String)>) -> Home {
        self.envs.extend(envs);
        self
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn db(&self) -> PathBuf {
        self.dir.path().join("context.db")
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = bare_command(args);
        cmd.env("CONTEXT_HOME", self.dir.path());
        for (k, v) in &self.envs {
            cmd.env(k, v);
        }
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Run {
        self.run_with(args, b"", &[])
    }

    pub fn run_with(&self, args: &[&str], stdin: &[u8], envs: &[(&str, &str)]) -> Run {
        let mut cmd = self.command(args);
        for (k, v) in envs {
            cmd.env(k, v);
        }
        run_command(cmd, stdin)
    }

    /// Runs and asserts success; returns stdout.
    #[track_caller]
    pub fn ok(&self, args: &[&str]) -> String {
        self.run(args).code(0).stdout
    }

    /// `put KEY` with `body` on stdin; returns the printed version id.
    #[track_caller]
    pub fn put(&self, key: &str, body: &str) -> String {
        let run = self.run_with(&["put", key], body.as_bytes(), &[]).code(0);
        let id = run.stdout.trim().to_string();
        assert_eq!(id.len(), 36, "put prints a version id, got {id:?}");
        id
    }

    /// `put KEY` with `body` on stdin, at the instant `t` (RFC 3339) on this home's clock;
    /// returns the printed version id.
    #[track_caller]
    pub fn put_at(&self, key: &str, body: &str, t: &str) -> String {
        self.run_with(&["put", key], body.as_bytes(), &at(t))
            .code(0)
            .stdout
            .trim()
            .to_string()
    }

    /// The ids `history KEY --json` lists, newest first.
    #[track_caller]
    pub fn history_ids(&self, key: &str) -> Vec<String> {
        let history = self.run(&["history", key, "--json"]).code(0).json();
        history
            .as_array()
            .expect("an array")
            .iter()
            .map(|v| v["id"].as_str().expect("an id").to_string())
            .collect()
    }

    /// `get KEY`'s body, asserting success.
    #[track_caller]
    pub fn get(&self, key: &str) -> String {
        self.ok(&["get", key])
    }
}

/// The binary with a clean environment: no home, project or clock from the caller.
pub fn bare_command(args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(args);
    for var in [
        "CONTEXT_HOME",
        "CONTEXT_PROJECT",
        "CONTEXT_NOW",
        "CONTEXT_HOST",
        "CONTEXT_SCENARIO_ID",
        "XDG_DATA_HOME",
        "RUST_LOG",
        // Nothing reaches a remote but what a test configures, and never through a proxy.
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_S3",
        "AWS_ALLOW_HTTP",
        "AWS_PROFILE",
        "CONTEXT_S3_IMDS",
        "CONTEXT_RETRY_BUDGET",
        "CONTEXT_REQUEST_TIMEOUT",
        "CONTEXT_CRONTAB",
        "CONTEXT_AUTHOR",
        "CONTEXT_SESSION",
        "CONTEXT_WEBDAV_USER",
        "CONTEXT_WEBDAV_PASSWORD",
        "NETRC",
        "XDG_CONFIG_HOME",
        "ALL_PROXY",
        "HTTPS_PROXY",
        "HTTP_PROXY",
        "all_proxy",
        "https_proxy",
        "http_proxy",
    ] {
        cmd.env_remove(var);
    }
    // No background sync after writes unless a test asks for it (tests/autosync.rs): a test
    // that sets a default remote would otherwise race its own background syncs.
    cmd.env("CONTEXT_AUTO_SYNC", "0");
    // The user's own AWS shared files never reach a test: only the files a test writes.
    cmd.env(
        "AWS_SHARED_CREDENTIALS_FILE",
        "/nonexistent/context-tests/aws-credentials",
    );
    cmd.env("AWS_CONFIG_FILE", "/nonexistent/context-tests/aws-config");
    cmd
}

pub fn run_command(mut cmd: Command, stdin: &[u8]) -> Run {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn context");
    let mut input = child.stdin.take().expect("stdin");
    let bytes = stdin.to_vec();
    // Write from a thread so a large body cannot deadlock against a full stdout pipe.
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&bytes);
    });
    let out = child.wait_with_output().expect("wait for context");
    let _ = writer.join();
    Run::from(out)
}

/// A shared folder for sync tests.
pub struct Folder {
    dir: TempDir,
}

impl Folder {
    pub fn new() -> Folder {
        Folder {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn arg(&self) -> &str {
        self.dir.path().to_str().expect("utf-8 temp path")
    }

    /// Every changeset file, sorted by path.
    pub fn changesets(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for peer in std::fs::read_dir(self.path()).unwrap().flatten() {
            if peer.path().is_dir() {
                for f in std::fs::read_dir(peer.path()).unwrap().flatten() {
                    if f.file_name().to_string_lossy().ends_with(".cset") {
                        out.push(f.path());
                    }
                }
            }
        }
        out.sort();
        out
    }
}

impl Home {
    /// This home's peer id, as `sync status --json` tells it.
    #[track_caller]
    pub fn peer_id(&self, folder: &Folder) -> String {
        let status = self.sync("status", folder, &["--json"]).code(0).json();
        status["peer_id"].as_str().expect("a peer id").to_string()
    }

    /// `context sync SUB --remote FOLDER ARGS...`
    pub fn sync(&self, sub: &str, folder: &Folder, args: &[&str]) -> Run {
        self.sync_at(sub, folder.arg(), args)
    }

    /// `context sync SUB --remote REMOTE ARGS...` (a URL or a name).
    pub fn sync_at(&self, sub: &str, remote: &str, args: &[&str]) -> Run {
        let mut all = vec!["sync", sub, "--remote", remote];
        all.extend_from_slice(args);
        self.run(&all)
    }

    /// Writes `n` versions through the library (fast: no process per write).
    pub fn bulk_put(&self, prefix: &str, n: usize, body_len: usize) {
        let rt = context::runtime::Runtime::system();
        let mut store = context::store::Store::open(&self.db(), rt).expect("open store");
        let body = "x".repeat(body_len);
        for i in 0..n {
            store
                .put(
                    "default",
                    &format!("{prefix}/{i}"),
                    format!("{i} {body}").as_bytes(),
                    None,
                )
                .expect("put");
        }
    }

    /// The number of rows, or 0 for a database a killed process left before its schema
    /// (the migration is one transaction: all or nothing, so nothing is there yet).
    pub fn rows_if_any(&self) -> i64 {
        let conn = rusqlite::Connection::open(self.db()).unwrap();
        let has_table: bool = conn
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE name = 'document_versions')",
                [],
                |r| r.get(0),
            )
            .unwrap();
        if has_table { self.rows() } else { 0 }
    }

    /// The number of rows (versions and tombstones) in the database.
    pub fn rows(&self) -> i64 {
        let conn = rusqlite::Connection::open(self.db()).unwrap();
        conn.query_row("SELECT count(*) FROM document_versions", [], |r| r.get(0))
            .unwrap()
    }

    /// Every version id in the database, sorted.
    pub fn version_ids(&self) -> Vec<Vec<u8>> {
        let conn = rusqlite::Connection::open(self.db()).unwrap();
        let mut stmt = conn
            .prepare("SELECT version_id FROM document_versions ORDER BY version_id")
            .unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    #[track_caller]
    pub fn assert_intact(&self) {
        let conn = rusqlite::Connection::open(self.db()).unwrap();
        let check: String = conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(check, "ok");
    }
}

/// Makes `folder` an encrypted remote (`sync init --encrypt` by `owner`) and gives its key to
/// `reader` (`sync key export` there, `sync key import` here).
pub fn share_encrypted(folder: &Folder, owner: &Home, reader: &Home) {
    owner
        .run(&["sync", "init", "--encrypt", "--remote", folder.arg()])
        .code(0);
    let line = owner
        .run(&["sync", "key", "export", "--remote", folder.arg()])
        .code(0)
        .stdout;
    reader
        .run_with(
            &["sync", "key", "import", "--remote", folder.arg()],
            line.as_bytes(),
            &[],
        )
        .code(0);
}

/// Copies a home's database files (as a backup tool or `cp -r` would, with the database closed).
pub fn copy_db(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for f in ["context.db", "context.db-wal", "context.db-shm"] {
        let _ = std::fs::remove_file(to.join(f));
        if from.join(f).exists() {
            std::fs::copy(from.join(f), to.join(f)).unwrap();
        }
    }
}

/// Every file under `dir`, at any depth.
pub fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if e.path().is_dir() {
            out.extend(walk(&e.path()));
        } else {
            out.push(e.path());
        }
    }
    out
}

/// Decodes a changeset file with `context sync inspect --json`.
pub fn inspect(path: &Path) -> serde_json::Value {
    let run = run_command(
        bare_command(&["sync", "inspect", path.to_str().unwrap(), "--json"]),
        b"",
    );
    assert_eq!(run.code, 0, "inspect {}: {}", path.display(), run.stderr);
    run.json()
}

/// Every entry id in every changeset of `folder`, in file order.
pub fn published_ids(folder: &Folder) -> Vec<String> {
    folder
        .changesets()
        .iter()
        .flat_map(|p| {
            inspect(p)["entries"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["id"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        })
        .collect()
}

/// `len` bytes that do not compress (a xorshift stream from `seed`), the same every run.
pub fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Word-like text of at least `bytes` (ten words a line), the same for the same `seed`: it
/// compresses like prose, not like a repeated line.
pub fn prose(bytes: usize, seed: u64) -> String {
    let mut x = seed | 1;
    let mut out = String::new();
    while out.len() < bytes {
        for _ in 0..10 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let word: String = (0..2 + x % 7)
                .map(|k| char::from(b'a' + ((x >> (k * 5)) % 26) as u8))
                .collect();
            out.push_str(&word);
            out.push(' ');
        }
        out.push('\n');
    }
    out
}

impl Home {
    /// Runs like [`Home::run`], but fails the test (killing the process) if it has not ended
    /// within `secs`: for what must never hang.
    #[track_caller]
    pub fn run_within(&self, secs: u64, args: &[&str]) -> Run {
        let mut cmd = self.command(args);
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn context");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
        while child.try_wait().expect("wait").is_none() {
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                let out = child.wait_with_output().expect("wait");
                panic!(
                    "{args:?} did not end within {secs}s; stderr:\n{}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        Run::from(child.wait_with_output().expect("wait"))
    }
}

/// Every file under `dir` (links not followed) with its bytes: what a test compares before
/// and after to show that nothing there was touched.
pub fn tree_of(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let kind = e.file_type().unwrap();
            if kind.is_dir() {
                stack.push(e.path());
            } else if kind.is_file() {
                out.push((e.path(), std::fs::read(e.path()).unwrap()));
            } else {
                out.push((e.path(), Vec::new()));
            }
        }
    }
    out.sort();
    out
}

/// Makes a FIFO (a named pipe) at `path`: what blocks a reader that opens it plainly.
pub fn mkfifo(path: &Path) {
    let ok = Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("mkfifo")
        .success();
    assert!(ok, "mkfifo {}", path.display());
}
