//! `context revert --session ID | --author NAME [--since DURATION]`: takes back what a session
//! (or an author) wrote. On a terminal it only says what it would do, unless `--yes`.

use std::io::{IsTerminal, Write};

use clap::Args;
use serde::Serialize;

use context::outcome::Outcome;
use context::revert::{self, Action, KeyPlan, Selector};

use super::{CliError, Env};

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  context history plan/q1 --json | jq -r '.[0].session'   # the session that wrote it\n  context revert --session 3f9c2a71                          # what it would do\n  context revert --session 3f9c2a71 --yes\n  context revert --author claude-code --since 2h --yes --json"
)]
#[command(group(clap::ArgGroup::new("whose").required(true).args(["session", "author"])))]
pub struct Revert {
    /// The session whose writes to take back (as `history -v` and `history --json` show it).
    #[arg(long, value_name = "ID")]
    session: Option<String>,
    /// The author whose writes to take back (with --since, only the recent ones).
    #[arg(long, value_name = "NAME")]
    author: Option<String>,
    /// With --author: only writes this recent (a DURATION: `2h`, `1d`).
    #[arg(long, value_name = "DURATION", requires = "author", value_parser = context::duration::parse)]
    since: Option<std::time::Duration>,
    /// Only this project (else every project the writes touched).
    #[arg(long, value_name = "NAME")]
    project: Option<String>,
    /// Also take back keys someone else wrote since (their later writes are undone too).
    #[arg(long)]
    force: bool,
    /// Write, even on a terminal (where the default is to say what it would do).
    #[arg(long, conflicts_with = "dry_run")]
    yes: bool,
    /// Only say what it would do, even when not on a terminal.
    #[arg(long)]
    dry_run: bool,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

/// A key in `revert --json`.
#[derive(Serialize)]
struct KeyJson {
    project: String,
    key: String,
    /// `restore`, `delete`, `unchanged` or `left` (someone else wrote it since).
    action: &'static str,
    /// The version whose body comes back (`restore`).
    to: Option<String>,
    /// The first write taken back.
    first: String,
    /// `left`: the later write by someone else, and who.
    written_since: Option<String>,
    written_since_by: Option<String>,
    /// The version or tombstone the revert wrote (none in a dry run).
    written: Option<String>,
}

#[derive(Serialize)]
struct Report {
    dry_run: bool,
    keys: Vec<KeyJson>,
}

fn action_name(a: &Action) -> &'static str {
    match a {
        Action::Restore { .. } => "restore",
        Action::Delete => "delete",
        Action::Unchanged => "unchanged",
        Action::Left { .. } => "left",
    }
}

impl Revert {
    pub fn run(self, env: &Env, out: &mut dyn Write) -> Result<Outcome, CliError> {
        let mut store = env.open_store()?;
        let selector = match (&self.session, &self.author) {
            (Some(id), _) => Selector::Session(id.clone()),
            (None, Some(name)) => Selector::Author {
                name: name.clone(),
                since_ms: self.since.map_or(i64::MIN, |d| {
                    store.now_ms() - i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
                }),
            },
            (None, None) => unreachable!("clap requires one"),
        };
        let plan = revert::plan(&store, &selector, self.project.as_deref())?;
        let on_terminal = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
        let dry_run = self.dry_run || (on_terminal && !self.yes);
        let written = if dry_run {
            Vec::new()
        } else {
            revert::apply(&mut store, &plan, self.force)?
        };
        if !written.is_empty() {
            env.sync_after_write(&store);
        }
        let written_of = |k: &KeyPlan| {
            written
                .iter()
                .find(|w| w.project == k.project && w.key == k.key)
                .map(|w| w.version.id.to_string())
        };
        if self.json {
            let keys = plan
                .iter()
                .map(|k| {
                    let effective = match (&k.action, &k.forced) {
                        (Action::Left { .. }, Some(f)) if self.force => f.as_ref(),
                        (a, _) => a,
                    };
                    let (since, by) = match &k.action {
                        Action::Left { by } => (
                            Some(by.id.to_string()),
                            by.author.as_ref().map(|a| a.name.clone()),
                        ),
                        _ => (None, None),
                    };
                    KeyJson {
                        project: k.project.clone(),
                        key: k.key.clone(),
                        action: action_name(effective),
                        to: match effective {
                            Action::Restore { to } => Some(to.id.to_string()),
                            _ => None,
                        },
                        first: k.first.id.to_string(),
                        written_since: since,
                        written_since_by: by,
                        written: written_of(k),
                    }
                })
                .collect();
            serde_json::to_writer_pretty(&mut *out, &Report { dry_run, keys })
                .map_err(std::io::Error::from)?;
            writeln!(out)?;
            return Ok(Outcome::Ok);
        }
        if plan.is_empty() {
            writeln!(out, "nothing to revert: no version or tombstone matches")?;
            return Ok(Outcome::Ok);
        }
        let would = if dry_run { "would " } else { "" };
        for k in &plan {
            let at = format!("{}/{}", k.project, k.key);
            let effective = match (&k.action, &k.forced) {
                (Action::Left { .. }, Some(f)) if self.force => f.as_ref(),
                (a, _) => a,
            };
            match effective {
                Action::Restore { to } => writeln!(
                    out,
                    "{would}restore {at} to {} (its body before {})",
                    to.id, k.first.id
                )?,
                Action::Delete => writeln!(out, "{would}delete {at} (it did not exist before)")?,
                Action::Unchanged => writeln!(out, "unchanged {at} (already as it was)")?,
                Action::Left { by } => writeln!(
                    out,
                    "left {at}: {} wrote it since ({}); --force takes it back too",
                    by.author.as_ref().map_or("someone", |a| a.name.as_str()),
                    by.id
                )?,
            }
        }
        if dry_run {
            writeln!(
                out,
                "nothing written ({}): run again with --yes to write it",
                if self.dry_run {
                    "--dry-run"
                } else {
                    "a terminal"
                }
            )?;
        }
        Ok(Outcome::Ok)
    }
}
