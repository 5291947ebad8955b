//! `context sync pull`.

use std::io::Write;

use clap::Args;

use super::describe_counts;
use context::outcome::Outcome;
use context::sync::{self, PullOptions, PullReport, plural};

use super::{RemoteFlag, Session, WaitFlag, print_json, print_warnings};
use crate::cli::{CliError, Env};

#[derive(Debug, Args, Clone)]
#[command(after_help = "Examples:\n  context sync pull --dry-run\n  context sync pull --merge")]
pub struct Pull {
    #[command(flatten)]
    pub remote: RemoteFlag,
    /// Let last-writer-wins replace local changes the other peer never saw (a backup is taken
    /// first; the replaced versions stay in history and are listed).
    #[arg(long)]
    pub force: bool,
    /// Where a local change conflicts, merge the two sides (three-way, text) and write the
    /// merge as a new local version; refuse only for what does not merge cleanly.
    #[arg(long)]
    pub merge: bool,
    /// Print what would be applied, and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// How long a missing changeset may be on its way (a file-sync tool delivers in any
    /// order) before its gap is bad data (exit 5); counted from when this home first met it.
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = context::duration::parse_wait)]
    pub transit_grace: std::time::Duration,
    #[command(flatten)]
    pub wait: WaitFlag,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

impl Pull {
    pub fn run(self, env: &Env, out: &mut dyn Write) -> Result<Outcome, CliError> {
        let report = self.report(env)?;
        print(&report, self.json, out)?;
        Ok(report.outcome())
    }

    /// Pulls and logs the run (a dry run, which changes nothing, is not logged).
    pub fn report(&self, env: &Env) -> Result<PullReport, CliError> {
        let mut session = Session::open(env, "pull", &self.wait)?;
        let opts = PullOptions {
            force: self.force,
            dry_run: self.dry_run,
            merge: self.merge,
            transit_grace_ms: Some(self.transit_grace.as_millis().min(i64::MAX as u128) as i64),
        };
        let (report, location) = session.with_remote(&self.remote, |store, remote| {
            sync::pull(store, remote, opts)
        })?;
        if !self.dry_run {
            let summary = serde_json::to_value(&report).unwrap_or_default();
            session.finish(location, report.outcome(), &report.per_project, summary);
        }
        Ok(report)
    }
}

/// "3 versions in default from /path (1 changeset)".
fn summary(r: &PullReport) -> String {
    let from_snapshot = match r.bootstrapped_from.as_slice() {
        [] => String::new(),
        seals => format!(", after the snapshot {}", seals.join(", ")),
    };
    format!(
        "{} from {} ({}{from_snapshot})",
        describe_counts(&r.per_project),
        r.remote,
        plural(r.changesets, "changeset")
    )
}

pub fn print(r: &PullReport, as_json: bool, out: &mut dyn Write) -> Result<(), CliError> {
    let skipped: Vec<String> = r
        .skipped
        .iter()
        .map(|s| format!("{}/{}: {}", r.remote, s.file, s.reason))
        .collect();
    print_warnings(&skipped)?;
    print_warnings(&r.warnings)?;
    if as_json {
        print_json(out, r)?;
    }
    let mut err = std::io::stderr().lock();
    if r.dry_run && !as_json {
        for p in &r.plan {
            writeln!(
                out,
                "{:<13} {}/{}  {} -> {}",
                p.action.as_str(),
                p.project,
                p.key,
                p.local.as_deref().unwrap_or("-"),
                p.winner
            )?;
        }
        if r.rows() > 0 {
            writeln!(
                out,
                "would apply {}; nothing changed (--dry-run)",
                summary(r)
            )?;
        }
    }
    // A refused pull writes its clean merges as resolutions.
    let merges_written = r.applied || (!r.conflicts.is_empty() && !r.forced && !r.dry_run);
    if merges_written && !as_json {
        for m in &r.merged {
            writeln!(
                out,
                "merged: {} in project {}: yours ({}) and theirs ({}) merged cleanly as {}",
                m.key, m.project, m.mine, m.theirs, m.version
            )?;
        }
    }
    if !r.conflicts.is_empty() {
        let refused = !r.forced;
        for c in &r.conflicts {
            let line = format!(
                "{}: {} in project {}: local version {} {} by {}",
                if refused { "conflict" } else { "replaced" },
                c.key,
                c.project,
                c.local.as_deref().unwrap_or("-"),
                if refused {
                    "would be replaced"
                } else {
                    "was replaced"
                },
                c.winner
            );
            if refused {
                match &c.why {
                    Some(why) => writeln!(err, "{line}; not merged: {why}")?,
                    None => writeln!(err, "{line}")?,
                }
            } else if !as_json {
                writeln!(
                    out,
                    "{line} (`context resolve {} --keep mine` brings yours back, `--merge` \
                     merges the two)",
                    c.key,
                )?;
            }
        }
        if refused {
            let merged = if r.merged.is_empty() {
                String::new()
            } else {
                match r.merged.len() {
                    1 => " The key that merged cleanly is written here as a new version.".into(),
                    n => format!(
                        " The {n} keys that merged cleanly are written here as new versions."
                    ),
                }
            };
            // After --merge, what is left did not merge: no use suggesting it again.
            let merge_hint = if r.conflicts.iter().any(|c| c.why.is_some()) {
                ""
            } else {
                " `--merge` merges text whose edits do not overlap;"
            };
            writeln!(
                err,
                "pull refused: {} would replace local changes that the other peer never saw; \
                 nothing of the pull was applied.{merged} {kept}`context resolve KEY --keep \
                 mine|theirs` or `--merge` settles it; then pull again.{merge_hint} `--force` \
                 lets the newest write win and keeps yours in history (a backup is taken \
                 first).",
                plural(r.conflicts.len() as u64, "key"),
                kept = if r.dry_run {
                    "Without --dry-run the other side of each is kept here; "
                } else {
                    "The other side of each is kept here: `context conflicts` lists it, \
                     `context diff KEY mine theirs` shows what differs, and "
                },
            )?;
        } else if !as_json {
            writeln!(
                out,
                "{} in conflict: `context conflicts` lists them, `context resolve KEY` settles each",
                plural(r.conflicts.len() as u64, "key")
            )?;
        }
    }
    if let Some(b) = &r.backup
        && !as_json
    {
        writeln!(
            out,
            "backup of the database before replacing local versions: {}",
            b.display()
        )?;
    }
    for b in &r.bad {
        writeln!(
            err,
            "bad changeset {}/{}: {}; its stream stops there",
            r.remote, b.file, b.reason
        )?;
    }
    if r.applied && r.rows() > 0 && !as_json {
        writeln!(out, "pulled {}", summary(r))?;
    }
    Ok(())
}
