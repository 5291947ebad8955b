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
}

#[derive(Serialize)]
struct Json<'a> {
    pull: &'a PullReport,
    push: &'a PushReport,
}

impl SyncRun {
    pub fn run(self, env: &Env, out: &mut dyn Write) -> Result<Outcome, CliError> {
        let pull = pull::Pull {
            remote: self.remote.clone(),
            force: self.force,
            merge: self.merge,
            dry_run: false,
            transit_grace: self.transit_grace,
            wait: self.wait.clone(),
            json: self.json,
        };
        let pulled = pull.report(env)?;
        if !self.json {
            pull::print(&pulled, false, out)?;
        }
        let push = push::Push {
            remote: self.remote,
            force: self.force,
            wait: self.wait,
            json: self.json,
        };
        let pushed = match push.report(env) {
            Ok(report) => report,
            Err(e) => {
                if self.json {
                    // What the pull did still reaches a script.
                    print_json(out, &serde_json::json!({ "pull": &pulled, "push": null }))?;
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
