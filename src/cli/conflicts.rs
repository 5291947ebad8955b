//! `conflicts`, `resolve` and `diff`: seeing where two machines edited the same document, and
//! settling it.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;
use serde::Serialize;

use context::clock::rfc3339;
use context::merge;
use context::record::Kind;
use context::resolve::{self, How, Keep, ResolveError};
use context::store::{Conflict, Store, Version};

use super::documents::{AuthorFlag, ProjectFlag};
use super::{CliError, Env};

#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  context conflicts\n  context conflicts --json")]
pub struct Conflicts {
    /// Print a JSON object: {"conflicts": [...]}.
    #[arg(long)]
    json: bool,
}

/// One side of a conflict in `conflicts --json`.
#[derive(Serialize)]
struct SideJson {
    version: String,
    kind: &'static str,
    peer: String,
    /// The machine it was written on, where known.
    host: Option<String>,
    written_at: String,
    size: Option<u64>,
    /// Whether this side is the key's current version (the one last-writer-wins chose).
    current: bool,
}

#[derive(Serialize)]
struct ConflictJson {
    project: String,
    key: String,
    mine: SideJson,
    theirs: SideJson,
    /// The newest version both sides descend from; null when they share no history.
    ancestor: Option<String>,
    /// Whether this machine wrote one of the sides; when not (a third machine), `mine` is the
    /// current side and `theirs` the other.
    local: bool,
    /// Whether `theirs` came with a refused pull and is not applied yet: kept here to be seen
    /// and settled before pulling again.
    incoming: bool,
}

#[derive(Serialize)]
struct ConflictsJson {
    conflicts: Vec<ConflictJson>,
}

fn side(store: &Store, v: &Version, current: bool) -> Result<SideJson, CliError> {
    Ok(SideJson {
        version: v.id.to_string(),
        kind: v.kind.as_str(),
        peer: v.peer.to_string(),
        host: store.host_of(v.peer)?,
        written_at: rfc3339(v.hlc.wall_ms()),
        size: v.size,
        current,
    })
}

fn conflict_json(store: &Store, c: &Conflict) -> Result<ConflictJson, CliError> {
    Ok(ConflictJson {
        project: c.project.clone(),
        key: c.key.clone(),
        mine: side(store, &c.mine, c.mine.id == c.current)?,
        theirs: side(store, &c.theirs, c.theirs.id == c.current)?,
        ancestor: c.ancestor.as_ref().map(|a| a.id.to_string()),
        local: c.local,
        incoming: c.incoming,
    })
}

/// What the two sides are called: `mine` and `theirs` where this machine wrote one of them,
/// else (a third machine) `current` and `other`.
fn side_names(local: bool) -> (&'static str, &'static str) {
    if local {
        ("mine", "theirs")
    } else {
        ("current", "other")
    }
}

impl Conflicts {
    pub fn run(self, env: &Env, out: &mut dyn Write) -> Result<(), CliError> {
        let store = env.open_store_to_read()?;
        let conflicts = store.conflicts()?;
        let list = conflicts
            .iter()
            .map(|c| conflict_json(&store, c))
            .collect::<Result<Vec<_>, _>>()?;
        if self.json {
            serde_json::to_writer_pretty(&mut *out, &ConflictsJson { conflicts: list })
                .map_err(std::io::Error::from)?;
            writeln!(out)?;
            return Ok(());
        }
        if list.is_empty() {
            writeln!(out, "no conflicts")?;
            return Ok(());
        }
        for (c, conflict) in list.iter().zip(&conflicts) {
            writeln!(out, "{} (project {})", c.key, c.project)?;
            // Short ids, as `history` shows them: unique within the key's history, and what
            // `resolve --keep` and `diff` take.
            let mut ids: Vec<_> = store
                .history(&c.project, &c.key)?
                .iter()
                .map(|v| v.id)
                .collect();
            if conflict.incoming {
                ids.push(conflict.theirs.id);
            }
            let len = context::ids::short_len(&ids);
            let names = side_names(conflict.local);
            let sides = [
                (names.0, &c.mine, &conflict.mine),
                (names.1, &c.theirs, &conflict.theirs),
            ];
            for (name, s, v) in sides {
                let note = if s.current {
                    "  (current)"
                } else if c.incoming {
                    "  (incoming: a pull was refused, not applied yet)"
                } else {
                    ""
                };
                writeln!(
                    out,
                    "  {name:<7} {}  {}  {:<9}  {}{note}",
                    v.id.short(len),
                    context::clock::local_of(&s.written_at),
                    s.kind,
                    super::peer_label(s.host.as_deref(), &s.peer),
                )?;
            }
        }
        let (a, b) = if conflicts.iter().all(|c| c.local) {
            side_names(true)
        } else if conflicts.iter().all(|c| !c.local) {
            side_names(false)
        } else {
            ("mine|current", "theirs|other")
        };
        writeln!(
            out,
            "settle each with `context resolve KEY --keep {a}`, `--keep {b}`, or `--merge`; \
             `context diff KEY {} {}` shows what differs",
            a.split('|').next().unwrap_or(a),
            b.split('|').next().unwrap_or(b),
        )?;
        Ok(())
    }
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("how").required(true).args(["keep", "merge"])))]
#[command(
    after_help = "Examples:\n  context resolve plan/q1 --keep mine\n  context resolve plan/q1 --merge --output merged.md   # then edit merged.md and `context put plan/q1 --file merged.md`"
)]
pub struct Resolve {
    /// The document's key.
    key: String,
    /// Keep one side: `mine` (this machine's), `theirs` (the other), or a version id (or a
    /// unique prefix of one) from `context history KEY`. On a machine that wrote neither side,
    /// `current` and `other` name them.
    #[arg(long, value_name = "mine|theirs|VERSION")]
    keep: Option<String>,
    /// Merge the two sides against their common ancestor (line-based, text only). Where both
    /// changed the same lines nothing is written and the status is 3.
    #[arg(long)]
    merge: bool,
    /// With `--merge`: where the merge has conflicting lines, write it to FILE with conflict
    /// markers, for you to edit and `context put KEY --file FILE`.
    #[arg(long, value_name = "FILE", requires = "merge")]
    output: Option<PathBuf>,
    #[command(flatten)]
    project: ProjectFlag,
    #[command(flatten)]
    author: AuthorFlag,
}

impl Resolve {
    pub fn run(self, env: &Env, out: &mut dyn Write) -> Result<(), CliError> {
        self.author.apply()?;
        let how = match self.keep.as_deref() {
            Some("mine") => How::Keep(Keep::Mine),
            Some("theirs") => How::Keep(Keep::Theirs),
            Some(id) => How::Keep(Keep::Version(id.to_string())),
            None => How::Merge,
        };
        let project = env.project(self.project.project);
        let mut store = env.open_store()?;
        match resolve::resolve(&mut store, &project, &self.key, &how) {
            Ok(r) => {
                writeln!(out, "{}", r.version.id)?;
                env.sync_after_write(&store);
                let what = match &how {
                    How::Merge => "merged the two sides".to_string(),
                    How::Keep(Keep::Mine) => "kept mine".to_string(),
                    How::Keep(Keep::Theirs) => "kept theirs".to_string(),
                    How::Keep(Keep::Version(v)) => format!("kept version {v}"),
                };
                if !super::quiet() {
                    eprintln!(
                        "context: {}: {what}; written as a new version that settles the conflict \
                         on every machine it reaches",
                        self.key
                    );
                }
                Ok(())
            }
            Err(ResolveError::Overlapping { key, hunks, text }) => {
                if let Some(path) = &self.output {
                    std::fs::write(path, &text).map_err(|source| CliError::WriteOutput {
                        what: path.display().to_string(),
                        source,
                    })?;
                    eprintln!(
                        "context: wrote the merge of {key} with its conflict markers to {}",
                        path.display()
                    );
                } else {
                    out.write_all(&conflicting_hunks(&text))?;
                }
                Err(CliError::Resolve(ResolveError::Overlapping {
                    key,
                    hunks,
                    text: Vec::new(),
                }))
            }
            Err(e) => Err(CliError::Resolve(e)),
        }
    }
}

/// The conflicting regions of a merge with markers, with two lines of context around each.
fn conflicting_hunks(text: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(text);
    let lines: Vec<&str> = text.lines().collect();
    let mut keep = vec![false; lines.len()];
    let mut i = 0;
    while i < lines.len() {
        if lines[i].starts_with("<<<<<<<") {
            let start = i.saturating_sub(2);
            let mut end = i;
            while end < lines.len() && !lines[end].starts_with(">>>>>>>") {
                end += 1;
            }
            let stop = (end + 3).min(lines.len());
            keep[start..stop].iter_mut().for_each(|k| *k = true);
            i = end;
        }
        i += 1;
    }
    let mut out = String::new();
    let mut gap = false;
    for (line, k) in lines.iter().zip(&keep) {
        if *k {
            if gap && !out.is_empty() {
                out.push_str("...\n");
            }
            out.push_str(line);
            out.push('\n');
            gap = false;
        } else {
            gap = true;
        }
    }
    out.into_bytes()
}

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  context diff plan/q1                # the last change\n  context diff plan/q1 mine theirs     # the two sides of a conflict"
)]
pub struct Diff {
    /// The document's key.
    key: String,
    /// The older side: a version id (or unique prefix), or `mine` / `theirs` for a side of the
    /// key's conflict. Alone, it is compared with the current version; without it, the
    /// current version is compared with its parent.
    v1: Option<String>,
    /// The newer side: a version id (or unique prefix), `mine` or `theirs`.
    v2: Option<String>,
    #[command(flatten)]
    project: ProjectFlag,
}

impl Diff {
    pub fn run(self, env: &Env, out: &mut dyn Write) -> Result<(), CliError> {
        let store = env.open_store_to_read()?;
        let project = env.project(self.project.project);
        let sides = store.conflicts_of(&project, &self.key)?;
        let find = |id: &str| -> Result<Version, CliError> {
            match (id, sides.first()) {
                ("mine", Some(c)) => Ok(c.mine.clone()),
                ("theirs", Some(c)) => Ok(c.theirs.clone()),
                ("current", Some(c)) if !c.local => Ok(c.mine.clone()),
                ("other", Some(c)) if !c.local => Ok(c.theirs.clone()),
                ("mine" | "theirs", None) => Err(CliError::Resolve(ResolveError::NoConflict {
                    project: project.clone(),
                    key: self.key.clone(),
                })),
                _ => Ok(store.find_version(&project, &self.key, id)?),
            }
        };
        let (old, new) = match (&self.v1, &self.v2) {
            (Some(a), Some(b)) => (Some(find(a)?), find(b)?),
            (Some(a), None) => (Some(find(a)?), current(&store, &project, &self.key)?),
            (None, _) => {
                let cur = current(&store, &project, &self.key)?;
                let parent = match cur.parent {
                    Some(p) => Some(find(&p.to_string())?),
                    None => None,
                };
                (parent, cur)
            }
        };
        let body = |v: &Option<Version>| -> Result<Vec<u8>, CliError> {
            match v {
                Some(v) if v.kind == Kind::Version => Ok(store.body_of(v)?),
                _ => Ok(Vec::new()),
            }
        };
        let label = |v: &Option<Version>| match v {
            Some(v) if v.kind == Kind::Tombstone => format!("{}@{} (deleted)", self.key, v.id),
            Some(v) => format!("{}@{}", self.key, v.id),
            None => "/dev/null".to_string(),
        };
        let new = Some(new);
        let (a, b) = (body(&old)?, body(&new)?);
        if !merge::is_text(&a) || !merge::is_text(&b) {
            if a != b {
                writeln!(
                    out,
                    "Binary versions {} and {} differ",
                    label(&old),
                    label(&new)
                )?;
            }
            return Ok(());
        }
        let (a, b) = (String::from_utf8_lossy(&a), String::from_utf8_lossy(&b));
        let patch = diffy::DiffOptions::new()
            .set_original_filename(label(&old))
            .set_modified_filename(label(&new))
            .create_patch(&a, &b);
        if patch.hunks().is_empty() {
            return Ok(());
        }
        let color = std::io::IsTerminal::is_terminal(&std::io::stdout())
            && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
        let formatter = if color {
            diffy::PatchFormatter::new().with_color()
        } else {
            diffy::PatchFormatter::new()
        };
        write!(out, "{}", formatter.fmt_patch(&patch))?;
        Ok(())
    }
}

fn current(store: &Store, project: &str, key: &str) -> Result<Version, CliError> {
    Ok(store
        .current(project, key)?
        .ok_or_else(|| context::store::StoreError::NotFound {
            project: project.to_string(),
            key: key.to_string(),
        })?)
}
