//! `context sync status`.

use std::io::Write;

use clap::Args;

use serde::Serialize;

use context::outcome::Outcome;
use context::store::Store;
use context::sync::{self, status::LastRun};

use super::{RemoteFlag, print_json_pretty};
use crate::cli::{CliError, Env};

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  context sync status\n  context sync status --remote s3://my-bucket/context --json\n  context sync status --check || notify-send \"context sync is not working\"\n  context sync status --check --max-age 2h"
)]
pub struct Status {
    #[command(flatten)]
    remote: RemoteFlag,
    /// Print the status as JSON.
    #[arg(long)]
    json: bool,
    /// Only say whether sync works, from what this home recorded (no request to the remote):
    /// exit 0 when healthy (printing nothing), 6 with one line saying why when no sync
    /// completed within --max-age (or ever), the last run failed, a conflict waits for a
    /// person, or another peer has not been seen for 14 days.
    #[arg(long)]
    check: bool,
    /// With --check: how old the last completed sync may be (default 1h).
    #[arg(long, value_name = "DURATION", value_parser = context::duration::parse, requires = "check")]
    max_age: Option<std::time::Duration>,
}

/// One remote's report among several, with its name.
#[derive(Serialize)]
struct Named<T: Serialize> {
    name: String,
    #[serde(flatten)]
    report: T,
}

impl Status {
    /// The remote `--remote` names, else every remote of the home: one report each (a JSON
    /// array of them, each with its `name`, when there are several).
    pub fn run(self, env: &Env, out: &mut dyn Write) -> Result<Outcome, CliError> {
        let store = env.open_store_to_read()?;
        let each = self.remote.each(&store)?;
        if each.len() == 1 {
            let flag = &each[0].1;
            return if self.check {
                self.check(flag, &store, out)
            } else {
                self.one(flag, &store, env, out)
            };
        }
        let mut outcomes = Vec::new();
        if self.check {
            let mut reports = Vec::new();
            for (name, flag) in each {
                let name = name.unwrap_or_default();
                let health = self.health(&flag, &store)?;
                if !self.json && !health.healthy {
                    writeln!(out, "unhealthy: remote {name}: {}", health.reason)?;
                }
                outcomes.push(if health.healthy {
                    Outcome::Ok
                } else {
                    Outcome::Unhealthy
                });
                reports.push(Named {
                    name,
                    report: health,
                });
            }
            if self.json {
                print_json_pretty(out, &reports)?;
            }
            return Ok(context::sync::remotes::worst(outcomes));
        }
        if self.json {
            let keys = env.keys()?;
            let mut reports = Vec::new();
            for (name, flag) in each {
                let remote = flag.open(&store, &keys)?;
                let s = sync::status(&store, &remote)?;
                for p in &s.problems {
                    eprintln!("context: bad data: {p}");
                }
                outcomes.push(s.outcome());
                reports.push(Named {
                    name: name.unwrap_or_default(),
                    report: s,
                });
            }
            print_json_pretty(out, &reports)?;
            return Ok(context::sync::remotes::worst(outcomes));
        }
        for (i, (name, flag)) in each.iter().enumerate() {
            if i > 0 {
                writeln!(out)?;
            }
            writeln!(out, "name     {}", name.as_deref().unwrap_or_default())?;
            match self.one(flag, &store, env, out) {
                Ok(outcome) => outcomes.push(outcome),
                Err(e) => {
                    writeln!(
                        out,
                        "error    {}",
                        context::remote::redact_in(&e.to_string())
                    )?;
                    outcomes.push(e.outcome());
                }
            }
        }
        Ok(context::sync::remotes::worst(outcomes))
    }

    /// The status of one remote.
    fn one(
        &self,
        flag: &RemoteFlag,
        store: &Store,
        env: &Env,
        out: &mut dyn Write,
    ) -> Result<Outcome, CliError> {
        let remote = flag.open(store, &env.keys()?)?;
        let s = sync::status(store, &remote)?;
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
        writeln!(
            out,
            "synced   {}",
            s.last_good_sync_at.as_deref().map_or(
                "never (no pull and push have both succeeded)".to_string(),
                |t| {
                    format!(
                        "{} (the last pull and push that both succeeded)",
                        context::clock::local_of(t)
                    )
                }
            )
        )?;
        if let Some(e) = &s.last_error {
            writeln!(out, "error    {e}")?;
        }
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
            // Two machines of one name (homes made on hosts of the same name) are told apart
            // by their peer ids.
            let same_name = p.host.is_some()
                && (p.host.as_deref() == Some(s.host.as_str())
                    || s.peers
                        .iter()
                        .any(|o| o.peer != p.peer && o.host.is_some() && o.host == p.host));
            let label = match &p.host {
                Some(h) if same_name => format!("{h} ({})", &p.peer[..8.min(p.peer.len())]),
                _ => crate::cli::peer_label(p.host.as_deref(), &p.peer),
            };
            writeln!(out, "peer seen {label} generation {}{pushed}", p.generation)?;
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

impl Status {
    /// The health of this home's sync with one remote, from its own records.
    fn health(&self, flag: &RemoteFlag, store: &Store) -> Result<sync::Health, CliError> {
        let location = flag.canonical(store)?;
        let max_age = self.max_age.map_or(sync::health::DEFAULT_MAX_AGE_MS, |d| {
            i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
        });
        Ok(sync::health(store, &location, max_age)?)
    }

    /// `--check`: the health of this home's sync with the remote, from its own records.
    fn check(
        &self,
        flag: &RemoteFlag,
        store: &Store,
        out: &mut dyn Write,
    ) -> Result<Outcome, CliError> {
        let health = self.health(flag, store)?;
        if self.json {
            print_json_pretty(out, &health)?;
        } else if !health.healthy {
            writeln!(out, "unhealthy: {}", health.reason)?;
        }
        Ok(if health.healthy {
            Outcome::Ok
        } else {
            Outcome::Unhealthy
        })
    }
}
