//! The command line: clap definitions, the conversion of raw flags into library values, and
//! the formatting of results. No domain logic lives here; errors are returned to `main`, the
//! only place that prints them and turns them into exit statuses.

mod autosync;
mod completions;
mod conflicts;
mod documents;
mod mcp;
mod progress;
mod revert;
mod search;
mod sync;

use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::Arc;

use clap::{Parser, Subcommand};

use context::changeset::DecodeError;
use context::clock::{ManualClock, parse_instant};
use context::home::{self, HomeError};
use context::outcome::Outcome;
use context::remote::registry;
use context::runtime::Runtime;
use context::store::{Store, StoreError};
use context::sync::SyncError;

/// What `context --help` says of the environment (the README's "Environment" lists the same):
/// the variables of the whole tool, then those of each transport ([`registry::environment_help`]).
const ENVIRONMENT: &str = "\
Environment:
  CONTEXT_HOME          the home (database, keys, backups); else $XDG_DATA_HOME/context,
                        else ~/.local/share/context
  CONTEXT_PROJECT       the project when --project is not given (else `default`)
  CONTEXT_AUTHOR        who writes, when --author is not given (else the login name, $USER)
  CONTEXT_SESSION       the session an agent writes in, recorded with its versions (`revert`)
  CONTEXT_HOST          this machine's name, as other machines show it (else the host name)
  CONTEXT_SCENARIO_ID   names this run in logs and `sync log` (else a fresh id per run)
  CONTEXT_NOW           the clock, as an RFC 3339 instant or epoch milliseconds (for tests)
  CONTEXT_AUTO_SYNC=0   no background sync after this command's write (`sync auto off`: the home)
  CONTEXT_RETRY_BUDGET  how long a failing request to a network store is retried (default 1m)
  CONTEXT_REQUEST_TIMEOUT  how long one request to a network store waits for its answer (1m)
  CONTEXT_CRONTAB       replaces the `crontab` command of `sync schedule --install` (e.g. for -u)
  XDG_CONFIG_HOME       where `sync schedule --systemd --install` writes user units (systemd/user)
"; // The transports' lines go here.
const ENVIRONMENT_END: &str = "  VISUAL, EDITOR        the editor of `context edit` (else vi)
  TZ                    the time zone of times shown to a person (JSON is always UTC)
  NO_COLOR              no colour in diffs and logs
  RUST_LOG              log filter on stderr (`info`, `context=debug`); overrides -v and -q";

/// `--help`'s "Environment": the tool's variables and every transport's.
fn environment_help() -> String {
    format!(
        "{ENVIRONMENT}{}{ENVIRONMENT_END}",
        registry::environment_help()
    )
}

#[derive(Debug, Parser)]
#[command(
    name = "context",
    version,
    about = "A versioned document store, synced across your machines through a shared folder, a bucket, SSH or WebDAV",
    after_help = environment_help()
)]
pub struct Cli {
    /// More log output on stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true, help_heading = "Global options")]
    pub verbose: u8,

    /// Errors only: no sync summaries, no warnings (for cron; a command's result, such as
    /// `get`'s body, still prints; the exit status still tells).
    #[arg(
        short,
        long,
        global = true,
        conflicts_with = "verbose",
        help_heading = "Global options"
    )]
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
    /// Rename a document: NEW gets OLD's body and history, OLD a tombstone; one change for sync.
    Mv(documents::Mv),
    /// Full-text search over the project's documents (exit 1 when nothing matches, as grep).
    Search(search::Search),
    /// The projects of this store, with how many live documents each holds.
    Projects(documents::Projects),
    /// Unified diff of two versions of KEY (default: the current one against its parent).
    Diff(conflicts::Diff),
    /// Keys where two machines wrote concurrently and the loser is not settled yet.
    Conflicts(conflicts::Conflicts),
    /// Settle KEY's conflict: keep one side, or merge the two; written as a new version.
    Resolve(conflicts::Resolve),
    /// Take back what a session (or an author) wrote: each key it changed as it was before
    /// (keys someone else wrote since are listed and left alone unless --force).
    Revert(revert::Revert),
    /// A Model Context Protocol server on stdio, for agents: what an MCP client launches.
    Mcp(mcp::Mcp),
    /// Print a shell completion script: bash, zsh, fish (commands, flags and document keys),
    /// elvish or powershell (commands and flags).
    #[command(
        after_help = "Examples:\n  context completions bash > ~/.local/share/bash-completion/completions/context\n  context completions zsh > ~/.local/share/zsh/site-functions/_context   # a folder in $fpath\n  context completions fish > ~/.config/fish/completions/context.fish\n\n`make install` puts the bash, zsh and fish scripts where those shells look."
    )]
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Sync with other machines through a shared folder, a bucket, SSH or WebDAV: pull, then push (or a subcommand).
    Sync(sync::SyncArgs),
    /// Writes the man pages (context.1, context-put.1, ...) into DIR: what `make man` runs.
    #[command(name = "__man", hide = true)]
    Man {
        /// The folder to write the pages into.
        dir: PathBuf,
    },
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
    #[error("{0}")]
    Schedule(String),
    /// A value that parses but cannot be used, said whole (exit 2).
    #[error("{0}")]
    Usage(String),
    #[error("a `context sync watch` already runs for this home (it holds {0}): one is enough")]
    WatchRunning(PathBuf),
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
            CliError::BadValue { .. } | CliError::Usage(_) => Outcome::Usage,
            CliError::WatchRunning(_) => Outcome::Busy,
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
/// `--author NAME`, when given.
static AUTHOR: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Makes `name` (`--author`) the author of what this command writes; refuses a label a
/// terminal should not show.
fn set_author(name: &str) -> Result<(), CliError> {
    if let Some(why) = context::record::Author::invalid(name) {
        return Err(CliError::BadValue {
            flag: "--author",
            value: name.to_string(),
            reason: why.to_string(),
        });
    }
    let _ = AUTHOR.set(name.to_string());
    Ok(())
}
static VERBOSE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

static INTERRUPT: std::sync::OnceLock<Arc<std::sync::atomic::AtomicBool>> =
    std::sync::OnceLock::new();

/// The flag Ctrl-C sets, once [`catch_ctrl_c`] has been called.
fn interrupt_flag() -> Arc<std::sync::atomic::AtomicBool> {
    INTERRUPT.get_or_init(Default::default).clone()
}

/// From here on, Ctrl-C asks the running push, pull or snapshot to stop at the next changeset
/// (it undoes what it has not committed and the command exits 130); a second Ctrl-C stops the
/// process at once. Other commands keep the default (Ctrl-C ends them).
fn catch_ctrl_c() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        use signal_hook::consts::SIGINT;
        let flag = interrupt_flag();
        // The order matters: the second Ctrl-C finds the flag the first one set.
        let caught = signal_hook::flag::register_conditional_shutdown(SIGINT, 130, flag.clone())
            .and_then(|_| signal_hook::flag::register(SIGINT, flag));
        if let Err(e) = caught {
            tracing::warn!("cannot catch Ctrl-C ({e}): it stops the process at once");
        }
    });
}

/// Whether `-v` asked for more: human output then shows peer ids beside host names.
fn verbose() -> bool {
    VERBOSE.load(std::sync::atomic::Ordering::Relaxed)
}

/// A peer as a person reads it: its host name (with its id under `-v`), or its id when the
/// host is not known.
fn peer_label(host: Option<&str>, id: &str) -> String {
    match host {
        Some(h) if verbose() => format!("{h} ({id})"),
        Some(h) => h.to_string(),
        None => id.to_string(),
    }
}

/// Whether `-q` asked for errors only.
fn quiet() -> bool {
    QUIET.load(std::sync::atomic::Ordering::Relaxed)
}

/// The man pages of `context` and of every command under it, as `context-sync-push.1` etc.
fn write_man_pages(dir: &std::path::Path) -> io::Result<()> {
    fn write(cmd: &clap::Command, name: &str, dir: &std::path::Path) -> io::Result<()> {
        if cmd.is_hide_set() {
            return Ok(());
        }
        let mut page = Vec::new();
        clap_mangen::Man::new(cmd.clone())
            .title(name.to_uppercase())
            .render(&mut page)?;
        std::fs::write(dir.join(format!("{name}.1")), page)?;
        for sub in cmd.get_subcommands() {
            if sub.get_name() != "help" {
                write(sub, &format!("{name}-{}", sub.get_name()), dir)?;
            }
        }
        Ok(())
    }
    std::fs::create_dir_all(dir)?;
    let mut cmd = <Cli as clap::CommandFactory>::command();
    cmd.build();
    write(&cmd, "context", dir)
}

impl Cli {
    /// Whether what the command prints on stdout is a report `-q` silences (the sync
    /// commands'), rather than the command's result (a body, a version id, a listing).
    pub fn reports_only(&self) -> bool {
        matches!(&self.command, Command::Sync(s) if s.prints_a_report())
    }

    /// Whether the command speaks a protocol on stdout itself (`mcp`): the binary must not
    /// hold stdout's lock for it.
    pub fn owns_stdout(&self) -> bool {
        matches!(&self.command, Command::Mcp(_))
    }
}

/// Runs the parsed command, writing its results to `out`; returns how it ended.
pub fn run(cli: Cli, out: &mut dyn Write) -> Result<Outcome, CliError> {
    QUIET.store(cli.quiet, std::sync::atomic::Ordering::Relaxed);

    VERBOSE.store(cli.verbose > 0, std::sync::atomic::Ordering::Relaxed);
    let env = Env::from_process();
    let outcome = match cli.command {
        Command::Put(c) => c.run(&env, out).map(|()| Outcome::Ok),
        Command::Get(c) => c.run(&env, out).map(|()| Outcome::Ok),
        Command::Edit(c) => c.run(&env, out).map(|()| Outcome::Ok),
        Command::Rm(c) => c.run(&env, out).map(|()| Outcome::Ok),
        Command::Ls(c) => c.run(&env, out).map(|()| Outcome::Ok),
        Command::History(c) => c.run(&env, out).map(|()| Outcome::Ok),
        Command::Restore(c) => c.run(&env, out).map(|()| Outcome::Ok),
        Command::Mv(c) => c.run(&env, out).map(|()| Outcome::Ok),
        Command::Search(c) => c.run(&env, out),
        Command::Projects(c) => c.run(&env, out).map(|()| Outcome::Ok),
        Command::Diff(c) => c.run(&env, out).map(|()| Outcome::Ok),
        Command::Conflicts(c) => c.run(&env, out).map(|()| Outcome::Ok),
        Command::Resolve(c) => c.run(&env, out).map(|()| Outcome::Ok),
        Command::Revert(c) => c.run(&env, out),
        Command::Mcp(c) => c.run(&env, out),
        Command::Completions { shell } => {
            out.write_all(&completions::script(shell))?;
            Ok(Outcome::Ok)
        }
        Command::Sync(c) => c.run(&env, out),
        Command::Man { dir } => {
            write_man_pages(&dir).map_err(|source| CliError::WriteOutput {
                what: format!("the man pages in {}", dir.display()),
                source,
            })?;
            Ok(Outcome::Ok)
        }
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

    /// After a command wrote: starts a background sync where the home syncs after writes.
    fn sync_after_write(&self, store: &Store) {
        if let Ok(home) = self.home() {
            autosync::after_write(&home, store);
        }
    }

    fn home(&self) -> Result<PathBuf, CliError> {
        Ok(home::locate(|name| std::env::var_os(name))?)
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
        rt.interrupt = interrupt_flag();
        rt.author = self.author()?;
        Ok(rt)
    }

    /// Who writes: `--author`, else `$CONTEXT_AUTHOR`, else the login name (`$USER`,
    /// `$LOGNAME`, else the last part of `$HOME`); the session from `$CONTEXT_SESSION` (an agent's). A label a terminal should
    /// not show is refused, naming the variable.
    fn author(&self) -> Result<Option<context::record::Author>, CliError> {
        use context::record::Author;
        let checked = |flag: &'static str, value: String| match Author::invalid(&value) {
            Some(why) => Err(CliError::BadValue {
                flag,
                value,
                reason: why.to_string(),
            }),
            None => Ok(value),
        };
        let name = match AUTHOR.get() {
            Some(name) => Some(name.clone()),
            None => match self.var("CONTEXT_AUTHOR") {
                Some(v) => Some(checked("CONTEXT_AUTHOR", v)?),
                // Else the login name, as the environment says it (the last part of $HOME
                // where neither variable is set, as in a bare container).
                None => self
                    .var("USER")
                    .or_else(|| self.var("LOGNAME"))
                    .or_else(|| {
                        self.var("HOME").and_then(|h| {
                            std::path::Path::new(&h)
                                .file_name()
                                .map(|n| n.to_string_lossy().into_owned())
                        })
                    })
                    .filter(|v| Author::invalid(v).is_none()),
            },
        };
        let session = self
            .var("CONTEXT_SESSION")
            .map(|v| checked("CONTEXT_SESSION", v))
            .transpose()?;
        Ok(name.map(|name| Author { name, session }))
    }

    /// `$CONTEXT_SCENARIO_ID`, else a fresh id for this run.
    fn scenario_id(&self) -> String {
        self.var("CONTEXT_SCENARIO_ID")
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
    }

    /// The keys of encrypted remotes this home holds.
    fn keys(&self) -> Result<context::encryption::KeyRing, CliError> {
        Ok(context::encryption::KeyRing::in_home(&self.home()?))
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

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// Every command, with the path of names that leads to it.
    fn walk(cmd: &clap::Command, path: String, out: &mut Vec<(String, clap::Command)>) {
        out.push((path.clone(), cmd.clone()));
        for sub in cmd.get_subcommands() {
            walk(sub, format!("{path} {}", sub.get_name()), out);
        }
    }

    #[test]
    fn help_names_every_environment_variable_the_binary_reads() {
        let help = super::Cli::command().render_long_help().to_string();
        for var in [
            "CONTEXT_HOME",
            "XDG_DATA_HOME",
            "CONTEXT_PROJECT",
            "CONTEXT_AUTHOR",
            "CONTEXT_SESSION",
            "CONTEXT_HOST",
            "CONTEXT_SCENARIO_ID",
            "CONTEXT_NOW",
            "CONTEXT_RETRY_BUDGET",
            "CONTEXT_REQUEST_TIMEOUT",
            "CONTEXT_AUTO_SYNC",
            "CONTEXT_CRONTAB",
            "XDG_CONFIG_HOME",
            "VISUAL",
            "EDITOR",
            "TZ",
            "NO_COLOR",
            "RUST_LOG",
        ] {
            assert!(help.contains(var), "--help does not name {var}");
        }
        // And every variable of every transport.
        for transport in context::remote::registry::TRANSPORTS {
            for var in transport.variables() {
                assert!(help.contains(var), "--help does not name {var}");
            }
        }
    }

    /// Every transport's scheme is in `--help` (the forms of `--remote`), the README and the
    /// contract's table of forms (when the contract is beside the checkout, as in a session).
    #[test]
    fn every_transport_is_in_help_the_readme_and_the_contract() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut sync = super::Cli::command();
        let help = sync
            .find_subcommand_mut("sync")
            .expect("sync")
            .render_long_help()
            .to_string();
        let readme = std::fs::read_to_string(root.join("README.md")).expect("README.md");
        let contract = std::fs::read_to_string(root.join("../shared/contract.md")).ok();
        if contract.is_none() {
            eprintln!("no ../shared/contract.md beside this checkout: its table is not checked");
        }
        for transport in context::remote::registry::TRANSPORTS {
            assert!(
                help.contains(transport.form),
                "sync --help lacks {}",
                transport.form
            );
            for scheme in transport.schemes {
                let url = format!("{scheme}://");
                assert!(help.contains(&url), "sync --help lacks {url}");
                assert!(readme.contains(&format!("`{url}")), "README lacks `{url}");
                if let Some(contract) = &contract {
                    let row = contract
                        .lines()
                        .any(|l| l.starts_with('|') && l.contains(&url));
                    assert!(row, "the contract's table of forms lacks {url}");
                }
            }
        }
    }

    #[test]
    fn every_argument_and_flag_is_described_and_every_command_has_examples() {
        let mut all = Vec::new();
        walk(&super::Cli::command(), "context".into(), &mut all);
        let mut missing = Vec::new();
        for (path, cmd) in &all {
            if cmd.get_about().is_none() && path != "context" {
                missing.push(format!("{path}: no description"));
            }
            for arg in cmd.get_arguments() {
                let id = arg.get_id().as_str();
                if id == "help" || id == "version" {
                    continue;
                }
                if arg.get_help().is_none() {
                    missing.push(format!("{path}: {id} has no help"));
                }
            }
            let leaf = cmd.get_subcommands().next().is_none();
            let examples = cmd
                .get_after_help()
                .is_some_and(|h| h.to_string().contains("Examples:"));
            if leaf && !examples && !path.ends_with(" help") && !cmd.is_hide_set() {
                missing.push(format!("{path}: no examples"));
            }
        }
        assert!(missing.is_empty(), "{}", missing.join("\n"));
    }
}
