//! `context sync repair`.

use std::io::Write;

use clap::Args;

use context::outcome::Outcome;
use context::sync::{self, RepairReport, plural};

use super::{RemoteFlag, Session, WaitFlag, print_json};
use crate::cli::{CliError, Env};

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  context sync repair --dry-run\n  context sync repair --remote s3://my-bucket/context"
)]
pub struct Repair {
    #[command(flatten)]
    remote: RemoteFlag,
    /// Say what would be put back, and write nothing.
    #[arg(long)]
    dry_run: bool,
    #[command(flatten)]
    wait: WaitFlag,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

impl Repair {
    pub fn run(self, env: &Env, out: &mut dyn Write) -> Result<Outcome, CliError> {
        let mut session = Session::open(env, "repair", &self.wait)?;
        let dry_run = self.dry_run;
        let (report, location) = session.with_remote(&self.remote, |store, remote| {
            sync::repair(store, remote, dry_run)
        })?;
        // What is still damaged or missing stays bad data for every reader.
        let outcome = if report.unrepaired() > 0 {
            Outcome::BadData
        } else {
            Outcome::Ok
        };
        if !dry_run {
            let summary = serde_json::to_value(&report).unwrap_or_default();
            session.finish(location, outcome, &Default::default(), summary);
        }
        if self.json {
            print_json(out, &report)?;
        } else {
            print(&report, out)?;
        }
        Ok(outcome)
    }
}

fn print(r: &RepairReport, out: &mut dyn Write) -> Result<(), CliError> {
    for f in &r.files {
        match (&f.reason, r.dry_run) {
            (None, true) => writeln!(out, "would put back {} ({})", f.file, f.state)?,
            (None, false) => writeln!(
                out,
                "put back {} ({}): rebuilt byte for byte",
                f.file, f.state
            )?,
            (Some(why), _) => writeln!(
                std::io::stderr().lock(),
                "cannot put back {} ({}): {why}",
                f.file,
                f.state
            )?,
        }
    }
    if r.files.is_empty() {
        writeln!(
            out,
            "{} of this peer checked in {}: all intact",
            plural(r.checked, "changeset"),
            r.remote
        )?;
    }
    Ok(())
}
