//! `context sync push`.

use std::io::Write;

use clap::Args;

use super::describe_counts;
use context::outcome::Outcome;
use context::sync::{self, PushOptions, PushReport, plural};

use super::{RemoteFlag, Session, WaitFlag, print_json, print_warnings};
use crate::cli::{CliError, Env};

#[derive(Debug, Args, Clone)]
#[command(
    after_help = "Examples:\n  context sync push\n  context sync push --remote ssh://me@nas/srv/context --json"
)]
pub struct Push {
    #[command(flatten)]
    pub remote: RemoteFlag,
    /// Push even though the remote holds more (or less) of this peer's history than this
    /// database knows: start a new generation so both histories survive, or publish again
    /// what the remote lost.
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub wait: WaitFlag,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

impl Push {
    pub fn run(self, env: &Env, out: &mut dyn Write) -> Result<Outcome, CliError> {
        let report = self.report(env)?;
        print(&report, self.json, out)?;
        Ok(Outcome::Ok)
    }

    /// Pushes and logs the run, printing nothing.
    pub fn report(&self, env: &Env) -> Result<PushReport, CliError> {
        let mut session = Session::open(env, "push", &self.wait)?;
        // A named remote whose list gained projects: their history goes first.
        let chosen = self.remote.chosen(&session.store)?;
        let opts = PushOptions {
            force: self.force,
            backfill: chosen.backfill.clone(),
            ..PushOptions::default()
        };
        let (report, location) = session.with_remote(&self.remote, |store, remote| {
            sync::push(store, remote, opts)
        })?;
        if let Some(name) = chosen.name.filter(|_| !chosen.backfill.is_empty()) {
            session.store.clear_backfill(&name)?;
        }
        let summary = serde_json::to_value(&report).unwrap_or_default();
        session.finish(location, Outcome::Ok, &report.per_project, summary);
        Ok(report)
    }
}

pub fn print(r: &PushReport, as_json: bool, out: &mut dyn Write) -> Result<(), CliError> {
    print_warnings(&r.warnings)?;
    if as_json {
        return print_json(out, r);
    }
    if let Some(why) = &r.new_generation {
        writeln!(out, "started generation {}: {why}", r.generation)?;
    }
    if !r.adopted.is_empty() {
        writeln!(
            out,
            "finished an interrupted push: {}",
            r.adopted.join(", ")
        )?;
    }
    if !r.published.is_empty() {
        writeln!(
            out,
            "pushed {} to {} ({})",
            describe_counts(&r.per_project),
            r.remote,
            plural(r.changesets, "changeset")
        )?;
    }
    Ok(())
}
