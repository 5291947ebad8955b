//! `context sync ...`: flags, remote resolution, locking, run logging and output.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clap::{Args, Subcommand};
use serde_json::json;

use context::changeset::{self, Changeset, MAX_FILE_BYTES};
use context::clock::rfc3339;
use context::remote::{FolderRemote, Remote, RemoteError};
use context::store::{Run, Store};
use context::sync::{
    self, DEFAULT_REMOTE_SETTING, PullOptions, PullReport, PushOptions, PushReport, SyncError,
    SyncLock, describe_counts, plural,
};

use super::{CliError, Env};

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct SyncArgs {
    #[command(subcommand)]
    command: Option<SyncCommand>,
    #[command(flatten)]
    run: RunFlags,
}

#[derive(Debug, Subcommand)]
enum SyncCommand {
    /// Set the default remote (a folder every machine sees, or a file:// URL).
    Remote { path: String },
    /// Write this peer's changes since its last push to the remote.
    Push(RunFlags),
    /// Apply, in one transaction, every changeset of the remote not yet applied here.
    Pull(PullFlags),
    /// This peer, ahead, behind, last push and pull.
    Status(StatusFlags),
    /// Check every changeset in the remote; exit 5 on any damage.
    Verify(StatusFlags),
    /// Publish a snapshot (every version and tombstone, history included) for new peers.
    Snapshot(SnapshotFlags),
    /// Delete the changesets every known peer has applied and a snapshot covers.
    Prune(PruneFlags),
    /// The last sync runs (push, pull, snapshot, prune): time, outcome, counts, scenario id.
    Log {
        /// Print a JSON array.
        #[arg(long)]
        json: bool,
    },
    /// Print a crontab line or systemd user units that run `context sync` unattended.
    Schedule(ScheduleFlags),
    /// Decode one changeset file: header, checksum verdict, every entry.
    Inspect {
        file: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args, Clone)]
struct RunFlags {
    /// The remote folder (else the default set with `context sync remote`).
    #[arg(long, value_name = "R")]
    remote: Option<String>,
    /// Override a refusal: start a new generation (push), let last-writer-wins replace local
    /// changes (pull).
    #[arg(long)]
    force: bool,
    /// Wait up to SECS for another sync of this home to finish.
    #[arg(long, value_name = "SECS", default_value_t = 0)]
    wait: u64,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct PullFlags {
    #[command(flatten)]
    run: RunFlags,
    /// Print what would be applied, and change nothing.
    #[arg(long)]
    dry_run: bool,
}

#[derive(Debug, Args)]
struct SnapshotFlags {
    /// The remote folder (else the default set with `context sync remote`).
    #[arg(long, value_name = "R")]
    remote: Option<String>,
    /// Wait up to SECS for another sync of this home to finish.
    #[arg(long, value_name = "SECS", default_value_t = 0)]
    wait: u64,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct PruneFlags {
    #[command(flatten)]
    run: SnapshotFlags,
    /// Say what would be removed, and remove nothing.
    #[arg(long)]
    dry_run: bool,
    /// Leave behind peers silent for longer than DURATION (they start again from a snapshot).
    #[arg(long, value_name = "DURATION")]
    forget_after: Option<String>,
}

impl SnapshotFlags {
    fn as_run(&self) -> RunFlags {
        RunFlags {
            remote: self.remote.clone(),
            force: false,
            wait: self.wait,
            json: self.json,
        }
    }
}

#[derive(Debug, Args)]
struct ScheduleFlags {
    /// How often: 15m, 1h, 1d (whole minutes, hours or days).
    #[arg(long, value_name = "DURATION", default_value = "15m")]
    every: String,
    /// A crontab line (the default).
    #[arg(long, conflicts_with = "systemd")]
    cron: bool,
    /// A systemd user service and timer.
    #[arg(long)]
    systemd: bool,
}

#[derive(Debug, Args)]
struct StatusFlags {
    #[arg(long, value_name = "R")]
    remote: Option<String>,
    #[arg(long)]
    json: bool,
}

impl SyncArgs {
    pub fn run(self, env: &Env, out: &mut dyn Write) -> Result<u8, CliError> {
        match self.command {
            None => {
                // Pull, then push; each prints what it did. With --json the two reports are
                // joined in one object: {"pull": ..., "push": ...}.
                let mut pull_out = Vec::new();
                let pulled = run_pull(env, &self.run, false, &mut pull_out);
                if !self.run.json {
                    out.write_all(&pull_out)?;
                }
                let pulled = pulled?;
                let mut push_out = Vec::new();
                let pushed = run_push(env, &self.run, &mut push_out);
                if self.run.json {
                    let as_value = |bytes: &[u8]| {
                        serde_json::from_slice::<serde_json::Value>(bytes)
                            .unwrap_or(serde_json::Value::Null)
                    };
                    let joined =
                        json!({ "pull": as_value(&pull_out), "push": as_value(&push_out) });
                    writeln!(out, "{joined}")?;
                } else {
                    out.write_all(&push_out)?;
                }
                let pushed = pushed?;
                Ok(if pulled != 0 { pulled } else { pushed })
            }
            Some(SyncCommand::Remote { path }) => set_remote(env, &path, out),
            Some(SyncCommand::Push(flags)) => run_push(env, &flags, out),
            Some(SyncCommand::Pull(flags)) => run_pull(env, &flags.run, flags.dry_run, out),
            Some(SyncCommand::Status(flags)) => show_status(env, flags, out),
            Some(SyncCommand::Inspect { file, json }) => inspect(&file, json, out),
            Some(SyncCommand::Verify(flags)) => verify(env, flags, out),
            Some(SyncCommand::Snapshot(flags)) => run_snapshot(env, flags, out),
            Some(SyncCommand::Prune(flags)) => run_prune(env, flags, out),
            Some(SyncCommand::Log { json }) => show_log(env, json, out),
            Some(SyncCommand::Schedule(flags)) => schedule(env, flags, out),
        }
    }
}

/// A path or file:// URL made absolute, so the same folder is one remote however it is named.
fn normalise(location: &str) -> String {
    let path = Path::new(location.strip_prefix("file://").unwrap_or(location));
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    std::fs::canonicalize(&absolute)
        .unwrap_or(absolute)
        .display()
        .to_string()
}

fn set_remote(env: &Env, path: &str, out: &mut dyn Write) -> Result<u8, CliError> {
    let location = normalise(path);
    FolderRemote::open(&location).map_err(SyncError::from)?;
    let store = env.open_store()?;
    store.set_setting(DEFAULT_REMOTE_SETTING, &location)?;
    writeln!(out, "default remote: {location}")?;
    Ok(0)
}

fn open_remote(store: &Store, flag: Option<&str>) -> Result<FolderRemote, CliError> {
    let location = match flag {
        Some(r) => normalise(r),
        None => store
            .setting(DEFAULT_REMOTE_SETTING)?
            .ok_or(SyncError::NoRemote)?,
    };
    Ok(FolderRemote::open(&location).map_err(SyncError::from)?)
}

/// What every sync run shares: the lock, the store, the remote, the span, the log entry.
struct Session {
    _lock: SyncLock,
    store: Store,
    started_ms: i64,
    scenario_id: String,
    span: tracing::Span,
}

impl Session {
    fn open(env: &Env, command: &'static str, wait: u64) -> Result<Session, CliError> {
        let home = env.home()?;
        let lock = SyncLock::acquire(&home, Duration::from_secs(wait)).map_err(CliError::from)?;
        let store = env.open_store()?;
        let scenario_id = env.scenario_id();
        let span = tracing::info_span!(
            "sync",
            command,
            peer = %store.peer().id,
            remote = tracing::field::Empty,
            project = tracing::field::Empty,
            scenario_id = %scenario_id,
        );
        Ok(Session {
            _lock: lock,
            started_ms: store.now_ms(),
            store,
            scenario_id,
            span,
        })
    }

    /// Resolves the remote and runs `op` on it inside this run's span. A failure is logged as
    /// a run and returned; on success the result comes back with the remote's location.
    fn with_remote<T>(
        &mut self,
        command: &str,
        flags: &RunFlags,
        op: impl FnOnce(&mut Store, &dyn Remote) -> Result<T, SyncError>,
    ) -> Result<(T, Option<String>), CliError> {
        let span = self.span.clone();
        let _enter = span.enter();
        let remote = open_remote(&self.store, flags.remote.as_deref());
        let location = match &remote {
            Ok(r) => Some(r.location()),
            Err(_) => flags.remote.as_deref().map(normalise),
        };
        if let Some(l) = &location {
            span.record("remote", l.as_str());
        }
        let result = remote.and_then(|r| Ok(op(&mut self.store, &r)?));
        match result {
            Ok(value) => Ok((value, location)),
            Err(e) => {
                let status = e.exit_status();
                let summary = json!({ "error": e.to_string() });
                self.log(command, location, status, summary);
                Err(e)
            }
        }
    }

    /// Logs a finished run and records the projects it touched on its span.
    fn finish(
        &self,
        command: &str,
        remote: Option<String>,
        exit_status: u8,
        per_project: &sync::PerProject,
        summary: serde_json::Value,
    ) {
        let projects = per_project.keys().cloned().collect::<Vec<_>>().join(",");
        self.span.record("project", projects.as_str());
        let _enter = self.span.enter();
        tracing::info!(exit_status, "{command} finished");
        self.log(command, remote, exit_status, summary);
    }

    fn log(
        &self,
        command: &str,
        remote: Option<String>,
        exit_status: u8,
        summary: serde_json::Value,
    ) {
        let run = Run {
            command: command.to_string(),
            remote,
            scenario_id: self.scenario_id.clone(),
            started_at_ms: self.started_ms,
            finished_at_ms: self.store.now_ms(),
            exit_status: i64::from(exit_status),
            outcome: outcome_of(exit_status).to_string(),
            summary: summary.to_string(),
        };
        if let Err(e) = self.store.record_run(&run) {
            tracing::warn!("could not log the run: {e}");
        }
    }
}

fn outcome_of(status: u8) -> &'static str {
    match status {
        0 => "ok",
        3 => "diverged",
        4 => "busy",
        5 => "bad-data",
        _ => "error",
    }
}

fn run_push(env: &Env, flags: &RunFlags, out: &mut dyn Write) -> Result<u8, CliError> {
    let mut session = Session::open(env, "push", flags.wait)?;
    let started = Instant::now();
    let opts = PushOptions { force: flags.force };
    let (report, location) = session.with_remote("push", flags, |store, remote| {
        sync::push(store, remote, opts)
    })?;
    tracing::debug!(
        elapsed_ms = started.elapsed().as_millis() as u64,
        "push took"
    );
    session.finish("push", location, 0, &report.per_project, push_json(&report));
    print_push(&report, flags.json, out)?;
    Ok(0)
}

fn push_json(r: &PushReport) -> serde_json::Value {
    json!({
        "remote": r.remote,
        "generation": r.generation,
        "changesets": r.published.iter().map(|(n, c)| json!({"name": n, "entries": c})).collect::<Vec<_>>(),
        "adopted": r.adopted,
        "entries": r.entries(),
        "projects": r.per_project,
        "new_generation": r.new_generation,
        "warnings": r.warnings,
    })
}

/// Warnings go to stderr, one line each, whatever the output format.
fn print_warnings(warnings: &[String]) -> Result<(), CliError> {
    let mut err = std::io::stderr().lock();
    for w in warnings {
        writeln!(err, "context: warning: {w}")?;
    }
    Ok(())
}

fn print_push(r: &PushReport, as_json: bool, out: &mut dyn Write) -> Result<(), CliError> {
    print_warnings(&r.warnings)?;
    if as_json {
        writeln!(out, "{}", push_json(r))?;
        return Ok(());
    }
    if let Some(why) = &r.new_generation {
        writeln!(out, "started generation {}: {why}", r.generation)?;
    }
    if !r.adopted.is_empty() {
        writeln!(
            out,
            "finished an interrupted push: {}",
            r.adopted.join(", ")
        )?;
    }
    if !r.published.is_empty() {
        writeln!(
            out,
            "pushed {} to {} ({})",
            describe_counts(&r.per_project),
            r.remote,
            plural(r.published.len() as u64, "changeset")
        )?;
    }
    Ok(())
}

fn run_pull(
    env: &Env,
    flags: &RunFlags,
    dry_run: bool,
    out: &mut dyn Write,
) -> Result<u8, CliError> {
    let mut session = Session::open(env, "pull", flags.wait)?;
    let opts = PullOptions {
        force: flags.force,
        dry_run,
    };
    let (report, location) = session.with_remote("pull", flags, |store, remote| {
        sync::pull(store, remote, opts)
    })?;
    let status = report.exit_status();
    // A dry run changed nothing, so it is no run to log.
    if !dry_run {
        let summary = serde_json::to_value(&report).unwrap_or_default();
        session.finish("pull", location, status, &report.per_project, summary);
    }
    print_pull(&report, flags.json, out)?;
    Ok(status)
}

/// "3 versions in default from /path (1 changeset)".
fn pull_summary(r: &PullReport) -> String {
    let from_snapshot = match r.snapshots.as_slice() {
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

fn print_pull(r: &PullReport, as_json: bool, out: &mut dyn Write) -> Result<(), CliError> {
    let skipped: Vec<String> = r
        .skipped
        .iter()
        .map(|s| format!("{}/{}: {}", r.remote, s.path, s.reason))
        .collect();
    print_warnings(&skipped)?;
    print_warnings(&r.warnings)?;
    if as_json {
        serde_json::to_writer(&mut *out, r).map_err(std::io::Error::from)?;
        writeln!(out)?;
    }
    let mut err = std::io::stderr().lock();
    if r.dry_run && !as_json {
        for p in &r.plan {
            let action = serde_json::to_value(p.action).unwrap_or_default();
            writeln!(
                out,
                "{:<13} {}/{}  {} -> {}",
                action.as_str().unwrap_or("?"),
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
                pull_summary(r)
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
                writeln!(err, "{line}")?;
            } else if !as_json {
                writeln!(
                    out,
                    "{line} (`context restore {} {}` brings it back)",
                    c.key,
                    c.local.as_deref().unwrap_or("-")
                )?;
            }
        }
        if refused {
            writeln!(
                err,
                "pull refused: {} would replace local changes that the other peer never saw; \
                 nothing was changed. `context sync pull --force` lets the newest write win \
                 (the replaced versions stay in history, and a backup is taken first).",
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
            r.remote, b.path, b.reason
        )?;
    }
    if r.applied && r.rows() > 0 && !as_json {
        writeln!(out, "pulled {}", pull_summary(r))?;
    }
    Ok(())
}

fn show_status(env: &Env, flags: StatusFlags, out: &mut dyn Write) -> Result<u8, CliError> {
    let store = env.open_store()?;
    let remote = open_remote(&store, flags.remote.as_deref())?;
    let s = sync::status(&store, &remote)?;
    if flags.json {
        writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&s).map_err(std::io::Error::from)?
        )?;
        return Ok(0);
    }
    writeln!(
        out,
        "peer     {} (generation {}, host {})",
        s.peer_id, s.generation, s.host
    )?;
    writeln!(out, "remote   {}", s.remote)?;
    writeln!(out, "ahead    {} (local changes not yet pushed)", s.ahead)?;
    writeln!(out, "behind   {} (changesets not yet applied)", s.behind)?;
    let last = |r: &Option<sync::status::LastRun>| match r {
        Some(r) => format!("{} ({}, exit {})", r.at, r.outcome, r.exit_status),
        None => "never".to_string(),
    };
    writeln!(out, "pushed   {}", last(&s.last_push_run))?;
    writeln!(out, "pulled   {}", last(&s.last_pull_run))?;
    for p in &s.peers {
        writeln!(
            out,
            "peer seen {} generation {} host {} last push {}{}",
            p.peer_id,
            p.generation,
            p.host.as_deref().unwrap_or("?"),
            p.last_push_at.as_deref().unwrap_or("?"),
            if p.this_peer { " (this peer)" } else { "" }
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
    Ok(0)
}

fn inspect(file: &Path, as_json: bool, out: &mut dyn Write) -> Result<u8, CliError> {
    let read_err = |source| CliError::ReadInput {
        what: file.display().to_string(),
        source,
    };
    let size = std::fs::metadata(file).map_err(read_err)?.len();
    if size > MAX_FILE_BYTES + 64 {
        return Err(SyncError::from(RemoteError::TooLarge {
            path: file.to_path_buf(),
            size,
        })
        .into());
    }
    let bytes = std::fs::read(file).map_err(read_err)?;
    let found = changeset::inspect(&bytes).map_err(|source| CliError::BadChangeset {
        path: file.to_path_buf(),
        source,
    })?;
    let healthy = found.checksum.is_ok() && found.changeset.is_ok();
    if as_json {
        let value = json!({
            "file": file.display().to_string(),
            "format": format!("{}.{}", found.major, found.minor),
            "size": found.size,
            "checksum": match &found.checksum {
                Ok(sum) => json!({"ok": true, "sha256": sum.hex()}),
                Err(e) => json!({"ok": false, "error": e.to_string()}),
            },
            "header": found.changeset.as_ref().ok().map(header_json),
            "entries": found.changeset.as_ref().map(entries_json).unwrap_or_default(),
            "error": found.changeset.as_ref().err().map(|e| e.to_string()),
        });
        writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&value).map_err(std::io::Error::from)?
        )?;
    } else {
        writeln!(out, "file       {} ({} bytes)", file.display(), found.size)?;
        writeln!(out, "format     {}.{}", found.major, found.minor)?;
        match &found.checksum {
            Ok(sum) => writeln!(out, "checksum   ok (sha256 {sum})")?,
            Err(e) => writeln!(out, "checksum   BAD: {e}")?,
        }
        match &found.changeset {
            Err(e) => writeln!(out, "content    cannot be decoded: {e}")?,
            Ok(cs) => {
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
                    rfc3339(h.created_at_ms),
                    h.host,
                    if h.snapshot { " (snapshot)" } else { "" }
                )?;
                let projects: Vec<String> = h
                    .projects
                    .iter()
                    .map(|(p, n)| format!("{p}: {n}"))
                    .collect();
                writeln!(
                    out,
                    "entries    {} versions, {} tombstones ({})",
                    h.versions,
                    h.tombstones,
                    projects.join(", ")
                )?;
                writeln!(out)?;
                writeln!(
                    out,
                    "{:<9}  {:<36}  {:<24}  {:>8}  {:<36}  PROJECT/KEY",
                    "KIND", "VERSION", "TIME", "SIZE", "PARENT"
                )?;
                for e in &cs.entries {
                    writeln!(
                        out,
                        "{:<9}  {:<36}  {:<24}  {:>8}  {:<36}  {}/{}",
                        e.kind.as_str(),
                        e.id.to_string(),
                        rfc3339(e.hlc.wall_ms()),
                        e.body
                            .as_ref()
                            .map_or_else(|| "-".to_string(), |b| b.len().to_string()),
                        e.parent.map_or_else(|| "-".to_string(), |p| p.to_string()),
                        e.project,
                        e.key
                    )?;
                }
            }
        }
    }
    if !healthy {
        let mut err = std::io::stderr().lock();
        writeln!(err, "context: {} is damaged", file.display())?;
        return Ok(5);
    }
    Ok(0)
}

fn header_json(cs: &Changeset) -> serde_json::Value {
    let h = &cs.header;
    json!({
        "peer": h.peer.to_string(),
        "generation": h.generation,
        "seq": h.seq,
        "prev": h.prev.map(|p| p.hex()),
        "created_at": rfc3339(h.created_at_ms),
        "host": h.host,
        "snapshot": h.snapshot,
        "versions": h.versions,
        "tombstones": h.tombstones,
        "projects": h.projects.iter().map(|(p, n)| json!({"project": p, "entries": n})).collect::<Vec<_>>(),
        "covers": h.covers.iter().map(|c| json!({
            "peer": c.peer.to_string(),
            "generation": c.generation,
            "seq": c.seq,
            "checksum": c.checksum.hex(),
        })).collect::<Vec<_>>(),
    })
}

fn entries_json(cs: &Changeset) -> Vec<serde_json::Value> {
    cs.entries
        .iter()
        .map(|e| {
            json!({
                "id": e.id.to_string(),
                "project": e.project,
                "key": e.key,
                "kind": e.kind.as_str(),
                "parent": e.parent.map(|p| p.to_string()),
                "peer": e.peer.to_string(),
                "size": e.body.as_ref().map(Vec::len),
                "created_at": rfc3339(e.hlc.wall_ms()),
                "hlc": e.hlc.to_i64(),
                "expires_at": e.expires_at_ms.map(rfc3339),
            })
        })
        .collect()
}

fn verify(env: &Env, flags: StatusFlags, out: &mut dyn Write) -> Result<u8, CliError> {
    let store = env.open_store()?;
    let remote = open_remote(&store, flags.remote.as_deref())?;
    let r = sync::verify(&remote)?;
    if flags.json {
        let value = json!({
            "remote": r.remote,
            "changesets": r.changesets,
            "problems": r.problem_count(),
            "peers": r.peers,
            "other_problems": r.problems,
            "temporary": r.temporary,
            "snapshots": r.snapshots,
            "unsealed": r.unsealed,
        });
        writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&value).map_err(std::io::Error::from)?
        )?;
        return Ok(r.exit_status());
    }
    writeln!(
        out,
        "remote {}: {}, {}",
        r.remote,
        plural(r.changesets, "changeset"),
        plural(r.snapshots.len() as u64, "snapshot")
    )?;
    for p in &r.peers {
        let streams: Vec<String> = p
            .streams
            .iter()
            .map(|s| {
                format!(
                    "generation {} changesets {}..{} ({}, {})",
                    s.generation,
                    s.first_seq,
                    s.last_seq,
                    plural(s.versions, "version"),
                    plural(s.tombstones, "tombstone")
                )
            })
            .collect();
        let verdict = if p.problems.is_empty() {
            "ok"
        } else {
            "DAMAGED"
        };
        writeln!(out, "peer {}: {verdict}; {}", p.peer, streams.join("; "))?;
        for problem in &p.problems {
            writeln!(out, "  {}: {}", problem.path, problem.what)?;
        }
    }
    for problem in &r.problems {
        writeln!(out, "{}: {}", problem.path, problem.what)?;
    }
    for s in &r.snapshots {
        writeln!(
            out,
            "snapshot {}: {} ({}, {}), covering {}",
            s.seal,
            plural(s.parts, "part"),
            plural(s.versions, "version"),
            plural(s.tombstones, "tombstone"),
            plural(s.covers, "stream")
        )?;
    }
    for t in &r.temporary {
        writeln!(
            out,
            "{t}: a temporary file (a write in progress, or left behind)"
        )?;
    }
    for u in &r.unsealed {
        writeln!(
            out,
            "{u}: part of a snapshot without a seal (being written, or interrupted)"
        )?;
    }
    if r.problem_count() > 0 {
        writeln!(
            std::io::stderr().lock(),
            "context: {} in {}",
            plural(r.problem_count() as u64, "problem"),
            r.remote
        )?;
    }
    Ok(r.exit_status())
}

fn run_snapshot(env: &Env, flags: SnapshotFlags, out: &mut dyn Write) -> Result<u8, CliError> {
    let run = flags.as_run();
    let mut session = Session::open(env, "snapshot", run.wait)?;
    let (report, location) = session.with_remote("snapshot", &run, |store, remote| {
        sync::snapshot(store, remote)
    })?;
    let summary = serde_json::to_value(&report).unwrap_or_default();
    session.finish("snapshot", location, 0, &report.per_project, summary);
    if flags.json {
        serde_json::to_writer(&mut *out, &report).map_err(std::io::Error::from)?;
        writeln!(out)?;
    } else {
        writeln!(out, "{}", describe_snapshot(&report))?;
    }
    Ok(0)
}

/// "wrote snapshot PEER/snapshot-X.cset: 3 versions in default (1 part, 2.1 kB), covering 2 streams".
fn describe_snapshot(r: &sync::SnapshotReport) -> String {
    let content = if r.entries() == 0 {
        "no versions".to_string()
    } else {
        describe_counts(&r.per_project)
    };
    format!(
        "wrote snapshot {}/{}: {content} ({}, {} bytes), covering {}",
        r.remote,
        r.seal,
        plural(r.parts, "part"),
        r.bytes,
        plural(r.covers.len() as u64, "stream")
    )
}

fn run_prune(env: &Env, flags: PruneFlags, out: &mut dyn Write) -> Result<u8, CliError> {
    let forget_after_ms = match &flags.forget_after {
        Some(d) => Some(
            context::duration::parse(d)
                .map_err(CliError::ForgetAfter)?
                .as_millis() as i64,
        ),
        None => None,
    };
    let opts = sync::PruneOptions {
        dry_run: flags.dry_run,
        forget_after_ms,
    };
    let run = flags.run.as_run();
    let mut session = Session::open(env, "prune", run.wait)?;
    let (r, location) = session.with_remote("prune", &run, |store, remote| {
        sync::prune(store, remote, opts)
    })?;
    if !flags.dry_run {
        let summary = json!({
            "removed": r.removed.len(),
            "removed_snapshots": r.removed_snapshots.len(),
            "temporary": r.temporary.len(),
            "snapshot": r.snapshot.as_ref().map(|s| s.seal.clone()),
        });
        session.finish("prune", location, 0, &sync::PerProject::new(), summary);
    }
    print_warnings(&r.problems)?;
    if run.json {
        serde_json::to_writer(&mut *out, &r).map_err(std::io::Error::from)?;
        writeln!(out)?;
        return Ok(0);
    }
    let verb = if r.dry_run { "would remove" } else { "removed" };
    if let Some(s) = &r.snapshot {
        writeln!(out, "{}", describe_snapshot(s))?;
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
        .filter(|p| p.status == sync::PeerStatus::LeftBehind)
    {
        writeln!(
            out,
            "  left behind peer {} (host {}), silent since {}: it starts again from a snapshot",
            p.peer,
            p.host.as_deref().unwrap_or("?"),
            p.last_seen.as_deref().unwrap_or("?")
        )?;
    }
    for p in r
        .peers
        .iter()
        .filter(|p| p.status == sync::PeerStatus::Unknown)
    {
        writeln!(
            out,
            "  peer {} has changesets here but no manifest: it starts from a snapshot if it needs to",
            p.peer
        )?;
    }
    Ok(0)
}

fn show_log(env: &Env, as_json: bool, out: &mut dyn Write) -> Result<u8, CliError> {
    let store = env.open_store()?;
    let runs = store.runs(None, 50)?;
    if as_json {
        let list: Vec<serde_json::Value> = runs
            .iter()
            .map(|r| {
                json!({
                    "command": r.command,
                    "remote": r.remote,
                    "scenario_id": r.scenario_id,
                    "started_at": rfc3339(r.started_at_ms),
                    "finished_at": rfc3339(r.finished_at_ms),
                    "exit_status": r.exit_status,
                    "outcome": r.outcome,
                    "summary": serde_json::from_str::<serde_json::Value>(&r.summary).unwrap_or_default(),
                })
            })
            .collect();
        writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&list).map_err(std::io::Error::from)?
        )?;
        return Ok(0);
    }
    for r in &runs {
        let summary: serde_json::Value = serde_json::from_str(&r.summary).unwrap_or_default();
        let detail = match summary.get("error").and_then(|e| e.as_str()) {
            Some(e) => e.to_string(),
            None => {
                let projects = summary
                    .get("projects")
                    .or_else(|| summary.get("per_project"))
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
    Ok(0)
}

fn schedule(env: &Env, flags: ScheduleFlags, out: &mut dyn Write) -> Result<u8, CliError> {
    let every = context::duration::parse(&flags.every).map_err(CliError::Every)?;
    let minutes = every.as_secs() / 60;
    let bad = |why: &str| {
        CliError::Every(context::duration::DurationError {
            value: flags.every.clone(),
            reason: if why.is_empty() {
                "not a whole number of minutes"
            } else {
                "must divide an hour or a day evenly"
            },
        })
    };
    if every.as_secs() % 60 != 0 || minutes == 0 {
        return Err(bad(""));
    }
    let home = std::path::absolute(env.home()?)?;
    let exe = std::env::current_exe()?;
    let command = format!("{} sync --wait 120", exe.display());
    if flags.systemd {
        writeln!(out, "# ~/.config/systemd/user/context-sync.service")?;
        writeln!(out, "[Unit]\nDescription=context sync: pull, then push\n")?;
        writeln!(
            out,
            "[Service]\nType=oneshot\nEnvironment=CONTEXT_HOME={}\nExecStart={command}\n",
            home.display()
        )?;
        writeln!(out, "# ~/.config/systemd/user/context-sync.timer")?;
        writeln!(
            out,
            "[Unit]\nDescription=context sync every {}\n",
            flags.every
        )?;
        writeln!(
            out,
            "[Timer]\nOnBootSec=2min\nOnUnitActiveSec={minutes}min\nPersistent=true\n"
        )?;
        writeln!(out, "[Install]\nWantedBy=timers.target")?;
        return Ok(0);
    }
    let spec = match minutes {
        m if m < 60 && 60 % m == 0 => format!("*/{m} * * * *"),
        m if m % 60 == 0 && m < 24 * 60 && (24 * 60) % m == 0 => format!("0 */{} * * *", m / 60),
        m if m == 24 * 60 => "0 0 * * *".to_string(),
        _ => return Err(bad("divide")),
    };
    writeln!(out, "{spec} CONTEXT_HOME={} {command}", home.display())?;
    Ok(0)
}
