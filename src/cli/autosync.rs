//! Sync after every write: once a home has a remote, every command that writes (put, edit, rm,
//! restore, resolve) starts a detached, quiet `context sync --background` after its commit and
//! does not wait for it (a fork and an exec: nothing the user would notice).
//!
//! Bursts coalesce on the sync lock: a write that finds a sync running starts none, since every
//! sync looks again when it ends and starts one more if rows are left unpushed (only after a
//! run that succeeded, so a remote that is away is retried by the next write or schedule, not in
//! a loop). A sync started by hand or by a schedule waits for a background one rather than
//! exit 4. Off with `CONTEXT_AUTO_SYNC=0`, or `context sync auto off` for the home.

use std::path::Path;
use std::process::{Command, Stdio};

use context::store::Store;
use context::sync::SyncLock;

/// What `context sync watch` holds so that there is one per home.
pub const WATCH_LOCK: &str = "watch.lock";

/// Whether a `context sync watch` runs for `home` now (it pushes the writes itself).
pub fn watching(home: &Path) -> bool {
    std::fs::OpenOptions::new()
        .read(true)
        .open(home.join(WATCH_LOCK))
        .is_ok_and(|f| matches!(f.try_lock(), Err(std::fs::TryLockError::WouldBlock)))
}

/// The home's setting: `off` turns sync after writes off.
pub const SETTING: &str = "sync.auto";

/// Whether writes start a sync in this home: it has a remote, and neither the
/// environment nor the home's setting turns it off.
pub fn enabled(store: &Store) -> bool {
    if std::env::var("CONTEXT_AUTO_SYNC").is_ok_and(|v| v == "0" || v == "off") {
        return false;
    }
    let off = store
        .setting(SETTING)
        .ok()
        .flatten()
        .is_some_and(|v| v == "off");
    !off && store.named_remotes().is_ok_and(|r| !r.is_empty())
}

/// After a write committed: starts a background sync unless one is running (it will see this
/// write when it ends). Never fails the write.
pub fn after_write(home: &Path, store: &Store) {
    if !enabled(store) {
        return;
    }
    if watching(home) {
        tracing::debug!("a watch runs: it pushes this write");
        return;
    }
    if SyncLock::is_held(home) {
        tracing::debug!("a sync is running: it takes this write when it ends");
        return;
    }
    start(home);
}

/// Starts `context sync --background` for `home`, detached: its own process group (a Ctrl-C
/// in the terminal does not reach it), no terminal, nothing printed.
pub fn start(home: &Path) {
    use std::os::unix::process::CommandExt;
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    let started = Command::new(exe)
        .args(["sync", "--background"])
        .env("CONTEXT_HOME", home)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn();
    match started {
        // Not waited for: when this command exits, init reaps it.
        Ok(child) => tracing::debug!(pid = child.id(), "started a background sync"),
        Err(e) => tracing::debug!("could not start a background sync: {e}"),
    }
}
