//! The `context` binary: parse the flags, set up logging, run the command, and turn its error
//! into a message on stderr and the exit status the contract promises. This is the only place
//! that prints an error.

mod cli;

use std::process::ExitCode;

use clap::Parser;
use context::outcome::Outcome;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::prelude::*;

fn main() -> ExitCode {
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            // --help and --version exit 0.
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            // Usage errors exit 2, never echoing a password someone put in a URL.
            let text = context::remote::redact_in(&e.render().to_string());
            eprint!("{text}");
            return ExitCode::from(e.exit_code().clamp(0, 255) as u8);
        }
    };
    init_tracing(cli.verbose, cli.quiet);
    // Into a pipe or a file, stdout is written in large blocks (`cli::run` flushes it at the
    // end): line by line, `ls` of 200,000 keys was 200,000 write calls, and `--json` of them
    // two million. On a terminal, line by line as before, so that it reads as it happens.
    let stdout = std::io::stdout();
    let mut terminal;
    let mut piped;
    let mut sink = std::io::sink();
    let out: &mut dyn std::io::Write = if cli.owns_stdout() {
        // `context mcp` writes its protocol to stdout through its own writer.
        &mut sink
    } else if cli.quiet && cli.reports_only() {
        // `-q` silences reports (a sync's summary, for cron), never a command's result: `get`
        // still prints the body, `put` the version id.
        &mut sink
    } else if std::io::IsTerminal::is_terminal(&stdout) {
        terminal = stdout.lock();
        &mut terminal
    } else {
        piped = std::io::BufWriter::with_capacity(1 << 16, stdout.lock());
        &mut piped
    };
    match cli::run(cli, out) {
        Ok(outcome) => ExitCode::from(exit_status(outcome)),
        Err(e) if e.is_broken_pipe() => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("context: {}", context::remote::redact_in(&e.to_string()));
            ExitCode::from(exit_status(e.outcome()))
        }
    }
}

/// The contract's exit statuses, in the one place that knows them.
pub fn exit_status(outcome: Outcome) -> u8 {
    match outcome {
        Outcome::Ok => 0,
        Outcome::Error => 1,
        Outcome::Usage => 2,
        Outcome::Diverged => 3,
        Outcome::Busy => 4,
        Outcome::BadData => 5,
        Outcome::Unhealthy => 6,
        // 128 + SIGINT, as a shell reports a process Ctrl-C stopped.
        Outcome::Interrupted => 130,
    }
}

/// Logs go to stderr: warnings by default (errors only with `-q`), more with each `-v`;
/// `RUST_LOG` (`info`, `context=debug`, ...) overrides both. Colour only on a terminal, and
/// never with `NO_COLOR` set.
fn init_tracing(verbose: u8, quiet: bool) {
    let from_env = std::env::var("RUST_LOG")
        .ok()
        .and_then(|s| s.parse::<Targets>().ok());
    let filter = from_env.unwrap_or_else(|| {
        Targets::new().with_default(match verbose {
            0 if quiet => LevelFilter::ERROR,
            0 => LevelFilter::WARN,
            1 => LevelFilter::INFO,
            2 => LevelFilter::DEBUG,
            _ => LevelFilter::TRACE,
        })
    });
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(ansi)
                .with_filter(filter),
        )
        .init();
}
