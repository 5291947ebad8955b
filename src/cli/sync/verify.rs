//! `context sync verify`.

use std::io::Write;

use clap::Args;
use serde::Serialize;

use context::outcome::Outcome;
use context::sync::encryption::{self, Unlocked};
use context::sync::{self, VerifyReport, plural};

use super::{RemoteFlag, print_json_pretty};
use crate::cli::{CliError, Env};

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  context sync verify\n  context sync verify --remote ~/Sync/context --json"
)]
pub struct Verify {
    #[command(flatten)]
    remote: RemoteFlag,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

/// The report with its count of problems in front.
#[derive(Serialize)]
struct Json<'a> {
    problems: usize,
    #[serde(flatten)]
    report: &'a VerifyReport,
}

impl Verify {
    pub fn run(self, env: &Env, out: &mut dyn Write) -> Result<Outcome, CliError> {
        let store = env.open_store()?;
        let remote = self.remote.open_plain(&store)?;
        // Without the key of an encrypted remote, what can be checked is its structure.
        let r = match encryption::unlock(remote, &store, &env.keys()?)? {
            Unlocked::Plain(r) | Unlocked::Open(r) => sync::verify(&r)?,
            Unlocked::Locked(r) => sync::verify::verify_structure(&r)?,
        };
        if self.json {
            print_json_pretty(
                out,
                &Json {
                    problems: r.problem_count(),
                    report: &r,
                },
            )?;
            return Ok(r.outcome());
        }
        print(&r, out)?;
        Ok(r.outcome())
    }
}

fn print(r: &VerifyReport, out: &mut dyn Write) -> Result<(), CliError> {
    if r.structure_only {
        writeln!(
            out,
            "encrypted, and this home does not hold the key: checked each file's framing, \
             checksum and name only (import the key to check what is inside)"
        )?;
    }
    writeln!(
        out,
        "remote {}: {}, {}",
        r.remote,
        plural(r.changesets, "changeset"),
        plural(r.snapshots.len() as u64, "snapshot")
    )?;
    for p in &r.peers {
        let streams: Vec<String> = p
            .streams
            .iter()
            .map(|s| {
                format!(
                    "generation {} changesets {}..{} ({}, {})",
                    s.generation,
                    s.first_seq,
                    s.last_seq,
                    plural(s.versions, "version"),
                    plural(s.tombstones, "tombstone")
                )
            })
            .collect();
        let verdict = if p.problems.is_empty() {
            "ok"
        } else {
            "DAMAGED"
        };
        writeln!(out, "peer {}: {verdict}; {}", p.peer, streams.join("; "))?;
        for problem in &p.problems {
            writeln!(out, "  {}: {}", problem.file, problem.what)?;
        }
        if !p.problems.is_empty() {
            writeln!(
                out,
                "  to repair: on {}, run `context sync repair --remote {}` (it puts back what \
                 that peer's database rebuilds byte for byte)",
                p.host
                    .as_deref()
                    .map_or_else(|| format!("the machine of peer {}", p.peer), str::to_string),
                r.remote
            )?;
        }
    }
    for problem in &r.other_problems {
        writeln!(out, "{}: {}", problem.file, problem.what)?;
    }
    for s in &r.snapshots {
        writeln!(
            out,
            "snapshot {}: {} ({}, {}), covering {}",
            s.seal,
            plural(s.parts, "part"),
            plural(s.versions, "version"),
            plural(s.tombstones, "tombstone"),
            plural(s.covers, "stream")
        )?;
    }
    for t in &r.temporary {
        writeln!(
            out,
            "{t}: a temporary file (a write in progress, or left behind)"
        )?;
    }
    for u in &r.unsealed {
        writeln!(
            out,
            "{u}: part of a snapshot without a seal (being written, or interrupted)"
        )?;
    }
    if r.problem_count() > 0 {
        writeln!(
            std::io::stderr().lock(),
            "context: {} in {}",
            plural(r.problem_count() as u64, "problem"),
            r.remote
        )?;
    }
    Ok(())
}
