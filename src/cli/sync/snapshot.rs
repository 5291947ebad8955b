//! `context sync snapshot`.

use std::io::Write;

use clap::Args;

use super::describe_counts;
use context::outcome::Outcome;
use context::sync::{self, SnapshotReport, plural};

use super::{RemoteFlag, Session, WaitFlag, print_json};
use crate::cli::{CliError, Env};

#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  context sync snapshot\n  context sync snapshot --json")]
pub struct Snapshot {
    #[command(flatten)]
    remote: RemoteFlag,
    #[command(flatten)]
    wait: WaitFlag,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

impl Snapshot {
    pub fn run(self, env: &Env, out: &mut dyn Write) -> Result<Outcome, CliError> {
        let mut session = Session::open(env, "snapshot", &self.wait)?;
        let (report, location) =
            session.with_remote(&self.remote, |store, remote| sync::snapshot(store, remote))?;
        let summary = serde_json::to_value(&report).unwrap_or_default();
        session.finish(location, Outcome::Ok, &report.per_project, summary);
        if self.json {
            print_json(out, &report)?;
        } else {
            writeln!(out, "{}", describe(&report))?;
        }
        Ok(Outcome::Ok)
    }
}

/// "wrote snapshot PEER/snapshot-X.cset: 3 versions in default (1 part, 2100 bytes), covering 2
/// streams".
pub fn describe(r: &SnapshotReport) -> String {
    let content = if r.entries() == 0 {
        "no versions".to_string()
    } else {
        describe_counts(&r.per_project)
    };
    format!(
        "wrote snapshot {}/{}: {content} ({}, {} bytes), covering {}",
        r.remote,
        r.seal,
        plural(r.parts, "part"),
        r.bytes,
        plural(r.covers.len() as u64, "stream")
    )
}
