//! `context sync inspect FILE`: decode one changeset file, whatever state it is in.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;
use serde::Serialize;

use context::changeset::{self, Changeset, Header, MAX_FILE_BYTES};
use context::clock::rfc3339;
use context::encryption::sealed;
use context::outcome::Outcome;
use context::record::Record;
use context::sync::{self, PerProject, SyncError};

use super::print_json_pretty;
use crate::cli::{CliError, Env};

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  context sync inspect ~/Sync/context/<peer>/00000001-0000000000000001.cset\n  context sync inspect FILE --json"
)]
pub struct Inspect {
    /// The changeset file (`.cset`).
    file: PathBuf,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct Json {
    file: String,
    format: String,
    size: usize,
    /// CompleteSnapshot for an encrypted remote: the id of its key, and whether this home opened it.
    encrypted: Option<Encrypted>,
    checksum: ChecksumJson,
    header: Option<HeaderJson>,
    entries: Vec<EntryJson>,
    /// Why the content cannot be decoded.
    error: Option<String>,
}

#[derive(Serialize)]
struct Encrypted {
    key_id: String,
    opened: bool,
}

#[derive(Serialize)]
struct ChecksumJson {
    ok: bool,
    sha256: Option<String>,
    error: Option<String>,
}

#[derive(Serialize)]
struct HeaderJson {
    peer: String,
    generation: u64,
    seq: u64,
    prev: Option<String>,
    created_at: String,
    host: String,
    snapshot: bool,
    versions: u64,
    tombstones: u64,
    per_project: PerProject,
    covers: Vec<CoverJson>,
    /// (1.3, a snapshot's seal) the names of the machines whose streams it covers.
    hosts: Vec<HostJson>,
}

#[derive(Serialize)]
struct HostJson {
    peer: String,
    host: String,
}

#[derive(Serialize)]
struct CoverJson {
    peer: String,
    generation: u64,
    seq: u64,
    checksum: String,
}

#[derive(Serialize)]
struct EntryJson {
    id: String,
    project: String,
    key: String,
    kind: &'static str,
    parent: Option<String>,
    peer: String,
    size: Option<usize>,
    created_at: String,
    hlc: String,
    expires_at: Option<String>,
    /// The concurrent versions this one settled (a resolution); empty for most.
    settles: Vec<String>,
    /// (format 3) Set when the body travels as a delta: its base and the SHA-256 of the body
    /// it rebuilds; `size` is then the delta's.
    delta: Option<DeltaJson>,
    /// (format 1.4) Who wrote it and in which session, where the writer recorded it.
    author: Option<String>,
    session: Option<String>,
}

#[derive(Serialize)]
struct DeltaJson {
    base: String,
    sha256: String,
}

impl HeaderJson {
    fn of(cs: &Changeset) -> HeaderJson {
        let h: &Header = &cs.header;
        let mut per_project = PerProject::new();
        for e in &cs.entries {
            sync::count(&mut per_project, &e.project, e.kind);
        }
        HeaderJson {
            peer: h.peer.to_string(),
            generation: h.generation,
            seq: h.seq,
            prev: h.prev.map(|p| p.hex()),
            created_at: rfc3339(h.created_at_ms),
            host: h.host.clone(),
            snapshot: h.snapshot,
            versions: h.versions,
            tombstones: h.tombstones,
            per_project,
            covers: h
                .covers
                .iter()
                .map(|c| CoverJson {
                    peer: c.peer.to_string(),
                    generation: c.generation,
                    seq: c.seq,
                    checksum: c.checksum.hex(),
                })
                .collect(),
            hosts: h
                .hosts
                .iter()
                .map(|(peer, host)| HostJson {
                    peer: peer.to_string(),
                    host: host.clone(),
                })
                .collect(),
        }
    }
}

impl EntryJson {
    fn of(e: &Record) -> EntryJson {
        EntryJson {
            id: e.id.to_string(),
            project: e.project.clone(),
            key: e.key.clone(),
            kind: e.kind.as_str(),
            parent: e.parent.map(|p| p.to_string()),
            peer: e.peer.to_string(),
            size: e.body.as_ref().map(Vec::len),
            created_at: rfc3339(e.hlc.wall_ms()),
            hlc: e.hlc.to_i64().to_string(),
            expires_at: e.expires_at_ms.map(rfc3339),
            settles: e.settles.iter().map(|s| s.to_string()).collect(),
            author: e.author.as_ref().map(|a| a.name.clone()),
            session: e.author.as_ref().and_then(|a| a.session.clone()),
            delta: e.delta.map(|d| DeltaJson {
                base: d.base.to_string(),
                sha256: d.sha256.hex(),
            }),
        }
    }
}

impl Inspect {
    pub fn run(self, env: &Env, out: &mut dyn Write) -> Result<Outcome, CliError> {
        let file = &self.file;
        let read_err = |source| CliError::ReadInput {
            what: file.display().to_string(),
            source,
        };
        let size = std::fs::metadata(file).map_err(read_err)?.len();
        if size > MAX_FILE_BYTES + 64 {
            return Err(CliError::TooLarge {
                path: file.clone(),
                size,
            });
        }
        let mut bytes = std::fs::read(file).map_err(read_err)?;
        let mut encrypted = None;
        let mut on_disk = 0;
        if sealed::is_sealed(&bytes) {
            let public = match sealed::public(&bytes) {
                Ok(p) => p,
                Err(e) => {
                    writeln!(std::io::stderr().lock(), "context: {}: {e}", file.display())?;
                    return Ok(Outcome::BadData);
                }
            };
            match env.keys()?.get(public.key).map_err(SyncError::from)? {
                Some(key) => match sealed::open(&key, &bytes) {
                    Ok((_, plain)) => {
                        on_disk = public.major;
                        encrypted = Some(Encrypted {
                            key_id: public.key.to_string(),
                            opened: true,
                        });
                        bytes = plain;
                    }
                    Err(e) => {
                        writeln!(std::io::stderr().lock(), "context: {}: {e}", file.display())?;
                        return Ok(Outcome::BadData);
                    }
                },
                None => return print_public(file, &public, self.json, out),
            }
        }
        let found = changeset::inspect(&bytes).map_err(|source| CliError::BadChangeset {
            path: file.clone(),
            source,
        })?;
        let healthy = found.checksum.is_ok() && found.changeset.is_ok();
        if self.json {
            let value = Json {
                file: file.display().to_string(),
                format: format!("{}.{}", found.major, found.minor),
                size: found.size,
                encrypted,
                checksum: match &found.checksum {
                    Ok(sum) => ChecksumJson {
                        ok: true,
                        sha256: Some(sum.hex()),
                        error: None,
                    },
                    Err(e) => ChecksumJson {
                        ok: false,
                        sha256: None,
                        error: Some(e.to_string()),
                    },
                },
                header: found.changeset.as_ref().ok().map(HeaderJson::of),
                entries: found
                    .changeset
                    .as_ref()
                    .map(|cs| cs.entries.iter().map(EntryJson::of).collect())
                    .unwrap_or_default(),
                error: found.changeset.as_ref().err().map(|e| e.to_string()),
            };
            print_json_pretty(out, &value)?;
        } else {
            writeln!(out, "file       {} ({} bytes)", file.display(), found.size)?;
            writeln!(out, "format     {}.{}", found.major, found.minor)?;
            if let Some(e) = &encrypted {
                writeln!(
                    out,
                    "encrypted  opened with key {} (format {on_disk}.0 on disk)",
                    e.key_id
                )?;
            }
            match &found.checksum {
                Ok(sum) => writeln!(out, "checksum   ok (sha256 {sum})")?,
                Err(e) => writeln!(out, "checksum   BAD: {e}")?,
            }
            match &found.changeset {
                Err(e) => writeln!(out, "content    cannot be decoded: {e}")?,
                Ok(cs) => print_changeset(cs, out)?,
            }
        }
        if !healthy {
            writeln!(
                std::io::stderr().lock(),
                "context: {} is damaged",
                file.display()
            )?;
            return Ok(Outcome::BadData);
        }
        Ok(Outcome::Ok)
    }
}

/// What anyone can see of a sealed file without its key.
fn print_public(
    file: &std::path::Path,
    public: &sealed::Public,
    as_json: bool,
    out: &mut dyn Write,
) -> Result<Outcome, CliError> {
    let role = match public.role {
        sealed::Role::Changeset {
            peer,
            generation,
            seq,
        } => format!("peer {peer} generation {generation} changeset {seq}"),
        sealed::Role::Part { peer, id, part } => {
            format!("peer {peer} snapshot {id:016x} part {part}")
        }
        sealed::Role::Seal { peer, id } => format!("peer {peer} snapshot {id:016x} seal"),
    };
    if as_json {
        let value = Json {
            file: file.display().to_string(),
            format: format!("{}.0", public.major),
            size: public.size,
            encrypted: Some(Encrypted {
                key_id: public.key.to_string(),
                opened: false,
            }),
            checksum: ChecksumJson {
                ok: true,
                sha256: Some(public.checksum.hex()),
                error: None,
            },
            header: None,
            entries: Vec::new(),
            error: None,
        };
        print_json_pretty(out, &value)?;
    } else {
        writeln!(out, "file       {} ({} bytes)", file.display(), public.size)?;
        writeln!(out, "format     {}.0 (encrypted)", public.major)?;
        writeln!(out, "checksum   ok (sha256 {})", public.checksum)?;
        writeln!(out, "stream     {role}")?;
        writeln!(
            out,
            "encrypted  with key {}, which this home does not hold: nothing more is readable \
             (`context sync key import` brings the key)",
            public.key
        )?;
    }
    Ok(Outcome::Ok)
}

fn print_changeset(cs: &Changeset, out: &mut dyn Write) -> Result<(), CliError> {
    let h = &cs.header;
    writeln!(
        out,
        "stream     peer {} generation {} changeset {}",
        h.peer, h.generation, h.seq
    )?;
    writeln!(
        out,
        "previous   {}",
        h.prev
            .map_or_else(|| "none (first of its stream)".to_string(), |p| p.hex())
    )?;
    writeln!(
        out,
        "written    {} on {}{}",
        context::clock::local(h.created_at_ms),
        h.host,
        if h.snapshot { " (snapshot)" } else { "" }
    )?;
    if !h.hosts.is_empty() {
        let names: Vec<String> = h
            .hosts
            .iter()
            .map(|(peer, host)| format!("{host} ({peer})"))
            .collect();
        writeln!(out, "machines   {}", names.join(", "))?;
    }
    let projects: Vec<String> = h
        .projects
        .iter()
        .map(|(p, n)| format!("{p}: {n}"))
        .collect();
    writeln!(
        out,
        "entries    {}, {} ({})",
        context::sync::plural(h.versions, "version"),
        context::sync::plural(h.tombstones, "tombstone"),
        projects.join(", ")
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "{:<9}  {:<36}  {:<19}  {:>8}  {:<36}  PROJECT/KEY",
        "KIND", "VERSION", "TIME", "SIZE", "PARENT"
    )?;
    for e in &cs.entries {
        // (1.4) Who wrote it, where recorded, after the key.
        let author = e
            .author
            .as_ref()
            .map(|a| match &a.session {
                Some(s) => format!("  by {} (session {s})", a.name),
                None => format!("  by {}", a.name),
            })
            .unwrap_or_default();
        writeln!(
            out,
            "{:<9}  {:<36}  {:<19}  {:>8}  {:<36}  {}/{}{author}",
            e.kind.as_str(),
            e.id.to_string(),
            context::clock::local(e.hlc.wall_ms()),
            e.body
                .as_ref()
                .map_or_else(|| "-".to_string(), |b| b.len().to_string()),
            e.parent.map_or_else(|| "-".to_string(), |p| p.to_string()),
            e.project,
            e.key
        )?;
    }
    Ok(())
}
