//! The command line: clap definitions, the conversion of raw flags into library values, and
//! the formatting of results. No domain logic lives here; errors are returned to `main`, the
//! only place that prints them and turns them into exit statuses.

mod conflicts;
mod documents;
mod progress;
mod sync;

use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::Arc;

use clap::{Parser, Subcommand};

use context::changeset::DecodeError;
use context::clock::{ManualClock, parse_instant};
use context::home::{self, HomeError};
use context::outcome::Outcome;
use context::remote::LocationError;
use context::runtime::Runtime;
use context::store::{Store, StoreError};
use context::sync::SyncError;

#[derive(Debug, Parser)]
#[command(
    name = "context",
    version,
    about = "A versioned document store, synced across your machines through a shared folder, a bucket or SSH",
    after_help = "Data lives in $CONTEXT_HOME, else $XDG_DATA_HOME/context, else ~/.local/share/context.\n\
                  An s3:// remote is configured by AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, \
                  AWS_SESSION_TOKEN, AWS_REGION, AWS_ENDPOINT_URL and AWS_ALLOW_HTTP=true (for a \
                  plain-HTTP endpoint); CONTEXT_S3_IMDS=1 lets it ask the instance metadata service.\n\
                  An ssh:// remote goes through your own ssh; CONTEXT_SSH replaces the ssh command."
)]
pub struct Cli {
    /// More log output on stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,

    /// Errors only: no summaries, no warnings (for cron; the exit status still tells).
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Write a new version of KEY from a file or stdin; prints the version id.
    Put(documents::Put),
    /// Print the body of KEY (or of one of its versions).
    Get(documents::Get),
    /// Edit KEY in $VISUAL or $EDITOR; writes a new version if the body changed.
    Edit(documents::Edit),
    /// Delete KEY (writes a tombstone; the history stays).
    Rm(documents::Rm),
    /// List keys.
    Ls(documents::Ls),
    /// Every version and tombstone of KEY, newest first.
    History(documents::History),
    /// Write an earlier version's body as the new current version of KEY.
    Restore(documents::Restore),
    /// The projects of this store, with how many live documents each holds.
    Projects(documents::Projects),
    /// Unified diff of two versions of KEY (default: the current one against its parent).
    Diff(conflicts::Diff),
    /// Keys where two machines wrote concurrently and the loser is not settled yet.
    Conflicts(conflicts::Conflicts),
    /// Settle KEY's conflict: keep one side, or merge the two; written as a new version.
    Resolve(conflicts::Resolve),
    /// Print a shell completion script: `context completions bash > ~/.local/share/bash-completion/completions/context`.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Sync with other machines through a shared folder, a bucket or SSH: pull, then push (or a subcommand).
    Sync(sync::SyncArgs),
}

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Home(#[from] HomeError),
    /// A flag's value that parses but cannot be used (clap refuses those that do not parse).
    #[error("invalid value {value:?} for {flag}: {reason}")]
    BadValue {
        flag: &'static str,
        value: String,
        reason: String,
    },
    #[error("the default remote {0:?} stored in this home cannot be read: {1}")]
    StoredRemote(String, LocationError),
    #[error("cannot read {what}: {source}")]
    ReadInput { what: String, source: io::Error },
    #[error("invalid CONTEXT_NOW {0:?}: use an RFC 3339 instant or milliseconds since the epoch")]
    BadNow(String),
    #[error("cannot write the output: {0}")]
    Output(#[from] io::Error),
    #[error(transparent)]
    Sync(#[from] SyncError),
    #[error("{path}: {source}")]
    BadChangeset { path: PathBuf, source: DecodeError },
    #[error("{path} is {size} bytes, more than a changeset can be")]
    TooLarge { path: PathBuf, size: u64 },
    #[error(transparent)]
    Resolve(#[from] context::resolve::ResolveError),
    #[error("cannot write {what}: {source}")]
    WriteOutput { what: String, source: io::Error },
    #[error("the editor {editor:?} failed ({status}); nothing was written")]
    Editor { editor: String, status: String },
}

impl CliError {
    /// How the command ended.
    pub fn outcome(&self) -> Outcome {
        match self {
            CliError::Sync(e) => e.outcome(),
            CliError::BadChangeset { .. } | CliError::TooLarge { .. } => Outcome::BadData,
            CliError::BadValue { .. } => Outcome::Usage,
            CliError::Resolve(e) if e.is_overlap() => Outcome::Diverged,
            _ => Outcome::Error,
        }
    }

    /// A closed stdout (`context get k | head -1`): not worth a message.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, CliError::Output(e) if e.kind() == io::ErrorKind::BrokenPipe)
    }
}

static QUIET: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether `-q` asked for errors only.
fn quiet() -> bool {
    QUIET.load(std::sync::atomic::Ordering::Relaxed)
}

/// Runs the parsed command, writing its results to `out`; returns how it ended.
pub fn run(cli: Cli, out: &mut dyn Write) -> Result<Outcome, CliError> {
    QUIET.store(cli.quiet, std::sync::atomic::Ordering::Relaxed);
    let env = Env::from_process();
    let outcome = match cli.command {
        Command::Put(c) => c.run(&env, out).map(|()| Outcome::Ok),
        Command::Get(c) => c.run(&env, out).map(|()| Outcome::Ok),
        Command::Edit(c) => c.run(&env, out).map(|()| Outcome::Ok),
        Command::Rm(c) => c.run(&env, out).map(|()| Outcome::Ok),
        Command::Ls(c) => c.run(&env, out).map(|()| Outcome::Ok),
        Command::History(c) => c.run(&env, out).map(|()| Outcome::Ok),
        Command::Restore(c) => c.run(&env, out).map(|()| Outcome::Ok),
        Command::Projects(c) => c.run(&env, out).map(|()| Outcome::Ok),
        Command::Diff(c) => c.run(&env, out).map(|()| Outcome::Ok),
        Command::Conflicts(c) => c.run(&env, out).map(|()| Outcome::Ok),
        Command::Resolve(c) => c.run(&env, out).map(|()| Outcome::Ok),
        Command::Completions { shell } => {
            // Into a buffer first: the generator panics on a write error (a closed pipe).
            let mut command = <Cli as clap::CommandFactory>::command();
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut command, "context", &mut script);
            out.write_all(&script)?;
            Ok(Outcome::Ok)
        }
        Command::Sync(c) => c.run(&env, out),
    }?;
    out.flush()?;
    Ok(outcome)
}

/// What the commands read from the process environment.
struct Env;

impl Env {
    fn from_process() -> Env {
        Env
    }

    fn var(&self, name: &str) -> Option<String> {
        std::env::var_os(name)
            .map(|v| v.to_string_lossy().into_owned())
            .filter(|v| !v.is_empty())
    }

    fn home(&self) -> Result<PathBuf, CliError> {
        Ok(home::resolve(|name| std::env::var_os(name))?)
    }

    /// `--project`, else `$CONTEXT_PROJECT`, else `default`.
    fn project(&self, flag: Option<String>) -> String {
        flag.or_else(|| self.var("CONTEXT_PROJECT"))
            .unwrap_or_else(|| "default".to_string())
    }

    /// The system runtime; `CONTEXT_NOW` pins the clock to one instant (for tests and for
    /// reproducing what a user saw at a given time).
    fn runtime(&self) -> Result<Runtime, CliError> {
        let mut rt = Runtime::system();
        if let Some(now) = self.var("CONTEXT_NOW") {
            let ms = parse_instant(&now).ok_or(CliError::BadNow(now))?;
            rt.clock = Arc::new(ManualClock::new(ms));
        }
        if let Some(host) = self.var("CONTEXT_HOST") {
            rt.host = host;
        }
        if let Some(bar) = progress::TerminalBar::for_this_terminal() {
            rt.progress = Arc::new(bar);
        }
        Ok(rt)
    }

    /// `$CONTEXT_SCENARIO_ID`, else a fresh id for this run.
    fn scenario_id(&self) -> String {
        self.var("CONTEXT_SCENARIO_ID")
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
    }

    /// The keys of encrypted remotes this home holds.
    fn keys(&self) -> Result<context::keys::KeyRing, CliError> {
        Ok(context::keys::KeyRing::in_home(&self.home()?))
    }

    /// The store, for a command that only reads (`get`, `ls`, `history`, `sync status`,
    /// `sync log`): a home that does not exist yet is not created (nor a peer identity); the
    /// command sees an empty store, and stderr says there is no home at that path yet.
    fn open_store_to_read(&self) -> Result<Store, CliError> {
        let path = home::database_path(&self.home()?);
        if path.exists() {
            return Ok(Store::open(&path, self.runtime()?)?);
        }
        if !quiet() {
            eprintln!(
                "context: no home at {} yet (nothing written there; a command that writes makes it)",
                path.parent().unwrap_or(&path).display()
            );
        }
        Ok(Store::open_in_memory(self.runtime()?)?)
    }

    fn open_store(&self) -> Result<Store, CliError> {
        let path = home::database_path(&self.home()?);
        Ok(Store::open(&path, self.runtime()?)?)
    }
}
