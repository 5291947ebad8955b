//! Faults at every write step of push and pull. After each: the database is intact, the remote
//! readable (no partial changeset visible), the error names what failed, and the next run
//! completes with nothing lost or doubled.
//!
//! Three ways in, each as real as this machine allows:
//! - the remote's write steps fail through `FolderIo`, the folder's one seam (in-process);
//! - `strace` fault injection kills the real binary (SIGKILL) or fails its syscalls at a chosen
//!   step: the changeset's link, the database commit, the manifest's rename;
//! - real file systems: a tmpfs remote that is nearly full or mounted read-only, and a home on
//!   a tmpfs too small for the pull's transaction.
//!
//! The strace and mount tests need `strace` and permission to mount (root); `.ci/run` installs
//! strace. Where either is missing they say so and pass without running.

use std::fs::File;
use std::io;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use context::remote::{self, FolderIo, RealIo, Remote};
use context::runtime::Runtime;
use context::store::Store;
use context::sync::{self, PullOptions, PushOptions, SyncError};

use crate::util::{BIN, Folder, Home, inspect, published_ids};

/// Fails the `nth` call (from 1) of one step, and only that one.
#[derive(Debug)]
struct FailAt {
    step: &'static str,
    nth: usize,
    calls: AtomicUsize,
}

impl FailAt {
    fn new(step: &'static str, nth: usize) -> Arc<FailAt> {
        Arc::new(FailAt {
            step,
            nth,
            calls: AtomicUsize::new(0),
        })
    }

    fn check(&self, step: &str) -> io::Result<()> {
        if step == self.step && self.calls.fetch_add(1, Ordering::SeqCst) + 1 == self.nth {
            return Err(io::Error::other(format!("injected failure of {step}")));
        }
        Ok(())
    }
}

impl FolderIo for FailAt {
    fn create_dir(&self, parent: &File, name: &str) -> io::Result<()> {
        self.check("create_dir")?;
        RealIo.create_dir(parent, name)
    }
    fn create(&self, dir: &File, name: &str) -> io::Result<File> {
        self.check("create")?;
        RealIo.create(dir, name)
    }
    fn write_all(&self, file: &mut File, bytes: &[u8]) -> io::Result<()> {
        self.check("write_all")?;
        RealIo.write_all(file, bytes)
    }
    fn sync_file(&self, file: &File) -> io::Result<()> {
        self.check("sync_file")?;
        RealIo.sync_file(file)
    }
    fn link(&self, dir: &File, from: &str, to: &str) -> io::Result<()> {
        self.check("link")?;
        RealIo.link(dir, from, to)
    }
    fn rename(&self, dir: &File, from: &str, to: &str, replace: bool) -> io::Result<()> {
        self.check("rename")?;
        RealIo.rename(dir, from, to, replace)
    }
    fn sync_dir(&self, dir: &File) -> io::Result<()> {
        self.check("sync_dir")?;
        RealIo.sync_dir(dir)
    }
}

/// Every changeset in the folder decodes, and no temporary file is left behind.
fn assert_remote_readable(folder: &Folder) {
    for f in folder.changesets() {
        assert_eq!(inspect(&f)["checksum"]["ok"], true, "{}", f.display());
    }
}

fn temp_files(folder: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for d in std::fs::read_dir(folder).unwrap().flatten() {
        if d.path().is_dir() {
            for f in std::fs::read_dir(d.path()).unwrap().flatten() {
                if f.file_name().to_string_lossy().contains(".tmp-") {
                    out.push(f.path());
                }
            }
        }
    }
    out
}

/// Every row of `home` published exactly once.
fn assert_each_row_published_once(home: &Home, folder: &Folder) {
    let mut ids = published_ids(folder);
    let n = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), n, "a version was published twice");
    assert_eq!(n as i64, home.rows(), "every version published");
}

/// Every row of `home` published exactly once, and a fresh peer pulling it gets them all.
fn assert_published_once(home: &Home, folder: &Folder) {
    assert_each_row_published_once(home, folder);
    let fresh = Home::new();
    fresh.sync("pull", folder, &[]).code(0);
    assert_eq!(fresh.version_ids(), home.version_ids());
}

#[test]
fn push_survives_a_failure_at_every_write_step_of_the_remote() {
    // (step, which call of it): the changeset's steps are the first calls, the manifest's the
    // second; the peer folder is created once, on the first push.
    // The changeset is linked into place (create-if-absent), the manifest renamed.
    let cases = [
        ("create_dir", 1),
        ("create", 1),
        ("write_all", 1),
        ("sync_file", 1),
        ("link", 1),
        ("sync_dir", 2),
        ("create", 2),
        ("write_all", 2),
        ("sync_file", 2),
        ("rename", 1),
        ("sync_dir", 3),
    ];
    for (step, nth) in cases {
        let (a, folder) = (Home::new(), Folder::new());
        a.put("k1", "one");
        a.put("k2", "two");
        {
            let mut store = Store::open(&a.db(), Runtime::system()).unwrap();
            let remote = Remote::new(
                remote::Folder::with_io(folder.path(), FailAt::new(step, nth)).unwrap(),
            );
            match sync::push(&mut store, &remote, PushOptions::default()) {
                Err(SyncError::Remote(e)) => {
                    let msg = e.to_string();
                    assert!(msg.contains("injected failure"), "{step}#{nth}: {msg}");
                    assert!(msg.contains(folder.arg()), "names the file: {msg}");
                }
                // The manifest is advisory: its failure is a warning, the push stands.
                Ok(report) => {
                    assert!(
                        !report.warnings.is_empty(),
                        "{step}#{nth}: no error, no warning"
                    );
                    assert!(
                        report.warnings[0].contains("manifest"),
                        "{:?}",
                        report.warnings
                    );
                }
                Err(e) => panic!("{step}#{nth}: unexpected {e}"),
            }
        }
        a.assert_intact();
        assert_remote_readable(&folder);
        assert!(
            temp_files(folder.path()).is_empty(),
            "{step}#{nth}: temporary file left"
        );
        // The next push completes: nothing lost, nothing doubled.
        a.sync("push", &folder, &[]).code(0);
        let manifests = std::fs::read_dir(folder.path())
            .unwrap()
            .flatten()
            .filter(|d| d.path().join("manifest.json").exists())
            .count();
        assert_eq!(manifests, 1, "{step}#{nth}: the manifest is written again");
        assert_published_once(&a, &folder);
    }
}

#[test]
fn pull_survives_a_failure_writing_its_manifest() {
    for step in ["create", "write_all", "sync_file", "rename", "sync_dir"] {
        let (a, b, folder) = (Home::new(), Home::new(), Folder::new());
        a.put("k", "v");
        a.sync("push", &folder, &[]).code(0);
        {
            let mut store = Store::open(&b.db(), Runtime::system()).unwrap();
            let remote =
                Remote::new(remote::Folder::with_io(folder.path(), FailAt::new(step, 1)).unwrap());
            let report = sync::pull(&mut store, &remote, PullOptions::default()).unwrap();
            assert!(report.applied, "{step}");
            assert!(
                report.warnings[0].contains("injected failure"),
                "{:?}",
                report.warnings
            );
        }
        b.assert_intact();
        assert_eq!(b.get("k"), "v");
        b.sync("pull", &folder, &[]).code(0);
        let peer = b.peer_id(&folder);
        assert!(
            folder.path().join(peer).join("manifest.json").exists(),
            "{step}: written by the next pull"
        );
    }
}

fn strace_available() -> bool {
    let ok = Command::new("strace")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success())
        && Command::new("strace")
            .args(["-f", "-o", "/dev/null", "true"])
            .status()
            .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("strace is not available here: fault injection by strace not run");
    }
    ok
}

/// Runs `context ARGS` in `home` under strace with `inject` (e.g.
/// `rename:signal=KILL:when=1`) for the syscalls on `path` (or all, when `None`).
fn run_injected(
    home: &Home,
    path: Option<&Path>,
    syscall: &str,
    inject: &str,
    args: &[&str],
) -> (i32, String) {
    let mut cmd = Command::new("strace");
    cmd.args(["-f", "-o", "/dev/null"]);
    if let Some(p) = path {
        cmd.arg("-P").arg(p);
    }
    cmd.arg("-e").arg(format!("trace={syscall}"));
    cmd.arg("-e").arg(format!("inject={syscall}:{inject}"));
    cmd.arg(BIN).args(args);
    cmd.env("CONTEXT_HOME", home.path())
        .env_remove("CONTEXT_PROJECT");
    let out = cmd.output().expect("strace");
    // strace ends the way its tracee did: killed by a signal, or with its exit status.
    let code = match (out.status.code(), out.status.signal()) {
        (Some(code), _) => code,
        (None, Some(signal)) => 128 + signal,
        (None, None) => -1,
    };
    (code, String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn push_killed_at_each_step_is_finished_by_the_next_push() {
    if !strace_available() {
        return;
    }
    // linkat publishes the changeset, the first write to the WAL records it as pushed,
    // renameat2 publishes the manifest.
    let steps: [(&str, bool, &str); 4] = [
        ("linkat", false, "signal=KILL:when=1"),
        ("pwrite64", true, "signal=KILL:when=1"),
        ("renameat2", false, "signal=KILL:when=1"),
        ("fsync", false, "signal=KILL:when=1"),
    ];
    for (syscall, on_wal, inject) in steps {
        let (a, folder) = (Home::new(), Folder::new());
        a.put("first", "1");
        a.sync("push", &folder, &[]).code(0);
        a.put("k1", "one");
        a.put("k2", "two");
        let wal = a.path().join("context.db-wal");
        let (code, _) = run_injected(
            &a,
            on_wal.then_some(wal.as_path()),
            syscall,
            inject,
            &["sync", "push", "--remote", folder.arg()],
        );
        assert_eq!(code, 137, "{syscall} {inject}: killed");
        a.assert_intact();
        assert_remote_readable(&folder);
        let next = a.sync("push", &folder, &[]).code(0);
        if syscall == "pwrite64" {
            assert!(
                next.stdout.contains("finished an interrupted push"),
                "{}",
                next.stdout
            );
        }
        assert_published_once(&a, &folder);
    }
}

#[test]
fn pull_killed_at_its_commit_or_its_manifest_is_finished_by_the_next_pull() {
    if !strace_available() {
        return;
    }
    for (syscall, on_wal, inject) in [
        ("pwrite64", true, "signal=KILL:when=1"),
        ("fsync", true, "signal=KILL:when=1"),
        ("renameat2", false, "signal=KILL:when=1"),
    ] {
        let (a, b, folder) = (Home::new(), Home::new(), Folder::new());
        a.bulk_put("doc", 50, 1_000);
        a.sync("push", &folder, &[]).code(0);
        b.put("mine", "local");
        let wal = b.path().join("context.db-wal");
        let (code, _) = run_injected(
            &b,
            on_wal.then_some(wal.as_path()),
            syscall,
            inject,
            &["sync", "pull", "--remote", folder.arg()],
        );
        assert_eq!(code, 137, "{syscall} {inject}: killed");
        b.assert_intact();
        let rows = b.rows();
        assert!(
            rows == 1 || rows == 51,
            "{syscall}: partial import of {rows} rows"
        );
        b.sync("pull", &folder, &[]).code(0);
        assert_eq!(b.rows(), 51);
        assert_eq!(b.get("mine"), "local");
    }
}

#[test]
fn a_failed_database_commit_after_publishing_is_finished_by_the_next_push() {
    if !strace_available() {
        return;
    }
    let (a, folder) = (Home::new(), Folder::new());
    a.put("first", "1");
    a.sync("push", &folder, &[]).code(0);
    a.put("k", "v");
    let wal = a.path().join("context.db-wal");
    let (code, stderr) = run_injected(
        &a,
        Some(&wal),
        "pwrite64",
        "error=EIO",
        &["sync", "push", "--remote", folder.arg()],
    );
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("disk I/O error") || stderr.contains("I/O"),
        "{stderr}"
    );
    a.assert_intact();
    assert_remote_readable(&folder);
    a.sync("push", &folder, &[]).code(0);
    assert_published_once(&a, &folder);
}

/// A tmpfs of `size` mounted at a new folder, unmounted on drop; `None` where mounting is not
/// permitted.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().ok()?;
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            eprintln!("cannot mount a tmpfs here: real full and read-only file systems not tested");
            return None;
        }
        Some(Tmpfs { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn remount(&self, options: &str) {
        let ok = Command::new("mount")
            .args(["-o", &format!("remount,{options}")])
            .arg(self.path())
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "remount {options}");
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

/// Bodies that do not compress away: what fills a small file system.
fn noise(i: usize, len: usize) -> String {
    let mut x = (i as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            char::from(b'a' + (x % 26) as u8)
        })
        .collect()
}

#[test]
fn a_nearly_full_remote_fails_cleanly_and_the_push_completes_once_there_is_room() {
    let Some(fs) = Tmpfs::mount("64k") else {
        return;
    };
    let a = Home::new();
    let remote = fs.path().to_str().unwrap();
    for i in 0..40 {
        a.run_with(&["put", &format!("k{i}")], noise(i, 4_000).as_bytes(), &[])
            .code(0);
    }
    let run = a.run(&["sync", "push", "--remote", remote]).code(1);
    assert!(run.stderr.contains("No space left"), "{}", run.stderr);
    assert!(run.stderr.contains(remote), "{}", run.stderr);
    a.assert_intact();
    assert!(
        temp_files(fs.path()).is_empty(),
        "the temporary file is removed"
    );
    fs.remount("size=16m");
    a.run(&["sync", "push", "--remote", remote]).code(0);
    let b = Home::new();
    b.run(&["sync", "pull", "--remote", remote]).code(0);
    assert_eq!(a.version_ids(), b.version_ids());
}

#[test]
fn a_read_only_remote_refuses_a_push_by_name_and_still_serves_pulls() {
    let Some(fs) = Tmpfs::mount("4m") else {
        return;
    };
    let (a, b) = (Home::new(), Home::new());
    let remote = fs.path().to_str().unwrap();
    a.put("k", "v");
    a.run(&["sync", "push", "--remote", remote]).code(0);
    fs.remount("ro");
    a.put("k2", "v2");
    let run = a.run(&["sync", "push", "--remote", remote]).code(1);
    assert!(
        run.stderr.contains("Read-only file system"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("temporary file"),
        "names the step: {}",
        run.stderr
    );
    a.assert_intact();
    // Reading works; only the acknowledgements cannot be published, which is a warning.
    let pulled = b.run(&["sync", "pull", "--remote", remote]).code(0);
    assert!(pulled.stderr.contains("warning"), "{}", pulled.stderr);
    assert_eq!(b.get("k"), "v");
    fs.remount("rw");
    a.run(&["sync", "push", "--remote", remote]).code(0);
    b.run(&["sync", "pull", "--remote", remote]).code(0);
    assert_eq!(b.get("k2"), "v2");
}

#[test]
fn a_home_too_full_for_the_pull_rolls_back_and_pulls_once_there_is_room() {
    let Some(fs) = Tmpfs::mount("1m") else {
        return;
    };
    let (a, folder) = (Home::new(), Folder::new());
    for i in 0..300 {
        a.put(&format!("k{i}"), &noise(i, 8_000));
    }
    a.sync("push", &folder, &[]).code(0);
    let run = |args: &[&str]| {
        let mut cmd = crate::util::bare_command(args);
        cmd.env("CONTEXT_HOME", fs.path());
        crate::util::run_command(cmd, b"")
    };
    run(&["put", "mine"]).code(0);
    let pull = run(&["sync", "pull", "--remote", folder.arg()]).code(1);
    assert!(pull.stderr.contains("full"), "{}", pull.stderr);
    let rows_of = || -> i64 {
        rusqlite::Connection::open(fs.path().join("context.db"))
            .unwrap()
            .query_row("SELECT count(*) FROM document_versions", [], |r| r.get(0))
            .unwrap()
    };
    assert_eq!(rows_of(), 1, "nothing of the failed pull is visible");
    fs.remount("size=64m");
    run(&["sync", "pull", "--remote", folder.arg()]).code(0);
    assert_eq!(rows_of(), 301);
    assert_eq!(run(&["get", "mine"]).code(0).stdout, "");
}

/// A push killed after it published the first changeset of a project's history (the project
/// was added to the remote's list) and before it recorded it: the next push recognises the
/// changeset as its own and goes on; every version is published once, and a home that carries
/// both projects gets them all.
#[test]
fn a_push_killed_while_it_publishes_a_projects_history_is_finished_by_the_next() {
    if !strace_available() {
        return;
    }
    let (a, folder) = (Home::new(), Folder::new());
    a.ok(&[
        "sync",
        "remote",
        "add",
        "share",
        folder.arg(),
        "--projects",
        "shared",
    ]);
    for (project, key, body) in [
        ("shared", "notes", "shared notes"),
        ("work", "plan", "one"),
        ("work", "plan", "two"),
        ("work", "other", "three"),
    ] {
        a.run_with(&["put", key, "--project", project], body.as_bytes(), &[])
            .code(0);
    }
    a.ok(&["sync", "push", "--remote", "share"]);
    assert_eq!(published_ids(&folder).len(), 1, "the shared project only");
    a.ok(&[
        "sync",
        "remote",
        "add",
        "share",
        folder.arg(),
        "--projects",
        "shared,work",
    ]);
    let wal = a.path().join("context.db-wal");
    let (code, _) = run_injected(
        &a,
        Some(wal.as_path()),
        "pwrite64",
        "signal=KILL:when=1",
        &["sync", "push", "--remote", "share"],
    );
    assert_eq!(code, 137, "killed");
    a.assert_intact();
    let next = a.run(&["sync", "push", "--remote", "share"]).code(0);
    assert!(
        next.stdout.contains("finished an interrupted push"),
        "{}",
        next.stdout
    );
    let mut ids = published_ids(&folder);
    let n = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), n, "a version was published twice");
    assert_eq!(n as i64, a.rows(), "every version published");
    let fresh = Home::new();
    fresh.ok(&[
        "sync",
        "remote",
        "add",
        "share",
        folder.arg(),
        "--projects",
        "shared,work",
    ]);
    fresh.ok(&["sync", "pull"]);
    assert_eq!(fresh.version_ids(), a.version_ids());
}
