//! `context sync log`.

use std::io::Write;

use clap::Args;
use serde::Serialize;

use context::clock::rfc3339;
use context::outcome::Outcome;
use context::store::Run;
use context::sync::{self, describe_counts};

use super::print_json_pretty;
use crate::cli::{CliError, Env};

/// How many runs are shown.
const SHOWN: usize = 50;

#[derive(Debug, Args)]
pub struct Log {
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

impl Log {
    pub fn run(self, env: &Env, out: &mut dyn Write) -> Result<Outcome, CliError> {
        let store = env.open_store_to_read()?;
        let runs = store.runs(None, SHOWN)?;
        if self.json {
            let list: Vec<Entry> = runs.iter().map(Entry::of).collect();
            print_json_pretty(out, &list)?;
            return Ok(Outcome::Ok);
        }
        for r in &runs {
            let summary: serde_json::Value = serde_json::from_str(&r.summary).unwrap_or_default();
            let detail = match summary.get("error").and_then(|e| e.as_str()) {
                Some(e) => e.to_string(),
                None => {
                    // `projects` in runs logged before the vocabulary was settled.
                    let projects = summary
                        .get("per_project")
                        .or_else(|| summary.get("projects"))
                        .cloned()
                        .and_then(|v| serde_json::from_value::<sync::PerProject>(v).ok())
                        .unwrap_or_default();
                    if projects.is_empty() {
                        "nothing to do".to_string()
                    } else {
                        describe_counts(&projects)
                    }
                }
            };
            writeln!(
                out,
                "{}  {:<4}  {:<8}  exit {}  {}  scenario {}  {}",
                rfc3339(r.finished_at_ms),
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
