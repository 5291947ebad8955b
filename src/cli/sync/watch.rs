//! `context sync watch`: a foreground process (for a systemd user service, a launchd agent or
//! a terminal) that keeps this home in sync within about a second.
//!
//! It syncs (pull, then push, as bare `context sync`) when something changed: another peer's
//! file in a folder remote (file-system events through `notify`), this home's database (a write
//! committed: its WAL changed, and rows are unpushed), or, at every `--poll`, a listing that
//! shows files it has not seen (the backstop for network file systems and file-sync tools that
//! deliver no events, and the only way over S3 and SSH: an idle watch costs one listing per
//! poll). A failed cycle is said once and retried with backoff (a laptop asleep, a network
//! away for an hour); a pull refused for a conflict is said once and the pushes go on. SIGTERM
//! or Ctrl-C ends it with exit 0: a pull in flight rolls back, a push keeps what it published.
//! One watch per home (a second exits 4).

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use clap::Args;

use context::outcome::Outcome;
use context::remote::Remote;
use context::sync::SyncError;

use super::{RemoteFlag, run::SyncRun};
use crate::cli::{CliError, Env};

/// Events closer together than this are one change.
const SETTLE: Duration = Duration::from_millis(250);
/// The longest wait before a failed cycle is tried again.
const MAX_BACKOFF: Duration = Duration::from_secs(300);

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  context sync watch\n  context sync watch --remote s3://my-bucket/context --poll 30s\n  # a systemd user service: context sync schedule --systemd --watch (prints it)"
)]
pub struct Watch {
    #[command(flatten)]
    remote: RemoteFlag,
    /// How often to look at the remote for files this home has not seen: the only way over
    /// S3 and SSH (one listing per poll), a backstop over a folder.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = context::duration::parse)]
    poll: Duration,
}

impl Watch {
    pub fn run(self, env: &Env, out: &mut dyn Write) -> Result<Outcome, CliError> {
        super::super::catch_ctrl_c();
        let stop = super::super::interrupt_flag();
        let _ = signal_hook::flag::register(signal_hook::consts::SIGTERM, stop.clone());
        let home = env.home()?;
        let _watch = hold_watch_lock(&home)?;
        let store = env.open_store()?;
        let location = self.remote.canonical(&store)?;
        let me = store.peer().id.to_string();
        drop(store);

        let (tx, rx) = mpsc::channel::<Change>();
        let _watchers = watch_paths(&home, &location, &tx);
        let mut seen: Option<BTreeSet<String>> = None;
        let mut remote: Option<Remote> = None;
        let mut backoff = Duration::ZERO;
        let mut next_try = Instant::now();
        let mut last_said = String::new();
        let mut next_poll = Instant::now();
        let mut due = true;
        tracing::info!(remote = %location, "watching");
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            // Wait for a change, a poll, or the end (checked every half second).
            match rx.recv_timeout(Duration::from_millis(500)) {
                Ok(change) => {
                    std::thread::sleep(SETTLE);
                    let mut changes = vec![change];
                    changes.extend(rx.try_iter());
                    // A file in the remote: the listing says whether another peer's is new
                    // (this home's own pushes make events too).
                    if changes.contains(&Change::Remote) {
                        next_poll = Instant::now();
                    }
                    if changes.contains(&Change::Home) && self.local_unpushed(env)? {
                        due = true;
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => {}
            }
            if Instant::now() >= next_poll {
                next_poll = Instant::now() + self.poll;
                if Instant::now() >= next_try {
                    match self.listing(env, &mut remote, &me) {
                        Ok(names) => {
                            if seen.as_ref() != Some(&names) {
                                due = true;
                            }
                            seen = Some(names);
                        }
                        Err(e) => {
                            remote = None;
                            say_once(&mut last_said, &e.to_string());
                        }
                    }
                }
            }
            if !due || Instant::now() < next_try {
                continue;
            }
            due = false;
            match SyncRun::watched(self.remote.clone()).run_once(env, out) {
                Ok(Outcome::Diverged) => {
                    say_once(
                        &mut last_said,
                        "a pull was refused for a conflict (`context conflicts`, `context \
                         resolve`); this home's writes are still pushed",
                    );
                    backoff = Duration::ZERO;
                }
                Ok(_) => {
                    if !last_said.is_empty() {
                        tracing::warn!("sync works again");
                        last_said.clear();
                    }
                    backoff = Duration::ZERO;
                    next_try = Instant::now();
                }
                Err(e) if e.outcome() == Outcome::Interrupted => break,
                Err(e) if e.outcome() == Outcome::Busy => due = true,
                Err(e) => {
                    say_once(&mut last_said, &e.to_string());
                    backoff = (backoff * 2).clamp(Duration::from_secs(1), MAX_BACKOFF);
                    next_try = Instant::now() + backoff;
                    due = true;
                    remote = None;
                }
            }
        }
        tracing::info!("watch ended");
        Ok(Outcome::Ok)
    }

    /// The names of the files other peers put in the remote (one listing).
    fn listing(
        &self,
        env: &Env,
        remote: &mut Option<Remote>,
        me: &str,
    ) -> Result<BTreeSet<String>, CliError> {
        if remote.is_none() {
            let store = env.open_store()?;
            *remote = Some(self.remote.open(&store, &env.keys()?)?);
        }
        let Some(r) = remote.as_ref() else {
            return Ok(BTreeSet::new());
        };
        let listing = r.list().map_err(SyncError::from)?;
        Ok(listing
            .changesets
            .iter()
            .filter(|n| n.peer.to_string() != me)
            .map(|n| n.to_string())
            .chain(listing.snapshots.iter().map(|n| format!("{n:?}")))
            .collect())
    }

    /// Whether this home holds rows its last push did not take (a write committed).
    fn local_unpushed(&self, env: &Env) -> Result<bool, CliError> {
        let store = env.open_store()?;
        super::run::unpushed(&store, &self.remote)
    }
}

/// What changed, as the file-system events say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Change {
    /// Something in the remote's folder.
    Remote,
    /// This home's database.
    Home,
}

/// Watches the home (its database's WAL) and, for a folder remote, the folder; `None` where
/// events cannot be had (polling does it then).
fn watch_paths(
    home: &Path,
    location: &str,
    tx: &mpsc::Sender<Change>,
) -> Vec<notify::RecommendedWatcher> {
    use notify::{RecursiveMode, Watcher};
    let mut out = Vec::new();
    let watch = |path: &Path, mode: RecursiveMode, change: Change| {
        let tx = tx.clone();
        let mut w = notify::recommended_watcher(move |e: notify::Result<notify::Event>| {
            if let Ok(e) = e
                && !e.kind.is_access()
            {
                let ours = change == Change::Remote
                    || e.paths.iter().any(|p| {
                        p.file_name()
                            .is_some_and(|n| n.to_string_lossy().starts_with("context.db"))
                    });
                if ours {
                    let _ = tx.send(change);
                }
            }
        })
        .ok()?;
        w.watch(path, mode).ok()?;
        Some(w)
    };
    if let Some(w) = watch(home, RecursiveMode::NonRecursive, Change::Home) {
        out.push(w);
    }
    let folder = Path::new(location);
    if folder.is_absolute()
        && folder.is_dir()
        && let Some(w) = watch(folder, RecursiveMode::Recursive, Change::Remote)
    {
        out.push(w);
    }
    out
}

/// Takes the home's watch lock, or says another watch has it (exit 4).
fn hold_watch_lock(home: &Path) -> Result<std::fs::File, CliError> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::create_dir_all(home)?;
    let path = home.join(crate::cli::autosync::WATCH_LOCK);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(&path)?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(CliError::WatchRunning(path)),
        Err(std::fs::TryLockError::Error(e)) => Err(e.into()),
    }
}

/// Logs `what` once, until something else is to be said.
fn say_once(last: &mut String, what: &str) {
    if last != what {
        // Logs reach stderr at the default level (a service's journal).
        tracing::warn!("{what}");
        *last = what.to_string();
    }
}
