//! Helpers for running the real `context` binary in temporary homes.

#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use tempfile::TempDir;

pub const BIN: &str = env!("CARGO_BIN_EXE_context");

/// A fixed instant for tests that need one: 2026-11-25T10:00:00Z.
pub const T0: &str = "2026-11-25T10:00:00Z";

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
    ] {
        cmd.env_remove(var);
    }
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
