//! `put`, `get`, `rm`, `ls`, `history`, `restore`: flags, and how their results are printed.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use serde::Serialize;

use context::clock::{local, rfc3339};
use context::duration;
use context::store::{Listed, State, Version};

use super::{CliError, Env};

/// `--author NAME`, on every command that writes.
#[derive(Debug, Args)]
pub struct AuthorFlag {
    /// Who writes: recorded with the version or tombstone this command writes, shown by
    /// `history` (else $CONTEXT_AUTHOR, else your login name).
    #[arg(long, value_name = "NAME")]
    author: Option<String>,
}

impl AuthorFlag {
    /// Makes `--author` the author of what this command writes.
    pub(super) fn apply(&self) -> Result<(), CliError> {
        match &self.author {
            Some(name) => super::set_author(name),
            None => Ok(()),
        }
    }
}

#[derive(Debug, Args)]
pub struct ProjectFlag {
    /// The project (else $CONTEXT_PROJECT, else `default`).
    #[arg(long, value_name = "NAME")]
    pub(super) project: Option<String>,
}

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  echo 'Litestream ships WAL segments.' | context put research/background-sync\n  context put plan/q1 --file plan.md --ttl 7d --project work"
)]
pub struct Put {
    /// The document's key, e.g. `research/background-sync` (`/` groups keys; `ls PREFIX` lists a group).
    key: String,
    /// Read the body from PATH instead of stdin (`-` is stdin).
    #[arg(long, value_name = "PATH")]
    file: Option<PathBuf>,
    /// Expire the version after DURATION (30s, 15m, 12h, 7d, 2w, 1h30m) on every peer.
    #[arg(long, value_name = "DURATION", allow_hyphen_values = true, value_parser = duration::parse)]
    ttl: Option<Duration>,
    #[command(flatten)]
    project: ProjectFlag,
    #[command(flatten)]
    author: AuthorFlag,
}

impl Put {
    pub fn run(self, env: &Env, out: &mut dyn Write) -> Result<(), CliError> {
        self.author.apply()?;
        let ttl = self.ttl;
        let body = read_body(self.file.as_ref())?;
        let mut store = env.open_store()?;
        let version = store.put(&env.project(self.project.project), &self.key, &body, ttl)?;
        writeln!(out, "{}", version.id)?;
        env.sync_after_write(&store);
        Ok(())
    }
}

/// The body from `file` or stdin, read no further than one byte past the limit (a larger one
/// is refused by the store without holding it all).
fn read_body(file: Option<&PathBuf>) -> Result<Vec<u8>, CliError> {
    let mut body = Vec::new();
    let limit = context::store::MAX_BODY_BYTES as u64 + 1;
    match file.filter(|p| p.as_os_str() != "-") {
        Some(path) => {
            let read = std::fs::File::open(path).and_then(|f| f.take(limit).read_to_end(&mut body));
            read.map_err(|source| CliError::ReadInput {
                what: path.display().to_string(),
                source,
            })?;
        }
        None => {
            // On a terminal, say what is awaited rather than seem to hang.
            if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
                eprintln!(
                    "context: reading the body from stdin (end with Ctrl-D; or pass --file PATH)"
                );
            }
            std::io::stdin()
                .lock()
                .take(limit)
                .read_to_end(&mut body)
                .map_err(|source| CliError::ReadInput {
                    what: "stdin".to_string(),
                    source,
                })?;
        }
    }
    Ok(body)
}

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  context edit plan/q1\n  EDITOR='code --wait' context edit notes/today --project work"
)]
pub struct Edit {
    /// The document's key (a new document if it has none yet).
    key: String,
    #[command(flatten)]
    project: ProjectFlag,
    #[command(flatten)]
    author: AuthorFlag,
}

impl Edit {
    /// Opens `$VISUAL`, else `$EDITOR`, else `vi`, on a temporary copy of the current body;
    /// writes a new version only if the editor exits 0 and the body changed.
    pub fn run(self, env: &Env, out: &mut dyn Write) -> Result<(), CliError> {
        self.author.apply()?;
        let project = env.project(self.project.project);
        let mut store = env.open_store()?;
        let before = match store.get(&project, &self.key) {
            Ok(doc) => Some(doc.body),
            Err(context::store::StoreError::NotFound { .. }) => None,
            Err(e) => return Err(e.into()),
        };
        let editor = env
            .var("VISUAL")
            .filter(|v| !v.trim().is_empty())
            .or_else(|| env.var("EDITOR").filter(|v| !v.trim().is_empty()))
            .unwrap_or_else(|| "vi".to_string());
        let words = shlex::split(&editor)
            .filter(|w| !w.is_empty())
            .ok_or_else(|| CliError::BadValue {
                flag: "$EDITOR",
                value: editor.clone(),
                reason: "not a command line (unbalanced quotes?)".to_string(),
            })?;
        // The key's last segment names the file, so the editor can tell what it holds.
        let name = self.key.rsplit('/').next().unwrap_or("document");
        let file = tempfile::Builder::new()
            .prefix("context-edit-")
            .suffix(&format!("-{name}"))
            .tempfile()
            .map_err(|source| CliError::WriteOutput {
                what: "a temporary file for the editor".to_string(),
                source,
            })?;
        std::fs::write(file.path(), before.as_deref().unwrap_or_default()).map_err(|source| {
            CliError::WriteOutput {
                what: file.path().display().to_string(),
                source,
            }
        })?;
        let status = std::process::Command::new(&words[0])
            .args(&words[1..])
            .arg(file.path())
            .status()
            .map_err(|source| CliError::ReadInput {
                what: format!("the editor {editor:?}"),
                source,
            })?;
        if !status.success() {
            return Err(CliError::Editor {
                editor,
                status: status.to_string(),
            });
        }
        let after = std::fs::read(file.path()).map_err(|source| CliError::ReadInput {
            what: file.path().display().to_string(),
            source,
        })?;
        if before.as_deref() == Some(after.as_slice()) || (before.is_none() && after.is_empty()) {
            if !super::quiet() {
                eprintln!("context: {} unchanged; nothing written", self.key);
            }
            return Ok(());
        }
        let version = store.put(&project, &self.key, &after, None)?;
        writeln!(out, "{}", version.id)?;
        env.sync_after_write(&store);
        Ok(())
    }
}

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  context get research/background-sync\n  context get plan/q1 --version 4e128677 --project work"
)]
pub struct Get {
    /// The document's key.
    key: String,
    /// A version: its short form from `context history KEY`, a full id, or a unique prefix.
    #[arg(long, value_name = "ID")]
    version: Option<String>,
    #[command(flatten)]
    project: ProjectFlag,
}

impl Get {
    pub fn run(self, env: &Env, out: &mut dyn Write) -> Result<(), CliError> {
        let store = env.open_store_to_read()?;
        let project = env.project(self.project.project);
        let doc = match &self.version {
            Some(id) => store.get_version(&project, &self.key, id)?,
            None => store.get(&project, &self.key)?,
        };
        out.write_all(&doc.body)?;
        Ok(())
    }
}

#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  context rm tmp/scratch\n  context rm plan/q1 --project work")]
pub struct Rm {
    /// The document's key.
    key: String,
    #[command(flatten)]
    project: ProjectFlag,
    #[command(flatten)]
    author: AuthorFlag,
}

impl Rm {
    pub fn run(self, env: &Env, out: &mut dyn Write) -> Result<(), CliError> {
        self.author.apply()?;
        let mut store = env.open_store()?;
        let tombstone = store.rm(&env.project(self.project.project), &self.key)?;
        writeln!(out, "{}", tombstone.id)?;
        env.sync_after_write(&store);
        Ok(())
    }
}

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  context ls research/\n  context ls --deleted --json --project work"
)]
pub struct Ls {
    /// Only keys that begin with PREFIX.
    prefix: Option<String>,
    /// Also list deleted and expired keys.
    #[arg(long)]
    deleted: bool,
    /// Only keys whose current version (or tombstone, with --deleted) NAME wrote.
    #[arg(long = "author", value_name = "NAME", id = "ls_author")]
    author: Option<String>,
    /// Print a JSON array.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    project: ProjectFlag,
}

impl Ls {
    pub fn run(self, env: &Env, out: &mut dyn Write) -> Result<(), CliError> {
        let store = env.open_store_to_read()?;
        let project = env.project(self.project.project);
        let prefix = self.prefix.as_deref().unwrap_or("");
        let no_project = |empty: bool| -> Result<(), CliError> {
            if empty && !store.projects()?.contains(&project) {
                writeln!(
                    std::io::stderr().lock(),
                    "context: no project {project:?} in this store (`context projects` lists them)"
                )?;
            }
            Ok(())
        };
        if self.json || self.author.is_some() {
            let mut entries = store.ls(&project, prefix, self.deleted)?;
            no_project(entries.is_empty())?;
            if let Some(name) = &self.author {
                entries.retain(|e| e.current.author.as_ref().is_some_and(|a| &a.name == name));
            }
            if !self.json {
                for e in &entries {
                    match e.state {
                        State::Live => writeln!(out, "{}", e.current.key)?,
                        state => writeln!(out, "{} ({})", e.current.key, state.as_str())?,
                    }
                }
                return Ok(());
            }
            let list: Vec<_> = entries.iter().map(entry_json).collect();
            serde_json::to_writer_pretty(&mut *out, &list).map_err(std::io::Error::from)?;
            writeln!(out)?;
            return Ok(());
        }
        // Keys and states only: the table of current rows alone.
        let keys = store.ls_keys(&project, prefix, self.deleted)?;
        no_project(keys.is_empty())?;
        for (key, state) in &keys {
            match state {
                State::Live => writeln!(out, "{key}")?,
                state => writeln!(out, "{key} ({})", state.as_str())?,
            }
        }
        Ok(())
    }
}

/// A key in `ls --json`.
#[derive(Serialize)]
struct ListedJson<'a> {
    key: &'a str,
    project: &'a str,
    state: &'static str,
    version: String,
    size: Option<u64>,
    updated_at: String,
    expires_at: Option<String>,
    /// Who wrote the current version, where recorded.
    author: Option<&'a str>,
}

fn entry_json(e: &Listed) -> ListedJson<'_> {
    let v = &e.current;
    ListedJson {
        key: &v.key,
        project: &v.project,
        state: e.state.as_str(),
        version: v.id.to_string(),
        size: v.size,
        updated_at: rfc3339(v.hlc.wall_ms()),
        expires_at: v.expires_at_ms.map(rfc3339),
        author: v.author.as_ref().map(|a| a.name.as_str()),
    }
}

#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  context projects\n  context projects --json")]
pub struct Projects {
    /// Print a JSON array.
    #[arg(long)]
    json: bool,
}

/// A project in `projects --json`.
#[derive(Serialize)]
struct ProjectJson {
    project: String,
    /// Live documents (neither deleted nor expired).
    documents: usize,
    /// Documents deleted or expired, kept with their history.
    deleted: usize,
}

impl Projects {
    pub fn run(self, env: &Env, out: &mut dyn Write) -> Result<(), CliError> {
        let store = env.open_store_to_read()?;
        let mut list = Vec::new();
        for project in store.projects()? {
            let all = store.ls_keys(&project, "", true)?;
            let live = all.iter().filter(|(_, s)| *s == State::Live).count();
            list.push(ProjectJson {
                project,
                documents: live,
                deleted: all.len() - live,
            });
        }
        if self.json {
            serde_json::to_writer_pretty(&mut *out, &list).map_err(std::io::Error::from)?;
            writeln!(out)?;
            return Ok(());
        }
        for p in &list {
            writeln!(
                out,
                "{}  {} document{}{}",
                p.project,
                p.documents,
                if p.documents == 1 { "" } else { "s" },
                if p.deleted > 0 {
                    format!(" ({} deleted or expired)", p.deleted)
                } else {
                    String::new()
                }
            )?;
        }
        Ok(())
    }
}

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  context history plan/q1\n  context history plan/q1 --json | jq -r '.[1].id'"
)]
pub struct History {
    /// The document's key.
    key: String,
    /// Only the versions and tombstones NAME wrote.
    #[arg(long = "author", value_name = "NAME", id = "history_author")]
    author: Option<String>,
    /// Print a JSON array.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    project: ProjectFlag,
}

/// A rename chain is followed this far back at most.
const MAX_RENAMES: usize = 100;

impl History {
    pub fn run(self, env: &Env, out: &mut dyn Write) -> Result<(), CliError> {
        let store = env.open_store_to_read()?;
        let project = env.project(self.project.project);
        // The key's own rows, then, where it was renamed from another key (`mv`), that key's
        // rows up to the rename, and so on back.
        let mut versions = store.history(&project, &self.key)?;
        let mut renames = Vec::new();
        let mut key = self.key.clone();
        while renames.len() < MAX_RENAMES {
            let Some(from) = store.renamed_from(&project, &key)? else {
                break;
            };
            renames.push((versions.len(), from.key.clone()));
            let older = store.history(&project, &from.key)?;
            versions.extend(older.into_iter().filter(|v| v.hlc <= from.hlc));
            key = from.key;
        }
        if let Some(name) = &self.author {
            // Where the renames fall is kept by position: only the plain table shows them.
            versions.retain(|v| v.author.as_ref().is_some_and(|a| &a.name == name));
            renames.clear();
        }
        let mut names = std::collections::HashMap::new();
        for v in &versions {
            if let std::collections::hash_map::Entry::Vacant(e) = names.entry(v.peer) {
                e.insert(store.host_of(v.peer)?);
            }
        }
        if self.json {
            let list: Vec<_> = versions
                .iter()
                .map(|v| version_json(v, names[&v.peer].clone()))
                .collect();
            serde_json::to_writer_pretty(&mut *out, &list).map_err(std::io::Error::from)?;
            writeln!(out)?;
            return Ok(());
        }
        // Fits 100 columns: short ids, local time to the second, the machine by name.
        let ids: Vec<_> = versions.iter().map(|v| v.id).collect();
        let len = context::ids::short_len(&ids);
        let hosts: std::collections::HashMap<_, String> = names
            .into_iter()
            .map(|(peer, name)| {
                (
                    peer,
                    name.unwrap_or_else(|| peer.to_string()[..8].to_string()),
                )
            })
            .collect();
        writeln!(
            out,
            "{:<len$}  {:<19}  {:<9}  {:<10}  {:<11}  {:>6}  PARENT",
            "ID", "TIME", "KIND", "AUTHOR", "MACHINE", "SIZE"
        )?;
        for (i, v) in versions.iter().enumerate() {
            if let Some((_, from)) = renames.iter().find(|(at, _)| *at == i) {
                writeln!(out, "renamed from {from}:")?;
            }
            writeln!(out, "{}", history_line(v, len, &hosts[&v.peer]))?;
        }
        Ok(())
    }
}

/// One version in `history`'s table.
fn history_line(v: &Version, len: usize, host: &str) -> String {
    let size = v.size.map_or_else(|| "-".to_string(), |s| s.to_string());
    let parent = v.parent.map_or_else(|| "-".to_string(), |p| p.short(len));
    // The expiry as month, day and time: the year is the writing's, give or take.
    let expiry = v
        .expires_at_ms
        .map(|at| {
            format!(
                "  exp {}",
                local(at).chars().skip(5).take(11).collect::<String>()
            )
        })
        .unwrap_or_default();
    let host: String = host.chars().take(11).collect();
    let author: String = v
        .author
        .as_ref()
        .map_or("-".to_string(), |a| a.name.chars().take(10).collect());
    // With -v, the peer's id and the author's session too (past the 100 columns).
    let peer = if super::verbose() {
        let session = v
            .author
            .as_ref()
            .and_then(|a| a.session.as_deref())
            .map(|s| format!("  session {s}"))
            .unwrap_or_default();
        format!("  peer {}{session}", v.peer)
    } else {
        String::new()
    };
    format!(
        "{:<len$}  {:<19}  {:<9}  {author:<10}  {host:<11}  {:>6}  {parent}{expiry}{peer}",
        v.id.short(len),
        local(v.hlc.wall_ms()),
        v.kind.as_str(),
        size,
    )
}

/// A version in `history --json`.
#[derive(Serialize)]
struct VersionJson {
    id: String,
    /// The key it is a version of: the key asked for, or one it was renamed from.
    key: String,
    kind: &'static str,
    peer: String,
    /// The name of the machine that wrote it, where known.
    host: Option<String>,
    /// Who wrote it (a person's login name, an agent's name), where recorded.
    author: Option<String>,
    /// The session an agent wrote it in, where recorded.
    session: Option<String>,
    parent: Option<String>,
    created_at: String,
    /// The hybrid clock as a decimal string: a 64-bit number a script's doubles cannot hold.
    hlc: String,
    size: Option<u64>,
    sha256: Option<String>,
    expires_at: Option<String>,
}

fn version_json(v: &Version, host: Option<String>) -> VersionJson {
    VersionJson {
        id: v.id.to_string(),
        key: v.key.clone(),
        kind: v.kind.as_str(),
        peer: v.peer.to_string(),
        host,
        author: v.author.as_ref().map(|a| a.name.clone()),
        session: v.author.as_ref().and_then(|a| a.session.clone()),
        parent: v.parent.map(|p| p.to_string()),
        created_at: rfc3339(v.hlc.wall_ms()),
        hlc: v.hlc.to_i64().to_string(),
        size: v.size,
        sha256: v.sha256.map(hex),
        expires_at: v.expires_at_ms.map(rfc3339),
    }
}

fn hex(bytes: [u8; 32]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  context history plan/q1      # find the version\n  context restore plan/q1 4e128677"
)]
pub struct Restore {
    /// The document's key.
    key: String,
    /// The version to bring back: its short form from `context history KEY`, a full id, or a
    /// unique prefix.
    version: String,
    #[command(flatten)]
    project: ProjectFlag,
    #[command(flatten)]
    author: AuthorFlag,
}

impl Restore {
    pub fn run(self, env: &Env, out: &mut dyn Write) -> Result<(), CliError> {
        self.author.apply()?;
        let mut store = env.open_store()?;
        let version =
            store.restore(&env.project(self.project.project), &self.key, &self.version)?;
        writeln!(out, "{}", version.id)?;
        env.sync_after_write(&store);
        Ok(())
    }
}

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  context mv plan/q1 plan/2027-q1\n  context history plan/2027-q1   # its history before the rename too"
)]
pub struct Mv {
    /// The document's key now (it must be live).
    old: String,
    /// Its new key (one that never had a version).
    new: String,
    #[command(flatten)]
    project: ProjectFlag,
    #[command(flatten)]
    author: AuthorFlag,
}

impl Mv {
    pub fn run(self, env: &Env, out: &mut dyn Write) -> Result<(), CliError> {
        self.author.apply()?;
        let mut store = env.open_store()?;
        let project = env.project(self.project.project);
        let (moved, _) = store.mv(&project, &self.old, &self.new)?;
        writeln!(out, "{}", moved.id)?;
        env.sync_after_write(&store);
        Ok(())
    }
}
