//! `context sync status`.

use std::io::Write;

use clap::Args;

use context::outcome::Outcome;
use context::sync::{self, status::LastRun};

use super::{RemoteFlag, print_json_pretty};
use crate::cli::{CliError, Env};

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  context sync status\n  context sync status --remote s3://my-bucket/context --json"
)]
pub struct Status {
    #[command(flatten)]
    remote: RemoteFlag,
    /// Print the status as JSON.
    #[arg(long)]
    json: bool,
}

impl Status {
    pub fn run(self, env: &Env, out: &mut dyn Write) -> Result<Outcome, CliError> {
        let store = env.open_store_to_read()?;
        let remote = self.remote.open(&store, &env.keys()?)?;
        let s = sync::status(&store, &remote)?;
        for p in &s.problems {
            eprintln!("context: bad data: {p}");
        }
        if self.json {
            print_json_pretty(out, &s)?;
            return Ok(s.outcome());
        }
        writeln!(
            out,
            "peer     {} (generation {})",
            crate::cli::peer_label(Some(&s.host), &s.peer_id),
            s.generation
        )?;
        writeln!(out, "remote   {}", s.remote)?;
        writeln!(out, "ahead    {} (local changes not yet pushed)", s.ahead)?;
        writeln!(out, "behind   {} (changesets not yet applied)", s.behind)?;
        let last = |r: &Option<LastRun>| match r {
            Some(r) => format!(
                "{} ({}, exit {})",
                context::clock::local_of(&r.finished_at),
                r.outcome,
                r.exit_status
            ),
            None => "never".to_string(),
        };
        writeln!(out, "pushed   {}", last(&s.last_push_run))?;
        writeln!(out, "pulled   {}", last(&s.last_pull_run))?;
        for p in &s.peers {
            // This peer's pushes are the `pushed` line above (the run log): one source, so the
            // two never disagree; another peer's come from its manifest.
            let pushed = if p.this_peer {
                " (this peer)".to_string()
            } else {
                match p.last_push_at.as_deref() {
                    Some(at) => format!(" last published {}", context::clock::local_of(at)),
                    None => " never published".to_string(),
                }
            };
            writeln!(
                out,
                "peer seen {} generation {}{pushed}",
                crate::cli::peer_label(p.host.as_deref(), &p.peer),
                p.generation,
            )?;
        }
        if let Some(first) = s.in_transit.first() {
            let age = context::clock::parse_instant(&first.first_missed_at)
                .map(|t| context::clock::describe_age(store.now_ms() - t))
                .unwrap_or_default();
            // Whose files: the hosts of the peers whose folders they are in, where known.
            let mut hosts: Vec<&str> = s
                .in_transit
                .iter()
                .map(|w| {
                    let peer = w.file.split('/').next().unwrap_or_default();
                    s.peers
                        .iter()
                        .find(|p| p.peer == peer)
                        .and_then(|p| p.host.as_deref())
                        .unwrap_or(peer)
                })
                .collect();
            hosts.sort();
            hosts.dedup();
            writeln!(
                out,
                "waiting  for {} of {} in transit, first missed {age} ago: {}",
                sync::plural(s.in_transit.len() as u64, "file"),
                hosts.join(", "),
                s.in_transit
                    .iter()
                    .map(|w| w.file.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )?;
        }
        if s.conflicts > 0 {
            writeln!(
                out,
                "conflicts {} unsettled: `context conflicts` lists them, `context resolve KEY` settles each",
                s.conflicts
            )?;
        }
        for c in &s.conflicts_resolved {
            writeln!(
                out,
                "resolved {} in {}: replaced {} (restore with `context restore {} {}`)",
                c.key,
                c.project,
                c.local.as_deref().unwrap_or("-"),
                c.key,
                c.local.as_deref().unwrap_or("-")
            )?;
        }
        Ok(s.outcome())
    }
}
