//! `context sync log`.

use std::io::Write;

use clap::Args;
use serde::Serialize;

use super::describe_counts;
use context::clock::rfc3339;
use context::outcome::Outcome;
use context::store::Run;
use context::sync;

use super::print_json_pretty;
use crate::cli::{CliError, Env};

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  context sync log -n 5\n  context sync log --command prune --since 7d --json"
)]
pub struct Log {
    /// Show at most N runs, newest first.
    #[arg(short = 'n', long = "limit", value_name = "N", default_value_t = 50)]
    limit: usize,
    /// Only runs of one command.
    #[arg(long, value_name = "COMMAND", value_parser = ["push", "pull", "prune", "snapshot"])]
    command: Option<String>,
    /// Only runs that finished within DURATION (e.g. 7d).
    #[arg(long, value_name = "DURATION", value_parser = context::duration::parse)]
    since: Option<std::time::Duration>,
    /// Print a JSON array.
    #[arg(long)]
    json: bool,
}

/// One logged run as JSON.
#[derive(Serialize)]
struct Entry<'a> {
    command: &'a str,
    remote: Option<&'a str>,
    scenario_id: &'a str,
    started_at: String,
    finished_at: String,
    exit_status: i64,
    outcome: &'a str,
    summary: serde_json::Value,
}

impl<'a> Entry<'a> {
    fn of(r: &'a Run) -> Entry<'a> {
        Entry {
            command: &r.command,
            remote: r.remote.as_deref(),
            scenario_id: &r.scenario_id,
            started_at: rfc3339(r.started_at_ms),
            finished_at: rfc3339(r.finished_at_ms),
            exit_status: r.exit_status,
            outcome: &r.outcome,
            summary: serde_json::from_str(&r.summary).unwrap_or_default(),
        }
    }
}

/// What a logged run did, in a few words.
fn describe(command: &str, summary: &serde_json::Value) -> String {
    if let Some(e) = summary.get("error").and_then(|e| e.as_str()) {
        return e.to_string();
    }
    let count = |field: &str| summary.get(field).and_then(|v| v.as_u64()).unwrap_or(0);
    if command == "prune" {
        let mut parts = Vec::new();
        if let Some(seal) = summary.get("snapshot").and_then(|s| s.as_str()) {
            parts.push(format!("wrote snapshot {seal}"));
        }
        for (field, what) in [
            ("removed", "changeset"),
            ("removed_snapshots", "snapshot file"),
            ("temporary", "temporary file"),
        ] {
            if count(field) > 0 {
                parts.push(format!("removed {}", sync::plural(count(field), what)));
            }
        }
        return if parts.is_empty() {
            "nothing to remove".to_string()
        } else {
            parts.join(", ")
        };
    }
    // `projects` in runs logged before the vocabulary was settled.
    let projects = summary
        .get("per_project")
        .or_else(|| summary.get("projects"))
        .cloned()
        .and_then(|v| serde_json::from_value::<sync::PerProject>(v).ok())
        .unwrap_or_default();
    let what = if projects.is_empty() {
        "nothing to do".to_string()
    } else {
        describe_counts(&projects)
    };
    match command {
        "snapshot" => format!(
            "wrote {} ({})",
            summary
                .get("seal")
                .and_then(|s| s.as_str())
                .unwrap_or("a snapshot"),
            what
        ),
        "pull" if count("changesets") > 0 => {
            format!(
                "{what} ({})",
                sync::plural(count("changesets"), "changeset")
            )
        }
        _ => what,
    }
}

impl Log {
    pub fn run(self, env: &Env, out: &mut dyn Write) -> Result<Outcome, CliError> {
        let store = env.open_store_to_read()?;
        let since_ms = self
            .since
            .map(|d| store.now_ms() - i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        let runs = store.runs_since(self.command.as_deref(), since_ms, self.limit)?;
        if self.json {
            let list: Vec<Entry> = runs.iter().map(Entry::of).collect();
            print_json_pretty(out, &list)?;
            return Ok(Outcome::Ok);
        }
        for r in &runs {
            let summary: serde_json::Value = serde_json::from_str(&r.summary).unwrap_or_default();
            let detail = describe(&r.command, &summary);
            writeln!(
                out,
                "{}  {:<4}  {:<8}  exit {}  {}  scenario {}  {}",
                context::clock::local(r.finished_at_ms),
                r.command,
                r.outcome,
                r.exit_status,
                r.remote.as_deref().unwrap_or("-"),
                r.scenario_id,
                detail
            )?;
        }
        Ok(Outcome::Ok)
    }
}
