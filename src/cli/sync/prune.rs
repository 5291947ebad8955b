//! `context sync prune`.

use std::io::Write;
use std::time::Duration;

use clap::Args;

use context::outcome::Outcome;
use context::sync::{self, PeerStatus, PruneReport, plural};

use super::{RemoteFlag, Session, WaitFlag, print_json, print_warnings, snapshot};
use crate::cli::{CliError, Env};

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  context sync prune --dry-run\n  context sync prune --forget-after 30d"
)]
pub struct Prune {
    #[command(flatten)]
    remote: RemoteFlag,
    /// Say what would be removed, and remove nothing.
    #[arg(long)]
    dry_run: bool,
    /// Leave behind peers silent for longer than DURATION (they start again from a snapshot).
    #[arg(long, value_name = "DURATION", value_parser = context::duration::parse)]
    forget_after: Option<Duration>,
    #[command(flatten)]
    wait: WaitFlag,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

/// What the run log keeps of a prune.
#[derive(serde::Serialize)]
struct Summary<'a> {
    removed: usize,
    removed_snapshots: usize,
    temporary: usize,
    snapshot: Option<&'a str>,
}

impl Prune {
    pub fn run(self, env: &Env, out: &mut dyn Write) -> Result<Outcome, CliError> {
        let opts = sync::PruneOptions {
            dry_run: self.dry_run,
            forget_after_ms: self
                .forget_after
                .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
        };
        let mut session = Session::open(env, "prune", &self.wait)?;
        let (r, location) = session.with_remote(&self.remote, |store, remote| {
            sync::prune(store, remote, opts)
        })?;
        if !self.dry_run {
            let summary = Summary {
                removed: r.removed.len(),
                removed_snapshots: r.removed_snapshots.len(),
                temporary: r.temporary.len(),
                snapshot: r.snapshot.as_ref().map(|s| s.seal.as_str()),
            };
            let summary = serde_json::to_value(&summary).unwrap_or_default();
            session.finish(location, Outcome::Ok, &sync::PerProject::new(), summary);
        }
        print_warnings(&r.problems)?;
        if self.json {
            print_json(out, &r)?;
        } else {
            print(&r, out)?;
        }
        Ok(Outcome::Ok)
    }
}

fn print(r: &PruneReport, out: &mut dyn Write) -> Result<(), CliError> {
    let verb = if r.dry_run { "would remove" } else { "removed" };
    if let Some(s) = &r.snapshot {
        writeln!(out, "{}", snapshot::describe(s))?;
    }
    if r.would_snapshot {
        writeln!(
            out,
            "would write a snapshot of this peer first (what it removes must stay covered)"
        )?;
    }
    writeln!(
        out,
        "{verb} {} ({}, {}) from {}",
        plural(r.removed.len() as u64, "changeset"),
        plural(r.removed_snapshots.len() as u64, "snapshot file"),
        plural(r.temporary.len() as u64, "temporary file"),
        r.remote
    )?;
    // Every stream keeps its newest changeset: only say why when more stays.
    for s in r.streams.iter().filter(|s| s.kept > 1) {
        if let (Some(first), Some(why)) = (s.first_kept, &s.why_kept) {
            writeln!(
                out,
                "  kept {} of peer {} generation {} from changeset {first}: {why}",
                plural(s.kept, "changeset"),
                s.peer,
                s.generation
            )?;
        }
    }
    for p in r
        .peers
        .iter()
        .filter(|p| p.status == PeerStatus::LeftBehind)
    {
        writeln!(
            out,
            "  left behind peer {}, silent since {}: it starts again from a snapshot",
            crate::cli::peer_label(p.host.as_deref(), &p.peer),
            p.last_seen_at
                .as_deref()
                .map_or_else(|| "?".to_string(), context::clock::local_of)
        )?;
    }
    for p in r.peers.iter().filter(|p| p.status == PeerStatus::Unknown) {
        writeln!(
            out,
            "  peer {} has changesets here but no manifest: it starts from a snapshot if it needs to",
            p.peer
        )?;
    }
    Ok(())
}
