//! `context sync ...`: one file per subcommand, each an args struct with a `run` that calls
//! the library and prints its report. What they share lives here: the flags every remote
//! command takes, the lock-store-remote-span-log [`Session`], and the warnings printer.

mod auto;
mod init;
mod inspect;
mod key;
mod log;
mod name;
mod prune;
mod pull;
mod push;
mod remotes;
mod repair;
mod run;
mod schedule;
mod snapshot;
mod status;
mod verify;
mod watch;

use std::io::Write;
use std::time::Duration;

use clap::{Args, Subcommand};
use serde::Serialize;

use context::encryption::KeyRing;
use context::outcome::Outcome;
use context::remote::{self, Location, Remote};
use context::store::{Run, Store};
use context::sync::encryption::{self, Unlocked};
use context::sync::{self, SyncError, SyncLock};

use super::{CliError, Env};

#[derive(Debug, Args)]
#[command(
    args_conflicts_with_subcommands = true,
    after_help = "Examples:\n  context sync remote ~/Sync/context   # once per machine\n  context sync                         # pull, then push\n  context sync schedule --cron         # every 15 minutes, unattended"
)]
pub struct SyncArgs {
    #[command(subcommand)]
    command: Option<SyncCommand>,
    #[command(flatten)]
    run: run::SyncRun,
}

#[derive(Debug, Subcommand)]
enum SyncCommand {
    /// This home's remotes: `add NAME URL [--projects P1,P2]`, `list`, `remove`, `rename`;
    /// with a URL alone, the remote named `default`; without one, print it.
    Remote(remotes::SetRemote),
    /// Write this peer's changes since its last push to the remote.
    Push(push::Push),
    /// Apply, in one transaction, every changeset of the remote not yet applied here.
    Pull(pull::Pull),
    /// This peer, ahead, behind, last push and pull.
    Status(status::Status),
    /// Check every changeset in the remote; exit 5 on any damage.
    Verify(verify::Verify),
    /// Publish a snapshot (every version and tombstone, history included) for new peers.
    Snapshot(snapshot::Snapshot),
    /// Delete the changesets every known peer has applied and a snapshot covers.
    Prune(prune::Prune),
    /// Put back this peer's own changesets that the remote lost or damaged, rebuilt byte for byte.
    Repair(repair::Repair),
    /// The last sync runs (push, pull, snapshot, prune): time, outcome, counts, scenario id.
    Log(log::Log),
    /// Print a crontab line or systemd user units that run `context sync` unattended.
    Schedule(schedule::Schedule),
    /// Decode one changeset file: header, checksum verdict, every entry.
    Inspect(inspect::Inspect),
    /// Make a new, empty remote an encrypted one (`--encrypt`), with a fresh key kept here.
    Init(init::Init),
    /// Carry an encrypted remote's key to another machine: `export` prints it, `import` reads it.
    Key(key::KeyArgs),
    /// Whether writes sync this home in the background (on by default once it has a remote):
    /// without an argument, print it; `on` or `off` to set it.
    Auto(auto::Auto),
    /// Keep this home in sync within about a second, until SIGTERM or Ctrl-C: for a systemd
    /// user service, a launchd agent or a terminal.
    Watch(watch::Watch),
    /// What every peer calls this machine: without an argument, print it; with NAME, rename it
    /// (the only way it changes).
    Name(name::Name),
}

impl SyncArgs {
    /// Whether its stdout is a summary of what a run did (what `-q` silences for cron), not a
    /// result asked for (a key line, a crontab line, a log, a status).
    pub fn prints_a_report(&self) -> bool {
        matches!(
            self.command,
            None | Some(
                SyncCommand::Push(_)
                    | SyncCommand::Pull(_)
                    | SyncCommand::Snapshot(_)
                    | SyncCommand::Prune(_)
                    | SyncCommand::Repair(_)
                    | SyncCommand::Verify(_)
                    | SyncCommand::Watch(_)
            )
        )
    }

    pub fn run(self, env: &Env, out: &mut dyn Write) -> Result<Outcome, CliError> {
        match self.command {
            None => self.run.run(env, out),
            Some(SyncCommand::Remote(c)) => c.run(env, out),
            Some(SyncCommand::Name(c)) => c.run(env, out),
            Some(SyncCommand::Push(c)) => c.run(env, out),
            Some(SyncCommand::Repair(c)) => c.run(env, out),
            Some(SyncCommand::Pull(c)) => c.run(env, out),
            Some(SyncCommand::Status(c)) => c.run(env, out),
            Some(SyncCommand::Verify(c)) => c.run(env, out),
            Some(SyncCommand::Snapshot(c)) => c.run(env, out),
            Some(SyncCommand::Prune(c)) => c.run(env, out),
            Some(SyncCommand::Log(c)) => c.run(env, out),
            Some(SyncCommand::Schedule(c)) => c.run(env, out),
            Some(SyncCommand::Inspect(c)) => c.run(env, out),
            Some(SyncCommand::Init(c)) => c.run(env, out),
            Some(SyncCommand::Key(c)) => c.run(env, out),
            Some(SyncCommand::Auto(c)) => c.run(env, out),
            Some(SyncCommand::Watch(c)) => c.run(env, out),
        }
    }
}

/// Set for `context sync --background` (what a write starts): its runs hold the lock as a
/// background sync, which a sync started by hand waits for.
static BACKGROUND: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// `--remote R`: which remote (a name or a location), else the home's default one.
#[derive(Debug, Args, Clone, Default)]
struct RemoteFlag {
    #[arg(long, value_name = "R", value_parser = sync::remotes::parse_arg, help = format!(
        "The remote: a name given with `context sync remote add`, or {} (else the remote named \
         `default`, or the home's only one)",
        context::remote::registry::known_forms()
    ))]
    remote: Option<String>,
}

impl RemoteFlag {
    /// The flag naming `name`.
    fn named(name: &str) -> RemoteFlag {
        RemoteFlag {
            remote: Some(name.to_string()),
        }
    }

    /// The remote named by the flag (else the home's default one), opened with this home's
    /// key if it is encrypted; refused if it is and this home lacks the key.
    fn open(&self, store: &Store, keys: &KeyRing) -> Result<Remote, CliError> {
        match encryption::unlock(self.open_plain(store)?, store, keys)? {
            Unlocked::Plain(r) | Unlocked::Open(r) => Ok(r),
            Unlocked::Locked(r) => Err(SyncError::NoKey {
                location: r.location(),
            }
            .into()),
        }
    }

    /// The remote's name as the run log keeps it, found without reaching the remote.
    fn canonical(&self, store: &Store) -> Result<String, CliError> {
        Ok(self.location(store)?.canonical())
    }

    /// Which remote the flag (else the home's default) means.
    fn chosen(&self, store: &Store) -> Result<sync::remotes::Chosen, CliError> {
        Ok(match &self.remote {
            Some(arg) => sync::remotes::resolve(store, arg)?,
            None => sync::remotes::default(store)?,
        })
    }

    /// Where the flag (else the home's default remote) says the remote is.
    fn location(&self, store: &Store) -> Result<Location, CliError> {
        Ok(self.chosen(store)?.location)
    }

    /// The remote, not yet unlocked (what `init` and `key` start from), carrying the projects
    /// this home gave it.
    fn open_plain(&self, store: &Store) -> Result<Remote, CliError> {
        let chosen = self.chosen(store)?;
        Ok(remote::open(&chosen.location)
            .map_err(SyncError::from)?
            .with_projects(chosen.projects))
    }

    /// The flags of every remote a command that covers them all runs against: the one named,
    /// else each of the home's remotes by name (none: the error that says how to add one).
    fn each(&self, store: &Store) -> Result<Vec<(Option<String>, RemoteFlag)>, CliError> {
        if self.remote.is_some() {
            return Ok(vec![(None, self.clone())]);
        }
        let all = store.named_remotes()?;
        if all.is_empty() {
            return Err(SyncError::NoRemote.into());
        }
        Ok(all
            .into_iter()
            .map(|r| (Some(r.name.clone()), RemoteFlag::named(&r.name)))
            .collect())
    }
}

/// `--wait DURATION`.
#[derive(Debug, Args, Clone)]
struct WaitFlag {
    /// Wait up to DURATION (or a number of seconds) for another sync of this home to finish.
    #[arg(long, value_name = "DURATION", default_value = "0", value_parser = context::duration::parse_wait)]
    wait: Duration,
}

/// Prints `value` as one line of JSON.
fn print_json(out: &mut dyn Write, value: &impl Serialize) -> Result<(), CliError> {
    serde_json::to_writer(&mut *out, value).map_err(std::io::Error::from)?;
    writeln!(out)?;
    Ok(())
}

/// Prints `value` as indented JSON (the reports a person may read).
fn print_json_pretty(out: &mut dyn Write, value: &impl Serialize) -> Result<(), CliError> {
    serde_json::to_writer_pretty(&mut *out, value).map_err(std::io::Error::from)?;
    writeln!(out)?;
    Ok(())
}

/// Warnings go to stderr, one line each, whatever the output format (none with `-q`).
fn print_warnings(warnings: &[String]) -> Result<(), CliError> {
    if crate::cli::quiet() {
        return Ok(());
    }
    let mut err = std::io::stderr().lock();
    for w in warnings {
        writeln!(err, "context: warning: {w}")?;
    }
    Ok(())
}

/// What every sync run that changes something shares: the lock, the store, the remote, the
/// span, the log entry.
struct Session {
    _lock: SyncLock,
    store: Store,
    keys: KeyRing,
    command: &'static str,
    started_ms: i64,
    scenario_id: String,
    span: tracing::Span,
}

impl Session {
    fn open(env: &Env, command: &'static str, wait: &WaitFlag) -> Result<Session, CliError> {
        super::catch_ctrl_c();
        let home = env.home()?;
        let holder = if BACKGROUND.load(std::sync::atomic::Ordering::Relaxed) {
            sync::Holder::Background
        } else {
            sync::Holder::Foreground
        };
        let lock = SyncLock::acquire_as(&home, wait.wait, holder).map_err(CliError::from)?;
        let store = env.open_store()?;
        let scenario_id = env.scenario_id();
        let span = tracing::info_span!(
            "sync",
            command,
            peer = %store.peer().id,
            remote = tracing::field::Empty,
            project = tracing::field::Empty,
            scenario_id = %scenario_id,
        );
        Ok(Session {
            _lock: lock,
            keys: KeyRing::in_home(&home),
            started_ms: store.now_ms(),
            store,
            command,
            scenario_id,
            span,
        })
    }

    /// Resolves the remote and runs `op` on it inside this run's span. A failure is logged as
    /// a run and returned; on success the result comes back with the remote's location.
    fn with_remote<T>(
        &mut self,
        flag: &RemoteFlag,
        op: impl FnOnce(&mut Store, &Remote) -> Result<T, SyncError>,
    ) -> Result<(T, Option<String>), CliError> {
        let span = self.span.clone();
        let _enter = span.enter();
        let remote = flag.open(&self.store, &self.keys);
        let location = match &remote {
            Ok(r) => Some(r.location()),
            Err(_) => flag.canonical(&self.store).ok(),
        };
        if let Some(l) = &location {
            span.record("remote", l.as_str());
        }
        let result = remote.and_then(|r| Ok(op(&mut self.store, &r)?));
        match result {
            Ok(value) => Ok((value, location)),
            Err(e) => {
                let summary = serde_json::json!({ "error": e.to_string() });
                self.log(location, e.outcome(), summary);
                Err(e)
            }
        }
    }

    /// Logs a finished run and records the projects it touched on its span.
    fn finish(
        &self,
        remote: Option<String>,
        outcome: Outcome,
        per_project: &sync::PerProject,
        summary: serde_json::Value,
    ) {
        let projects = per_project.keys().cloned().collect::<Vec<_>>().join(",");
        self.span.record("project", projects.as_str());
        let _enter = self.span.enter();
        tracing::info!(outcome = outcome.as_str(), "{} finished", self.command);
        self.log(remote, outcome, summary);
    }

    fn log(&self, remote: Option<String>, outcome: Outcome, summary: serde_json::Value) {
        let run = Run {
            command: self.command.to_string(),
            remote,
            scenario_id: self.scenario_id.clone(),
            started_at_ms: self.started_ms,
            finished_at_ms: self.store.now_ms(),
            exit_status: i64::from(crate::exit_status(outcome)),
            outcome: outcome.as_str().to_string(),
            // A secret a URL carried into an error message is never kept.
            summary: context::remote::redact_in(&summary.to_string()),
        };
        if let Err(e) = self.store.log_run(&run) {
            tracing::warn!("could not log the run: {e}");
        }
    }
}

/// "3 versions, 1 tombstone in default; 2 versions in work".
pub(crate) fn describe_counts(per_project: &context::sync::PerProject) -> String {
    per_project
        .iter()
        .map(|(project, c)| {
            let mut parts = Vec::new();
            if c.versions > 0 {
                parts.push(context::sync::plural(c.versions, "version"));
            }
            if c.tombstones > 0 {
                parts.push(context::sync::plural(c.tombstones, "tombstone"));
            }
            format!("{} in {project}", parts.join(", "))
        })
        .collect::<Vec<_>>()
        .join("; ")
}
