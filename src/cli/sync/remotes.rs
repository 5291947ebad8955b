//! `context sync remote`: a home's named remotes, as git names them. `add NAME URL
//! [--projects P1,P2]`, `list`, `remove NAME`, `rename OLD NEW`; and, as before, `remote URL`
//! (the remote named `default`), `remote` alone (prints it) and `remote --unset` (forgets it).
//!
//! The remotes live in the home's database, printed by `remote list` and changed by these
//! commands only: a config file a person edits by hand would be a second source of truth for
//! what sync keeps in the database anyway (each remote's streams, keys and acknowledgements),
//! and a typo in it would surface at 3 a.m. in a cron job instead of at the prompt.

use std::io::Write;

use clap::{Args, Subcommand};
use serde::Serialize;

use context::outcome::Outcome;
use context::remote::{self, Location};
use context::store::NamedRemote;
use context::sync::SyncError;
use context::sync::remotes::{DEFAULT_NAME, ListChange, check_name, list_change};

use super::print_json_pretty;
use crate::cli::{CliError, Env};

#[derive(Debug, Args)]
#[command(
    args_conflicts_with_subcommands = true,
    after_help = "Examples:\n  context sync remote add laptop ~/Sync/context\n  context sync remote add share s3://team-bucket/notes --projects shared\n  context sync remote list\n  context sync remote ~/Sync/context       # the remote named `default`\n  context sync remote --unset"
)]
pub struct SetRemote {
    #[command(subcommand)]
    command: Option<RemoteCommand>,
    #[arg(value_name = "R", conflicts_with = "unset", help = format!(
        "The remote named `default`: {}. It must exist. Without it, prints that remote",
        remote::registry::known_forms()
    ))]
    location: Option<Location>,
    /// Forget the remote named `default` (nothing in it is touched).
    #[arg(long)]
    unset: bool,
}

#[derive(Debug, Subcommand)]
enum RemoteCommand {
    /// Name a remote (it must exist); with --projects, only those projects travel through it.
    /// Again with the same name and URL: sets its projects anew.
    #[command(
        after_help = "Examples:\n  context sync remote add nas ssh://nas/srv/context\n  context sync remote add share /mnt/share/context --projects shared,plans"
    )]
    Add {
        /// Its name: a letter or digit, then letters, digits, `.`, `_`, `-`.
        name: String,
        /// Where it is (a path or a URL).
        url: Location,
        /// The projects that travel through it, both ways (comma-separated; default: all).
        #[arg(long, value_delimiter = ',', value_name = "P1,P2")]
        projects: Option<Vec<String>>,
    },
    /// Every remote of this home: name, URL, projects, encrypted or not, last good sync.
    #[command(
        after_help = "Examples:\n  context sync remote list\n  context sync remote list --json"
    )]
    List {
        /// Print them as a JSON array.
        #[arg(long)]
        json: bool,
    },
    /// Forget a remote here; nothing in the remote is touched.
    #[command(after_help = "Examples:\n  context sync remote remove share")]
    Remove {
        /// The remote's name.
        name: String,
    },
    /// Rename a remote here; nothing in the remote is touched.
    #[command(after_help = "Examples:\n  context sync remote rename default laptop")]
    Rename {
        /// Its name now.
        old: String,
        /// Its new name.
        new: String,
    },
}

/// A remote as `remote list --json` shows it.
#[derive(Serialize)]
struct Listed {
    name: String,
    url: String,
    projects: Option<Vec<String>>,
    encrypted: bool,
    last_sync_at: Option<String>,
}

impl SetRemote {
    pub fn run(self, env: &Env, out: &mut dyn Write) -> Result<Outcome, CliError> {
        match self.command {
            Some(RemoteCommand::Add {
                name,
                url,
                projects,
            }) => add(env, &name, &url, projects, out),
            Some(RemoteCommand::List { json }) => list(env, json, out),
            Some(RemoteCommand::Remove { name }) => {
                let store = env.open_store()?;
                let r = context::sync::remotes::named(&store, &name)?;
                store.remove_named_remote(&name)?;
                writeln!(
                    out,
                    "forgot the remote {name} ({}); nothing in it was touched",
                    r.url
                )?;
                Ok(Outcome::Ok)
            }
            Some(RemoteCommand::Rename { old, new }) => {
                check_name(&new).map_err(CliError::Usage)?;
                let store = env.open_store()?;
                context::sync::remotes::named(&store, &old)?;
                if store.named_remote(&new)?.is_some() {
                    return Err(CliError::Usage(format!(
                        "this home already has a remote named {new:?}: remove it first"
                    )));
                }
                store.rename_named_remote(&old, &new)?;
                writeln!(out, "renamed the remote {old} to {new}")?;
                Ok(Outcome::Ok)
            }
            None => self.default(env, out),
        }
    }

    /// `sync remote [URL] [--unset]`: the remote named `default`.
    fn default(self, env: &Env, out: &mut dyn Write) -> Result<Outcome, CliError> {
        let Some(location) = self.location else {
            let store = env.open_store()?;
            if self.unset {
                match store.named_remote(DEFAULT_NAME)? {
                    Some(old) => {
                        store.remove_named_remote(DEFAULT_NAME)?;
                        writeln!(out, "forgot the default remote {}", old.url)?;
                    }
                    None => writeln!(out, "no default remote was set")?,
                }
                return Ok(Outcome::Ok);
            }
            let current = context::sync::remotes::default(&store)?;
            writeln!(out, "{}", current.location)?;
            return Ok(Outcome::Ok);
        };
        let projects = env
            .open_store_to_read()?
            .named_remote(DEFAULT_NAME)?
            .and_then(|r| r.projects);
        add(env, DEFAULT_NAME, &location, projects, out)
    }
}

/// Names the remote at `url` (reached once, so a typo is caught now rather than at the first
/// cron tick; the remote's own normalised form is what is kept). A name already given to
/// another URL is refused; the same name and URL again sets the projects anew.
fn add(
    env: &Env,
    name: &str,
    url: &Location,
    projects: Option<Vec<String>>,
    out: &mut dyn Write,
) -> Result<Outcome, CliError> {
    check_name(name).map_err(CliError::Usage)?;
    let projects = match projects {
        None => None,
        Some(list) => {
            let mut list: Vec<String> = list
                .into_iter()
                .map(|p| p.trim().to_string())
                .filter(|p| !p.is_empty())
                .collect();
            for p in &list {
                context::store::check_project(p).map_err(|e| CliError::Usage(e.to_string()))?;
            }
            list.sort();
            list.dedup();
            if list.is_empty() {
                return Err(CliError::Usage(
                    "--projects names no project (leave it out for all)".into(),
                ));
            }
            Some(list)
        }
    };
    let remote = remote::open(url).map_err(SyncError::from)?;
    remote.probe().map_err(SyncError::from)?;
    let shown = url.to_string();
    let kept = match url.target::<remote::FolderTarget>() {
        // A folder is kept as its absolute path (the working directory changes).
        Some(_) => remote.location(),
        None => shown,
    };
    let store = env.open_store()?;
    let existing = store.named_remote(name)?;
    if let Some(old) = &existing
        && name != DEFAULT_NAME
        && Location::parse(&old.url).map(|l| l.canonical()).ok() != Some(url.canonical())
    {
        return Err(CliError::Usage(format!(
            "this home already has a remote named {name:?} ({}): remove it first, or choose \
             another name",
            old.url
        )));
    }
    // Projects added to the list of a remote already named: its next push publishes their
    // history. Projects taken out: no longer published there; what it holds of them stays.
    let change = match &existing {
        None => ListChange::default(),
        Some(old) => list_change(old, &projects, store.projects()?),
    };
    store.set_named_remote(&NamedRemote {
        name: name.to_string(),
        url: kept.clone(),
        projects: projects.clone(),
        added_at_ms: existing
            .as_ref()
            .map_or_else(|| store.now_ms(), |r| r.added_at_ms),
        backfill: change.backfill,
    })?;
    let scope = match &projects {
        None => "all projects".to_string(),
        Some(p) => format!("projects {}", p.join(", ")),
    };
    if name == DEFAULT_NAME && existing.is_none() {
        writeln!(out, "default remote: {kept}")?;
    } else {
        writeln!(out, "remote {name}: {kept} ({scope})")?;
    }
    if !change.added.is_empty() {
        writeln!(
            out,
            "the next push publishes the history of {} there",
            change.added.join(", ")
        )?;
    }
    if !change.removed.is_empty() {
        writeln!(
            out,
            "{} no longer published there; what it already holds of them stays (nothing in \
             the remote is deleted)",
            change.removed.join(", ")
        )?;
    }
    Ok(Outcome::Ok)
}

fn list(env: &Env, json: bool, out: &mut dyn Write) -> Result<Outcome, CliError> {
    let store = env.open_store_to_read()?;
    let mut listed = Vec::new();
    for r in store.named_remotes()? {
        let location = Location::parse(&r.url).ok();
        let canonical = location.as_ref().map(|l| l.canonical());
        let encrypted = match &canonical {
            Some(c) => context::sync::encryption::known_encrypted(&store, c)?,
            None => false,
        };
        let last_sync_at = match &canonical {
            Some(c) => context::sync::health(&store, c, i64::MAX)?.last_good_sync_at,
            None => None,
        };
        listed.push(Listed {
            name: r.name,
            url: remote::redact(&r.url),
            projects: r.projects,
            encrypted,
            last_sync_at,
        });
    }
    if json {
        print_json_pretty(out, &listed)?;
        return Ok(Outcome::Ok);
    }
    if listed.is_empty() {
        writeln!(
            out,
            "no remotes: add one with `context sync remote add NAME URL`"
        )?;
        return Ok(Outcome::Ok);
    }
    for l in &listed {
        writeln!(
            out,
            "{}\t{}\t{}\t{}\t{}",
            l.name,
            l.url,
            l.projects
                .as_ref()
                .map_or("all projects".to_string(), |p| p.join(",")),
            if l.encrypted { "encrypted" } else { "plain" },
            l.last_sync_at
                .as_deref()
                .map_or("never synced".to_string(), |t| format!(
                    "synced {}",
                    context::clock::local_of(t)
                )),
        )?;
    }
    Ok(Outcome::Ok)
}
