//! Bare `context sync`, the everyday command and what a schedule runs: pull, then push.

use std::io::Write;

use clap::Args;
use serde::Serialize;

use context::outcome::Outcome;
use context::sync::{PullReport, PushReport};

use super::{RemoteFlag, WaitFlag, print_json, pull, push};
use crate::cli::{CliError, Env};

#[derive(Debug, Args, Clone)]
pub struct SyncRun {
    #[command(flatten)]
    remote: RemoteFlag,
    /// Let the pull replace unseen local changes, and the push start a new generation or
    /// publish again what the remote lost (see `pull --help`, `push --help`).
    #[arg(long)]
    force: bool,
    /// Let the pull merge conflicting text documents whose edits do not overlap (see
    /// `pull --help`).
    #[arg(long)]
    merge: bool,
    #[command(flatten)]
    wait: WaitFlag,
    /// How long a missing changeset may be on its way before its gap is bad data (see
    /// `pull --help`).
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = context::duration::parse_wait)]
    transit_grace: std::time::Duration,
    /// Print both reports as one JSON object: {"pull": ..., "push": ...}.
    #[arg(long)]
    json: bool,
    /// What a write starts (sync after writes): quiet, gives way to any sync already running,
    /// and one that a sync started by hand waits for.
    #[arg(long, hide = true, conflicts_with_all = ["json", "force", "merge"])]
    background: bool,
}

#[derive(Serialize)]
struct Json<'a> {
    pull: &'a PullReport,
    push: &'a PushReport,
}

impl SyncRun {
    /// What `sync watch` runs at each cycle: pull, then push, as bare `context sync`.
    pub(super) fn watched(remote: RemoteFlag) -> SyncRun {
        SyncRun {
            remote,
            force: false,
            merge: false,
            wait: super::WaitFlag {
                wait: std::time::Duration::from_secs(60),
            },
            transit_grace: std::time::Duration::from_secs(3600),
            json: false,
            background: false,
        }
    }

    pub fn run(self, env: &Env, out: &mut dyn Write) -> Result<Outcome, CliError> {
        let background = self.background;
        if background {
            super::BACKGROUND.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        let mut sink = std::io::sink();
        let out: &mut dyn Write = if background { &mut sink } else { out };
        if background && !settle(env)? {
            // Another sync is running: it takes the write when it ends.
            return Ok(Outcome::Ok);
        }
        let outcome = match self.run_each(env, out) {
            // A background sync that finds another running leaves the write to it.
            Err(e) if background && e.outcome() == Outcome::Busy => return Ok(Outcome::Ok),
            other => other?,
        };
        // Writes made while it ran: one more sync takes them (only after one that succeeded,
        // so a remote that is away is not retried in a loop).
        if outcome.is_ok()
            && let Ok(store) = env.open_store()
            && crate::cli::autosync::enabled(&store)
            && self
                .remote
                .each(&store)
                .unwrap_or_default()
                .iter()
                .any(|(_, flag)| unpushed(&store, flag).unwrap_or(false))
            && let Ok(home) = env.home()
        {
            crate::cli::autosync::start(&home);
        }
        Ok(outcome)
    }

    /// Pull then push with the remote `--remote` names, else with each of the home's remotes
    /// in turn (by name), one failing not stopping the others: the worst outcome, a failure
    /// said on stderr with the remote's name. A busy home or an interruption ends the run.
    fn run_each(&self, env: &Env, out: &mut dyn Write) -> Result<Outcome, CliError> {
        let each = self.remote.each(&env.open_store_to_read()?)?;
        if each.len() == 1 {
            return self.run_once(env, out);
        }
        let mut outcomes = Vec::new();
        for (name, flag) in each {
            let one = SyncRun {
                remote: flag,
                ..self.clone()
            };
            match one.run_once(env, out) {
                Ok(outcome) => outcomes.push(outcome),
                Err(e) if matches!(e.outcome(), Outcome::Busy | Outcome::Interrupted) => {
                    return Err(e);
                }
                Err(e) => {
                    let name = name.unwrap_or_default();
                    eprintln!(
                        "context: remote {name}: {}",
                        context::remote::redact_in(&e.to_string())
                    );
                    outcomes.push(e.outcome());
                }
            }
        }
        Ok(context::sync::remotes::worst(outcomes))
    }

    pub(super) fn run_once(&self, env: &Env, out: &mut dyn Write) -> Result<Outcome, CliError> {
        let pull = pull::Pull {
            remote: self.remote.clone(),
            force: self.force,
            merge: self.merge,
            dry_run: false,
            transit_grace: self.transit_grace,
            wait: self.wait.clone(),
            json: self.json,
        };
        let pulled = match pull.report(env) {
            Ok(report) => report,
            Err(e) => {
                if self.json {
                    // A script reads stdout: it gets what went wrong there too.
                    print_json(
                        out,
                        &serde_json::json!({ "pull": null, "push": null, "error": error_json(&e) }),
                    )?;
                }
                return Err(e);
            }
        };
        if !self.json {
            pull::print(&pulled, false, out)?;
        }
        let push = push::Push {
            remote: self.remote.clone(),
            force: self.force,
            wait: self.wait.clone(),
            json: self.json,
        };
        let pushed = match push.report(env) {
            Ok(report) => report,
            Err(e) => {
                if self.json {
                    // What the pull did still reaches a script.
                    print_json(
                        out,
                        &serde_json::json!({ "pull": &pulled, "push": null, "error": error_json(&e) }),
                    )?;
                }
                return Err(e);
            }
        };
        if self.json {
            pull::print(&pulled, true, &mut std::io::sink())?;
            push::print(&pushed, true, &mut std::io::sink())?;
            print_json(
                out,
                &Json {
                    pull: &pulled,
                    push: &pushed,
                },
            )?;
        } else {
            push::print(&pushed, false, out)?;
        }
        Ok(pulled.outcome().then(Outcome::Ok))
    }
}

/// Whether this home holds rows its last push to the remote did not take.
pub(super) fn unpushed(
    store: &context::store::Store,
    remote: &RemoteFlag,
) -> Result<bool, CliError> {
    let chosen = remote.chosen(store)?;
    let Some(remote_id) = store.known_remote_id(&chosen.location.canonical())? else {
        return Ok(false);
    };
    let generation = store.peer().generation as u64;
    let mark = store.high_water(remote_id, generation)?;
    Ok(store.count_unpushed(mark, remote_id, chosen.projects.as_deref())? > 0)
}

/// How long a burst of writes must pause before a background sync runs...
const QUIET: std::time::Duration = std::time::Duration::from_millis(300);
/// ...but it runs after this at the latest, however long the burst.
const SETTLE_AT_MOST: std::time::Duration = std::time::Duration::from_secs(3);

/// A background sync holds the lock (so the writes of a burst start no other) until the writes
/// pause for [`QUIET`], or [`SETTLE_AT_MOST`]: a script writing a thousand documents starts a
/// handful of syncs, not one per write. False: another sync holds the lock.
fn settle(env: &Env) -> Result<bool, CliError> {
    use context::sync::{Holder, SyncLock};
    let home = env.home()?;
    let Ok(_lock) = SyncLock::acquire_as(&home, std::time::Duration::ZERO, Holder::Background)
    else {
        return Ok(false);
    };
    let store = env.open_store()?;
    let started = std::time::Instant::now();
    let mut last = (store.max_seq()?, std::time::Instant::now());
    while started.elapsed() < SETTLE_AT_MOST && last.1.elapsed() < QUIET {
        std::thread::sleep(std::time::Duration::from_millis(50));
        let now = store.max_seq()?;
        if now != last.0 {
            last = (now, std::time::Instant::now());
        }
    }
    Ok(true)
}

/// An error as `sync --json` prints it: the message and the exit status it ends with.
fn error_json(e: &CliError) -> serde_json::Value {
    serde_json::json!({
        "message": context::remote::redact_in(&e.to_string()),
        "exit_status": crate::exit_status(e.outcome()),
    })
}
